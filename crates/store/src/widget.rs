//! Sites that embed the feedback widget.

use serde::Serialize;
use utoipa::ToSchema;

/// A site allowed to post feedback through the widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WidgetSite {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    /// Public: goes into the page as `data-site-key`.
    pub site_key: String,
    /// Origins (`scheme://host[:port]`) whose pages may post with this key.
    pub origins: Vec<String>,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
