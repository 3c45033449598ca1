//! Data from elsewhere: transcript lines uploaded by other machines, and Claude Code
//! `http` hook payloads.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"lines": 3, "bytes": 2048})))]
pub struct Uploaded {
    /// Complete lines appended.
    pub lines: usize,
    pub bytes: usize,
}

/// Complete transcript lines, each ending in a newline.
// Documents the upload's body, which is read as text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"\n$"))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonLines(pub String);

/// What a hook payload must carry; the rest (`session_id`, `cwd`, `tool_input`…) is
/// kept as sent.
// Documents the body, which is read as any JSON value.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookPayload {
    /// `PostToolUse`, `UserPromptSubmit`…: the event is `hook.<hook_event_name>`.
    pub hook_event_name: String,
}
