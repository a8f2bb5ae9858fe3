//! Departments, users and the routing matrix.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use closedloop_domain::{Category, Role, TextField};
use closedloop_store::{CategoryRoute, Department, NewUser, User};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiJson, valid_email};
use crate::AppState;
use crate::auth::{self, Actor};
use crate::error::{ApiError, ApiResult, ErrorBody};

fn require(actor: &Actor, role: Role) -> ApiResult<()> {
    if actor.0.role >= role && actor.0.role.is_staff() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("this needs the {role} role")))
    }
}

/// All departments. Staff only.
#[utoipa::path(get, path = "/api/v1/departments", tag = "directory",
    responses((status = 200, body = Vec<Department>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_departments(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<Department>>> {
    require(&actor, Role::Agent)?;
    Ok(Json(state.store.list_departments().await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    /// a-z, 0-9 and _, e.g. `vip_care`.
    code: String,
    name: String,
    #[serde(default)]
    name_zh: String,
}

/// Adds a department. Admin only.
#[utoipa::path(post, path = "/api/v1/departments", tag = "directory", request_body = NewDepartment,
    responses((status = 201, body = Department), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_department(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<NewDepartment>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    require(&actor, Role::Admin)?;
    let code = Category::parse("code", &body.code)?;
    let name = TextField::parse("name", &body.name, 100)?;
    let name_zh = TextField::parse_optional("name_zh", Some(&body.name_zh), 100)?;
    let d = state
        .store
        .create_department(
            code.as_str(),
            name.as_str(),
            name_zh.as_ref().map_or("", |n| n.as_str()),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// Everyone with an account. Admin only.
#[utoipa::path(get, path = "/api/v1/users", tag = "directory",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_users(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<Vec<User>>> {
    require(&actor, Role::Admin)?;
    Ok(Json(state.store.list_users().await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    name: String,
    #[schema(value_type = String, example = "agent")]
    role: Role,
    /// At least 8 characters; without one the user cannot log in (a customer known by email).
    password: Option<String>,
    /// Department codes (staff).
    #[serde(default)]
    departments: Vec<String>,
}

/// Creates an account. Admin only.
#[utoipa::path(post, path = "/api/v1/users", tag = "directory", request_body = CreateUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    require(&actor, Role::Admin)?;
    let new = new_user(
        body.email,
        body.name,
        body.role,
        body.password,
        body.departments,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_user(new).await?),
    ))
}

/// Validates and hashes an account to be created; shared with the CLI.
pub async fn new_user(
    email: String,
    name: String,
    role: Role,
    password: Option<String>,
    departments: Vec<String>,
) -> ApiResult<NewUser> {
    if !valid_email(&email) {
        return Err(ApiError::invalid(
            "email",
            "invalid_email",
            "must be an email address",
        ));
    }
    let name = TextField::parse("name", &name, 100)?;
    if role == Role::Customer && !departments.is_empty() {
        return Err(ApiError::invalid(
            "departments",
            "not_for_customers",
            "customers belong to no department",
        ));
    }
    for d in &departments {
        Category::parse("departments", d)?;
    }
    if let Some(p) = &password {
        closedloop_domain::password::check(p, &email)?;
    }
    let password_hash = match password {
        Some(p) => Some(
            tokio::task::spawn_blocking(move || auth::hash_password(&p))
                .await
                .map_err(|_| ApiError::internal())??,
        ),
        None => None,
    };
    Ok(NewUser {
        email: email.trim().to_owned(),
        name: name.into_string(),
        role,
        password_hash,
        departments,
    })
}

/// The routing matrix: category → handling and coordinating departments.
#[utoipa::path(get, path = "/api/v1/categories", tag = "directory",
    responses((status = 200, body = Vec<CategoryRoute>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_categories(
    State(state): State<AppState>,
    _actor: Actor,
) -> ApiResult<Json<Vec<CategoryRoute>>> {
    Ok(Json(state.store.list_categories().await?))
}
