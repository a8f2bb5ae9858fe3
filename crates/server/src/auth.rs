//! Who is calling: argon2 passwords, opaque API tokens and session cookies (stored as SHA-256
//! digests, so a leaked database holds no usable credential), and the CSRF rule for cookies.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum_extra::extract::CookieJar;
use base64::Engine;
use closedloop_store::{Principal, TokenScope};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::security_log::Caller;

pub const SESSION_COOKIE: &str = "closedloop_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
const TOKEN_PREFIX: &str = "cl_";

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fresh random secret for a token or session, and the digest the database keeps.
pub fn new_secret() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let digest = digest(&secret);
    (secret, digest)
}

pub fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random password for the first administrator.
pub fn random_password() -> String {
    let mut bytes = [0u8; 15];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Recently verified API tokens. Integrations send one request after another with the same
/// token, and the lookup was a third of the work of creating a ticket. Revoking a token through
/// this process forgets the cache at once; other instances on the same database stop accepting
/// it within [`TokenCache::TTL`]. Anything that changes who a user is (role, departments, being
/// deactivated) must call [`TokenCache::forget`] too.
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, (Principal, TokenScope, Instant)>>);

impl TokenCache {
    const TTL: Duration = Duration::from_secs(5);
    /// Bounds memory under a flood of distinct (bad) tokens: past it the cache starts afresh.
    const MAX: usize = 10_000;

    fn get(&self, digest: &str) -> Option<(Principal, TokenScope)> {
        let map = self.0.lock().ok()?;
        map.get(digest)
            .filter(|(_, _, at)| at.elapsed() < Self::TTL)
            .map(|(p, s, _)| (p.clone(), *s))
    }

    fn put(&self, digest: String, principal: Principal, scope: TokenScope) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= Self::MAX {
                map.clear();
            }
            map.insert(digest, (principal, scope, Instant::now()));
        }
    }

    pub fn forget(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

/// The API token in an `Authorization` header: `Bearer TOKEN`, or Basic with the token as the
/// password (any user name) on the mail endpoint, for providers that can only put credentials
/// in a URL.
fn token_of(scheme: &str, rest: &str, basic_ok: bool) -> Option<String> {
    use base64::Engine as _;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if !basic_ok || !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest)
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    let (_, password) = pair.split_once(':')?;
    Some(password.to_owned())
}

/// The authenticated caller. Extracting it answers 401 when nobody is logged in.
#[derive(Debug, Clone)]
pub struct Actor(pub Principal);

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // What a read-only token and a cookie without the CSRF header may still do.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .and_then(|(scheme, rest)| {
                    // Basic only where mail providers need it: a browser that cached Basic
                    // credentials would send them cross-site, and CSRF checks only cookies.
                    let basic_ok = parts.uri.path() == "/api/v1/intake/email";
                    token_of(scheme, rest.trim(), basic_ok)
                })
                .ok_or_else(ApiError::unauthenticated)?;
            let digest = digest(token.trim());
            let (principal, scope) = match state.tokens.get(&digest) {
                Some(found) => found,
                None => {
                    let found = state
                        .store
                        .principal_by_token(&digest)
                        .await?
                        .ok_or_else(ApiError::unauthenticated)?;
                    state.tokens.put(digest, found.0.clone(), found.1);
                    found
                }
            };
            if let Some(caller) = parts.extensions.get::<Caller>() {
                caller.set(principal.user_id);
            }
            if scope == TokenScope::Read && !safe {
                tracing::warn!(user = principal.user_id, path = %parts.uri.path(), "read-only token refused a change");
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "token_scope",
                    "this token may only read (scope read); use a token with scope all",
                ));
            }
            return Ok(Actor(principal));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Err(ApiError::unauthenticated());
        };
        let (principal, csrf) = state
            .store
            .principal_by_session(&digest(cookie.value()))
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        if let Some(caller) = parts.extensions.get::<Caller>() {
            caller.set(principal.user_id);
        }
        // Cookies ride along on cross-site requests; a header another site cannot set proves the
        // request came from our own page.
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(csrf.as_str()) {
                return Err(
                    ApiError::forbidden("missing or wrong X-CSRF-Token header").field(CSRF_HEADER)
                );
            }
        }
        Ok(Actor(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let h = hash_password("correct horse").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn secrets_are_random_and_stored_as_digests() {
        let (a, da) = new_secret();
        let (b, _) = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("cl_"));
        assert_eq!(da, digest(&a));
        assert_eq!(da.len(), 64);
    }
}
