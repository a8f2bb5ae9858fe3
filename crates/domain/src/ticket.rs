//! The fields of a ticket that have rules of their own.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use unicode_segmentation::UnicodeSegmentation;

use crate::DomainError;

/// Declares a closed set of snake_case values with their text form, parsing that names the field,
/// and the list of all values (for documentation and validation messages).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::new(
                        $field,
                        "invalid_value",
                        format!("must be one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// Where a ticket came in (MISSION §1).
    Channel, "channel" {
        Web => "web",
        Widget => "widget",
        Email => "email",
        Chat => "chat",
        Social => "social",
        Phone => "phone",
        Offline => "offline",
        Survey => "survey",
        Review => "review",
        Api => "api",
    }
);

text_enum!(
    /// What kind of feedback it is (MISSION §2).
    Nature, "nature" {
        Suggestion => "suggestion",
        Problem => "problem",
        Complaint => "complaint",
        Consultation => "consultation",
    }
);

text_enum!(
    /// The three response levels: P1 = level 1 (outage, safety, security), P2 = level 2
    /// (service delay, billing dispute), P3 = level 3 (suggestions, non-urgent complaints).
    Priority, "priority" {
        P1 => "P1",
        P2 => "P2",
        P3 => "P3",
    }
);

impl Priority {
    /// One level more urgent; P1 stays P1. Escalation uses this.
    pub fn raised(self) -> Priority {
        match self {
            Priority::P3 => Priority::P2,
            Priority::P2 | Priority::P1 => Priority::P1,
        }
    }
}

text_enum!(
    Severity, "severity" {
        Minor => "minor",
        General => "general",
        Serious => "serious",
    }
);

text_enum!(
    ImpactScope, "impact_scope" {
        OneUser => "one_user",
        SomeUsers => "some_users",
        AllUsers => "all_users",
    }
);

/// A category code from the routing matrix, e.g. `payment`. Categories are configuration, so
/// the domain only fixes their shape: lowercase ASCII letters, digits and `_`, 1-40 long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::new(
                field,
                "invalid_code",
                "use 1-40 characters a-z, 0-9 or _",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Category {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Category::parse("category", &s)
    }
}

impl From<Category> for String {
    fn from(c: Category) -> Self {
        c.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text from a person, trimmed, measured in graphemes (a Chinese character is one, as a
/// reader counts it), without control characters other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField(String);

impl TextField {
    pub fn parse(
        field: &'static str,
        raw: &str,
        max_graphemes: usize,
    ) -> Result<Self, DomainError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DomainError::new(field, "empty", "must not be empty"));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(DomainError::new(
                field,
                "control_characters",
                "must not contain control characters",
            ));
        }
        if text.graphemes(true).count() > max_graphemes {
            return Err(DomainError::new(
                field,
                "too_long",
                format!("must be at most {max_graphemes} characters"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Like `parse`, but an absent or blank value is `None` rather than an error.
    pub fn parse_optional(
        field: &'static str,
        raw: Option<&str>,
        max_graphemes: usize,
    ) -> Result<Option<Self>, DomainError> {
        match raw {
            Some(s) if !s.trim().is_empty() => Self::parse(field, s, max_graphemes).map(Some),
            _ => Ok(None),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The user's own account of what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(TextField);

impl Description {
    pub const MAX_GRAPHEMES: usize = 20_000;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        TextField::parse("description", raw, Self::MAX_GRAPHEMES).map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_text() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(*c));
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(*p));
        }
    }

    #[test]
    fn unknown_enum_value_names_field_and_choices() {
        let err = "fax".parse::<Channel>().err();
        let err = err.as_ref();
        assert_eq!(err.map(|e| e.field), Some("channel"));
        assert!(err.is_some_and(|e| e.message.contains("web")));
    }

    #[test]
    fn priority_raises_one_level_and_stops_at_p1() {
        assert_eq!(Priority::P3.raised(), Priority::P2);
        assert_eq!(Priority::P2.raised(), Priority::P1);
        assert_eq!(Priority::P1.raised(), Priority::P1);
    }

    #[test]
    fn description_rejects_blank_and_control_characters() {
        assert!(Description::parse("   \n ").is_err());
        assert!(Description::parse("bad\u{0}byte").is_err());
        assert_eq!(
            Description::parse("  页面打不开\n第二行 ").map(|d| d.as_str().to_owned()),
            Ok("页面打不开\n第二行".to_owned())
        );
    }

    #[test]
    fn length_counts_graphemes_not_bytes() {
        let chinese = "好".repeat(10);
        assert!(TextField::parse("x", &chinese, 10).is_ok());
        assert!(TextField::parse("x", &"好".repeat(11), 10).is_err());
    }

    #[test]
    fn category_codes_are_restricted() {
        assert!(Category::parse("category", "payment").is_ok());
        assert!(Category::parse("category", "Payment").is_err());
        assert!(Category::parse("category", "pay'; drop").is_err());
        assert!(Category::parse("category", "").is_err());
    }
}
