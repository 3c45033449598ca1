//! The language server's extensions to LSP: one type per request and notification,
//! with its method, parameters and result (as rust-analyzer's `lsp_ext.rs`). Editor
//! packages use the TypeScript generated from these; docs/lsp.md describes them.
//!
//! Results that the platform produces (search pages, conversations, insights) are the
//! REST types themselves: one shape whichever way a client asks.

use serde::{Deserialize, Serialize};

use crate::conversations::{ConversationFile, ConversationPage, ConversationSummary, MessageView};
use crate::files::{BlameRun, FileInsights, SymbolChangeRow};
use crate::search::SearchPage;

/// Raised when a request, notification or result changes shape; advertised under
/// `capabilities.experimental.observatory.protocolVersion`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request a client sends to the server (or, for `observatory/status`, asks).
pub trait Request {
    type Params;
    type Result;
    const METHOD: &'static str;
}

/// A notification, in the direction its documentation says.
pub trait Notification {
    type Params;
    const METHOD: &'static str;
}

/// What the server advertises under `capabilities.experimental.observatory`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentalCapabilities {
    pub protocol_version: u32,
    /// The custom request methods the server answers.
    pub requests: Vec<String>,
    /// The custom notification methods it sends or accepts.
    pub notifications: Vec<String>,
    /// The `workspace/executeCommand` commands, also in `executeCommandProvider`.
    pub commands: Vec<String>,
}

impl ExperimentalCapabilities {
    /// This build's capabilities.
    pub fn current() -> Self {
        Self {
            protocol_version: PROTOCOL_VERSION,
            requests: [
                Search::METHOD,
                Conversations::METHOD,
                ConversationRequest::METHOD,
                FileInsightsRequest::METHOD,
                Blame::METHOD,
                SymbolChanges::METHOD,
                Status::METHOD,
            ]
            .map(str::to_owned)
            .to_vec(),
            notifications: [
                StatusNotification::METHOD,
                DidChangeInsights::METHOD,
                DidChangeCursor::METHOD,
            ]
            .map(str::to_owned)
            .to_vec(),
            commands: command::ALL.map(str::to_owned).to_vec(),
        }
    }
}

/// Which end-of-line hints the server sends.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum InlayMode {
    #[default]
    Off,
    CurrentLine,
    All,
}

/// The server's settings: `initializationOptions`, or `workspace/didChangeConfiguration`
/// with this object or `{"observatory": {...}}`. Every key is optional.
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// A platform to use instead of the local one.
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub code_lens: bool,
    pub hover: bool,
    pub inlay_hints: InlayMode,
    pub code_actions: bool,
    /// Files larger than this are not attributed (a one-line lens says so).
    pub max_file_bytes: usize,
    /// Quiet time after typing before attribution is recomputed.
    pub debounce_ms: u64,
    /// A line re-indented or re-spaced since an agent wrote it stays the agent's, like
    /// `git blame -w` (default: it is the person's, like `git blame`).
    pub ignore_whitespace: bool,
    /// Set by Observatory's own editor packages: they copy prompts and run
    /// `claude --resume` themselves, so the server does not show them as messages.
    pub shim: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: None,
            api_key: None,
            code_lens: true,
            hover: true,
            inlay_hints: InlayMode::Off,
            code_actions: true,
            max_file_bytes: 2 * 1024 * 1024,
            debounce_ms: 300,
            ignore_whitespace: false,
            shim: false,
        }
    }
}

/// A document, as LSP names it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextDocument {
    pub uri: String,
}

/// A position in a document, as LSP counts it (0-based line, column in the
/// negotiated encoding).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

/// `observatory/search`: ranked full-text search over every conversation.
pub enum Search {}

impl Request for Search {
    type Params = SearchRequestParams;
    type Result = SearchPage;
    const METHOD: &'static str = "observatory/search";
}

#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequestParams {
    /// Words, "quoted phrases", prefix*, -excluded, a OR b. Not empty.
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The query is still being typed: its last word also matches as a prefix
    /// (the platform's `typing`). For a search box that searches on each keystroke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing: Option<bool>,
}

/// `observatory/conversations`: conversations, most recent first; with
/// `textDocument`, those that touched that file.
pub enum Conversations {}

impl Request for Conversations {
    type Params = ConversationsParams;
    type Result = ConversationPage;
    const METHOD: &'static str = "observatory/conversations";
}

#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_document: Option<TextDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Only conversations whose text matches this search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `observatory/conversation`: one conversation as a panel shows it: its summary, the
/// files it touched and a page of its messages.
pub enum ConversationRequest {}

impl Request for ConversationRequest {
    type Params = ConversationParams;
    type Result = ConversationDetail;
    const METHOD: &'static str = "observatory/conversation";
}

#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParams {
    /// A session id or a unique prefix of one.
    pub id: String,
    /// The `nextCursor` of the previous page of messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Messages per page, up to 500 (the default); 0 for the summary and files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetail {
    pub conversation: ConversationSummary,
    /// The files it touched, most recently touched first.
    pub files: Vec<ConversationFile>,
    /// This page of its messages, in transcript order.
    pub messages: Vec<MessageView>,
    /// Pass as `cursor` for the next page; null on the last page and when `limit` is 0.
    pub next_cursor: Option<String>,
}

/// `observatory/fileInsights`: what agents did to a file.
pub enum FileInsightsRequest {}

impl Request for FileInsightsRequest {
    type Params = TextDocument;
    type Result = FileInsights;
    const METHOD: &'static str = "observatory/fileInsights";
}

/// `observatory/blame`: the attribution of the buffer as the editor has it, from the
/// server's cache.
pub enum Blame {}

impl Request for Blame {
    type Params = TextDocument;
    type Result = BlameResult;
    const METHOD: &'static str = "observatory/blame";
}

/// The attribution, or word that it is not computed yet.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BlameResult {
    Ready(DocumentBlame),
    Pending(PendingBlame),
}

/// `{ runs: [], pending: true }`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBlame {
    /// Always empty.
    pub runs: Vec<BlameRun>,
    /// Always true.
    pub pending: bool,
}

impl PendingBlame {
    pub fn new() -> Self {
        Self {
            runs: Vec::new(),
            pending: true,
        }
    }
}

impl Default for PendingBlame {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentBlame {
    /// The document version the attribution is for.
    pub version: i32,
    pub attributed_lines: u32,
    pub conversations: u32,
    /// Why the file is not attributed (too large), if it is not.
    pub skipped: Option<String>,
    pub runs: Vec<BlameRun>,
    pub symbols: Vec<SymbolBlame>,
}

/// A function, method, class or module agents changed, with its latest change.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolBlame {
    pub name: String,
    /// `function`, `method`, `class`, `impl`, `module`…
    pub kind: String,
    /// 1-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    pub latest: BlameRun,
    /// Conversations that wrote lines in it.
    pub conversations: u32,
    /// Its lines that agents wrote.
    pub lines: u32,
}

/// `observatory/symbolChanges`: which conversations changed a symbol, anywhere,
/// newest first.
pub enum SymbolChanges {}

impl Request for SymbolChanges {
    type Params = SymbolChangesParams;
    type Result = Vec<SymbolChangeRow>;
    const METHOD: &'static str = "observatory/symbolChanges";
}

#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolChangesParams {
    /// A name (`refresh_token`) or qualified name (`Auth::refresh_token`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `observatory/status`: the connection to the platform, as it is now.
pub enum Status {}

impl Request for Status {
    type Params = serde_json::Value;
    type Result = ConnectionStatus;
    const METHOD: &'static str = "observatory/status";
}

/// `observatory/status` (server → client): the connection changed.
pub enum StatusNotification {}

impl Notification for StatusNotification {
    type Params = ConnectionStatus;
    const METHOD: &'static str = "observatory/status";
}

#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    pub state: ConnectionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ConnectionSource>,
    /// Why, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefusalReason>,
    /// What went wrong, when offline or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Connected, while the platform's first indexing pass runs: attribution and
    /// search cover what is indexed so far.
    #[serde(default)]
    pub indexing: bool,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    Connecting,
    Connected,
    Offline,
    Refused,
}

/// Where the platform came from.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionSource {
    /// The `url` setting.
    Configured,
    /// Already running for this data directory.
    Shared,
    /// Started as a background daemon.
    Started,
    /// Inside the language server's process.
    InProcess,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefusalReason {
    ApiKeyRequired,
    Unauthorized,
    Forbidden,
    RateLimited,
}

/// `observatory/didChangeInsights` (server → client): a document's attribution was
/// recomputed; clients without `workspace/codeLens/refresh` refresh lenses on it.
pub enum DidChangeInsights {}

impl Notification for DidChangeInsights {
    type Params = TextDocument;
    const METHOD: &'static str = "observatory/didChangeInsights";
}

/// `observatory/didChangeCursor` (client → server): where the user is, for
/// `inlayHints: "currentLine"`.
pub enum DidChangeCursor {}

impl Notification for DidChangeCursor {
    type Params = CursorParams;
    const METHOD: &'static str = "observatory/didChangeCursor";
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorParams {
    pub text_document: TextDocument,
    pub position: Position,
}

/// `workspace/executeCommand` commands and what they return to extensions.
pub mod command {
    use serde::{Deserialize, Serialize};

    /// Arguments: `sessionId`, optional `messageUuid`. Result: [`Shown`].
    pub const OPEN_CONVERSATION: &str = "observatory.openConversation";
    /// Arguments: a document `uri`. Result: [`Shown`].
    pub const LIST_CONVERSATIONS: &str = "observatory.listConversations";
    /// Arguments: `sessionId`, `toolUseId`. Result: [`CopiedPrompt`].
    pub const COPY_PROMPT: &str = "observatory.copyPrompt";
    /// Arguments: file `path`, `toolUseId`. Result: [`Shown`].
    pub const SHOW_DIFF: &str = "observatory.showDiff";
    /// Arguments: `sessionId`, optional `cwd`. Result: [`Resume`].
    pub const RESUME_CONVERSATION: &str = "observatory.resumeConversation";
    /// Arguments: `query`. Result: [`SearchResults`].
    pub const SEARCH: &str = "observatory.search";

    pub const ALL: [&str; 6] = [
        OPEN_CONVERSATION,
        LIST_CONVERSATIONS,
        COPY_PROMPT,
        SHOW_DIFF,
        RESUME_CONVERSATION,
        SEARCH,
    ];

    /// A document the server wrote and asked the editor to show.
    #[cfg_attr(test, derive(ts_rs::TS))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Shown {
        pub uri: String,
        pub path: String,
        /// 0-based line to reveal.
        pub line: u32,
        /// Whether the editor accepted `window/showDocument`.
        pub shown: bool,
    }

    #[cfg_attr(test, derive(ts_rs::TS))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CopiedPrompt {
        pub prompt: String,
    }

    /// How to resume the conversation in Claude Code.
    #[cfg_attr(test, derive(ts_rs::TS))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Resume {
        /// `claude`
        pub command: String,
        /// `["--resume", sessionId]`
        pub args: Vec<String>,
        pub cwd: Option<String>,
        /// The same, as one shell line.
        pub command_line: String,
    }

    #[cfg_attr(test, derive(ts_rs::TS))]
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SearchResults {
        pub results: crate::search::SearchPage,
        /// For an identifier: recorded changes inside symbols of that name.
        pub symbol_changes: Vec<crate::files::SymbolChangeRow>,
        /// The Markdown page of results the server showed.
        pub document: Shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blame_results_keep_their_two_shapes() {
        let pending =
            serde_json::to_value(BlameResult::Pending(PendingBlame::new())).expect("json");
        assert_eq!(pending, serde_json::json!({"runs": [], "pending": true}));
        let back: BlameResult = serde_json::from_value(pending).expect("parse");
        assert!(matches!(back, BlameResult::Pending(_)));
    }

    #[test]
    fn capabilities_name_every_method_once() {
        let caps = ExperimentalCapabilities::current();
        let json = serde_json::to_value(&caps).expect("json");
        assert_eq!(json["protocolVersion"], PROTOCOL_VERSION);
        let mut requests = caps.requests.clone();
        requests.sort();
        requests.dedup();
        assert_eq!(requests.len(), caps.requests.len());
        assert!(caps
            .notifications
            .iter()
            .any(|m| m == "observatory/didChangeCursor"));
    }
}
