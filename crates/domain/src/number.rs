use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::DomainError;

/// Human-readable ticket number `FB-YYYYMMDD-NNNNNN`: the day it was registered and that day's
/// sequence. The store hands out sequences from a per-day counter inside the creating transaction,
/// so numbers are unique across instances and a number is never handed out twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketNumber(String);

impl TicketNumber {
    pub const PREFIX: &'static str = "FB";

    pub fn new(day: NaiveDate, sequence: u64) -> Self {
        Self(format!(
            "{}-{}-{:06}",
            Self::PREFIX,
            day.format("%Y%m%d"),
            sequence
        ))
    }

    /// The counter key for the day a ticket is registered on.
    pub fn day_key(day: NaiveDate) -> String {
        day.format("%Y%m%d").to_string()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TicketNumber {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            DomainError::new(
                "number",
                "invalid_ticket_number",
                "expected FB-YYYYMMDD-NNNNNN",
            )
        };
        let rest = s.strip_prefix("FB-").ok_or_else(bad)?;
        let (day, seq) = rest.split_once('-').ok_or_else(bad)?;
        let day = NaiveDate::parse_from_str(day, "%Y%m%d").map_err(|_| bad())?;
        if seq.len() < 6 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        Ok(Self::new(day, seq))
    }
}

impl TryFrom<String> for TicketNumber {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TicketNumber> for String {
    fn from(n: TicketNumber) -> Self {
        n.0
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default()
    }

    #[test]
    fn formats_with_day_and_zero_padded_sequence() {
        assert_eq!(TicketNumber::new(day(), 42).as_str(), "FB-20261122-000042");
    }

    #[test]
    fn sequences_beyond_six_digits_stay_unique() {
        assert_eq!(
            TicketNumber::new(day(), 1_234_567).as_str(),
            "FB-20261122-1234567"
        );
        let parsed: TicketNumber = "FB-20261122-1234567"
            .parse()
            .unwrap_or_else(|_| TicketNumber::new(day(), 0));
        assert_eq!(parsed, TicketNumber::new(day(), 1_234_567));
    }

    #[test]
    fn parse_round_trips() {
        let n = TicketNumber::new(day(), 7);
        assert_eq!(n.as_str().parse::<TicketNumber>(), Ok(n));
    }

    #[test]
    fn parse_rejects_garbage() {
        for s in [
            "",
            "FB-",
            "FB-2026-000001",
            "XX-20261122-000001",
            "FB-20261322-000001",
            "FB-20261122-12",
            "FB-20261122-00001a",
            "FB-20261122-000001' OR 1=1",
        ] {
            assert!(s.parse::<TicketNumber>().is_err(), "{s} should be refused");
        }
    }
}
