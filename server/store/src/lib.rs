//! Observatory's own durable index of Claude Code transcripts.
//!
//! One SQLite database (WAL mode) holds a compressed copy of every transcript line it
//! indexed, the conversation tree, tool calls with their exact file changes, token usage
//! and a full-text index. Indexing is incremental (per-file byte offsets) and each batch
//! is one transaction, so a killed indexer loses nothing and doubles nothing.
//!
//! Readers go through the [`Catalog`] trait and the platform's writes (hook events, API
//! keys, deleting a conversation) through [`Writer`], so that another backend
//! (PostgreSQL, for teams) can stand behind the same API.

mod catalog;
pub mod events;
pub mod fts;
mod ingest;
pub mod keys;
mod packed;
pub mod pricing;
mod private;
pub mod rank;
mod schema;
mod search;
mod sql;
mod totals;
mod watch;
pub mod webhooks;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
pub use rusqlite::InterruptHandle;

pub use catalog::{
    conversation_markdown, one_line, Catalog, Conversation, ConversationFilter, Counts,
    RecordedWrite, Shape, UsageGroup, WritesCache,
};
pub use events::{Event, EventQuery};
pub use ingest::{FileReport, IndexPriority, IndexReport, Progress};
pub use keys::ApiKey;
pub use private::{ensure_private_dir, ensure_private_file};
pub use search::{RankedHit, SearchQuery, SearchResults};
// What the store answers in the protocol's types (defined once, in observatory-protocol).
pub use observatory_protocol::analytics::{EditedFile, ProjectSummary, UsageRow};
pub use observatory_protocol::conversations::{ConversationFile, ConversationSummary};
pub use observatory_protocol::files::{FileInsights, FileTouch};
pub use observatory_protocol::search::{SearchHit, SearchPage};
pub use watch::{watch, WatchEvent};
pub use webhooks::{AttemptRecord, DueDelivery, Outcome};
pub use writer::Writer;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the database was written by a newer Observatory (schema {found}; this build supports up to {supported})")]
    SchemaTooNew { found: usize, supported: usize },
    #[error("bad search query: {0}")]
    BadQuery(String),
    /// A key or webhook request that cannot be carried out (a bad name, scope or
    /// URL); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// What was asked for does not exist; the message names it.
    #[error("{0}")]
    NotFound(String),
    #[error("{0:?} matches several conversations ({1}); give more characters")]
    Ambiguous(String, String),
    #[error("file watcher failed: {0}")]
    Watch(#[from] notify::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A bug, not bad input: a thread of the indexer stopped early.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The embedded store: one SQLite database file.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    max_line: usize,
    /// A bulk run is in progress: batches are committed in groups.
    bulk: bool,
    /// A transaction is open (see `ingest`), holding `tx_bytes` of transcript.
    in_tx: bool,
    tx_bytes: u64,
    /// Transcript bytes a bulk run commits at once (`ingest::COMMIT_BYTES`).
    commit_bytes: u64,
    /// Full-text entries of the open transaction's documents (see `ingest`).
    pending_docs: ingest::PendingDocs,
    /// What the writer knows of the keys stored (`ingest::KnownKeys`).
    known: ingest::KnownKeys,
    /// Transcripts to read first (see `ingest::IndexPriority`).
    priority: Option<std::sync::Arc<ingest::IndexPriority>>,
    writes_cache: Option<std::sync::Arc<WritesCache>>,
    /// Checkpoints a bulk run's commits on another thread (see `ingest`).
    checkpointer: Option<ingest::Checkpointer>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to
    /// date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_private_dir(dir)?;
        }
        ensure_private_file(path)?;
        let conn = Connection::open(path)?;
        Self::init(conn, Some(path.to_path_buf()))
    }

    /// Stops the statement running on this connection from another thread (its
    /// caller gets an error); a no-op when none runs. For work nobody waits for
    /// any more.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.conn.get_interrupt_handle()
    }

    /// Runs a query that takes `steps` steps and returns its count: a stand-in for
    /// an expensive query, for tests of what stops one.
    #[doc(hidden)]
    pub fn spin(&self, steps: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             SELECT count(*) FROM n",
            [steps],
            |r| r.get(0),
        )?)
    }

    /// Checks that the full-text index holds exactly the documents stored (FTS5's
    /// integrity check against its content table): an error names what differs.
    #[doc(hidden)]
    pub fn check_search_index(&self) -> Result<()> {
        self.conn.execute(
            "INSERT INTO docs_fts (docs_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )?;
        Ok(())
    }

    /// A throwaway store, for tests and one-off tools.
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<Self> {
        // WAL lets searches run while the watcher writes; NORMAL sync is still
        // crash-safe in WAL mode (a power cut may drop the last commits, never corrupt).
        // Set before the first table (a database keeps the page size it was created
        // with). Indexing writes long full-text segments and raw-copy blobs: a cold
        // index of real-shaped transcripts runs 8% faster than with 4 KiB pages.
        conn.pragma_update(None, "page_size", 16384)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Indexing alone runs more distinct statements than rusqlite's default cache
        // of 16 holds, and preparing one again costs more than running it.
        conn.set_prepared_statement_cache_capacity(128);
        packed::register(&conn)?;
        rank::register(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn,
            path,
            max_line: observatory_transcript::reader::DEFAULT_MAX_LINE,
            bulk: false,
            in_tx: false,
            tx_bytes: 0,
            commit_bytes: ingest::COMMIT_BYTES,
            pending_docs: ingest::PendingDocs::default(),
            known: ingest::KnownKeys::default(),
            priority: None,
            writes_cache: None,
            checkpointer: None,
        })
    }

    /// Shares decoded file histories with other connections (see [`WritesCache`]).
    pub fn with_writes_cache(mut self, cache: std::sync::Arc<WritesCache>) -> Self {
        self.writes_cache = Some(cache);
        self
    }

    /// Lines longer than this are skipped with a warning instead of being read into
    /// memory.
    pub fn set_max_line(&mut self, bytes: usize) {
        self.max_line = bytes;
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn schema_version() -> usize {
        schema::CURRENT_VERSION
    }
}

/// Where Observatory keeps its data when nothing says otherwise:
/// `$XDG_DATA_HOME/observatory` (usually `~/.local/share/observatory`).
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("observatory"))
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("observatory.db")
}
