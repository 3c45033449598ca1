//! The read side of the store, behind a trait so that a server database can implement
//! the same queries (the writes the platform makes are `writer::Writer`).

use rustc_hash::FxHashMap;

use chrono::{DateTime, Utc};
use observatory_protocol::analytics::{EditedFile, ProjectSummary, UsageRow};
use observatory_protocol::conversations::{ConversationFile, ConversationSummary};
use observatory_protocol::files::{FileInsights, FileTouch};
use observatory_transcript::{parse_line, FileChange, Record, Usage};
use rusqlite::{params, params_from_iter, types::Value as SqlValue, OptionalExtension};
use serde::Serialize;

use crate::events::{self, Event, EventQuery};
use crate::keys::{self, ApiKey};
use crate::packed::StoredChange;
use crate::pricing;
use crate::search::{SearchQuery, SearchResults};
use crate::sql::{
    conversation_where, from_ms, key_hash, like_escape, path_condition, project_condition,
    usage_at, usage_by_model, CREDITED_SESSION_SQL, CREDITED_TITLE_SQL, LAUNCHER_JOIN, TITLE_SQL,
};
use crate::webhooks::{self, DueDelivery};
use crate::{Error, Result, Store};
use observatory_attribution::history::{History, HistoryError, Result as HistoryResult};
use observatory_protocol::webhooks::{Delivery, DeliveryAttempt, DeliveryParams, Webhook};

/// Queries every backend answers.
/// The read side of a backend. A history of file changes is part of it: line
/// attribution reads through [`History`], and a `&dyn Catalog` is one.
pub trait Catalog: History {
    fn search(&self, q: &SearchQuery) -> Result<SearchResults>;
    fn conversations(&self, f: &ConversationFilter) -> Result<Vec<ConversationSummary>>;
    /// A conversation by its session id or a unique prefix of it.
    fn conversation(&self, id: &str) -> Result<Conversation>;
    /// The conversation's records, read back from Observatory's own copy of the
    /// transcript (so they outlive Claude Code's 30-day cleanup).
    fn conversation_records(&self, conversation_id: i64) -> Result<Vec<Record>>;
    /// Every recorded touch of a file, newest first. A relative path matches any
    /// recorded path that ends with it.
    fn file_touches(&self, path: &str) -> Result<Vec<FileTouch>>;
    /// The files a conversation touched, each once with its changes, most recently
    /// touched first (then by path).
    fn conversation_files(&self, conversation_id: i64) -> Result<Vec<ConversationFile>>;
    fn usage(&self, group: UsageGroup, f: &ConversationFilter) -> Result<Vec<UsageRow>>;
    /// The shape of a conversation's message tree.
    fn conversation_shape(&self, conversation_id: i64) -> Result<Shape>;
    /// Projects (the directories conversations ran in), most recently active first.
    fn projects(&self) -> Result<Vec<ProjectSummary>>;
    /// The files agents changed most, optionally within one project.
    fn most_edited_files(&self, project: Option<&str>, limit: usize) -> Result<Vec<EditedFile>>;
    /// What agents did to a file: conversations, edits, reads, failures, tokens and the
    /// prompts behind the edits. Derived from `file_touches` and `conversation`; a
    /// backend may answer it in one query instead.
    fn file_insights(&self, path: &str) -> Result<FileInsights> {
        insights(self, path)
    }
    /// Events after `q.after`, oldest first.
    fn events(&self, q: &EventQuery) -> Result<Vec<Event>>;
    /// The id of the newest event ever logged (0 when there is none), even if that
    /// event went with its conversation: ids are never reused.
    fn last_event_id(&self) -> Result<i64>;
    /// Every API key, revoked ones included (never their secrets).
    fn api_keys(&self) -> Result<Vec<ApiKey>>;
    /// The active key a presented secret belongs to.
    fn verify_api_key(&self, secret: &str) -> Result<Option<ApiKey>>;
    /// Whether key `id` exists and is not revoked.
    fn is_api_key_active(&self, id: i64) -> Result<bool>;
    /// Whether any key is active (the platform may then listen beyond loopback).
    fn has_active_api_keys(&self) -> Result<bool>;
    /// Every webhook subscription (never its secret).
    fn webhooks(&self) -> Result<Vec<Webhook>>;
    /// One webhook; `Error::NotFound` if there is none.
    fn webhook(&self, id: i64) -> Result<Webhook>;
    /// A webhook's deliveries, newest first, at most `limit`.
    fn webhook_deliveries(
        &self,
        webhook_id: i64,
        q: &DeliveryParams,
        limit: usize,
    ) -> Result<Vec<Delivery>>;
    fn webhook_delivery(&self, webhook_id: i64, id: i64) -> Result<Delivery>;
    /// The HTTP attempts of one delivery, oldest first.
    fn webhook_attempts(&self, webhook_id: i64, delivery_id: i64) -> Result<Vec<DeliveryAttempt>>;
    /// Deliveries of active webhooks (or of one) due by `now`, oldest first per
    /// webhook (at most `per_webhook` of each, `limit` in all), with what sending
    /// them needs.
    fn due_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        webhook: Option<i64>,
        per_webhook: usize,
        limit: usize,
    ) -> Result<Vec<DueDelivery>>;
    /// When the next pending delivery of an active webhook is due.
    fn next_webhook_due(&self) -> Result<Option<DateTime<Utc>>>;
    /// The change a tool call made (by its tool-use id), if it made one: what chat
    /// messages count lines from.
    fn tool_call_change(&self, tool_use_id: &str) -> Result<Option<FileChange>>;
}

pub use observatory_attribution::RecordedWrite;

/// How a conversation's messages hang together.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Shape {
    pub messages: u64,
    /// Messages with neither a parent nor a logical parent (compaction keeps a chain).
    pub roots: u64,
    /// Messages nothing continues from: one per branch left by a rewind.
    pub leaves: u64,
    /// Messages with more than one child: where the user rewound.
    pub branch_points: u64,
    /// Compaction boundaries (continued through `logicalParentUuid`).
    pub compactions: u64,
    pub sidechain_messages: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// The project directory (`cwd`); matches it and directories below it.
    pub project: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub model: Option<String>,
    /// Only conversations that touched this file (absolute path or path suffix).
    pub file: Option<String>,
    /// Only conversations whose text matches this search query.
    pub text: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// A conversation as the store holds it: its row id, which never leaves the store,
/// beside what the API sends of it (read through `Deref`: `c.title`, `c.usage`).
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The `conversations` row (for `conversation_records`, `conversation_shape`).
    pub id: i64,
    pub summary: ConversationSummary,
}

impl std::ops::Deref for Conversation {
    type Target = ConversationSummary;

    fn deref(&self) -> &ConversationSummary {
        &self.summary
    }
}

impl From<Conversation> for ConversationSummary {
    fn from(c: Conversation) -> Self {
        c.summary
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    Conversation,
    Project,
    Day,
    Model,
}

impl Store {
    fn summaries_where(
        &self,
        cond: &str,
        args: Vec<SqlValue>,
        tail: &str,
    ) -> Result<Vec<Conversation>> {
        let sql = format!(
            "SELECT c.id, c.session_key, {TITLE_SQL}, c.kind, c.parent_session, c.project, c.git_branch, c.version,
                    c.entrypoint, c.started_at, c.ended_at, c.message_count, c.continues
             FROM conversations c WHERE {cond} {tail}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(Conversation {
                id: r.get(0)?,
                summary: ConversationSummary {
                    session_id: r.get(1)?,
                    title: one_line(&r.get::<_, String>(2)?, 120),
                    kind: r.get(3)?,
                    parent_session: r.get(4)?,
                    continues: r.get(12)?,
                    project: r.get(5)?,
                    git_branch: r.get(6)?,
                    version: r.get(7)?,
                    entrypoint: r.get(8)?,
                    started_at: from_ms(r.get(9)?),
                    ended_at: from_ms(r.get(10)?),
                    message_count: r.get::<_, i64>(11)? as u64,
                    models: Vec::new(),
                    usage: Usage::default(),
                    cost_usd: 0.0,
                },
            })
        })?;
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        for c in &mut out {
            self.fill_usage(c)?;
        }
        Ok(out)
    }

    fn fill_usage(&self, c: &mut Conversation) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT model, sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), sum(cache_read_tokens)
             FROM usage WHERE conversation_id = ?1 GROUP BY model ORDER BY sum(output_tokens) DESC",
        )?;
        let rows = stmt.query_map([c.id], usage_by_model)?;
        let c = &mut c.summary;
        for row in rows {
            let (model, u) = row?;
            add_usage(&mut c.usage, &u);
            c.cost_usd += pricing::cost(model.as_deref(), &u);
            if let Some(m) = model.filter(|m| !m.starts_with('<')) {
                c.models.push(m);
            }
        }
        Ok(())
    }

    pub(crate) fn conversation_id_for(&self, id: &str) -> Result<i64> {
        Ok(self.conversation(id)?.id)
    }
}

fn add_usage(a: &mut Usage, b: &Usage) {
    a.input_tokens = a.input_tokens.saturating_add(b.input_tokens);
    a.output_tokens = a.output_tokens.saturating_add(b.output_tokens);
    a.cache_creation_input_tokens = a
        .cache_creation_input_tokens
        .saturating_add(b.cache_creation_input_tokens);
    a.cache_read_input_tokens = a
        .cache_read_input_tokens
        .saturating_add(b.cache_read_input_tokens);
}

/// First line of `s`, at most `max` characters, for tables and titles.
pub fn one_line(s: &str, max: usize) -> String {
    let line = s.trim().lines().next().unwrap_or_default().trim();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Store {
    /// The recorded writes of tool calls `ids` with the conversation row each is
    /// stored under (rows whose change is unreadable are logged and left out).
    fn recorded_writes(&self, ids: &[i64]) -> Result<Vec<(i64, RecordedWrite)>> {
        let sql = format!(
            "SELECT t.path, c.project, {CREDITED_SESSION_SQL}, {CREDITED_TITLE_SQL}, m.uuid, t.tool_use_id, t.name, t.ts, m.model,
                    (SELECT d.text FROM docs d WHERE d.message_id = t.prompt_id AND d.kind = 'prompt' LIMIT 1),
                    t.change,
                    (SELECT d.text FROM docs d
                      WHERE d.conversation_id = t.conversation_id AND d.kind = 'assistant'
                        AND d.message_id <= t.message_id AND d.message_id > COALESCE(t.prompt_id, 0)
                      ORDER BY d.message_id DESC, d.id DESC LIMIT 1),
                    t.id, t.conversation_id,
                    -- A subagent's change: its own transcript, or an inline sidechain.
                    (c.kind <> 'session' OR m.is_sidechain), c.session_key, COALESCE(p.id, c.id)
             FROM tool_calls t JOIN conversations c ON c.id = t.conversation_id JOIN messages m ON m.id = t.message_id
                  LEFT JOIN conversations p ON {LAUNCHER_JOIN}
             WHERE t.id IN ({})",
            vec!["?"; ids.len()].join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(ids.iter()), |r| {
            let by_subagent: bool = r.get(14)?;
            Ok((
                RecordedWrite {
                    path: r.get(0)?,
                    cwd: r.get(1)?,
                    session_id: r.get(2)?,
                    conversation_title: one_line(&r.get::<_, String>(3)?, 120),
                    subagent: None,
                    message_uuid: r.get(4)?,
                    tool_use_id: r.get(5)?,
                    tool: r.get(6)?,
                    at: from_ms(r.get(7)?),
                    model: r.get(8)?,
                    prompt: r.get(9)?,
                    reason: r.get(11)?,
                    call_id: r.get(12)?,
                    change: FileChange::default(),
                },
                r.get::<_, StoredChange>(10)?,
                r.get::<_, i64>(13)?,
                by_subagent
                    .then(|| r.get::<_, String>(15).map(|key| (key, r.get::<_, i64>(16))))
                    .transpose()?,
            ))
        })?;
        let mut tasks = LaunchedTasks::default();
        let mut out = Vec::new();
        for row in rows {
            let (mut w, change, conv, subagent) = row?;
            match change.file_change() {
                Ok(c) => w.change = c,
                Err(e) => {
                    tracing::warn!(tool_use_id = %w.tool_use_id, error = %e, "stored change is unreadable; skipped");
                    continue;
                }
            }
            if let Some((agent_key, launcher)) = subagent {
                w.subagent = Some(tasks.name(self, launcher?, w.prompt.as_deref(), &agent_key)?);
            }
            out.push((conv, w));
        }
        Ok(out)
    }
}

/// The subagents sessions launched (Task tool calls: description and task), read once
/// per session while a history is decoded.
#[derive(Default)]
struct LaunchedTasks(std::collections::HashMap<i64, Vec<(String, String)>>);

impl LaunchedTasks {
    /// What names a subagent: the description of the Task call whose task is the one
    /// it was given, else the task's first line, else its agent id.
    fn name(
        &mut self,
        store: &Store,
        launcher: i64,
        task: Option<&str>,
        agent_key: &str,
    ) -> Result<String> {
        let task = task.map(str::trim).filter(|t| !t.is_empty());
        if let Some(task) = task {
            let launched = match self.0.entry(launcher) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(store.launched_tasks(launcher)?)
                }
            };
            let found = launched
                .iter()
                .find(|(_, prompt)| prompt.trim() == task)
                .map(|(d, _)| d.clone());
            if let Some(description) = found {
                return Ok(description);
            }
            return Ok(one_line(task, 100));
        }
        Ok(agent_key.to_owned())
    }
}

impl Store {
    /// The Task calls of conversation `conv`: (description, task) of each, from the
    /// tool input stored for search (the tool was renamed Agent in later versions).
    fn launched_tasks(&self, conv: i64) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.text FROM tool_calls t JOIN docs d ON d.message_id = t.message_id AND d.kind = 'tool_input' AND d.tool = t.name
             WHERE t.conversation_id = ?1 AND t.name IN ('Task', 'Agent')",
        )?;
        let inputs = stmt.query_map([conv], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for input in inputs {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&input?) else {
                continue;
            };
            let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::trim);
            if let (Some(d), Some(p)) = (field("description"), field("prompt")) {
                if !d.is_empty() {
                    out.push((d.to_owned(), p.to_owned()));
                }
            }
        }
        Ok(out)
    }
}

/// Decoded recorded writes shared by the connections of a pool, by file name: a
/// file's history (whole copies of the file in each `originalFile`) is decoded once,
/// then only the calls added since. Bounded by the text it holds: past
/// `MAX_BYTES` it starts over (a long-running platform must not grow without end).
#[derive(Debug, Default)]
pub struct WritesCache {
    state: std::sync::Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    by_name: std::collections::HashMap<String, (Writes, usize)>,
    bytes: usize,
}

/// A file name's decoded writes by tool call row and the conversation row it is
/// credited to (a call moves when a resumed conversation's copy turns out not to be
/// the first: it is then decoded again); shared, not copied, on lookup.
type Writes = std::collections::HashMap<(i64, i64), std::sync::Arc<RecordedWrite>>;

/// The text a decoded write holds, roughly: what dominates its memory.
fn write_bytes(w: &RecordedWrite) -> usize {
    let c = &w.change;
    c.original.as_ref().map_or(0, String::len)
        + c.content.as_ref().map_or(0, String::len)
        + c.edits
            .iter()
            .map(|e| e.old_string.len() + e.new_string.len())
            .sum::<usize>()
        + w.prompt.as_ref().map_or(0, String::len)
        + w.reason.as_ref().map_or(0, String::len)
        + 512
}

impl WritesCache {
    const MAX_BYTES: usize = 256 << 20;

    fn get(&self, name: &str) -> Writes {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.by_name.get(name).map(|(w, _)| w.clone()))
            .unwrap_or_default()
    }

    fn put(&self, name: &str, writes: Writes) {
        let size: usize = writes.values().map(|w| write_bytes(w)).sum();
        if let Ok(mut s) = self.state.lock() {
            if let Some((_, old)) = s.by_name.remove(name) {
                s.bytes -= old;
            }
            if size > Self::MAX_BYTES {
                return;
            }
            if s.bytes + size > Self::MAX_BYTES {
                s.by_name.clear();
                s.bytes = 0;
            }
            s.bytes += size;
            s.by_name.insert(name.to_owned(), (writes, size));
        }
    }

    /// Text held now, in bytes (roughly).
    pub fn bytes(&self) -> usize {
        self.state.lock().map_or(0, |s| s.bytes)
    }
}

impl History for Store {
    fn writes_to_files_named(&self, file_name: &str) -> HistoryResult<Vec<RecordedWrite>> {
        self.writes_to_files_named_sql(file_name)
            .map_err(|e| HistoryError(Box::new(e)))
    }

    fn writes_mentioning(&self, text: &str, limit: usize) -> HistoryResult<Vec<RecordedWrite>> {
        self.writes_mentioning_sql(text, limit)
            .map_err(|e| HistoryError(Box::new(e)))
    }

    fn paths_written_under(&self, dir: &str, limit: usize) -> HistoryResult<Vec<String>> {
        self.paths_written_under_sql(dir, limit)
            .map_err(|e| HistoryError(Box::new(e)))
    }

    fn checkouts_named(&self, name: &str) -> HistoryResult<Vec<String>> {
        self.checkouts_named_sql(name)
            .map_err(|e| HistoryError(Box::new(e)))
    }
}

impl Store {
    pub(crate) fn writes_to_files_named_sql(&self, file_name: &str) -> Result<Vec<RecordedWrite>> {
        // Which calls, in order: an index lookup. Their decoded changes (which hold
        // whole copies of the file) come from the cache when it has them.
        let ids: Vec<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT t.id, t.conversation_id FROM tool_calls t
                 WHERE t.file_name = ?1 AND t.failed = 0 AND t.change IS NOT NULL
                 ORDER BY t.ts, t.id",
            )?
            .query_map([file_name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut known = self
            .writes_cache
            .as_ref()
            .map(|c| c.get(file_name))
            .unwrap_or_default();
        let missing: Vec<i64> = ids
            .iter()
            .filter(|key| !known.contains_key(key))
            .map(|(id, _)| *id)
            .collect();
        for chunk in missing.chunks(500) {
            for (conv, w) in self.recorded_writes(chunk)? {
                known.insert((w.call_id, conv), std::sync::Arc::new(w));
            }
        }
        let Some(cache) = &self.writes_cache else {
            // Nobody else holds these: move them out instead of copying whole files.
            return Ok(ids
                .iter()
                .filter_map(|id| known.remove(id))
                .map(|w| std::sync::Arc::try_unwrap(w).unwrap_or_else(|w| (*w).clone()))
                .collect());
        };
        let out: Vec<RecordedWrite> = ids
            .iter()
            .filter_map(|id| known.get(id))
            .map(|w| (**w).clone())
            .collect();
        // Calls since deleted (a conversation removed, a file re-read) leave the cache.
        let current: std::collections::HashSet<(i64, i64)> = ids.iter().copied().collect();
        known.retain(|id, _| current.contains(id));
        cache.put(file_name, known);
        Ok(out)
    }

    pub(crate) fn checkouts_named_sql(&self, name: &str) -> Result<Vec<String>> {
        // A store holds hundreds of project directories, read from their index; a
        // pattern for the name would have to escape LIKE's wildcards in it.
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT project FROM conversations WHERE project IS NOT NULL",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let project: String = row.get(0)?;
            if std::path::Path::new(&project)
                .file_name()
                .and_then(|n| n.to_str())
                == Some(name)
            {
                out.push(project);
            }
        }
        Ok(out)
    }

    pub(crate) fn paths_written_under_sql(&self, dir: &str, limit: usize) -> Result<Vec<String>> {
        let dir = dir.trim_end_matches('/');
        // The paths that sort between `dir/` and `dir0` ('0' follows '/'): a range of
        // the path index (the `+` keep SQLite from scanning every write by name).
        Ok(self
            .conn
            .prepare_cached(
                "SELECT path FROM tool_calls
                 WHERE path > ?1 AND path < ?2 AND change IS NOT NULL AND +failed = 0
                   AND +name IN ('Edit', 'MultiEdit', 'Write')
                 GROUP BY path ORDER BY max(ts) DESC LIMIT ?3",
            )?
            .query_map(
                params![format!("{dir}/"), format!("{dir}0"), limit as i64],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub(crate) fn writes_mentioning_sql(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<Vec<RecordedWrite>> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        // A scan of the recorded changes (about 200 MB for a 1 GB corpus, a few
        // hundred ms): the content they carry is not in the full-text index.
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM tool_calls
                 WHERE change IS NOT NULL AND failed = 0 AND name IN ('Edit', 'MultiEdit', 'Write')
                   AND observatory_change_contains(change, ?1)
                 ORDER BY ts DESC, id DESC LIMIT ?2",
            )?
            .query_map(params![text, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            out.extend(self.recorded_writes(chunk)?.into_iter().map(|(_, w)| w));
        }
        out.sort_by_key(|w| std::cmp::Reverse((w.at, w.call_id)));
        Ok(out)
    }
}

impl Catalog for Store {
    fn conversation_shape(&self, conversation_id: i64) -> Result<Shape> {
        let sql = "WITH m AS (SELECT uuid, parent_uuid, logical_parent_uuid, is_sidechain FROM messages WHERE conversation_id = ?1),
                        kids AS (SELECT COALESCE(parent_uuid, logical_parent_uuid) AS p, count(*) AS n FROM m
                                 WHERE COALESCE(parent_uuid, logical_parent_uuid) IS NOT NULL GROUP BY 1)
                   SELECT (SELECT count(*) FROM m),
                          (SELECT count(*) FROM m WHERE parent_uuid IS NULL AND logical_parent_uuid IS NULL),
                          (SELECT count(*) FROM m WHERE uuid NOT IN (SELECT p FROM kids)),
                          (SELECT count(*) FROM kids WHERE n > 1 AND p IN (SELECT uuid FROM m)),
                          (SELECT count(*) FROM m WHERE logical_parent_uuid IS NOT NULL),
                          (SELECT count(*) FROM m WHERE is_sidechain = 1)";
        Ok(self.conn.query_row(sql, [conversation_id], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
            Ok(Shape {
                messages: n(0)?,
                roots: n(1)?,
                leaves: n(2)?,
                branch_points: n(3)?,
                compactions: n(4)?,
                sidechain_messages: n(5)?,
            })
        })?)
    }

    fn search(&self, q: &SearchQuery) -> Result<SearchResults> {
        crate::search::run(self, q)
    }

    fn conversations(&self, f: &ConversationFilter) -> Result<Vec<ConversationSummary>> {
        let (cond, mut args) = conversation_where(f, "c")?;
        let limit = f.limit.map_or(-1, |l| l as i64);
        args.push(SqlValue::Integer(limit));
        args.push(SqlValue::Integer(f.offset as i64));
        Ok(self
            .summaries_where(
                &cond,
                args,
                "ORDER BY c.ended_at DESC, c.id DESC LIMIT ? OFFSET ?",
            )?
            .into_iter()
            .map(ConversationSummary::from)
            .collect())
    }

    fn conversation(&self, id: &str) -> Result<Conversation> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::NotFound(format!("no conversation matches {id:?}")));
        }
        let mut found = self.summaries_where(
            "c.session_key LIKE ? ESCAPE '\\'",
            vec![SqlValue::Text(format!("{}%", like_escape(id)))],
            "ORDER BY c.session_key LIMIT 6",
        )?;
        if let Some(exact) = found.iter().position(|c| c.session_id == id) {
            return Ok(found.swap_remove(exact));
        }
        match found.len() {
            0 => Err(Error::NotFound(format!("no conversation matches {id:?}"))),
            1 => Ok(found.remove(0)),
            _ => Err(Error::Ambiguous(
                id.to_owned(),
                found
                    .iter()
                    .map(|c| c.session_id.as_str())
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    fn conversation_records(&self, conversation_id: i64) -> Result<Vec<Record>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.data FROM raw_chunks r JOIN sources s ON s.id = r.source_id
             WHERE r.conversation_id = ?1 ORDER BY s.id, r.start_offset",
        )?;
        let mut out = Vec::new();
        let mut rows = stmt.query([conversation_id])?;
        while let Some(row) = rows.next()? {
            let data: Vec<u8> = row.get(0)?;
            let raw = zstd::stream::decode_all(data.as_slice())
                .map_err(|e| Error::Corrupt(format!("raw chunk: {e}")))?;
            out.extend(
                raw.split(|b| *b == b'\n')
                    .filter_map(|l| parse_line(l).ok()),
            );
        }
        Ok(out)
    }

    fn file_touches(&self, path: &str) -> Result<Vec<FileTouch>> {
        let (cond, args) = path_condition("t.path", path);
        let sql = format!(
            "SELECT {CREDITED_SESSION_SQL}, {CREDITED_TITLE_SQL}, t.name, t.path, t.ts, t.failed, t.error, t.tool_use_id,
                    (SELECT d.text FROM docs d WHERE d.message_id = t.prompt_id AND d.kind = 'prompt' LIMIT 1),
                    t.change, m.uuid
             FROM tool_calls t JOIN conversations c ON c.id = t.conversation_id
                  JOIN messages m ON m.id = t.message_id
                  LEFT JOIN conversations p ON {LAUNCHER_JOIN}
             WHERE {cond} ORDER BY t.ts DESC, t.id DESC"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            let tool: String = r.get(2)?;
            let change: Option<StoredChange> = r.get(9)?;
            Ok(FileTouch {
                session_id: r.get(0)?,
                conversation_title: one_line(&r.get::<_, String>(1)?, 120),
                path: r.get(3)?,
                at: from_ms(r.get(4)?),
                failed: r.get(5)?,
                error: r.get(6)?,
                tool_use_id: r.get(7)?,
                message_uuid: r.get(10)?,
                prompt: r.get(8)?,
                // Until its result arrives a writing call holds its raw input here.
                change: change.and_then(|c| c.file_change().ok()),
                tool,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn conversation_files(&self, conversation_id: i64) -> Result<Vec<ConversationFile>> {
        // A failed call changed nothing; one whose result is not written yet is
        // counted, as it is about to have changed the file.
        let mut stmt = self.conn.prepare_cached(
            "SELECT path,
                    sum(name IN ('Edit', 'Write', 'MultiEdit', 'NotebookEdit') AND failed IS NOT 1),
                    max(ts)
             FROM tool_calls WHERE conversation_id = ?1 AND path IS NOT NULL
             GROUP BY path ORDER BY max(ts) DESC, path",
        )?;
        let rows = stmt.query_map([conversation_id], |r| {
            Ok(ConversationFile {
                path: r.get(0)?,
                changes: r.get::<_, i64>(1)?.max(0) as u64,
                last_at: from_ms(r.get(2)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn usage(&self, group: UsageGroup, f: &ConversationFilter) -> Result<Vec<UsageRow>> {
        let (cond, args) = conversation_where(f, "c")?;
        let key_sql = match group {
            UsageGroup::Conversation => "c.session_key",
            UsageGroup::Project => "COALESCE(c.project, '(unknown)')",
            UsageGroup::Day => "COALESCE(date(u.ts / 1000, 'unixepoch'), '(undated)')",
            UsageGroup::Model => "COALESCE(u.model, '(unknown)')",
        };
        // A conversation's title comes with its rows: a query per conversation
        // afterwards would be most of the time on a store of thousands.
        let title_sql = if group == UsageGroup::Conversation {
            TITLE_SQL
        } else {
            "NULL"
        };
        // Group by conversation and model first (cost depends on the model), then fold
        // into the requested groups here.
        // Only usage by day needs each response's time; the others read the totals
        // per conversation and model that indexing keeps, a row per group already.
        let sql = if group == UsageGroup::Day {
            format!(
                "SELECT {key_sql}, u.model, c.id, sum(u.input_tokens), sum(u.output_tokens),
                        sum(u.cache_creation_tokens), sum(u.cache_read_tokens), {title_sql}
                 FROM usage u JOIN conversations c ON c.id = u.conversation_id
                 WHERE {cond} GROUP BY 1, 2, 3"
            )
        } else {
            format!(
                "SELECT {key_sql}, u.model, c.id, u.input_tokens, u.output_tokens,
                        u.cache_creation_tokens, u.cache_read_tokens, {title_sql}
                 FROM {} u JOIN conversations c ON c.id = u.conversation_id
                 WHERE {cond}",
                crate::totals::AS_USAGE
            )
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        // The conversations of each group, counted once at the end from one list of
        // (group, conversation) pairs: a hash set per group, then a list per group,
        // were most of the time of usage by conversation on a large store. Rows are
        // read in place: a group's key and title are copied once, when it starts.
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        let mut out: Vec<UsageRow> = Vec::new();
        let mut members: Vec<(usize, i64)> = Vec::new();
        while let Some(r) = rows.next()? {
            let key = r.get_ref(0)?.as_str().map_err(from_sql(0))?;
            let i = match index.get(key) {
                Some(&i) => i,
                None => {
                    let title = r.get_ref(7)?.as_str_or_null().map_err(from_sql(7))?;
                    out.push(UsageRow {
                        label: title.map_or_else(|| key.to_owned(), |t| one_line(t, 60)),
                        key: key.to_owned(),
                        conversations: 0,
                        usage: Usage::default(),
                        total_tokens: 0,
                        cost_usd: 0.0,
                    });
                    index.insert(key.to_owned(), out.len() - 1);
                    out.len() - 1
                }
            };
            let model = r.get_ref(1)?.as_str_or_null().map_err(from_sql(1))?;
            let u = usage_at(r, 3)?;
            let row = &mut out[i];
            add_usage(&mut row.usage, &u);
            row.total_tokens = row.total_tokens.saturating_add(u.total());
            row.cost_usd += pricing::cost(model, &u);
            members.push((i, r.get(2)?));
        }
        drop(rows);
        members.sort_unstable();
        members.dedup();
        for (i, _) in members {
            out[i].conversations += 1;
        }
        // Keys are distinct: an unstable sort orders them all the same.
        if group == UsageGroup::Day {
            out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        } else {
            out.sort_unstable_by(|a, b| {
                b.total_tokens
                    .cmp(&a.total_tokens)
                    .then_with(|| a.key.cmp(&b.key))
            });
        }
        Ok(out)
    }

    fn projects(&self) -> Result<Vec<ProjectSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.project, count(*), max(c.ended_at),
                    COALESCE((SELECT sum(u.input_tokens + u.output_tokens + u.cache_creation_tokens + u.cache_read_tokens)
                              FROM usage u JOIN conversations c2 ON c2.id = u.conversation_id WHERE c2.project = c.project), 0)
             FROM conversations c WHERE c.project IS NOT NULL GROUP BY c.project ORDER BY max(c.ended_at) DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ProjectSummary {
                project: r.get(0)?,
                conversations: r.get::<_, i64>(1)? as u64,
                last_active: from_ms(r.get(2)?),
                total_tokens: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn most_edited_files(&self, project: Option<&str>, limit: usize) -> Result<Vec<EditedFile>> {
        let (cond, mut args) = match project {
            Some(p) => {
                let (cond, args) = project_condition("c.project", p);
                (format!("AND {cond}"), args)
            }
            None => (String::new(), Vec::new()),
        };
        args.push(SqlValue::Integer(limit as i64));
        let sql = format!(
            "SELECT t.path, count(*), count(DISTINCT t.conversation_id), max(t.ts)
             FROM tool_calls t JOIN conversations c ON c.id = t.conversation_id
             WHERE t.path IS NOT NULL AND t.change IS NOT NULL AND t.failed = 0 AND t.name NOT IN ('Bash', 'Read') {cond}
             GROUP BY t.path ORDER BY count(*) DESC, max(t.ts) DESC LIMIT ?"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(EditedFile {
                path: r.get(0)?,
                edits: r.get::<_, i64>(1)? as u64,
                conversations: r.get::<_, i64>(2)? as u64,
                last_edited: from_ms(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        events::read(&self.conn, q)
    }

    fn last_event_id(&self) -> Result<i64> {
        events::last_id(&self.conn)
    }

    fn api_keys(&self) -> Result<Vec<ApiKey>> {
        keys::list(&self.conn)
    }

    fn verify_api_key(&self, secret: &str) -> Result<Option<ApiKey>> {
        keys::verify(&self.conn, secret)
    }

    fn is_api_key_active(&self, id: i64) -> Result<bool> {
        keys::is_active(&self.conn, id)
    }

    fn webhooks(&self) -> Result<Vec<Webhook>> {
        webhooks::list(&self.conn)
    }

    fn webhook(&self, id: i64) -> Result<Webhook> {
        webhooks::get(&self.conn, id)
    }

    fn webhook_deliveries(
        &self,
        webhook_id: i64,
        q: &DeliveryParams,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        webhooks::deliveries(&self.conn, webhook_id, q, limit)
    }

    fn webhook_delivery(&self, webhook_id: i64, id: i64) -> Result<Delivery> {
        webhooks::delivery(&self.conn, webhook_id, id)
    }

    fn webhook_attempts(&self, webhook_id: i64, delivery_id: i64) -> Result<Vec<DeliveryAttempt>> {
        webhooks::attempts(&self.conn, webhook_id, delivery_id)
    }

    fn due_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        webhook: Option<i64>,
        per_webhook: usize,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        webhooks::due(&self.conn, now, webhook, per_webhook, limit)
    }

    fn next_webhook_due(&self) -> Result<Option<DateTime<Utc>>> {
        webhooks::next_due(&self.conn)
    }

    fn tool_call_change(&self, tool_use_id: &str) -> Result<Option<FileChange>> {
        webhooks::tool_change(&self.conn, tool_use_id)
    }

    fn has_active_api_keys(&self) -> Result<bool> {
        keys::any_active(&self.conn)
    }
}

impl Store {
    /// Warnings recorded while indexing, newest last: (file, line, reason).
    pub fn warnings(&self, limit: usize) -> Result<Vec<(String, u64, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.path, w.line, w.reason FROM warnings w JOIN sources s ON s.id = w.source_id ORDER BY w.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
        })?;
        let mut v = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        v.reverse();
        Ok(v)
    }

    /// Counts of what the store holds, for summaries and tests.
    pub fn counts(&self) -> Result<Counts> {
        let q = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok(Counts {
            sources: q("SELECT count(*) FROM sources")?,
            // As the lists count them: a transcript of summaries only is none.
            conversations: q("SELECT count(*) FROM conversations WHERE message_count > 0")?,
            messages: q("SELECT count(*) FROM messages")?,
            tool_calls: q("SELECT count(*) FROM tool_calls")?,
            file_touches: q("SELECT count(*) FROM tool_calls WHERE path IS NOT NULL")?,
            edits: q("SELECT count(*) FROM tool_calls WHERE change IS NOT NULL AND failed = 0 AND name NOT IN ('Bash', 'Read')")?,
            warnings: q("SELECT COALESCE(sum(warning_count), 0) FROM sources")?,
            raw_bytes: q("SELECT COALESCE(sum(offset), 0) FROM sources")?,
        })
    }

    /// Whether a message with this uuid is stored (for tests and the API).
    pub fn has_message(&self, uuid: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM messages WHERE uuid_hash = ?1 AND uuid = ?2",
                params![key_hash(uuid), uuid],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub sources: u64,
    pub conversations: u64,
    pub messages: u64,
    pub tool_calls: u64,
    pub file_touches: u64,
    pub edits: u64,
    pub warnings: u64,
    pub raw_bytes: u64,
}

/// A conversation as Markdown, read back from Observatory's own copy of its
/// transcript (the same rendering for `observatory show` and the API).
pub fn conversation_markdown(catalog: &dyn Catalog, id: &str) -> Result<String> {
    let c = catalog.conversation(id)?;
    let records = catalog.conversation_records(c.id)?;
    let header = observatory_transcript::markdown::Header {
        title: &c.title,
        session_id: &c.session_id,
        project: c.project.as_deref(),
        git_branch: c.git_branch.as_deref(),
        started: c
            .started_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        models: &c.models,
        client: c.version.as_ref().map(|v| match &c.entrypoint {
            Some(e) => format!("{v} ({e})"),
            None => v.clone(),
        }),
    };
    Ok(observatory_transcript::markdown::render(&header, &records))
}

/// `Catalog::file_insights` from a file's touches and its editing conversations.
fn insights<C: Catalog + ?Sized>(catalog: &C, path: &str) -> Result<FileInsights> {
    let touches = catalog.file_touches(path)?;
    let is_edit =
            // Shell moves and old-version Read snapshots carry a change but edit nothing.
            |t: &FileTouch| t.change.is_some() && t.failed == Some(false) && t.tool != "Bash" && t.tool != "Read";
    let mut convs = std::collections::BTreeSet::new();
    let mut editing = std::collections::BTreeSet::new();
    let mut prompts: Vec<String> = Vec::new();
    for t in &touches {
        convs.insert(t.session_id.clone());
        if is_edit(t) {
            editing.insert(t.session_id.clone());
            if let Some(p) = &t.prompt {
                if !prompts.contains(p) {
                    prompts.push(p.clone());
                }
            }
        }
    }
    let mut tokens = 0;
    for s in &editing {
        // A subagent's change names the session that launched it, which may not be
        // indexed (yet).
        match catalog.conversation(s) {
            Ok(c) => tokens += c.usage.total(),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(FileInsights {
        path: path.to_owned(),
        conversations: convs.len() as u64,
        edits: touches.iter().filter(|t| is_edit(t)).count() as u64,
        reads: touches
            .iter()
            .filter(|t| t.tool == "Read" || t.tool == "NotebookRead")
            .count() as u64,
        failures: touches.iter().filter(|t| t.failed == Some(true)).count() as u64,
        last_touched: touches.iter().filter_map(|t| t.at).max(),
        tokens,
        prompts,
    })
}

/// A column of an unexpected type, as rusqlite reports one.
fn from_sql(column: usize) -> impl Fn(rusqlite::types::FromSqlError) -> rusqlite::Error {
    move |e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_keeps_the_first_line_to_max_characters() {
        assert_eq!(one_line("  short\nsecond line", 10), "short");
        assert_eq!(one_line("exactly10!", 10), "exactly10!");
        assert_eq!(one_line("eleven char", 10), "eleven ch…");
        // Characters, not bytes.
        assert_eq!(one_line("ééééééééééé", 10), "ééééééééé…");
        assert_eq!(one_line("éééééééééé", 10), "éééééééééé");
        assert_eq!(one_line("", 10), "");
    }
}
