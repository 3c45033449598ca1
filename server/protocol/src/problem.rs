//! Errors: every error the API answers is one of these.

use serde::{Deserialize, Serialize};

/// An RFC 9457 problem document (`application/problem+json`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "bad search query: \"()\" has no words to search for"})))]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}
