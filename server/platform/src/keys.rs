//! Managing API keys over the API (admin scope).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use observatory_store::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{AppState, Json};
use crate::error::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKey {
    name: String,
    /// Any of read, write, admin.
    scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"key": {"id": 3, "name": "dashboard", "prefix": "9f2c01ab", "scopes": ["read"], "created_at": "2025-12-28T15:00:00Z", "revoked_at": null}, "secret": "obs_9f2c01ab_0123456789abcdef0123456789abcdef0123456789abcdef"}))]
pub struct CreatedKey {
    key: ApiKey,
    /// The secret, shown this once: only its hash is stored.
    secret: String,
}

/// Create an API key.
#[utoipa::path(post, path = "/keys", request_body = NewKey, tag = "keys",
    responses((status = 201, body = CreatedKey), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn create_key(
    State(AppState { pool, .. }): State<AppState>,
    Json(k): Json<NewKey>,
) -> Result<(StatusCode, axum::Json<CreatedKey>), ApiError> {
    let (key, secret) = pool
        .run(move |s| Ok(s.create_api_key(&k.name, &k.scopes)?))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { key, secret })))
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/keys", tag = "keys", responses((status = 200, body = Vec<ApiKey>), (status = 403, body = Problem)))]
pub async fn list_keys(
    State(AppState { pool, .. }): State<AppState>,
) -> Result<axum::Json<Vec<ApiKey>>, ApiError> {
    Ok(axum::Json(pool.run(|s| Ok(s.api_keys()?)).await?))
}

/// Revoke an API key.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub async fn revoke_key(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if pool.run(move |s| Ok(s.revoke_api_key(id)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no active key {id}"),
        ))
    }
}
