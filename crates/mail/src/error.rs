use thiserror::Error;

/// Why a message was refused. Each variant reads as a one-line human reason (`Display`) and has a
/// stable snake_case [`MailError::code`] for logs, the quarantine folder and the CLI.
///
/// Only input that cannot be a ticket is refused: damaged MIME structure, unknown charsets and
/// bad encoded words are accepted with a warning in [`crate::Inbound::warnings`] instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MailError {
    #[error("empty input")]
    Empty,
    #[error("message larger than {limit} bytes ({size} bytes)")]
    TooLarge { size: usize, limit: usize },
    #[error("not a mail message: {0}")]
    NotMail(&'static str),
    #[error("no From address")]
    NoFrom,
}

impl MailError {
    /// Stable snake_case reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLarge { .. } => "too_large",
            Self::NotMail(_) => "not_mail",
            Self::NoFrom => "no_from",
        }
    }
}

/// Why an outgoing message could not be built: a value that would break the header block.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}
