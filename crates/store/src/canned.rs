//! Canned responses: texts agents insert when replying.

use closedloop_domain::notice::Lang;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A saved reply text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CannedResponse {
    pub id: i64,
    pub title: String,
    pub lang: Lang,
    pub body: String,
    /// Department code; none: every department may use it.
    pub department: Option<String>,
}

/// A canned response to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCannedResponse {
    pub title: String,
    pub lang: Lang,
    pub body: String,
    pub department: Option<String>,
}
