//! Check digits of the numbers that carry one: a format match alone flags every order number
//! of the right length, the check digit is what tells a real number from a look-alike.

/// Luhn (ISO/IEC 7812) over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Mainland resident ID (GB 11643): 17 digits, ISO 7064 MOD 11-2 check character, and a real
/// birth date in positions 7-14.
pub fn cn_resident_id(id: &[u8]) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if id.len() != 18 || !id[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = id[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let num =
        |r: std::ops::Range<usize>| id[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1900..=2099).contains(&year)
        && (1..=days).contains(&day)
        && CHECK[(sum % 11) as usize] == id[17].to_ascii_uppercase()
}

/// Hong Kong identity card: one or two letters, six digits, a check character (0-9 or A),
/// weighted 9..2 with a missing first letter counting as 36 (a space).
pub fn hk_id(letters: &[u8], digits: &[u8], check: u8) -> bool {
    let value = |c: u8| u32::from(c.to_ascii_uppercase() - b'A') + 10;
    let (first, second) = match letters {
        [a] => (36, value(*a)),
        [a, b] => (value(*a), value(*b)),
        _ => return false,
    };
    if digits.len() != 6 {
        return false;
    }
    let mut sum = 9 * first + 8 * second;
    for (d, w) in digits.iter().zip((2..=7).rev()) {
        sum += u32::from(d - b'0') * w;
    }
    let expected = (11 - sum % 11) % 11;
    match check.to_ascii_uppercase() {
        b'A' => expected == 10,
        c @ b'0'..=b'9' => u32::from(c - b'0') == expected,
        _ => false,
    }
}

/// Taiwan national ID: a letter (coded 10-35 in the ministry's order, not the alphabet's), 1 or
/// 2 for the sex, eight digits; the weighted sum is a multiple of ten.
pub fn tw_id(id: &[u8]) -> bool {
    const CODES: &[u8; 26] = b"ABCDEFGHJKLMNPQRSTUVXYWZIO";
    if id.len() != 10 || !matches!(id[1], b'1' | b'2') || !id[1..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(code) = CODES
        .iter()
        .position(|c| *c == id[0].to_ascii_uppercase())
        .map(|p| p as u32 + 10)
    else {
        return false;
    };
    let mut sum = code / 10 + (code % 10) * 9;
    for (d, w) in id[1..9].iter().zip((1..=8).rev()) {
        sum += u32::from(d - b'0') * w;
    }
    sum += u32::from(id[9] - b'0');
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_known_numbers_and_refuses_a_changed_digit() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"5555555555554444"));
        assert!(luhn(b"6222021234567890128"));
        assert!(!luhn(b"6222021234567890129"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b""));
    }

    #[test]
    fn resident_ids_need_their_check_character_and_a_real_date() {
        assert!(cn_resident_id(b"11010519491231002X"));
        assert!(cn_resident_id(b"11010519491231002x"));
        assert!(!cn_resident_id(b"110105194912310021"));
        // 2021-02-29 does not exist; the check character is right for the digits.
        let id = b"11010520210229001";
        let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = id.iter().zip(w).map(|(d, w)| u32::from(d - b'0') * w).sum();
        let mut full = id.to_vec();
        full.push(b"10X98765432"[(sum % 11) as usize]);
        assert!(!cn_resident_id(&full));
        assert!(!cn_resident_id(b"1101051949123100"));
    }

    #[test]
    fn hong_kong_and_taiwan_check_characters() {
        assert!(hk_id(b"A", b"123456", b'3'));
        assert!(!hk_id(b"A", b"123456", b'4'));
        assert!(hk_id(b"C", b"668668", b'9'));
        assert!(tw_id(b"A123456789"));
        assert!(!tw_id(b"A123456788"));
        assert!(!tw_id(b"A323456789"));
    }
}
