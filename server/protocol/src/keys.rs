//! API keys, managed over the API (admin scope).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a key may do: `read` < `write` < `admin`.
// Documents `NewKey::scopes`, which the store checks against
// `observatory_store::keys::SCOPES`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 3, "name": "dashboard", "prefix": "9f2c01ab", "scopes": ["read"], "created_at": "2025-12-28T15:00:00Z", "revoked_at": null})))]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The public start of the key (`obs_<prefix>_...`), to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    /// Once white space at either end is trimmed: 1 to 100 characters, no control
    /// characters.
    // Exactly what `create_api_key` checks, spelled for ECMA and Python regexes alike
    // (`\s` differs between them): white space (Rust's White_Space), then a character
    // that is neither white space nor a control character, then optionally up to 98
    // non-control characters and another such character, then white space. No
    // `maxLength`: it would count the white space that is trimmed.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
        )
    )]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Scope>, min_items = 1))]
    #[cfg_attr(test, ts(as = "Vec<Scope>"))]
    pub scopes: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"key": {"id": 3, "name": "dashboard", "prefix": "9f2c01ab", "scopes": ["read"], "created_at": "2025-12-28T15:00:00Z", "revoked_at": null}, "secret": "obs_9f2c01ab_0123456789abcdef0123456789abcdef0123456789abcdef"})))]
pub struct CreatedKey {
    pub key: ApiKey,
    /// The secret, shown this once: only its hash is stored.
    pub secret: String,
}
