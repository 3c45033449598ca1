//! Managing API keys over the API (admin scope).

use axum::extract::State;
use axum::http::StatusCode;
use observatory_store::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{AppState, Json, Path};
use crate::error::{ApiError, Problem};

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKey {
    /// Once white space at either end is trimmed: 1 to 100 characters, no control
    /// characters.
    // Exactly what `create_api_key` checks, spelled for ECMA and Python regexes alike
    // (`\s` differs between them): white space (Rust's White_Space), then a character
    // that is neither white space nor a control character, then optionally up to 98
    // non-control characters and another such character, then white space. No
    // `maxLength`: it would count the white space that is trimmed.
    #[schema(
        pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    name: String,
    #[schema(value_type = Vec<Scope>, min_items = 1)]
    scopes: Vec<String>,
}

/// What a key may do: `read` < `write` < `admin`.
// Documents `NewKey::scopes`, which the store checks against
// `observatory_store::keys::SCOPES`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum Scope {
    Read,
    Write,
    Admin,
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
