//! Incremental, crash-safe indexing of transcript files.
//!
//! Each file's byte offset is stored with the rows derived from the bytes before it, in
//! the same transaction, so an indexer killed at any moment resumes exactly where the
//! last commit ended. Rows are keyed by the transcript's own ids (`uuid`, tool-use id,
//! `message.id`+`requestId`), so re-reading bytes never doubles anything.
//!
//! This module drives runs (which files, which bytes, when to commit); `read` turns a
//! file's new bytes into batches, `batch` applies one batch and `message` one message.

mod batch;
mod checkpoint;
mod fresh;
mod message;
mod pending;
mod prepare;
mod priority;
mod read;
mod resume;
mod run;
mod waiting;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use observatory_transcript::discover::{classify, transcript_files};
use observatory_transcript::TranscriptFile;
use rusqlite::{params, OptionalExtension};

use crate::{io_err, Error, Result, Store};
use batch::{apply_batch, BatchStats, ChainCache};
pub(crate) use checkpoint::Checkpointer;
pub(crate) use pending::PendingDocs;
pub use priority::IndexPriority;
use read::{head_hash, stat, Batch, Stat};

/// What the writer knows of the keys in the store, exact for a write transaction.
#[derive(Default)]
pub(crate) struct KnownKeys {
    pub(super) waiting: waiting::WaitingLeaves,
    pub(super) fresh: fresh::FreshKeys,
}

impl KnownKeys {
    /// At the start of a write transaction.
    fn refresh(&mut self, conn: &rusqlite::Connection) -> Result<()> {
        let version = fresh::data_version(conn)?;
        self.waiting.refresh(conn, version)?;
        self.fresh.check(version);
        Ok(())
    }
}

/// Bytes of transcript per commit in bulk runs (several files' batches).
pub(crate) const COMMIT_BYTES: u64 = 32 * 1024 * 1024;
/// WAL a bulk run lets grow before it is checkpointed where no thread does it, and
/// the size the WAL file is cut back to after a run.
const BULK_WAL_BYTES: i64 = 64 * 1024 * 1024;
/// Bytes hashed at the start of a file to notice that it was replaced.
pub(super) const HEAD_BYTES: u64 = 4096;

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

/// What the store knows of a file before a run: how far it was read, and its mtime
/// then.
struct Known {
    offset: u64,
    mtime_ns: i64,
}

/// Each file with its `stat` and whether it changed since the last run. The `stat`s
/// are most of what a run over unchanged files costs (15k files: ~100 ms of system
/// time), so they are split between two threads.
fn plan_files(files: Vec<TranscriptFile>, known: &HashMap<PathBuf, Known>) -> Vec<Planned> {
    let plan = |files: Vec<TranscriptFile>| -> Vec<Planned> {
        files
            .into_iter()
            .map(|file| {
                let st = stat(&file.path).ok();
                let unchanged = match (&st, known.get(&file.path)) {
                    (Some(st), Some(k)) => st.size == k.offset && st.mtime_ns == k.mtime_ns,
                    _ => false,
                };
                Planned {
                    file,
                    st,
                    unchanged,
                }
            })
            .collect()
    };
    if files.len() < 1024 {
        return plan(files);
    }
    let mut first = files;
    let second = first.split_off(first.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| plan(second));
        let mut planned = plan(first);
        match other.join() {
            Ok(rest) => planned.extend(rest),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        planned
    })
}

/// A file of a run, with its `stat` taken once when the run was planned.
struct Planned {
    file: TranscriptFile,
    st: Option<Stat>,
    /// Read to its end already, and not modified since.
    unchanged: bool,
}

/// A file `open_file` looked at: nothing to read, or where to read from.
enum Opened {
    Done(FileReport),
    Read(Open),
}

struct Open {
    src: SourceRow,
    st: Stat,
    report: FileReport,
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
        // Plan first so the progress bar knows how much there is to read: one `stat`
        // per file, which is also all a file that did not change costs.
        let mut plan = plan_files(files, &known);
        // Newest first: the conversations someone is most likely to look for are
        // searchable (and committed) before a year of older ones is read.
        plan.sort_by_key(|p| std::cmp::Reverse(p.st.as_ref().map_or(0, |s| s.mtime_ns)));
        let total = plan
            .iter()
            .filter_map(|p| {
                let done = known.get(&p.file.path).map_or(0, |k| k.offset);
                p.st.as_ref().map(|st| st.size.saturating_sub(done))
            })
            .sum();
        let mut report = IndexReport::default();
        let mut progress = Progress {
            bytes_done: 0,
            bytes_total: total,
            files_done: 0,
            files_total: plan.len() as u64,
        };
        // A bulk run rewrites the same FTS and b-tree pages many times; checkpointing
        // every 1000 pages (the default) copies them into the database again and
        // again. Checkpoint after commits of many files, on another thread where
        // the database has a file (`checkpoint`), and once at the run's end.
        let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        self.conn.pragma_update(
            None,
            "wal_autocheckpoint",
            BULK_WAL_BYTES / page_size.max(512),
        )?;
        // Small files are grouped into transactions of about COMMIT_BYTES: a commit
        // per file would flush a new full-text segment per file.
        self.conn.pragma_update(None, "journal_size_limit", -1)?;
        self.bulk = true;
        // A run with nothing to write (most rescans) opens no second connection.
        let writes = plan.iter().any(|p| !p.unchanged);
        let checkpointer = self
            .path
            .as_deref()
            .filter(|_| writes)
            .and_then(Checkpointer::start);
        if writes {
            self.known.fresh = fresh::FreshKeys::at_start(&self.conn)?;
        }
        let mut result = std::thread::scope(|scope| {
            if let Some((checkpointer, work)) = checkpointer {
                // Named, as the reader is, for `top -H` and profiles.
                match std::thread::Builder::new()
                    .name("obs-checkpoint".into())
                    .spawn_scoped(scope, work)
                {
                    Ok(_) => {
                        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                        self.checkpointer = Some(checkpointer);
                    }
                    // The writer then checkpoints as it does without a database file.
                    Err(e) => tracing::warn!(error = %e, "no thread for checkpoints"),
                }
            }
            let r = self.index_files(&plan, &mut report, &mut progress, on_progress);
            // Closes the thread's channel: the scope waits for its last checkpoint.
            self.checkpointer = None;
            r
        });
        self.bulk = false;
        match result {
            Ok(()) => result = self.commit(),
            Err(_) => self.rollback(),
        }
        self.known.fresh = fresh::FreshKeys::default();
        self.conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        // The run's WAL (a few hundred MB) is cut back when it next starts over;
        // not during the run, where cutting and growing it again cost a few percent.
        self.conn
            .pragma_update(None, "journal_size_limit", BULK_WAL_BYTES)?;
        result?;
        // Files Claude Code deleted: keep everything, remember that the source is gone.
        let seen: std::collections::HashSet<&Path> =
            plan.iter().map(|p| p.file.path.as_path()).collect();
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
        plan: &[Planned],
        report: &mut IndexReport,
        progress: &mut Progress,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        self.run(plan, &mut |r| {
            let r = match r {
                Ok(r) => r,
                // One unreadable file must not stop the others.
                Err(e @ Error::Io { .. }) => {
                    tracing::warn!(error = %e, "skipping a transcript this run");
                    report.files_failed += 1;
                    let cause = std::error::Error::source(&e)
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    report.failures.push(format!("{e}{cause}"));
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            report.add(&r);
            progress.bytes_done += r.bytes_read;
            progress.files_done += 1;
            if !r.unchanged {
                on_progress(*progress);
            }
            Ok(())
        })
    }

    /// Indexes the files of `plan` in order, handing each file's outcome to `done`
    /// (which stops the run by returning an error). One thread reads, parses and
    /// compresses the next files while this one writes the current one (SQLite wants
    /// one writer), and frees them once written: on a store of many small
    /// transcripts, reading one file at a time would leave a core idle.
    fn run(
        &mut self,
        plan: &[Planned],
        done: &mut dyn FnMut(Result<FileReport>) -> Result<()>,
    ) -> Result<()> {
        let max_line = self.max_line;
        let budget = &run::Budget::default();
        std::thread::scope(|scope| -> Result<()> {
            let (jobs, job_rx) = std::sync::mpsc::channel::<run::Job>();
            // Unbounded: the budget bounds what the reader holds ahead.
            let (read_tx, reads) = std::sync::mpsc::channel();
            // Written batches go back to the reader to be freed; it takes them at
            // every batch it reads and while it waits for a file, so they stay
            // about as many as it reads ahead.
            let (written, to_free) = std::sync::mpsc::channel::<Batch>();
            std::thread::Builder::new()
                .name("obs-reader".into())
                .spawn_scoped(scope, move || {
                    run::reader(job_rx, read_tx, to_free, budget, max_line)
                })
                .map_err(|e| Error::Internal(format!("no thread to read transcripts: {e}")))?;
            // Whatever ends the run (an error included), the reader must not be
            // left waiting for room: the scope joins it.
            let _close = run::CloseOnDrop(budget);
            let mut next: std::collections::VecDeque<&Planned> = plan.iter().collect();
            let mut priority_seen = 0;
            let mut ahead = std::collections::VecDeque::new();
            loop {
                // Decide the next files (which bytes to read) and hand them to the
                // reader, a few ahead of the one being written.
                while ahead.len() < run::AHEAD {
                    if let Some(priority) = &self.priority {
                        if priority.generation() != priority_seen {
                            priority_seen = priority.generation();
                            wanted_first(&mut next, priority);
                        }
                    }
                    let Some(p) = next.pop_front() else { break };
                    if p.unchanged {
                        done(Ok(FileReport {
                            path: p.file.path.clone(),
                            unchanged: true,
                            ..FileReport::default()
                        }))?;
                        continue;
                    }
                    match self.open_file(&p.file, p.st.as_ref()) {
                        Ok(Opened::Done(r)) => done(Ok(r))?,
                        Ok(Opened::Read(open)) => {
                            jobs.send(run::Job {
                                path: p.file.path.clone(),
                                start: open.src.offset,
                                first_line: open.src.line_count,
                            })
                            .map_err(|_| run::stopped())?;
                            ahead.push_back((p, open));
                        }
                        Err(e) => done(Err(e))?,
                    }
                }
                let Some((p, open)) = ahead.pop_front() else {
                    return Ok(());
                };
                let r = self.write_file(&p.file, open, &reads, budget, &written);
                if let Err(e) = &r {
                    // A read error leaves the batches before it consistent (each
                    // carries its offset); anything else may have left a batch half
                    // applied.
                    if !matches!(e, Error::Io { .. }) {
                        self.rollback();
                    }
                }
                done(r)?;
            }
        })
    }

    /// Reads the transcripts of `priority`'s project directories before the others
    /// in every later run (see `IndexPriority`).
    pub fn set_index_priority(&mut self, priority: std::sync::Arc<IndexPriority>) {
        self.priority = Some(priority);
    }

    fn known_sources(&self) -> Result<HashMap<PathBuf, Known>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, offset, mtime_ns FROM sources")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                PathBuf::from(r.get::<_, String>(0)?),
                Known {
                    offset: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                },
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
        let plan = [Planned {
            file: file.clone(),
            st: None,
            unchanged: false,
        }];
        let mut report = None;
        self.run(&plan, &mut |r| {
            report = Some(r?);
            Ok(())
        })?;
        report.ok_or_else(run::stopped)
    }

    /// What to read of a file, if anything: from where its last run ended, or from
    /// its start if it was replaced. `st` is its `stat` when the caller took it.
    fn open_file(&mut self, file: &TranscriptFile, st: Option<&Stat>) -> Result<Opened> {
        let path = &file.path;
        let path_str = path.to_string_lossy().into_owned();
        let mut report = FileReport {
            path: path.clone(),
            ..FileReport::default()
        };
        let st = match st.map_or_else(|| stat(path), |s| Ok(s.clone())) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.conn
                    .prepare_cached("UPDATE sources SET missing = 1 WHERE path = ?1")?
                    .execute([&path_str])?;
                report.missing = true;
                return Ok(Opened::Done(report));
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let mut src = self.source_row(&path_str, file)?;
        if st.size == src.offset && st.mtime_ns == src.mtime_ns {
            report.unchanged = true;
            return Ok(Opened::Done(report));
        }
        if let Some(reason) = replaced(path, &src, &st)? {
            tracing::warn!(path = %path.display(), %reason, "re-reading transcript from the start");
            src.offset = 0;
            src.line_count = 0;
            report.reset = Some(reason);
        }
        if st.size == src.offset {
            // Only the mtime moved (touch, or a rewrite of identical bytes).
            self.conn
                .prepare_cached("UPDATE sources SET mtime_ns = ?1, missing = 0 WHERE id = ?2")?
                .execute(params![st.mtime_ns, src.id])?;
            report.unchanged = true;
            return Ok(Opened::Done(report));
        }
        Ok(Opened::Read(Open { src, st, report }))
    }

    /// Writes what the reader hands over of one file (opened by `open_file`), until
    /// it says the file is done.
    fn write_file(
        &mut self,
        file: &TranscriptFile,
        open: Open,
        reads: &std::sync::mpsc::Receiver<run::Read>,
        budget: &run::Budget,
        written: &std::sync::mpsc::Sender<Batch>,
    ) -> Result<FileReport> {
        let Open {
            mut src,
            st,
            mut report,
        } = open;
        let mut cache = ChainCache::default();
        loop {
            match reads.recv().map_err(|_| run::stopped())? {
                run::Read::Batch(batch) => {
                    report.bytes_read += batch.end_offset - batch.start_offset;
                    report.lines += batch.items.len() as u64;
                    let stats =
                        self.write_batch(file, &mut src, &batch, &mut cache, st.mtime_ns)?;
                    report.new_messages += stats.new_messages;
                    report.warnings += stats.warnings;
                    budget.give(batch.len());
                    // Freeing a batch's records takes a while too: not on this thread
                    // (and not on a third, see `run::reader`).
                    let _ = written.send(batch);
                }
                run::Read::Failed(e) => return Err(io_err(&file.path)(e)),
                run::Read::Done => return Ok(report),
            }
        }
    }

    /// Applies one batch and moves the file's offset past it, in the open transaction
    /// (begun if none is), and commits when it is time.
    fn write_batch(
        &mut self,
        file: &TranscriptFile,
        src: &mut SourceRow,
        batch: &Batch,
        cache: &mut ChainCache,
        mtime_ns: i64,
    ) -> Result<BatchStats> {
        let path = &file.path;
        if !self.in_tx {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_tx = true;
            self.known.refresh(&self.conn)?;
        }
        let tx = &self.conn;
        let stats = apply_batch(
            tx,
            file,
            src,
            batch,
            cache,
            &mut self.pending_docs,
            &mut self.known,
        )?;
        src.offset = batch.end_offset;
        src.line_count = batch.last_line;
        src.head_hash = match batch.head_hash {
            Some(h) => Some(h),
            // The bytes hashed last time are the file's first HEAD_BYTES still.
            None if batch.start_offset >= HEAD_BYTES && src.head_hash.is_some() => src.head_hash,
            None => {
                let head_len = batch.end_offset.min(HEAD_BYTES);
                Some(head_hash(path, head_len).map_err(io_err(path))?)
            }
        };
        src.size = batch.end_offset;
        tx.prepare_cached(
            "UPDATE sources SET offset = ?1, line_count = ?2, size = ?3, mtime_ns = ?4, head_hash = ?5,
             conversation_id = ?6, last_prompt_id = ?7, warning_count = warning_count + ?8, missing = 0
             WHERE id = ?9",
        )?
        .execute(
            params![
                src.offset as i64,
                src.line_count as i64,
                src.size as i64,
                // Only a file read to its end is up to date with its mtime.
                if batch.at_end { mtime_ns } else { 0 },
                src.head_hash,
                src.conversation_id,
                src.last_prompt_id,
                stats.warnings as i64,
                src.id
            ],
        )?;
        self.tx_bytes += batch.end_offset - batch.start_offset;
        if !self.bulk || self.tx_bytes >= self.commit_bytes {
            self.commit()?;
        }
        Ok(stats)
    }

    /// Commits what the open transaction holds: whole batches with their offsets.
    fn commit(&mut self) -> Result<()> {
        if self.in_tx {
            if let Err(e) = self.pending_docs.write(&self.conn) {
                self.rollback();
                return Err(e);
            }
            self.in_tx = false;
            self.tx_bytes = 0;
            self.conn.execute_batch("COMMIT")?;
            if let Some(c) = &mut self.checkpointer {
                c.committed(&self.conn);
            }
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending_docs.clear();
        self.known.waiting.forget();
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
        let mut select = self.conn.prepare_cached(SELECT)?;
        if let Some(s) = select.query_row([path], row).optional()? {
            return Ok(s);
        }
        self.conn
            .prepare_cached("INSERT INTO sources (path, kind) VALUES (?1, ?2)")?
            .execute(params![path, file.kind.as_str()])?;
        Ok(select.query_row([path], row)?)
    }
}

/// Moves the files `priority` wants to the front, each group keeping its order
/// (newest first).
fn wanted_first(next: &mut std::collections::VecDeque<&Planned>, priority: &IndexPriority) {
    let (wanted, rest): (Vec<&Planned>, Vec<&Planned>) = next
        .drain(..)
        .partition(|p| !p.unchanged && priority.wants_transcript(&p.file.path));
    if !wanted.is_empty() {
        tracing::info!(
            files = wanted.len(),
            "reading the transcripts of open files first"
        );
    }
    next.extend(wanted);
    next.extend(rest);
}

/// Why a file must be read again from its start, if it must: it shrank, or its first
/// bytes changed (it was truncated or replaced). Rows are keyed by transcript ids, so
/// nothing already indexed is lost or doubled.
fn replaced(path: &Path, src: &SourceRow, st: &Stat) -> Result<Option<String>> {
    if src.offset == 0 {
        return Ok(None);
    }
    let head_len = src.size.min(HEAD_BYTES);
    Ok(if st.size < src.offset {
        Some(format!(
            "file shrank from {} to {} bytes",
            src.offset, st.size
        ))
    } else if head_hash(path, head_len).map_err(io_err(path))? != src.head_hash.unwrap_or_default()
    {
        Some("file was replaced (its first bytes changed)".to_owned())
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    // Tests: a failed expectation is the test failing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Lookups by a key's hash also compare the key: a stored row whose hash
    /// matches (a collision, forged here) neither hides a new message, tool call
    /// or response from being stored nor is taken for it.
    #[test]
    fn keys_that_share_a_hash_stay_apart() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("projects/-w/s.jsonl");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        let mut store = Store::open_in_memory().expect("store");
        store
            .conn
            .execute_batch(&format!(
                "INSERT INTO conversations (id, session_key, kind) VALUES (1, 'other', 'session');
                 INSERT INTO messages (uuid, uuid_hash, conversation_id, role, source_id, offset)
                      VALUES ('forged', {}, 1, 'user', 0, 0);
                 INSERT INTO tool_calls (tool_use_id, tool_use_id_hash, conversation_id, message_id, name)
                      VALUES ('forged', {}, 1, 1, 'Bash');
                 INSERT INTO usage (key, key_hash, conversation_id, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
                      VALUES ('forged', {}, 1, 1, 1, 1, 1);",
                crate::sql::key_hash("a1"),
                crate::sql::key_hash("toolu_1"),
                crate::sql::key_hash("msg_1:req_1"),
            ))
            .expect("forged rows");
        std::fs::write(
            &path,
            concat!(
                r#"{"type":"user","uuid":"u1","sessionId":"s","message":{"role":"user","content":"list it"}}"#,
                "\n",
                r#"{"type":"assistant","uuid":"a1","parentUuid":"u1","sessionId":"s","requestId":"req_1","message":{"id":"msg_1","role":"assistant","model":"m","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":7,"output_tokens":3}}}"#,
                "\n",
                r#"{"type":"user","uuid":"u2","parentUuid":"a1","sessionId":"s","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"src","is_error":true}]}}"#,
                "\n",
            ),
        )
        .expect("write");
        let report = store.index_path(&path).expect("index");
        assert_eq!(report.new_messages, 3);
        assert!(store.has_message("a1").expect("lookup"));
        let q = |sql: &str| -> (i64, Option<i64>) {
            store
                .conn
                .query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect(sql)
        };
        // The result was recorded on the new call, not on the forged one.
        assert_eq!(
            q("SELECT count(*), sum(failed) FROM tool_calls WHERE tool_use_id = 'toolu_1'"),
            (1, Some(1))
        );
        assert_eq!(
            q("SELECT count(*), sum(failed) FROM tool_calls WHERE tool_use_id = 'forged'"),
            (1, None)
        );
        assert_eq!(
            q("SELECT count(*), sum(input_tokens) FROM usage WHERE key = 'msg_1:req_1'"),
            (1, Some(7))
        );
        assert_eq!(
            q("SELECT count(*), sum(input_tokens) FROM usage WHERE key = 'forged'"),
            (1, Some(1))
        );
    }

    /// A run that stops on an error returns it at once, even with the reader a
    /// full budget ahead and waiting for room (it waited forever).
    #[test]
    fn a_run_stopped_by_an_error_does_not_wait_for_its_reader() {
        let dir = tempfile::tempdir().expect("tmp");
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).expect("mkdir");
        // 24 files of 1 MB: twice what the reader may hold ahead.
        let line = format!(
            "{{\"type\":\"user\",\"uuid\":\"u\",\"sessionId\":\"s\",\"message\":{{\"role\":\"user\",\"content\":\"{}\"}}}}\n",
            "x".repeat(1000)
        );
        for i in 0..24 {
            let body: String = (0..1000)
                .map(|n| line.replace("\"u\"", &format!("\"u{i}-{n}\"")))
                .collect();
            std::fs::write(project.join(format!("s{i}.jsonl")), body).expect("write");
        }
        let files = transcript_files(dir.path());
        let plan = plan_files(files, &HashMap::new());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut store = Store::open_in_memory().expect("store");
            let result = store.run(&plan, &mut |_| {
                // Time for the reader to fill its budget.
                std::thread::sleep(Duration::from_millis(500));
                Err(Error::Internal("stop here".into()))
            });
            let _ = tx.send(result.is_err());
        });
        let stopped = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the run returned");
        assert!(stopped, "the run reported its error");
    }

    /// A bulk run of many commits with its checkpointing thread: every message
    /// stored, a WAL a few commits long, and the run ends checkpointed
    /// (`checkpoint` tests the writer's part on its own).
    #[test]
    fn a_bulk_runs_wal_stays_a_few_commits_long() {
        let dir = tempfile::tempdir().expect("tmp");
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).expect("mkdir");
        for i in 0..40 {
            let body: String = (0..300)
                .map(|n| {
                    format!(
                        "{{\"type\":\"user\",\"uuid\":\"u{i}-{n}\",\"sessionId\":\"s{i}\",\"message\":{{\"role\":\"user\",\"content\":\"word{n} {}\"}}}}\n",
                        "text ".repeat(200)
                    )
                })
                .collect();
            std::fs::write(project.join(format!("s{i}.jsonl")), body).expect("write");
        }
        let db = dir.path().join("data/observatory.db");
        let mut store = Store::open(&db).expect("store");
        // A commit per file or two: 40 or so commits instead of one.
        store.commit_bytes = 256 * 1024;
        let report = store
            .index_roots(&[dir.path().to_path_buf()], &mut |_| {})
            .expect("index");
        assert_eq!(report.new_messages, 40 * 300);
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let (db_bytes, wal_bytes) = (size(&db), size(&db.with_extension("db-wal")));
        // The WAL file keeps its largest size: a few commits' pages (a fifth of the
        // database here), where holding the run would take every page of it.
        assert!(
            wal_bytes * 2 < db_bytes,
            "WAL {wal_bytes} bytes against a database of {db_bytes}"
        );
        let copied: bool = store
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok(r.get::<_, i64>(1)? == r.get::<_, i64>(2)?)
            })
            .expect("checkpoint");
        assert!(copied, "the run ends checkpointed");
        assert_eq!(
            store
                .conn
                .query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
                .expect("count"),
            40 * 300
        );
    }

    /// A first index looks no key up that it has not written itself, while the
    /// store is its own: once another connection commits mid-run, it looks every
    /// key up again, and a message that connection stored is not stored twice.
    #[test]
    fn a_first_index_sees_what_another_connection_stores_mid_run() {
        let dir = tempfile::tempdir().expect("tmp");
        let line = |uuid: &str, session: &str| {
            format!(
                "{{\"type\":\"user\",\"uuid\":\"{uuid}\",\"sessionId\":\"{session}\",\"message\":{{\"role\":\"user\",\"content\":\"hello\"}}}}\n"
            )
        };
        let write = |path: &Path, body: String| {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(path, body).expect("write");
        };
        let mine = dir.path().join("mine/projects/-w");
        // Read second (older): it holds the message the other connection stores.
        write(
            &mine.join("older.jsonl"),
            line("shared", "older") + &line("o2", "older"),
        );
        std::thread::sleep(Duration::from_millis(50));
        write(&mine.join("newer.jsonl"), line("n1", "newer"));
        let theirs = dir.path().join("theirs");
        write(
            &theirs.join("projects/-x/t.jsonl"),
            line("shared", "theirs"),
        );

        let db = dir.path().join("data/observatory.db");
        let mut store = Store::open(&db).expect("store");
        // A commit per batch, so the other connection can write between files.
        store.commit_bytes = 1;
        let mut files = 0;
        store
            .index_roots(&[dir.path().join("mine")], &mut |_| {
                files += 1;
                if files == 1 {
                    Store::open(&db)
                        .expect("other store")
                        .index_roots(std::slice::from_ref(&theirs), &mut |_| {})
                        .expect("index theirs");
                }
            })
            .expect("index mine");
        let rows: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM messages WHERE uuid = 'shared'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(rows, 1, "the message the other connection stored, once");
        let all: i64 = store
            .conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .expect("count");
        assert_eq!(all, 3);
    }

    /// In a first index, a response's usage and a tool call met again in a later
    /// file are found among the keys the run wrote: updated and kept once, not
    /// stored twice.
    #[test]
    fn a_first_index_finds_the_keys_it_wrote() {
        let dir = tempfile::tempdir().expect("tmp");
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).expect("mkdir");
        // One response's lines, each file with its own, the tool call in both.
        let line = |uuid: &str, session: &str, output: u64| {
            format!(
                r#"{{"type":"assistant","uuid":"{uuid}","sessionId":"{session}","requestId":"req_1","message":{{"id":"msg_1","role":"assistant","model":"claude-sonnet-4-5","content":[{{"type":"tool_use","id":"toolu_1","name":"Bash","input":{{"command":"ls"}}}}],"usage":{{"input_tokens":3,"output_tokens":{output}}}}}}}"#
            ) + "\n"
        };
        std::fs::write(project.join("older.jsonl"), line("a1", "older", 5)).expect("write");
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(project.join("newer.jsonl"), line("a2", "newer", 7)).expect("write");
        let mut store = Store::open(&dir.path().join("data/observatory.db")).expect("store");
        store.commit_bytes = 1;
        store
            .index_roots(&[dir.path().to_path_buf()], &mut |_| {})
            .expect("index");
        let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(count("SELECT count(*) FROM usage"), 1);
        assert_eq!(count("SELECT output_tokens FROM usage"), 7);
        assert_eq!(count("SELECT count(*) FROM tool_calls"), 1);
    }
}
