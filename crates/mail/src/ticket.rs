//! Ticket numbers (`FB-YYYYMMDD-NNNNNN`, see `closedloop_domain::TicketNumber`) in a subject,
//! bracketed (`[FB-…]`, `【FB-…】`) or not, in any letter case.

use chrono::NaiveDate;

pub(crate) fn ticket_numbers(subject: &str) -> Vec<String> {
    let upper = subject.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut found: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(pos) = upper[from..].find("FB-").map(|p| from + p) {
        from = pos + 3;
        if pos > 0 && bytes[pos - 1].is_ascii_alphanumeric() {
            continue;
        }
        let day = &bytes[pos + 3..];
        if day.len() < 9 || !day[..8].iter().all(u8::is_ascii_digit) || day[8] != b'-' {
            continue;
        }
        let seq_len = day[9..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(6..=12).contains(&seq_len) || day.get(9 + seq_len).is_some_and(u8::is_ascii_alphabetic)
        {
            continue;
        }
        let day_str = &upper[pos + 3..pos + 11];
        if NaiveDate::parse_from_str(day_str, "%Y%m%d").is_err() {
            continue;
        }
        let number = upper[pos..pos + 12 + seq_len].to_owned();
        if !found.contains(&number) {
            found.push(number);
        }
        from = pos + 12 + seq_len;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_bracketed_or_not() {
        assert_eq!(
            ticket_numbers(
                "Re: [FB-20261122-000042] 退款 / fb-20261123-000001 and 【FB-20261122-000042】"
            ),
            vec!["FB-20261122-000042", "FB-20261123-000001"]
        );
    }

    #[test]
    fn ignores_lookalikes() {
        for s in [
            "XFB-20261122-000042",
            "FB-20261322-000042",
            "FB-20261122-00042",
            "FB-2026112-000042",
            "FB-20261122-000042abc",
            "FB-",
            "FB-20261122-",
        ] {
            assert!(ticket_numbers(s).is_empty(), "{s}");
        }
    }
}
