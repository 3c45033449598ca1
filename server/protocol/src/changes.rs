//! File changes made by tool calls, kept exact: per-line attribution replays them.
//!
//! The tool's input says what the agent asked for; `toolUseResult` (newer versions)
//! says what happened, with `structuredPatch` hunks and the file's content before the
//! change. Both are kept, because older transcripts only have the input.
//!
//! The transcript crate builds these from transcript lines, the store keeps them (as
//! this JSON) and the API sends them in file touches: one shape everywhere.

use serde::{Deserialize, Serialize};

/// One hunk of a unified diff as Claude Code records it in `structuredPatch`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    pub old_start: u64,
    pub old_lines: u64,
    pub new_start: u64,
    pub new_lines: u64,
    /// Each line prefixed by ' ', '-' or '+'.
    pub lines: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextEdit {
    pub old_string: String,
    pub new_string: String,
    pub replace_all: bool,
}

/// What a writing tool call did to one file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub tool: String,
    pub path: String,
    /// Edit: one; MultiEdit: several, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<TextEdit>,
    /// Write: the whole new content. NotebookEdit: the new cell source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The file as it was before the change, when the transcript records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hunks: Vec<Hunk>,
    /// Write created the file (`type: "create"`); `None` when not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// The user changed the proposed edit before accepting it.
    #[serde(default)]
    pub user_modified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_cell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_edit_mode: Option<String>,
    /// A shell `mv` moved the file at this path to `path` (no content change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}
