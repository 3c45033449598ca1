//! Managing API keys over the API (admin scope).

use axum::extract::State;
use axum::http::StatusCode;
use observatory_protocol::keys::{ApiKey, CreatedKey, NewKey};

use super::{AppState, Json, Path};
use crate::error::{ApiError, Problem};

/// Create an API key.
#[utoipa::path(post, path = "/keys", request_body = NewKey, tag = "keys",
    responses((status = 201, body = CreatedKey), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn create_key(
    State(AppState { pool, .. }): State<AppState>,
    Json(k): Json<NewKey>,
) -> Result<(StatusCode, axum::Json<CreatedKey>), ApiError> {
    let (key, secret) = pool
        .write(move |w| Ok(w.create_api_key(&k.name, &k.scopes)?))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { key, secret })))
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/keys", tag = "keys", responses((status = 200, body = Vec<ApiKey>), (status = 403, body = Problem)))]
pub(super) async fn list_keys(
    State(AppState { pool, .. }): State<AppState>,
) -> Result<axum::Json<Vec<ApiKey>>, ApiError> {
    Ok(axum::Json(pool.read(|c| Ok(c.api_keys()?)).await?))
}

/// Revoke an API key.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn revoke_key(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if pool.write(move |w| Ok(w.revoke_api_key(id)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no active key {id}"),
        ))
    }
}
