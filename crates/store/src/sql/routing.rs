//! The routing configuration (departments and the category matrix), cached in memory.
//!
//! Every new ticket needs it and it changes a few times a year, so reading it from the database
//! on every creation was most of creation's cost. Changes made through this process drop the cache
//! at once; other instances sharing a PostgreSQL database see them within [`TTL`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use closedloop_domain::Nature;
use sqlx::Row;

use super::{SqlStore, parse_stored};
use crate::{Result, StoreError};

const TTL: Duration = Duration::from_secs(10);

pub(crate) struct CategoryRoute {
    pub code: closedloop_domain::Category,
    pub handling: i64,
    pub nature: Nature,
    pub coordinators: Vec<i64>,
}

#[derive(Default)]
pub(crate) struct Routing {
    departments: HashMap<String, i64>,
    codes: HashMap<i64, String>,
    categories: HashMap<String, CategoryRoute>,
}

impl Routing {
    pub fn department_id(&self, code: &str) -> Result<i64> {
        self.departments.get(code).copied().ok_or_else(|| {
            StoreError::invalid(
                "department",
                "unknown_department",
                format!("no department with code {code}"),
            )
        })
    }

    pub fn department_code(&self, id: i64) -> &str {
        self.codes.get(&id).map_or("", String::as_str)
    }

    pub fn category(&self, code: &str) -> Result<&CategoryRoute> {
        self.categories.get(code).ok_or_else(|| {
            StoreError::invalid(
                "category",
                "unknown_category",
                format!("no category {code}"),
            )
        })
    }
}

#[derive(Default)]
pub(crate) struct RoutingCache(RwLock<Option<(Instant, Arc<Routing>)>>);

impl RoutingCache {
    pub fn forget(&self) {
        if let Ok(mut slot) = self.0.write() {
            *slot = None;
        }
    }
}

impl SqlStore {
    pub(crate) async fn routing(&self) -> Result<Arc<Routing>> {
        if let Ok(slot) = self.routing.0.read()
            && let Some((at, routing)) = slot.as_ref()
            && at.elapsed() < TTL
        {
            return Ok(Arc::clone(routing));
        }
        let mut conn = self.read.acquire().await?;
        let mut routing = Routing::default();
        for row in sqlx::query("SELECT id, code FROM departments")
            .fetch_all(&mut *conn)
            .await?
        {
            let (id, code): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
            routing.departments.insert(code.clone(), id);
            routing.codes.insert(id, code);
        }
        for row in sqlx::query("SELECT code, handling_department_id, nature FROM categories")
            .fetch_all(&mut *conn)
            .await?
        {
            let code: String = row.try_get(0)?;
            routing.categories.insert(
                code.clone(),
                CategoryRoute {
                    code: closedloop_domain::Category::parse("category", &code)?,
                    handling: row.try_get(1)?,
                    nature: parse_stored(&row.try_get::<String, _>(2)?)?,
                    coordinators: Vec::new(),
                },
            );
        }
        for row in sqlx::query(
            "SELECT category, department_id FROM category_coordinators ORDER BY department_id",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            let category: String = row.try_get(0)?;
            if let Some(c) = routing.categories.get_mut(&category) {
                c.coordinators.push(row.try_get(1)?);
            }
        }
        let routing = Arc::new(routing);
        if let Ok(mut slot) = self.routing.0.write() {
            *slot = Some((Instant::now(), Arc::clone(&routing)));
        }
        Ok(routing)
    }
}
