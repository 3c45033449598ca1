//! Full-text search: the query's parameters, a page of hits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Only hits of this role.
// Documents the `role` parameter, which is read as a string: the store checks it
// against the same list (`ROLES` in store/src/search.rs).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchRole {
    User,
    Assistant,
    System,
}

/// Only hits of this kind of block.
// Documents the `kind` parameter, like `SearchRole` (`KINDS` in store/src/search.rs).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    Prompt,
    User,
    Assistant,
    Thinking,
    ToolInput,
    ToolOutput,
    System,
}

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields = nullable))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// Words, "quoted phrases", prefix*, -excluded, a OR b. At least one word must be
    /// searched for (not only excluded words or punctuation), at most 16 terms, and a
    /// prefix needs 3 letters before `*`: else 400.
    #[cfg_attr(feature = "openapi", param(min_length = 1))]
    pub q: String,
    pub project: Option<String>,
    /// Only conversations that touched this file (absolute path or path suffix).
    pub file: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", param(value_type = Option<SearchRole>, inline))]
    #[cfg_attr(test, ts(as = "Option<SearchRole>"))]
    pub role: Option<String>,
    #[cfg_attr(feature = "openapi", param(value_type = Option<SearchKind>, inline))]
    #[cfg_attr(test, ts(as = "Option<SearchKind>"))]
    pub kind: Option<String>,
    /// Only this tool's inputs and outputs (`Bash`, `Edit`, an MCP tool); `bash` finds `Bash`.
    pub tool: Option<String>,
    pub model: Option<String>,
    pub conversation: Option<String>,
    /// 1 to 100 (default 20).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<usize>,
    /// Hits to skip: the `next_offset` of the previous page.
    // `MAX_OFFSET` in platform/src/api.rs; tests/api.rs checks that the two agree.
    #[cfg_attr(feature = "openapi", param(maximum = 1_099_511_627_776_u64))]
    pub offset: Option<usize>,
    /// `q` is still being typed (a search box that searches on each keystroke): its
    /// last word, unless a space follows it, also matches as a prefix once it has 3
    /// letters, so `pagin` finds "pagination". Quoted and excluded words stay as
    /// typed.
    pub typing: Option<bool>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub session_id: String,
    pub conversation_title: String,
    pub project: Option<String>,
    pub message_uuid: String,
    pub kind: String,
    pub role: String,
    pub tool: Option<String>,
    pub model: Option<String>,
    pub at: Option<DateTime<Utc>>,
    /// The matched passage, one line: the recorded text as it is, not HTML (a
    /// transcript holds markup of its own: escape it before showing it as HTML), with
    /// each matched word between `<mark>` and `</mark>`. Split at those two markers.
    pub snippet: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"hits": [{"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "project": "/Users/dev/acme-api", "message_uuid": "e947d144-88ef-4779-8fc9-3e0a66b9af9f", "kind": "prompt", "role": "user", "tool": null, "model": null, "at": "2025-12-28T15:20:39.093Z", "snippet": "The <mark>refresh</mark> <mark>token</mark> expires too early"}], "next_offset": 20, "ranked_newest": null})))]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Offset of the next page, if there is one.
    pub next_offset: Option<usize>,
    /// Set when the query matched so much that only its newest N matches were ranked.
    pub ranked_newest: Option<usize>,
}
