//! Token buckets for the public (unauthenticated) endpoints: per client address, and per
//! webhook source. Over the limit the answer is 429 with `Retry-After`.
//!
//! The buckets live in memory, in shards of bounded size: a full bucket is the same as no bucket,
//! so when a shard is full the full ones are dropped first; only if every bucket in it is still
//! draining is the shard cleared (an attacker who owns that many addresses gains a fresh start,
//! nobody else loses anything but their partial debt). With several instances each counts
//! alone, so the effective limit is the configured one times the number of instances.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::config::{Config, RateLimitConfig};
use crate::error::ApiError;

const SHARDS: usize = 16;

struct Tokens {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key: `burst` requests at once, refilled at `per_minute`.
pub struct RateLimiter<K> {
    shards: Box<[Mutex<HashMap<K, Tokens>>]>,
    hasher: RandomState,
    per_second: f64,
    burst: f64,
    max_per_shard: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(per_minute: u32, burst: u32, max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            max_per_shard: (max_keys / SHARDS).max(1),
        }
    }

    /// Takes a token for `key`, or answers how long until one is there.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let shard = usize::try_from(self.hasher.hash_one(key)).unwrap_or_default() % SHARDS;
        let Some(shard) = self.shards.get(shard) else {
            return Ok(());
        };
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(key) && map.len() >= self.max_per_shard {
            map.retain(|_, b| self.refilled(b, now) < self.burst);
            if map.len() >= self.max_per_shard {
                map.clear();
            }
        }
        let bucket = map.entry(key.clone()).or_insert(Tokens {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }

    fn refilled(&self, b: &Tokens, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.per_second).min(self.burst)
    }
}

/// Every limiter of the service, made from the configuration.
pub struct Limits {
    pub login: RateLimiter<IpAddr>,
    pub public: RateLimiter<IpAddr>,
    pub webhook_source: RateLimiter<i64>,
    pub widget_site: RateLimiter<i64>,
}

impl Limits {
    pub fn new(c: &RateLimitConfig) -> Self {
        Self {
            login: RateLimiter::new(c.login_per_minute, c.login_burst, c.max_tracked),
            public: RateLimiter::new(c.public_per_minute, c.public_burst, c.max_tracked),
            webhook_source: RateLimiter::new(c.webhook_per_minute, c.webhook_burst, c.max_tracked),
            widget_site: RateLimiter::new(c.widget_per_minute, c.widget_burst, c.max_tracked),
        }
    }
}

/// The caller's address as limits count it: the peer, or behind a trusted proxy the last
/// `X-Forwarded-For` entry (the one that proxy added; earlier ones are the client's say-so).
/// IPv6 addresses count by /64, the block one subscriber usually holds.
pub fn client_ip(config: &Config, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
    let forwarded = config
        .trust_forwarded_for
        .then(|| {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        })
        .flatten();
    let ip = forwarded
        .or(peer.map(|p| p.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & (u128::MAX << 64))),
        },
        v4 => v4,
    }
}

/// 429 with `Retry-After` (whole seconds, at least 1) and the usual error body, or, for a
/// browser (the web form and follow pages), a short bilingual page saying when to try again.
#[derive(Debug)]
pub struct RateLimited {
    pub retry_after: Duration,
    pub html: bool,
}

impl IntoResponse for RateLimited {
    fn into_response(self) -> Response {
        let secs = self.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut res = if self.html {
            (
                StatusCode::TOO_MANY_REQUESTS,
                axum::response::Html(format!(
                    "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
                     <meta name=\"viewport\" content=\"width=device-width\">\
                     <title>请稍后再试 / Please wait</title></head><body>\
                     <h1>请求过于频繁 / Too many requests</h1>\
                     <p>请在 {secs} 秒后重试；返回上一页可保留您已填写的内容。</p>\
                     <p>Please try again in {secs} seconds; go back to keep what you typed.</p>\
                     </body></html>"
                )),
            )
                .into_response()
        } else {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; try again in {secs} s"),
            )
            .into_response()
        };
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        res
    }
}

/// Which per-address limiter an endpoint uses.
pub trait Bucket {
    fn limiter(limits: &Limits) -> &RateLimiter<IpAddr>;
}

/// `POST /api/v1/auth/login`: strict, against password guessing.
pub struct LoginAttempts;
/// Other public endpoints: webhook intake, the OpenAPI document, the index page.
pub struct Public;

impl Bucket for LoginAttempts {
    fn limiter(limits: &Limits) -> &RateLimiter<IpAddr> {
        &limits.login
    }
}

impl Bucket for Public {
    fn limiter(limits: &Limits) -> &RateLimiter<IpAddr> {
        &limits.public
    }
}

/// Extracting it takes a token from the caller's bucket of kind `B`, or answers 429.
pub struct Throttled<B>(PhantomData<B>);

impl<B: Bucket> FromRequestParts<AppState> for Throttled<B> {
    type Rejection = RateLimited;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = client_ip(&state.config, peer, &parts.headers);
        B::limiter(&state.limits)
            .check(&ip, Instant::now())
            .map(|()| Throttled(PhantomData))
            .map_err(|retry_after| RateLimited {
                retry_after,
                // Browsers ask for HTML first; API clients and webhooks do not.
                html: parts
                    .headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("text/html")),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(60, 3, 1000);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(&1u32, t0).is_ok());
        }
        let wait = l.check(&1u32, t0).err().unwrap_or_default();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            l.check(&2u32, t0).is_ok(),
            "other keys have their own bucket"
        );
        assert!(l.check(&1u32, t0 + Duration::from_secs(1)).is_ok());
        assert!(l.check(&1u32, t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let l = RateLimiter::new(1, 1, 64);
        let t0 = Instant::now();
        for k in 0..10_000u32 {
            let _ = l.check(&k, t0);
        }
        let total: usize = l
            .shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum();
        assert!(total <= 64, "{total}");
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        let peer = Some(SocketAddr::from(([10, 0, 0, 1], 5000)));
        let mut c = Config::default();
        assert_eq!(client_ip(&c, peer, &headers), IpAddr::from([10, 0, 0, 1]));
        c.trust_forwarded_for = true;
        assert_eq!(
            client_ip(&c, peer, &headers),
            IpAddr::from([203, 0, 113, 9])
        );
        let v6 = Some(
            "[2001:db8:1:2:3:4:5:6]:1"
                .parse()
                .unwrap_or(SocketAddr::from(([0; 4], 0))),
        );
        c.trust_forwarded_for = false;
        assert_eq!(
            client_ip(&c, v6, &HeaderMap::new()),
            "2001:db8:1:2::"
                .parse::<IpAddr>()
                .unwrap_or(IpAddr::from([0; 4]))
        );
    }
}
