//! What a password must not be: short, one repeated character, a run of the keyboard or the
//! alphabet, the account's own name, or one of the passwords every guessing list starts with.

use crate::DomainError;

pub const MIN_LENGTH: usize = 8;
/// Hashing is deliberately slow; an unbounded password would make it a lever for load.
pub const MAX_LENGTH: usize = 256;

/// The first entries of public leaked-password lists, English and Chinese users' favourites,
/// that the other rules do not already catch.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "abc12345",
    "abcd1234",
    "a1234567",
    "a12345678",
    "a123456789",
    "admin123",
    "welcome1",
    "letmein1",
    "sunshine",
    "football",
    "woaini1314",
    "woaini520",
    "5201314520",
    "1314520520",
    "147258369",
    "159357456",
    "closedloop",
];

pub fn check(password: &str, email: &str) -> Result<(), DomainError> {
    let weak = |message: &str| Err(DomainError::new("password", "weak_password", message));
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(DomainError::new(
            "password",
            "too_short",
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if n > MAX_LENGTH {
        return Err(DomainError::new(
            "password",
            "too_long",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let lower = password.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    if chars.iter().all(|c| *c == chars[0]) {
        return weak("must not be one character repeated");
    }
    let step = |d: i64| chars.windows(2).all(|w| w[1] as i64 - w[0] as i64 == d);
    if step(1) || step(-1) {
        return weak("must not be a run like 12345678 or abcdefgh");
    }
    if COMMON.contains(&lower.as_str()) {
        return weak("is one of the most guessed passwords");
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.chars().count() >= 4 && lower.contains(&local) {
        return weak("must not contain the account's e-mail name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(p: &str) -> &'static str {
        check(p, "zhang.wei@example.cn")
            .err()
            .map_or("ok", |e| e.code)
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert_eq!(code("short1"), "too_short");
        assert_eq!(code(&"x".repeat(257)), "too_long");
        assert_eq!(code("88888888"), "weak_password");
        assert_eq!(code("12345678"), "weak_password");
        assert_eq!(code("87654321"), "weak_password");
        assert_eq!(code("ABCDEFGH"), "weak_password");
        assert_eq!(code("Password1"), "weak_password");
        assert_eq!(code("woaini1314"), "weak_password");
        assert_eq!(code("zhang.wei2026"), "weak_password");
    }

    #[test]
    fn ordinary_passwords_pass() {
        assert_eq!(code("password-123"), "ok");
        assert_eq!(code("correct horse battery"), "ok");
        assert_eq!(code("春眠不觉晓处处闻啼鸟"), "ok");
        assert_eq!(code("12345679"), "ok");
        // A short e-mail name is too common a string to forbid.
        assert_eq!(
            check("bob-the-builder", "bob@example.com")
                .err()
                .map(|e| e.code),
            None
        );
    }
}
