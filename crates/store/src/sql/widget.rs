//! Sites of the feedback widget.

use sqlx::Row;

use super::SqlStore;
use crate::model::{from_ms, to_ms};
use crate::{Result, StoreError, WidgetSite};

const SELECT: &str = "SELECT id, name, site_key, origins, active, created_at FROM widget_sites";

fn site(r: &sqlx::any::AnyRow) -> Result<WidgetSite> {
    let origins: String = r.try_get(3)?;
    Ok(WidgetSite {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        site_key: r.try_get(2)?,
        // Written by this code as a JSON list; anything else allows no origin at all.
        origins: serde_json::from_str(&origins).unwrap_or_default(),
        active: r.try_get::<i64, _>(4)? != 0,
        created_at: from_ms(r.try_get(5)?),
    })
}

impl SqlStore {
    pub(crate) async fn create_widget_site_impl(
        &self,
        name: &str,
        site_key: &str,
        origins: &[String],
    ) -> Result<WidgetSite> {
        let now = to_ms(self.clock.now());
        let origins_json = serde_json::to_string(origins).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO widget_sites (name, site_key, origins, active, created_at) VALUES ($1, $2, $3, 1, $4)",
        )
        .bind(name)
        .bind(site_key)
        .bind(&origins_json)
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(StoreError::unique_as("name"))?;
        self.widget_site_impl(site_key)
            .await?
            .ok_or(StoreError::NotFound("widget site"))
    }

    pub(crate) async fn list_widget_sites_impl(&self) -> Result<Vec<WidgetSite>> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY name"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(site).collect()
    }

    pub(crate) async fn widget_site_impl(&self, site_key: &str) -> Result<Option<WidgetSite>> {
        let row = sqlx::query(&format!("{SELECT} WHERE site_key = $1"))
            .bind(site_key)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(site).transpose()
    }
}
