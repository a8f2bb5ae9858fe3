//! The user stories the suite checks, grouped by what they are about.

mod access;
mod auth;
mod closing;
mod console;
mod input;
mod knowledge;
mod lifecycle;
mod listing;
mod mail;
mod metrics;
mod privacy;
mod reports;
mod search;
mod sla;
mod triage;
mod web_form;
mod webhooks;
mod widget;

pub use access::*;
pub use auth::*;
pub use closing::*;
pub use console::*;
pub use input::*;
pub use knowledge::*;
pub use lifecycle::*;
pub use listing::*;
pub use mail::*;
pub use metrics::*;
pub use privacy::*;
pub use reports::*;
pub use search::*;
pub use sla::*;
pub use triage::*;
pub use web_form::*;
pub use webhooks::*;
pub use widget::*;
