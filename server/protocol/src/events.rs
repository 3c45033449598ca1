//! The event log, over REST (pages from a cursor) and the WebSocket stream (one event
//! per text message).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Event kinds.
pub mod kind {
    /// A transcript file's conversation was seen for the first time.
    pub const CONVERSATION_STARTED: &str = "conversation.started";
    /// New messages were indexed (one event per batch and conversation).
    pub const MESSAGES_APPENDED: &str = "messages.appended";
    /// A tool call on a file finished (read, edit, failure).
    pub const FILE_TOUCHED: &str = "file.touched";
    /// A recorded change to a file: its line attribution may differ now.
    pub const ATTRIBUTION_CHANGED: &str = "attribution.changed";
    /// Token usage of a conversation changed; `data` has its new totals.
    pub const USAGE_UPDATED: &str = "usage.updated";
    /// A conversation's estimated cost reached one of the platform's configured
    /// thresholds (`webhooks.cost_thresholds_usd`); `data` has `threshold_usd` and
    /// `cost_usd`. Once per conversation and threshold.
    pub const USAGE_THRESHOLD: &str = "usage.threshold";
    /// The share of a file's lines written by agents crossed one of the platform's
    /// configured percentages (`webhooks.agent_share_thresholds_percent`), up or
    /// down; `data` has `share_percent`, `level_percent` (the highest threshold the
    /// share reaches, or null), `previous_level_percent`, `agent_lines`, `lines`.
    pub const FILE_AGENT_SHARE: &str = "file.agent_share";
    /// A conversation was deleted from Observatory: drop what is shown of it.
    pub const CONVERSATION_DELETED: &str = "conversation.deleted";
    /// Prefix of the kinds of Claude Code hook payloads (`hook.PostToolUse`…).
    pub const HOOK_PREFIX: &str = "hook.";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 1042, "at": "2025-12-28T15:22:14.900Z", "kind": "attribution.changed", "session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "project": "/Users/dev/acme-api", "path": "/Users/dev/acme-api/src/auth.rs", "data": {"tool": "Edit", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "failed": false}})))]
pub struct Event {
    pub id: i64,
    pub at: Option<DateTime<Utc>>,
    pub kind: String,
    pub session_id: Option<String>,
    pub project: Option<String>,
    pub path: Option<String>,
    #[cfg_attr(test, ts(type = "unknown"))]
    pub data: serde_json::Value,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventParams {
    /// Only events after this id. Streams without it start at the newest event.
    pub after: Option<i64>,
    /// Page size for the REST form, 1 to 1000 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
    /// Comma-separated event kinds (conversation.started, messages.appended,
    /// file.touched, attribution.changed, usage.updated, usage.threshold,
    /// conversation.deleted).
    pub kind: Option<String>,
    /// Only events of conversations in this project directory (or below).
    pub project: Option<String>,
    /// Only events about paths starting with this.
    pub path_prefix: Option<String>,
    /// Only events of this conversation (session id).
    pub session_id: Option<String>,
}

impl EventParams {
    /// The kinds asked for (`kind`, split at commas; empty: every kind).
    pub fn kinds(&self) -> Vec<String> {
        self.kind
            .iter()
            .flat_map(|k| k.split(','))
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect()
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"events": [{"id": 1042, "at": "2025-12-28T15:22:14.900Z", "kind": "messages.appended", "session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "project": "/Users/dev/acme-api", "path": null, "data": {"count": 3, "last_uuid": "522aab75-1871-4960-ad6c-7a0e2f3e4f84"}}], "last_id": 1042})))]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page (or to open a stream where this left off).
    pub last_id: i64,
}
