//! Incremental, crash-safe indexing of transcript files.
//!
//! Each file's byte offset is stored with the rows derived from the bytes before it, in
//! the same transaction, so an indexer killed at any moment resumes exactly where the
//! last commit ended. Rows are keyed by the transcript's own ids (`uuid`, tool-use id,
//! `message.id`+`requestId`), so re-reading bytes never doubles anything.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use observatory_transcript::changes::{
    change_from, is_writing_tool, read_snapshot, renames_in_command, touched_path,
};
use observatory_transcript::discover::{classify, transcript_files};
use observatory_transcript::{
    parse_line, Block, LineReader, Message, ParseError, ReadLine, Record, Role, TranscriptFile,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::{events, io_err, Error, Result, Store};

/// Bytes of transcript per transaction: large enough to amortise the commit, small
/// enough that a batch's parsed records stay a few tens of MB.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of transcript per commit in bulk runs (several files' batches).
const COMMIT_BYTES: u64 = 32 * 1024 * 1024;
/// Bytes hashed at the start of a file to notice that it was replaced.
const HEAD_BYTES: u64 = 4096;
/// Longest text put into the full-text index for one block; the whole text stays in
/// the raw copy and is shown by `show`.
const MAX_DOC_BYTES: usize = 256 * 1024;
/// Warnings kept per file in the database (all are counted).
const MAX_STORED_WARNINGS: i64 = 100;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub bytes_read: u64,
    pub lines: u64,
    pub new_messages: u64,
    pub warnings: u64,
    pub unchanged: bool,
    pub missing: bool,
    /// Why the file was re-read from its start, if it was.
    pub reset: Option<String>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct IndexReport {
    pub files: u64,
    pub files_changed: u64,
    pub files_missing: u64,
    /// Files that could not be read this run (they are retried on the next).
    pub files_failed: u64,
    pub failures: Vec<String>,
    pub bytes_read: u64,
    pub lines: u64,
    pub new_messages: u64,
    pub warnings: u64,
    pub elapsed: Duration,
}

impl IndexReport {
    fn add(&mut self, f: &FileReport) {
        self.files += 1;
        self.files_changed += u64::from(!f.unchanged && !f.missing);
        self.files_missing += u64::from(f.missing);
        self.bytes_read += f.bytes_read;
        self.lines += f.lines;
        self.new_messages += f.new_messages;
        self.warnings += f.warnings;
    }
}

/// Progress of a multi-file run, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
}

struct SourceRow {
    id: i64,
    conversation_id: Option<i64>,
    offset: u64,
    line_count: u64,
    size: u64,
    mtime_ns: i64,
    head_hash: Option<i64>,
    last_prompt_id: Option<i64>,
}

/// Everything needed to know whether a file changed, without reading it.
struct Stat {
    size: u64,
    mtime_ns: i64,
}

fn stat(path: &Path) -> std::io::Result<Stat> {
    let m = std::fs::metadata(path)?;
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Ok(Stat {
        size: m.len(),
        mtime_ns,
    })
}

fn head_hash(path: &Path, len: u64) -> std::io::Result<i64> {
    let mut buf = Vec::with_capacity(len as usize);
    File::open(path)?.take(len).read_to_end(&mut buf)?;
    Ok(xxhash_rust::xxh3::xxh3_64(&buf) as i64)
}

fn ts_ms(m: &Message) -> Option<i64> {
    m.timestamp.map(|t| t.timestamp_millis())
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A searchable rendering of a tool call's input: the parts a person would search for.
fn tool_input_text(name: &str, input: &Value) -> String {
    let Some(o) = input.as_object() else {
        return input.to_string();
    };
    let get = |k: &str| o.get(k).and_then(Value::as_str);
    match name {
        "Bash" => get("command").unwrap_or_default().to_owned(),
        "Edit" => [get("file_path"), get("old_string"), get("new_string")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n"),
        "Write" => [get("file_path"), get("content")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n"),
        _ => input.to_string(),
    }
}

fn is_error_result(is_error: bool, content: &str, tool_use_result: Option<&Value>) -> bool {
    is_error
        || content.starts_with("<tool_use_error>")
        || matches!(tool_use_result, Some(Value::String(s)) if s.starts_with("Error"))
}

/// Looks like a Claude Code session id (a UUID) or agent file name, so the file stem
/// can name the conversation.
fn stem_is_session_key(stem: &str) -> bool {
    stem.starts_with("agent-")
        || (stem.len() == 36 && stem.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

/// Parsed lines of one batch, with the compressed raw bytes they came from.
struct Batch {
    start_offset: u64,
    end_offset: u64,
    first_line: u64,
    last_line: u64,
    /// The file was read to its end (what is left, if anything, is a half-written line).
    at_end: bool,
    compressed: Vec<u8>,
    items: Vec<(u64, u64, std::result::Result<Record, String>)>, // (line number, offset, record)
}

/// Reads `fh` from `offset` in batches of about BATCH_BYTES, handing each to `emit`
/// until it returns false.
fn read_batches(
    fh: File,
    offset: u64,
    line_count: u64,
    max_line: usize,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> std::io::Result<()> {
    let mut reader =
        LineReader::new(BufReader::with_capacity(256 * 1024, fh), offset).with_max_line(max_line);
    let mut buf = Vec::new();
    let mut line_no = line_count;
    loop {
        let start_offset = reader.offset();
        let first_line = line_no + 1;
        let mut raw = Vec::new();
        let mut items = Vec::new();
        let mut at_end = false;
        while raw.len() < BATCH_BYTES {
            let Some(line) = reader.next_line(&mut buf)? else {
                at_end = true;
                break;
            };
            match line {
                ReadLine::Complete { offset, .. } => {
                    line_no += 1;
                    raw.extend_from_slice(&buf);
                    raw.push(b'\n');
                    match parse_line(&buf) {
                        // Blank lines are harmless padding, not damage worth a warning.
                        Err(ParseError::Empty) => {}
                        rec => items.push((line_no, offset, rec.map_err(|e| e.to_string()))),
                    }
                }
                ReadLine::Oversized { offset, len } => {
                    line_no += 1;
                    // The raw copy gets an empty line in its place, so line numbers in
                    // the copy match the file's.
                    raw.push(b'\n');
                    items.push((
                        line_no,
                        offset,
                        Err(format!("line of {len} bytes exceeds the limit; skipped")),
                    ));
                }
                ReadLine::Unterminated { offset, len } => {
                    // A complete JSON object that only lacks its newline is a record;
                    // anything else is a line still being written: hold it back.
                    if let Ok(rec) = parse_line(&buf) {
                        line_no += 1;
                        reader.accept_unterminated(len);
                        raw.extend_from_slice(&buf);
                        raw.push(b'\n');
                        items.push((line_no, offset, Ok(rec)));
                    }
                    at_end = true;
                    break;
                }
            }
        }
        let end_offset = reader.offset();
        if items.is_empty() && end_offset == start_offset {
            return Ok(());
        }
        let batch = Batch {
            start_offset,
            end_offset,
            first_line,
            last_line: line_no,
            at_end,
            // Level 1: the copy is read rarely, and this runs for every byte indexed.
            compressed: zstd::bulk::compress(&raw, 1)?,
            items,
        };
        if !emit(batch) || at_end {
            return Ok(());
        }
    }
}

/// Per-run state for one file: parent uuid → prompt id, so following a long chain of
/// records does not query the database for each.
#[derive(Default)]
struct ChainCache {
    prompt_of: HashMap<String, Option<i64>>,
    /// Whether summaries wait for their leaf message (usually none do: a summary
    /// names a conversation that was written, and indexed, before it).
    pending_summaries: bool,
}

/// A summary names the conversation that contains its leaf message.
fn apply_summary(tx: &Connection, leaf: &str, summary: &str, cache: &mut ChainCache) -> Result<()> {
    let resolved = tx
        .prepare_cached("UPDATE conversations SET summary = ?1 WHERE id = (SELECT conversation_id FROM messages WHERE uuid = ?2)")?
        .execute(params![summary, leaf])?;
    if resolved == 0 {
        tx.prepare_cached("INSERT OR REPLACE INTO summaries (leaf_uuid, summary) VALUES (?1, ?2)")?
            .execute(params![leaf, summary])?;
        cache.pending_summaries = true;
    }
    Ok(())
}

impl Store {
    /// Indexes every transcript under `roots` (config or projects directories).
    pub fn index_roots(
        &mut self,
        roots: &[PathBuf],
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexReport> {
        let started = Instant::now();
        let mut files: Vec<TranscriptFile> =
            roots.iter().flat_map(|r| transcript_files(r)).collect();
        files.dedup_by(|a, b| a.path == b.path);
        let known = self.known_sources()?;
        // Plan first so the progress bar knows how much there is to read.
        let mut total = 0u64;
        for f in &files {
            if let Ok(st) = stat(&f.path) {
                let done = known.get(&f.path).copied().unwrap_or(0);
                total += st.size.saturating_sub(done);
            }
        }
        let mut report = IndexReport::default();
        let mut progress = Progress {
            bytes_done: 0,
            bytes_total: total,
            files_done: 0,
            files_total: files.len() as u64,
        };
        // A bulk run rewrites the same FTS and b-tree pages many times; checkpointing
        // every 1000 pages (the default) copies them into the database again and
        // again. Checkpoint rarely during the run, and once at its end.
        self.conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        // Small files are grouped into transactions of about COMMIT_BYTES: a commit
        // per file would flush a new full-text segment per file.
        self.bulk = true;
        let mut result = self.index_files(&files, &mut report, &mut progress, on_progress);
        self.bulk = false;
        match result {
            Ok(()) => result = self.commit(),
            Err(_) => self.rollback(),
        }
        self.conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        result?;
        // Files Claude Code deleted: keep everything, remember that the source is gone.
        let seen: std::collections::HashSet<&Path> =
            files.iter().map(|f| f.path.as_path()).collect();
        for (path, _) in known {
            let under_root = roots.iter().any(|r| path.starts_with(r));
            if under_root && !seen.contains(path.as_path()) {
                self.conn.execute(
                    "UPDATE sources SET missing = 1 WHERE path = ?1 AND missing = 0",
                    [path.to_string_lossy()],
                )?;
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    fn index_files(
        &mut self,
        files: &[TranscriptFile],
        report: &mut IndexReport,
        progress: &mut Progress,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        for f in files {
            let r = match self.index_file(f) {
                Ok(r) => r,
                // One unreadable file must not stop the others.
                Err(e @ Error::Io { .. }) => {
                    tracing::warn!(error = %e, "skipping a transcript this run");
                    report.files_failed += 1;
                    let cause = std::error::Error::source(&e)
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    report.failures.push(format!("{e}{cause}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            report.add(&r);
            progress.bytes_done += r.bytes_read;
            progress.files_done += 1;
            on_progress(*progress);
        }
        Ok(())
    }

    fn known_sources(&self) -> Result<HashMap<PathBuf, u64>> {
        let mut stmt = self.conn.prepare("SELECT path, offset FROM sources")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                PathBuf::from(r.get::<_, String>(0)?),
                r.get::<_, i64>(1)? as u64,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Indexes the bytes appended to one file since the last run.
    pub fn index_path(&mut self, path: &Path) -> Result<FileReport> {
        self.index_file(&classify(path.to_path_buf()))
    }

    /// Indexes the bytes appended to one file since the last run.
    pub fn index_file(&mut self, file: &TranscriptFile) -> Result<FileReport> {
        let path = &file.path;
        let path_str = path.to_string_lossy().into_owned();
        let mut report = FileReport {
            path: path.clone(),
            ..FileReport::default()
        };
        let st = match stat(path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.conn.execute(
                    "UPDATE sources SET missing = 1 WHERE path = ?1",
                    [&path_str],
                )?;
                report.missing = true;
                return Ok(report);
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let mut src = self.source_row(&path_str, file)?;
        if st.size == src.offset && st.mtime_ns == src.mtime_ns {
            report.unchanged = true;
            return Ok(report);
        }
        // A file that shrank, or whose first bytes changed, was truncated or replaced:
        // read it again from the start. Rows are keyed by transcript ids, so nothing
        // already indexed is lost or doubled.
        if src.offset > 0 {
            let head_len = src.size.min(HEAD_BYTES);
            let reason = if st.size < src.offset {
                Some(format!(
                    "file shrank from {} to {} bytes",
                    src.offset, st.size
                ))
            } else if head_hash(path, head_len).map_err(io_err(path))?
                != src.head_hash.unwrap_or_default()
            {
                Some("file was replaced (its first bytes changed)".to_owned())
            } else {
                None
            };
            if let Some(reason) = reason {
                tracing::warn!(path = %path.display(), %reason, "re-reading transcript from the start");
                src.offset = 0;
                src.line_count = 0;
                report.reset = Some(reason);
            }
        }
        if st.size == src.offset {
            // Only the mtime moved (touch, or a rewrite of identical bytes).
            self.conn.execute(
                "UPDATE sources SET mtime_ns = ?1, missing = 0 WHERE id = ?2",
                params![st.mtime_ns, src.id],
            )?;
            report.unchanged = true;
            return Ok(report);
        }

        let mut fh = File::open(path).map_err(io_err(path))?;
        fh.seek(SeekFrom::Start(src.offset)).map_err(io_err(path))?;
        let mut cache = ChainCache {
            pending_summaries: self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM summaries)",
                [],
                |r| r.get(0),
            )?,
            ..ChainCache::default()
        };
        // Reading, parsing and compressing run on a second thread while this one
        // writes: the two halves cost about the same, and SQLite wants one writer.
        let (start, first_line, max_line) = (src.offset, src.line_count, self.max_line);
        let result = std::thread::scope(|scope| -> Result<()> {
            let (send, batches) = std::sync::mpsc::sync_channel::<std::io::Result<Batch>>(2);
            scope.spawn(move || {
                let result = read_batches(fh, start, first_line, max_line, &mut |b| {
                    send.send(Ok(b)).is_ok()
                });
                if let Err(e) = result {
                    let _ = send.send(Err(e));
                }
            });
            for batch in batches {
                let batch = batch.map_err(io_err(path))?;
                report.bytes_read += batch.end_offset - batch.start_offset;
                report.lines += batch.items.len() as u64;
                if !self.in_tx {
                    self.conn.execute_batch("BEGIN IMMEDIATE")?;
                    self.in_tx = true;
                }
                let tx = &self.conn;
                let stats = apply_batch(tx, file, &mut src, &batch, &mut cache)?;
                src.offset = batch.end_offset;
                src.line_count = batch.last_line;
                let head_len = batch.end_offset.min(HEAD_BYTES);
                src.head_hash = Some(head_hash(path, head_len).map_err(io_err(path))?);
                src.size = batch.end_offset;
                tx.execute(
                    "UPDATE sources SET offset = ?1, line_count = ?2, size = ?3, mtime_ns = ?4, head_hash = ?5,
                     conversation_id = ?6, last_prompt_id = ?7, warning_count = warning_count + ?8, missing = 0
                     WHERE id = ?9",
                    params![
                        src.offset as i64,
                        src.line_count as i64,
                        src.size as i64,
                        // Only a file read to its end is up to date with its mtime.
                        if batch.at_end { st.mtime_ns } else { 0 },
                        src.head_hash,
                        src.conversation_id,
                        src.last_prompt_id,
                        stats.warnings as i64,
                        src.id
                    ],
                )?;
                self.tx_bytes += batch.end_offset - batch.start_offset;
                if !self.bulk || self.tx_bytes >= COMMIT_BYTES {
                    self.commit()?;
                }
                report.new_messages += stats.new_messages;
                report.warnings += stats.warnings;
            }
            Ok(())
        });
        if let Err(e) = result {
            // A read error leaves the batches before it consistent (each carries its
            // offset); anything else may have left a batch half applied.
            if !matches!(e, Error::Io { .. }) {
                self.rollback();
            }
            return Err(e);
        }
        Ok(report)
    }

    /// Commits what the open transaction holds: whole batches with their offsets.
    fn commit(&mut self) -> Result<()> {
        if self.in_tx {
            self.in_tx = false;
            self.tx_bytes = 0;
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    fn rollback(&mut self) {
        if self.in_tx {
            self.in_tx = false;
            self.tx_bytes = 0;
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rolling back a failed batch");
            }
        }
    }

    fn source_row(&self, path: &str, file: &TranscriptFile) -> Result<SourceRow> {
        let row = |r: &rusqlite::Row<'_>| {
            Ok(SourceRow {
                id: r.get(0)?,
                conversation_id: r.get(1)?,
                offset: r.get::<_, i64>(2)? as u64,
                line_count: r.get::<_, i64>(3)? as u64,
                size: r.get::<_, i64>(4)? as u64,
                mtime_ns: r.get(5)?,
                head_hash: r.get(6)?,
                last_prompt_id: r.get(7)?,
            })
        };
        const SELECT: &str = "SELECT id, conversation_id, offset, line_count, size, mtime_ns, head_hash, last_prompt_id FROM sources WHERE path = ?1";
        if let Some(s) = self.conn.query_row(SELECT, [path], row).optional()? {
            return Ok(s);
        }
        self.conn.execute(
            "INSERT INTO sources (path, kind) VALUES (?1, ?2)",
            params![path, file.kind.as_str()],
        )?;
        Ok(self.conn.query_row(SELECT, [path], row)?)
    }
}

#[derive(Default)]
struct BatchStats {
    new_messages: u64,
    warnings: u64,
}

/// What one batch changes on its conversation row, applied in one UPDATE.
#[derive(Default)]
struct ConversationDelta {
    started_at: Option<i64>,
    ended_at: Option<i64>,
    project: Option<String>,
    git_branch: Option<String>,
    version: Option<String>,
    entrypoint: Option<String>,
    first_prompt: Option<String>,
    custom_title: Option<String>,
    ai_title: Option<String>,
    parent_session: Option<String>,
    new_messages: i64,
    last_uuid: Option<String>,
    usage_changed: bool,
    /// Tool-call events, in order, written with the batch.
    events: Vec<events::Pending>,
}

fn ensure_conversation(
    tx: &Connection,
    file: &TranscriptFile,
    src: &mut SourceRow,
    batch: &Batch,
) -> Result<(i64, bool)> {
    if let Some(id) = src.conversation_id {
        return Ok((id, false));
    }
    let stem = file
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("session");
    let first_session = batch.items.iter().find_map(|(_, _, r)| match r {
        Ok(Record::Message(m)) => m.session_id.clone(),
        _ => None,
    });
    let key = if stem_is_session_key(stem) {
        stem.to_owned()
    } else if let Some(s) = first_session.clone() {
        s
    } else {
        format!(
            "{stem}-{:08x}",
            xxhash_rust::xxh3::xxh3_64(file.path.to_string_lossy().as_bytes()) as u32
        )
    };
    let parent = match file.kind {
        observatory_transcript::FileKind::Session => None,
        observatory_transcript::FileKind::Subagent => file.parent_session.clone().or(first_session),
        observatory_transcript::FileKind::LegacyAgent => first_session,
    };
    let created = tx.execute(
        "INSERT INTO conversations (session_key, kind, parent_session) VALUES (?1, ?2, ?3)
         ON CONFLICT(session_key) DO NOTHING",
        params![key, file.kind.as_str(), parent],
    )? == 1;
    let id: i64 = tx.query_row(
        "SELECT id FROM conversations WHERE session_key = ?1",
        [&key],
        |r| r.get(0),
    )?;
    src.conversation_id = Some(id);
    Ok((id, created))
}

fn warn(
    tx: &Connection,
    src: &SourceRow,
    file: &Path,
    line: u64,
    offset: u64,
    reason: &str,
    stats: &mut BatchStats,
) -> Result<()> {
    stats.warnings += 1;
    tracing::warn!(file = %file.display(), line, %reason, "skipped transcript line");
    let stored: i64 = tx.query_row(
        "SELECT count(*) FROM warnings WHERE source_id = ?1",
        [src.id],
        |r| r.get(0),
    )?;
    if stored < MAX_STORED_WARNINGS {
        tx.execute(
            "INSERT INTO warnings (source_id, line, offset, reason) VALUES (?1, ?2, ?3, ?4)",
            params![src.id, line as i64, offset as i64, reason],
        )?;
    }
    Ok(())
}

fn apply_batch(
    tx: &Connection,
    file: &TranscriptFile,
    src: &mut SourceRow,
    batch: &Batch,
    cache: &mut ChainCache,
) -> Result<BatchStats> {
    let mut stats = BatchStats::default();
    let (conv, created) = ensure_conversation(tx, file, src, batch)?;
    tx.prepare_cached(
        "INSERT INTO raw_chunks (source_id, conversation_id, start_offset, end_offset, first_line, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![src.id, conv, batch.start_offset as i64, batch.end_offset as i64, batch.first_line as i64, batch.compressed])?;

    let mut delta = ConversationDelta::default();
    for (line, offset, rec) in &batch.items {
        match rec {
            Err(reason) => warn(tx, src, &file.path, *line, *offset, reason, &mut stats)?,
            Ok(Record::Message(m)) => {
                if apply_message(tx, src, conv, *offset, m, cache, &mut delta)? {
                    stats.new_messages += 1;
                }
            }
            Ok(Record::Summary { summary, leaf_uuid }) => {
                if let Some(leaf) = leaf_uuid {
                    apply_summary(tx, leaf, summary, cache)?;
                }
            }
            Ok(Record::Title { title, custom, .. }) => {
                if !title.trim().is_empty() {
                    let slot = if *custom {
                        &mut delta.custom_title
                    } else {
                        &mut delta.ai_title
                    };
                    *slot = Some(title.trim().to_owned());
                }
            }
            Ok(Record::Metadata { .. }) => {}
            Ok(Record::Unknown { kind }) => warn(
                tx,
                src,
                &file.path,
                *line,
                *offset,
                &format!("unknown record type {kind:?}; skipped"),
                &mut stats,
            )?,
        }
    }
    if delta.parent_session.is_none() && file.kind != observatory_transcript::FileKind::Session {
        delta.parent_session = file.parent_session.clone();
    }
    tx.prepare_cached(
        "UPDATE conversations SET
            started_at = CASE WHEN started_at IS NULL OR ?1 < started_at THEN ?1 ELSE started_at END,
            ended_at = CASE WHEN ended_at IS NULL OR ?2 > ended_at THEN ?2 ELSE ended_at END,
            project = COALESCE(project, ?3),
            git_branch = COALESCE(?4, git_branch),
            version = COALESCE(?5, version),
            entrypoint = COALESCE(entrypoint, ?6),
            first_prompt = COALESCE(first_prompt, ?7),
            custom_title = COALESCE(?8, custom_title),
            ai_title = COALESCE(?9, ai_title),
            parent_session = COALESCE(parent_session, ?10),
            message_count = message_count + ?11
         WHERE id = ?12",
    )?
    .execute(params![
        delta.started_at,
        delta.ended_at,
        delta.project,
        delta.git_branch,
        delta.version,
        delta.entrypoint,
        delta.first_prompt,
        delta.custom_title,
        delta.ai_title,
        delta.parent_session,
        delta.new_messages,
        conv
    ])?;
    let mut log = Vec::with_capacity(delta.events.len() + 3);
    if created {
        log.push(events::Pending {
            kind: events::kind::CONVERSATION_STARTED,
            path: None,
            data: serde_json::json!({ "kind": file.kind.as_str(), "parent_session": delta.parent_session }),
        });
    }
    if delta.new_messages > 0 {
        log.push(events::Pending {
            kind: events::kind::MESSAGES_APPENDED,
            path: None,
            data: serde_json::json!({ "count": delta.new_messages, "last_uuid": delta.last_uuid }),
        });
    }
    log.append(&mut delta.events);
    if delta.usage_changed {
        let totals: (i64, i64, i64, i64) = tx.query_row(
            "SELECT COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0), COALESCE(sum(cache_creation_tokens), 0),
                    COALESCE(sum(cache_read_tokens), 0) FROM usage WHERE conversation_id = ?1",
            [conv],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        log.push(events::Pending {
            kind: events::kind::USAGE_UPDATED,
            path: None,
            data: serde_json::json!({ "input_tokens": totals.0, "output_tokens": totals.1,
                "cache_creation_input_tokens": totals.2, "cache_read_input_tokens": totals.3 }),
        });
    }
    events::write(tx, conv, &log)?;
    Ok(stats)
}

/// Stores one user/assistant/system record. Returns false when it was already stored
/// (a copy made by `--resume`, or bytes read twice).
fn apply_message(
    tx: &Connection,
    src: &mut SourceRow,
    conv: i64,
    offset: u64,
    m: &Message,
    cache: &mut ChainCache,
    delta: &mut ConversationDelta,
) -> Result<bool> {
    let uuid = m
        .uuid
        .clone()
        .unwrap_or_else(|| format!("src{}@{}", src.id, offset));
    let role = m.role_or_user();
    let ts = ts_ms(m);
    let is_prompt = m.is_prompt();
    // The prompt that led here: a prompt leads to itself (stored as NULL and resolved
    // by PROMPT_OF_SQL, saving a second write per message); others inherit their
    // parent's, or a compaction's logical parent's.
    let inherited = if is_prompt {
        None
    } else {
        let parent = m.parent_uuid.as_ref().or(m.logical_parent_uuid.as_ref());
        let from_parent = match parent {
            Some(p) => match cache.prompt_of.get(p) {
                Some(v) => *v,
                None => prompt_of(tx, p)?,
            },
            None => None,
        };
        from_parent.or(src.last_prompt_id)
    };
    let inserted = tx
        .prepare_cached(
            "INSERT INTO messages (uuid, conversation_id, parent_uuid, logical_parent_uuid, role, is_prompt, is_sidechain, ts, model, prompt_id, source_id, offset)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(uuid) DO NOTHING",
        )?
        .execute(params![
            uuid,
            conv,
            m.parent_uuid,
            m.logical_parent_uuid,
            role.as_str(),
            is_prompt,
            m.is_sidechain,
            ts,
            m.model,
            inherited,
            src.id,
            offset as i64
        ])?;
    if inserted == 0 {
        let prompt = prompt_of(tx, &uuid)?;
        cache.prompt_of.insert(uuid, prompt);
        return Ok(false);
    }
    let id = tx.last_insert_rowid();
    if cache.pending_summaries {
        let summary: Option<String> = tx
            .prepare_cached("DELETE FROM summaries WHERE leaf_uuid = ?1 RETURNING summary")?
            .query_row([&uuid], |r| r.get(0))
            .optional()?;
        if let Some(summary) = summary {
            tx.prepare_cached("UPDATE conversations SET summary = ?1 WHERE id = ?2")?
                .execute(params![summary, conv])?;
        }
    }
    let prompt_id = if is_prompt { Some(id) } else { inherited };
    if is_prompt {
        src.last_prompt_id = Some(id);
    }
    cache.prompt_of.insert(uuid.clone(), prompt_id);

    delta.new_messages += 1;
    delta.last_uuid = Some(uuid);
    if let Some(t) = ts {
        delta.started_at = Some(delta.started_at.map_or(t, |s| s.min(t)));
        delta.ended_at = Some(delta.ended_at.map_or(t, |e| e.max(t)));
    }
    if delta.project.is_none() {
        delta.project = m.cwd.clone();
    }
    if m.git_branch.is_some() {
        delta.git_branch = m.git_branch.clone();
    }
    if m.version.is_some() {
        delta.version = m.version.clone();
    }
    if delta.entrypoint.is_none() {
        delta.entrypoint = m.entrypoint.clone();
    }
    if is_prompt && delta.first_prompt.is_none() {
        let text = m.text();
        delta.first_prompt = Some(truncate_utf8(text.trim(), 500).to_owned());
    }

    let mut doc = tx.prepare_cached(
        "INSERT INTO docs (message_id, conversation_id, kind, role, tool, model, ts, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut fts = tx.prepare_cached("INSERT INTO docs_fts (rowid, text) VALUES (?1, ?2)")?;
    let mut add_doc = |kind: &str, tool: Option<&str>, text: &str| -> Result<()> {
        let text = truncate_utf8(text, MAX_DOC_BYTES);
        if text.trim().is_empty() {
            return Ok(());
        }
        doc.execute(params![
            id,
            conv,
            kind,
            role.as_str(),
            tool,
            m.model,
            ts,
            text
        ])?;
        fts.execute(params![tx.last_insert_rowid(), text])?;
        Ok(())
    };
    let results = m.tool_results().count();
    for block in &m.blocks {
        match block {
            Block::Text(t) => {
                let kind = match role {
                    Role::User if is_prompt => "prompt",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::System => "system",
                };
                add_doc(kind, None, t)?;
            }
            Block::Thinking(t) => add_doc("thinking", None, t)?,
            Block::ToolUse {
                id: tool_use_id,
                name,
                input,
            } => {
                add_doc("tool_input", Some(name), &tool_input_text(name, input))?;
                let mut path = touched_path(name, input).map(str::to_owned);
                // Keep the input of writing tools until the result says what happened,
                // and of reads, whose result may be the only record of the file's content.
                let mut pending =
                    (is_writing_tool(name) || name == "Read").then(|| input.to_string());
                if name == "Bash" {
                    // A shell move of one file: its history continues under the new
                    // name. The change is known now; the result says if it happened.
                    let command = input
                        .get("command")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if let Some(rename) = renames_in_command(command, m.cwd.as_deref())
                        .into_iter()
                        .next()
                    {
                        path = Some(rename.path.clone());
                        pending = serde_json::to_string(&rename).ok();
                    }
                }
                tx.prepare_cached(
                    "INSERT INTO tool_calls (tool_use_id, conversation_id, message_id, prompt_id, name, path, ts, change, file_name)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(tool_use_id) DO NOTHING",
                )?
                .execute(params![tool_use_id, conv, id, prompt_id, name, path, ts, pending, path.as_deref().map(file_name_of)])?;
            }
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let call: Option<(i64, String, Option<String>, Option<String>)> = tx
                    .prepare_cached(
                        "SELECT id, name, change, path FROM tool_calls WHERE tool_use_id = ?1",
                    )?
                    .query_row([tool_use_id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?;
                let tool_result = if results == 1 {
                    m.tool_use_result.as_ref()
                } else {
                    None
                };
                let failed = is_error_result(*is_error, content, tool_result);
                let tool = call.as_ref().map(|c| c.1.as_str());
                // A Read result is the file's own content: the file system has it, and
                // it would be most of the index. It stays in the raw copy.
                if !matches!(tool, Some("Read" | "NotebookRead")) {
                    add_doc("tool_output", tool, content)?;
                }
                let Some((call_id, name, pending, path)) = call else {
                    continue;
                };
                let change = if failed {
                    None
                } else if name == "Bash" {
                    pending
                } else if name == "Read" {
                    pending
                        .as_deref()
                        .and_then(|p| serde_json::from_str::<Value>(p).ok())
                        .and_then(|input| read_snapshot(&input, content, tool_result))
                        .and_then(|c| serde_json::to_string(&c).ok())
                } else if !is_writing_tool(&name) {
                    None
                } else {
                    pending
                        .as_deref()
                        .and_then(|p| serde_json::from_str::<Value>(p).ok())
                        .and_then(|input| change_from(&name, &input, tool_result))
                        .and_then(|c| serde_json::to_string(&c).ok())
                };
                let error = failed.then(|| truncate_utf8(content, 2000).to_owned());
                tx.prepare_cached(
                    "UPDATE tool_calls SET failed = ?1, error = ?2, change = ?3 WHERE id = ?4",
                )?
                .execute(params![failed, error, change, call_id])?;
                if let Some(path) = path {
                    let data = serde_json::json!({ "tool": name, "tool_use_id": tool_use_id, "failed": failed });
                    if change.is_some() {
                        delta.events.push(events::Pending {
                            kind: events::kind::ATTRIBUTION_CHANGED,
                            path: Some(path.clone()),
                            data: data.clone(),
                        });
                    }
                    delta.events.push(events::Pending {
                        kind: events::kind::FILE_TOUCHED,
                        path: Some(path),
                        data,
                    });
                }
            }
            Block::Image | Block::Other(_) => {}
        }
    }
    // One API response is written as one line per content block, each with a copy of
    // `usage`; streaming fills `output_tokens` in as it goes, so the largest copy is
    // the response's real figure. Counting per (message.id, requestId) keeps it once.
    if let (Role::Assistant, Some(u)) = (role, m.usage) {
        let key = match (&m.message_id, &m.request_id) {
            (Some(mid), Some(rid)) => format!("{mid}:{rid}"),
            _ => uuid_key(&m.uuid, src.id, offset),
        };
        tx.prepare_cached(
            "INSERT INTO usage (key, conversation_id, model, ts, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(key) DO UPDATE SET
                input_tokens = max(input_tokens, excluded.input_tokens),
                output_tokens = max(output_tokens, excluded.output_tokens),
                cache_creation_tokens = max(cache_creation_tokens, excluded.cache_creation_tokens),
                cache_read_tokens = max(cache_read_tokens, excluded.cache_read_tokens)",
        )?
        .execute(params![
            key,
            conv,
            m.model,
            ts,
            u.input_tokens as i64,
            u.output_tokens as i64,
            u.cache_creation_input_tokens as i64,
            u.cache_read_input_tokens as i64
        ])?;
        delta.usage_changed = true;
    }
    Ok(true)
}

/// The prompt that led to the stored message `uuid` (itself, for a prompt).
fn prompt_of(tx: &Connection, uuid: &str) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached(
            "SELECT CASE WHEN is_prompt THEN id ELSE prompt_id END FROM messages WHERE uuid = ?1",
        )?
        .query_row([uuid], |r| r.get(0))
        .optional()?
        .flatten())
}

fn uuid_key(uuid: &Option<String>, source: i64, offset: u64) -> String {
    uuid.clone()
        .unwrap_or_else(|| format!("src{source}@{offset}"))
}

/// The last component of a recorded path, as migration 4 computes it in SQL.
fn file_name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
