//! Conversations: the list, one conversation, its messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::usage::Usage;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "title": "Fix token refresh", "kind": "session", "parent_session": null, "project": "/Users/dev/acme-api", "git_branch": "main", "version": "2.0.75", "entrypoint": "cli", "started_at": "2025-12-28T15:20:39.093Z", "ended_at": "2025-12-28T15:42:10.500Z", "message_count": 67, "models": ["claude-opus-4-5-20251101"], "usage": {"input_tokens": 71, "output_tokens": 1686, "cache_creation_input_tokens": 25778, "cache_read_input_tokens": 142624}, "cost_usd": 0.13})))]
pub struct ConversationSummary {
    pub session_id: String,
    pub title: String,
    pub kind: String,
    pub parent_session: Option<String>,
    /// The conversation this one resumed (`claude --resume`): the records it starts
    /// with are that conversation's, and are credited to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub continues: Option<String>,
    pub project: Option<String>,
    pub git_branch: Option<String>,
    pub version: Option<String>,
    pub entrypoint: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub message_count: u64,
    pub models: Vec<String>,
    pub usage: Usage,
    pub cost_usd: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListParams {
    /// Only conversations in this project directory (or below it).
    pub project: Option<String>,
    /// Only conversations active at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only conversations started before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Only conversations that used a model whose id contains this.
    pub model: Option<String>,
    /// Only conversations that touched this file (absolute path or path suffix).
    pub file: Option<String>,
    /// Only conversations whose text matches this search query (as in `/search`).
    #[cfg_attr(feature = "openapi", param(min_length = 1))]
    pub q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[cfg_attr(feature = "openapi", param(pattern = r"^o[0-9]{1,12}$"))]
    pub cursor: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"items": [{"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "title": "Fix token refresh", "kind": "session", "parent_session": null, "project": "/Users/dev/acme-api", "git_branch": "main", "version": "2.0.75", "entrypoint": "cli", "started_at": "2025-12-28T15:20:39.093Z", "ended_at": "2025-12-28T15:42:10.500Z", "message_count": 67, "models": ["claude-opus-4-5-20251101"], "usage": {"input_tokens": 71, "output_tokens": 1686, "cache_creation_input_tokens": 25778, "cache_read_input_tokens": 142624}, "cost_usd": 0.13}], "next_cursor": "o50"})))]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallView {
    pub id: String,
    pub name: String,
    /// The tool's input as the agent gave it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub input: serde_json::Value,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResultView {
    pub tool_use_id: String,
    pub is_error: bool,
    /// The output, cut at 4,000 characters.
    pub content: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub uuid: Option<String>,
    pub parent_uuid: Option<String>,
    pub role: String,
    pub at: Option<DateTime<Utc>>,
    pub model: Option<String>,
    pub is_sidechain: bool,
    /// A prompt a person typed: text, or a slash command that hands the model a
    /// prompt (`/init`, a project's own command; not `/model`), whose `command` is
    /// set. Not a tool result.
    pub is_prompt: bool,
    pub text: String,
    /// A slash command's record (its `text` is Claude Code's markup): the command as
    /// typed, `/model opus`; null for other messages.
    #[serde(default)]
    pub command: Option<String>,
    /// A slash command's output, terminal escapes removed (its `text` is the
    /// markup); null for other messages.
    #[serde(default)]
    pub command_output: Option<String>,
    /// The message's thinking, blocks separated by a blank line; null when it has
    /// none (redacted thinking has no text and is left out).
    pub thinking: Option<String>,
    pub tool_calls: Vec<ToolCallView>,
    pub tool_results: Vec<ToolResultView>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"items": [{"uuid": "6fc77626-91ba-47b3-959a-c50bc7c6a882", "parent_uuid": "e947d144-88ef-4779-8fc9-3e0a66b9af9f", "role": "assistant", "at": "2025-12-28T15:20:46.845Z", "model": "claude-opus-4-5-20251101", "is_sidechain": false, "is_prompt": false, "text": "I'll extend the token lifetime.", "thinking": "The refresh token outlives the access token's 60 s TTL; raising the TTL to an hour fixes the early expiry.", "tool_calls": [{"id": "toolu_01Az5RFXg2kqmCM5Ppu91oaU", "name": "Edit", "input": {"file_path": "/Users/dev/acme-api/src/auth.rs", "old_string": "ttl = 60", "new_string": "ttl = 3600"}}], "tool_results": []}], "next_cursor": null})))]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    pub next_cursor: Option<String>,
}

/// A file a conversation touched (read, wrote, moved), from its recorded tool calls.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"path": "/Users/dev/acme-api/src/auth.rs", "changes": 2, "last_at": "2025-12-28T15:22:14.810Z"})))]
pub struct ConversationFile {
    /// The path as the agent recorded it (on the machine and checkout it ran in).
    pub path: String,
    /// Edit, Write, MultiEdit and NotebookEdit calls on it that did not fail; 0 for a
    /// file it only read.
    pub changes: u64,
    /// When the conversation last touched the file: read, changed or moved it.
    pub last_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageParams {
    /// Page size, 1 to 500 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[cfg_attr(feature = "openapi", param(pattern = r"^o[0-9]{1,12}$"))]
    pub cursor: Option<String>,
}
