//! Optional second factor for staff: time-based one-time codes (RFC 6238, what authenticator
//! apps make), asked for at sign-in after the password once a user has turned them on.
//! A code is good for its 30-second step and one step either side (clocks drift), and once.

use chrono::{DateTime, Utc};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::ApiError;

const ISSUER: &str = "Closedloop";
const STEP: u64 = 30;

/// A new random secret (160 bits), base32 as authenticator apps take it.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> Result<TOTP, ApiError> {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .map_err(|_| ApiError::internal())?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
    .map_err(|_| ApiError::internal())
}

/// The `otpauth://` address an authenticator app scans (or the user types the secret).
pub fn url(secret: &str, account: &str) -> Result<String, ApiError> {
    Ok(totp(secret, account)?.get_url())
}

/// The time step `code` belongs to, of the one at `now` and its neighbours; `None` when it is
/// none of theirs.
pub fn step_of(secret: &str, account: &str, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let t = totp(secret, account).ok()?;
    let now = u64::try_from(now.timestamp()).ok()? / STEP;
    let code = code.trim();
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|step| same(t.generate(step * STEP).as_bytes(), code.as_bytes()))
        .and_then(|step| i64::try_from(step).ok())
}

/// The code for the step at `at` (tests and the console's set-up page check with it).
pub fn code_at(secret: &str, account: &str, at: DateTime<Utc>) -> Option<String> {
    let at = u64::try_from(at.timestamp()).ok()?;
    Some(totp(secret, account).ok()?.generate(at))
}

/// Equal, compared in constant time.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_hold_for_their_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = DateTime::from_timestamp(1_800_000_015, 0).unwrap_or_default();
        let code = code_at(&secret, "a@b.c", now).unwrap_or_default();
        assert_eq!(code.len(), 6);
        let step = step_of(&secret, "a@b.c", &code, now);
        assert_eq!(step, Some(1_800_000_015 / 30));
        let later = now + chrono::Duration::seconds(30);
        assert_eq!(
            step_of(&secret, "a@b.c", &code, later),
            step,
            "one step of drift"
        );
        let much_later = now + chrono::Duration::seconds(90);
        assert_eq!(step_of(&secret, "a@b.c", &code, much_later), None);
        assert_eq!(
            step_of(&new_secret(), "a@b.c", &code, now),
            None,
            "another secret"
        );
        assert_eq!(step_of(&secret, "a@b.c", "12345", now), None);
    }
}
