//! Signatures of webhook requests.
//!
//! A source signs each request with its secret:
//! `X-Closedloop-Timestamp: <unix seconds>` and
//! `X-Closedloop-Signature: sha256=<lowercase hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>`,
//! where the key is the secret as printed (its ASCII bytes) and `<timestamp>` is the header's
//! text exactly. The timestamp binds the signature to a moment, so a captured request cannot be
//! replayed outside the allowed skew; the message id (checked by the store) covers replays
//! inside it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

pub const TIMESTAMP_HEADER: &str = "x-closedloop-timestamp";
pub const SIGNATURE_HEADER: &str = "x-closedloop-signature";
const PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("send X-Closedloop-Timestamp as unix seconds")]
    BadTimestamp,
    #[error("X-Closedloop-Timestamp is more than {0} seconds away from the server's time")]
    Stale(u64),
    #[error("send X-Closedloop-Signature as sha256=<64 lowercase hex digits>")]
    Malformed,
    #[error("X-Closedloop-Signature does not match the request")]
    Mismatch,
}

impl SignatureError {
    /// The header the caller has to fix.
    pub fn header(self) -> &'static str {
        match self {
            SignatureError::BadTimestamp | SignatureError::Stale(_) => "X-Closedloop-Timestamp",
            SignatureError::Malformed | SignatureError::Mismatch => "X-Closedloop-Signature",
        }
    }
}

fn mac(secret: &[u8], timestamp: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Closedloop-Signature` value for a request (what a source sends).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp.to_string().as_bytes(), body).finalize();
    format!("{PREFIX}{}", hex::encode(tag.into_bytes()))
}

/// Checks a request's two headers (raw values, absent as `None`) against its body. `now` is unix
/// seconds; the timestamp may be at most `max_skew` seconds off in either direction. The
/// comparison of the tags takes the same time wherever they differ.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&[u8]>,
    signature: Option<&[u8]>,
    body: &[u8],
    now: i64,
    max_skew: u64,
) -> Result<(), SignatureError> {
    let ts_raw = timestamp
        .filter(|t| (1..=19).contains(&t.len()) && t.iter().all(u8::is_ascii_digit))
        .ok_or(SignatureError::BadTimestamp)?;
    let ts: i64 = std::str::from_utf8(ts_raw)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(SignatureError::BadTimestamp)?;
    if (i128::from(now) - i128::from(ts)).unsigned_abs() > u128::from(max_skew) {
        return Err(SignatureError::Stale(max_skew));
    }
    let hex_tag = signature
        .and_then(|s| s.strip_prefix(PREFIX.as_bytes()))
        .filter(|h| h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or(SignatureError::Malformed)?;
    let tag = hex::decode(hex_tag).map_err(|_| SignatureError::Malformed)?;
    mac(secret, ts_raw, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_795_000_000;

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let sig = sign(b"whsec_x", NOW, b"{\"a\":1}");
        let ts = NOW.to_string();
        let ok = |body: &[u8], s: &str, t: &str| {
            verify(
                b"whsec_x",
                Some(t.as_bytes()),
                Some(s.as_bytes()),
                body,
                NOW,
                300,
            )
        };
        assert_eq!(ok(b"{\"a\":1}", &sig, &ts), Ok(()));
        assert_eq!(ok(b"{\"a\":2}", &sig, &ts), Err(SignatureError::Mismatch));
        assert_eq!(
            ok(b"{\"a\":1}", &sig, &(NOW + 1).to_string()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(b"{\"a\":1}", &sig.to_uppercase(), &ts),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            ok(b"{\"a\":1}", &sig, &(NOW - 301).to_string()),
            Err(SignatureError::Stale(300))
        );
        assert_eq!(
            ok(b"{\"a\":1}", &sig, &format!("+{NOW}")),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(b"k", None, Some(sig.as_bytes()), b"", NOW, 300),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(b"k", Some(ts.as_bytes()), None, b"", NOW, 300),
            Err(SignatureError::Malformed)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_headers_and_bodies_never_panic_and_never_pass(
            secret in proptest::collection::vec(any::<u8>(), 0..80),
            body in proptest::collection::vec(any::<u8>(), 0..300),
            ts in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
            sig in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..90)),
        ) {
            let exact = ts
                .as_deref()
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| t.parse::<i64>().ok())
                .map(|t| sign(&secret, t, &body));
            let result = verify(&secret, ts.as_deref(), sig.as_deref(), &body, NOW, 300);
            if result.is_ok() {
                prop_assert_eq!(sig.as_deref(), exact.as_deref().map(str::as_bytes));
            }
        }

        #[test]
        fn only_the_exact_signature_passes(
            secret in proptest::collection::vec(any::<u8>(), 0..80),
            body in proptest::collection::vec(any::<u8>(), 0..300),
            skew in -300i64..=300,
            flip in 0usize..71,
            other in "[0-9a-f]{64}",
        ) {
            let ts = NOW + skew;
            let ts_text = ts.to_string();
            let good = sign(&secret, ts, &body);
            prop_assert_eq!(
                verify(&secret, Some(ts_text.as_bytes()), Some(good.as_bytes()), &body, NOW, 300),
                Ok(())
            );
            // Any one byte changed, anywhere in the header, fails.
            let mut bad = good.clone().into_bytes();
            bad[flip] ^= 0x01;
            prop_assert!(verify(&secret, Some(ts_text.as_bytes()), Some(&bad), &body, NOW, 300).is_err());
            let guess = format!("sha256={other}");
            if guess != good {
                prop_assert!(verify(&secret, Some(ts_text.as_bytes()), Some(guess.as_bytes()), &body, NOW, 300).is_err());
            }
            // Another key, or the same body a moment later, fails too.
            // (Not a zero appended: HMAC pads short keys with zeros, so `k` and `k\0` are one key.)
            let mut other_secret = secret.clone();
            match other_secret.first_mut() {
                Some(b) => *b ^= 0x01,
                None => other_secret.push(1),
            }
            prop_assert!(verify(&other_secret, Some(ts_text.as_bytes()), Some(good.as_bytes()), &body, NOW, 300).is_err());
            let later = (ts + 1).to_string();
            prop_assert!(verify(&secret, Some(later.as_bytes()), Some(good.as_bytes()), &body, NOW + 1, 300).is_err());
        }
    }
}
