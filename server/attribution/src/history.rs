//! What the engine needs of a store: the recorded changes to files, by file name or
//! by the text they contain. The store implements it over SQLite; anything else
//! (another database, a test's list) can, without the engine knowing.

use chrono::{DateTime, Utc};
use observatory_transcript::FileChange;
use serde::Serialize;

/// One successful file change recorded in a transcript.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordedWrite {
    /// The path as the tool call gave it.
    pub path: String,
    /// The conversation's project directory (its first `cwd`).
    pub cwd: Option<String>,
    /// The conversation the user had: for a subagent's change, the session that
    /// launched it (its own transcript is not one the user can open or resume).
    pub session_id: String,
    pub conversation_title: String,
    /// For a subagent's change, the subagent: the task's description when its
    /// launch is recorded, else its task or agent id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
    pub message_uuid: String,
    pub tool_use_id: String,
    pub tool: String,
    pub at: Option<DateTime<Utc>>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    /// What the assistant wrote just before the call: its stated reason.
    pub reason: Option<String>,
    /// The store's key for the call, for its cache of decoded changes.
    #[serde(skip)]
    pub call_id: i64,
    pub change: FileChange,
}

/// A history that could not be read (the store's own error, kept as the source).
#[derive(Debug, thiserror::Error)]
#[error("reading the recorded history failed: {0}")]
pub struct HistoryError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

pub type Result<T, E = HistoryError> = std::result::Result<T, E>;

/// The recorded changes line attribution and symbol queries read.
pub trait History {
    /// Successful writing tool calls (Edit, MultiEdit, Write, NotebookEdit), shell
    /// moves and old-version whole-file Reads (snapshots of the content) of files
    /// named `file_name` anywhere, oldest first, with their exact changes: the input
    /// of line attribution, which picks the paths that are the file it blames.
    fn writes_to_files_named(&self, file_name: &str) -> Result<Vec<RecordedWrite>>;
    /// Successful Edit, MultiEdit and Write calls whose change (including the file
    /// content it records) contains `text`, newest first, at most `limit`: the
    /// candidates for "which conversations changed `refresh_token`?".
    fn writes_mentioning(&self, text: &str, limit: usize) -> Result<Vec<RecordedWrite>>;
    /// The paths below the directory `dir` (as recorded) that successful Edit,
    /// MultiEdit or Write calls changed, the most recently changed first, at most
    /// `limit`: the names a file may have had before a person moved it.
    fn paths_written_under(&self, dir: &str, limit: usize) -> Result<Vec<String>>;
    /// The directories conversations ran in whose last component is `name`: the
    /// checkouts, as recorded, that a local checkout of that name may be.
    fn checkouts_named(&self, name: &str) -> Result<Vec<String>>;
}
