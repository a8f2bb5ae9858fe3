//! The Closedloop domain: tickets, their life cycle, who may do what, routing, SLA clocks,
//! solutions and their approval, and what the user is told when.
//!
//! Pure: no I/O, no async, no clock. Time arrives as arguments so rules are testable.

pub mod error;
pub mod hot;
pub mod lifecycle;
pub mod notice;
pub mod number;
pub mod password;
pub mod progress;
pub mod report;
pub mod role;
pub mod routing;
pub mod sla;
pub mod solution;
pub mod ticket;
pub mod title;

pub use error::DomainError;
pub use lifecycle::{Action, Status, TransitionError};
pub use number::TicketNumber;
pub use role::Role;
pub use routing::{Department, RoutingMatrix, RoutingRule};
pub use ticket::{
    Category, Channel, Description, ImpactScope, Nature, Priority, Severity, TextField,
};
pub use title::Title;
