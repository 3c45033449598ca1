//! Files: their recorded touches, what agents did to them, line attribution (blame)
//! and the symbols agents changed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changes::FileChange;

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathParams {
    /// An absolute path, or a relative one matched against the end of recorded paths.
    pub path: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "tool": "Edit", "path": "/Users/dev/acme-api/src/auth.rs", "at": "2025-12-28T15:22:14.810Z", "failed": false, "error": null, "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "message_uuid": "186bc58d-e2bf-4e2e-ac6d-1e0257b9e5e6", "prompt": "The refresh token expires too early", "change": {"tool": "Edit", "path": "/Users/dev/acme-api/src/auth.rs", "edits": [{"old_string": "ttl = 60", "new_string": "ttl = 3600", "replace_all": false}], "user_modified": false}})))]
pub struct FileTouch {
    pub session_id: String,
    pub conversation_title: String,
    pub tool: String,
    pub path: String,
    pub at: Option<DateTime<Utc>>,
    /// `None` while the tool's result has not been written yet.
    pub failed: Option<bool>,
    pub error: Option<String>,
    pub tool_use_id: String,
    /// The assistant message that made the call.
    pub message_uuid: String,
    pub prompt: Option<String>,
    pub change: Option<FileChange>,
}

/// What agents did to one file, summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", schema(example = json!({"path": "src/auth.rs", "conversations": 5, "edits": 17, "reads": 31, "failures": 2, "last_touched": "2025-12-28T15:22:14.810Z", "tokens": 4412345, "prompts": ["The refresh token expires too early"]})))]
pub struct FileInsights {
    pub path: String,
    pub conversations: u64,
    pub edits: u64,
    pub reads: u64,
    pub failures: u64,
    pub last_touched: Option<DateTime<Utc>>,
    /// Tokens of the conversations that changed the file (a conversation's whole usage).
    pub tokens: u64,
    /// The prompts that led to changes, newest first, each once.
    pub prompts: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameParams {
    /// Absolute path of the file on the platform's machine, without `..` components,
    /// under one of its `workspace_roots` (else 403).
    #[cfg_attr(feature = "openapi", param(pattern = r"^(?![\s\S]*/\.\.(/|$))/"))]
    pub path: String,
    /// Workspace root the path is relative to (default: its git checkout).
    pub root: Option<String>,
    /// A line re-indented or re-spaced since an agent wrote it stays the agent's, like
    /// `git blame -w` (default: it is the person's, like `git blame`).
    #[serde(default)]
    #[cfg_attr(test, ts(optional, as = "Option<bool>"))]
    pub ignore_whitespace: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameRequest {
    /// Absolute path of the file the buffer belongs to.
    #[cfg_attr(feature = "openapi", schema(pattern = "^/"))]
    pub path: String,
    pub root: Option<String>,
    /// The buffer's content, saved or not.
    pub content: String,
    /// A line re-indented or re-spaced since an agent wrote it stays the agent's, like
    /// `git blame -w` (default: it is the person's, like `git blame`).
    #[serde(default)]
    #[cfg_attr(test, ts(optional, as = "Option<bool>"))]
    pub ignore_whitespace: bool,
}

/// A run of lines written by one recorded change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameRun {
    // Lines are 1-based; the run is inclusive at both ends.
    pub start_line: usize,
    pub end_line: usize,
    /// The conversation the user had; for a subagent's change, the session that
    /// launched the subagent.
    pub session_id: String,
    pub conversation_title: String,
    /// Set when a subagent made the change: the task's description (else its task or
    /// agent id). `prompt` is then the task the subagent was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub subagent: Option<String>,
    pub message_uuid: String,
    pub tool_use_id: String,
    pub tool: String,
    pub at: Option<DateTime<Utc>>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    /// What the assistant wrote just before the call.
    pub reason: Option<String>,
    /// The conversation's project directory.
    pub project: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"lines": 120, "attributed_lines": 37, "runs": [{"start_line": 12, "end_line": 25, "session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "message_uuid": "186bc58d-e2bf-4e2e-ac6d-1e0257b9e5e6", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "tool": "Edit", "at": "2025-12-28T15:22:14.810Z", "model": "claude-opus-4-5-20251101", "prompt": "The refresh token expires too early", "reason": "The expiry is compared in seconds against a value in milliseconds; I'll convert it first.", "project": "/Users/dev/acme-api"}]})))]
pub struct BlameResponse {
    pub lines: usize,
    pub attributed_lines: usize,
    pub runs: Vec<BlameRun>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolParams {
    /// A function, method, class or module name (`refresh_token`) or qualified name
    /// (`Auth::refresh_token`, `Auth.refresh_token`), with at least 2 letters or
    /// digits (else 422).
    // Only the length is declared: "letters or digits" are Unicode categories, which
    // the regex dialects readers apply (ECMA without `u`, Python's `re.ASCII`) cannot
    // name.
    #[cfg_attr(feature = "openapi", param(min_length = 2))]
    pub name: String,
    /// 1 to 500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<usize>,
}

/// A recorded change that wrote lines inside a symbol.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"symbol": "Auth::refresh_token", "kind": "method", "path": "/Users/dev/acme-api/src/auth.rs", "lines": [44, 45, 46], "session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "tool": "Edit", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "at": "2025-12-28T15:22:14.810Z", "prompt": "The refresh token expires too early"})))]
pub struct SymbolChangeRow {
    pub symbol: String,
    pub kind: String,
    /// The file as the agent named it.
    pub path: String,
    /// Lines of the symbol the change wrote (1-based, in the file right after it).
    pub lines: Vec<usize>,
    pub session_id: String,
    pub conversation_title: String,
    pub tool: String,
    pub tool_use_id: String,
    pub at: Option<DateTime<Utc>>,
    pub prompt: Option<String>,
}

/// A symbol agents changed, with the conversations that changed it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "Auth::refresh_token", "kind": "function", "start_line": 40, "end_line": 61, "changes": [{"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "at": "2025-12-28T15:22:14.810Z", "lines": 9}]})))]
pub struct SymbolChange {
    pub name: String,
    pub kind: String,
    pub start_line: usize,
    pub end_line: usize,
    /// Latest first.
    pub changes: Vec<SymbolChangeBy>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolChangeBy {
    pub session_id: String,
    pub conversation_title: String,
    pub tool_use_id: String,
    pub at: Option<DateTime<Utc>>,
    pub lines: usize,
}
