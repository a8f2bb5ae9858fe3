//! What users are told: templates, the signed links in messages, and the worker that delivers
//! queued notices by e-mail, in the portal and by SMS.

pub mod links;
pub mod templates;
pub mod worker;
