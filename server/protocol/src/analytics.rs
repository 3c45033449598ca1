//! Analytics: token usage grouped, projects, the files agents changed most.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::usage::Usage;

// How usage is grouped (`UsageParams::by`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Conversation,
    Project,
    Day,
    Model,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageParams {
    /// conversation | project | day | model (default model)
    #[cfg_attr(feature = "openapi", param(inline))]
    pub by: Option<By>,
    pub project: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub model: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", schema(example = json!({"key": "claude-opus-4-5-20251101", "label": "claude-opus-4-5-20251101", "conversations": 12, "usage": {"input_tokens": 1638, "output_tokens": 40210, "cache_creation_input_tokens": 99330, "cache_read_input_tokens": 3468300}, "total_tokens": 3609478, "cost_usd": 3.42})))]
pub struct UsageRow {
    pub key: String,
    /// A readable name for the key (the conversation title for conversations).
    pub label: String,
    pub conversations: u64,
    pub usage: Usage,
    pub total_tokens: u64,
    pub cost_usd: f64,
}

/// A project: the directory conversations ran in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", schema(example = json!({"project": "/Users/dev/acme-api", "conversations": 42, "last_active": "2025-12-28T15:42:10.500Z", "total_tokens": 18230411})))]
pub struct ProjectSummary {
    pub project: String,
    pub conversations: u64,
    pub last_active: Option<DateTime<Utc>>,
    pub total_tokens: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditedParams {
    pub project: Option<String>,
    /// 1 to 500 (default 20).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<usize>,
}

/// A file agents changed, with how often.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", schema(example = json!({"path": "/Users/dev/acme-api/src/auth.rs", "edits": 17, "conversations": 5, "last_edited": "2025-12-28T15:22:14.810Z"})))]
pub struct EditedFile {
    pub path: String,
    pub edits: u64,
    pub conversations: u64,
    pub last_edited: Option<DateTime<Utc>>,
}
