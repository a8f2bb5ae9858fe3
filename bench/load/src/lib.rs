//! Load and fault tools for Closedloop (issue 10).
//!
//! - [`mix`]: the realistic mixed load (70% creation from several channels, 20% agent reads and
//!   listing, 10% transitions and replies) with a same-run `/healthz` ceiling.
//! - [`durability`]: 64 clients creating tickets with `Idempotency-Key`s while an instance is
//!   SIGKILLed and restarted, or while PostgreSQL restarts; afterwards every acknowledged ticket
//!   is looked up in the database and lost and duplicated tickets are counted.
//! - [`instance`]: `closedloop serve` processes that can be killed and restarted on their port.
//! - [`pg`]: a private PostgreSQL cluster that a run may stop and start without disturbing the
//!   machine's own.
//!
//! The binary (`closedloop-load`) drives them from the command line; the CI test
//! `crates/closedloop/tests/durability.rs` calls the same functions.

pub mod durability;
pub mod instance;
pub mod mix;
pub mod pg;
pub mod stats;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Milliseconds since 1970: tells apart the names (databases, ticket keys) of runs.
pub fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// An error with a message.
pub fn fail(message: impl Into<String>) -> Error {
    message.into().into()
}
