//! Applying one batch in the open transaction: its conversation row, the raw copy of
//! its bytes, each record (messages are in `message`), and the events it logs.

use std::collections::HashMap;

use observatory_transcript::{FileKind, Message, Record, TranscriptFile};
use rusqlite::{params, Connection};

use super::pending::PendingDocs;
use super::prepare::truncate_utf8;
use super::read::{Batch, Item};
use super::KnownKeys;
use super::SourceRow;
use crate::sql::key_hash;
use crate::{events, Result};

/// Warnings kept per file in the database (all are counted).
const MAX_STORED_WARNINGS: i64 = 100;

/// Per-run state for one file: parent uuid → prompt id, so following a long chain of
/// records does not query the database for each.
#[derive(Default)]
pub(super) struct ChainCache {
    pub(super) prompt_of: HashMap<String, Option<i64>>,
}

/// The conversation a batch belongs to, as its records are compared with it.
pub(super) struct Own {
    pub(super) key: String,
    pub(super) kind: FileKind,
}

#[derive(Default)]
pub(super) struct BatchStats {
    pub(super) new_messages: u64,
    pub(super) warnings: u64,
}

/// What one batch changes on its conversation row, applied in one UPDATE.
#[derive(Default)]
pub(super) struct ConversationDelta {
    started_at: Option<i64>,
    ended_at: Option<i64>,
    project: Option<String>,
    /// The project and entrypoint copied records name (see `saw_copy`).
    copied_project: Option<String>,
    copied_entrypoint: Option<String>,
    git_branch: Option<String>,
    version: Option<String>,
    entrypoint: Option<String>,
    first_prompt: Option<String>,
    custom_title: Option<String>,
    ai_title: Option<String>,
    parent_session: Option<String>,
    /// The span of every message record read, copies made by `--resume` included:
    /// what decides which of two conversations holding a record wrote it first. A
    /// session file's subagent records (Claude Code 1.0.x wrote them inline) are left
    /// out: `--resume` copies the main thread only, so a subagent's last record, later
    /// than anything the resumed file holds, made the original look the younger.
    first_record_at: Option<i64>,
    last_record_at: Option<i64>,
    /// The last other session a record of this session file names: records copied
    /// by `claude --resume` keep the session they were written in.
    continues: Option<String>,
    /// Records stored already under another conversation (see `resume::settle`).
    pub(super) copies: Vec<super::resume::Copy>,
    new_messages: i64,
    last_uuid: Option<String>,
    pub(super) usage_changed: bool,
    /// Conversations that usage rows moved away from (to this one, which wrote them).
    pub(super) usage_moved_from: Vec<i64>,
    /// Tool-call events, in order, written with the batch.
    pub(super) events: Vec<events::Pending>,
    /// The messages stored while summaries wait for their leaf, in order.
    pub(super) stored_uuids: Vec<String>,
    /// Token usage of the responses stored, written after the records.
    pub(super) usage: super::message::BatchUsage,
    /// Tool calls made, written after the records.
    pub(super) calls: super::message::BatchCalls,
}

impl ConversationDelta {
    /// What any message record of the file says, stored before or not: its time, and
    /// the session it names.
    pub(super) fn saw_record(&mut self, m: &Message, ts: Option<i64>, own: &Own) {
        let session = m.session_id.as_deref();
        let main_thread = !(m.is_sidechain && own.kind == FileKind::Session);
        if let Some(t) = ts.filter(|_| main_thread) {
            self.first_record_at = Some(self.first_record_at.map_or(t, |s| s.min(t)));
            self.last_record_at = Some(self.last_record_at.map_or(t, |e| e.max(t)));
        }
        // A subagent's records name its parent session: only a session file's records
        // naming another session are copies of that session's.
        let copied_from = session.filter(|s| own.kind == FileKind::Session && *s != own.key);
        if let Some(s) = copied_from {
            if self.continues.as_deref() != Some(s) {
                self.continues = Some(s.to_owned());
            }
        }
    }

    /// What a record stored already under another conversation (a copy made by
    /// `--resume`) says of where this conversation ran, kept apart from what its own
    /// records say and used only without it: a conversation whose file holds only
    /// copies (the original, indexed after the resumed file) would otherwise keep no
    /// project, and its calls, once `resume` moves them here, no checkout to be
    /// matched from by relative path.
    pub(super) fn saw_copy(&mut self, m: &Message) {
        if self.copied_project.is_none() {
            self.copied_project = m.cwd.clone();
        }
        if self.copied_entrypoint.is_none() {
            self.copied_entrypoint = m.entrypoint.clone();
        }
    }

    /// What a newly stored message says of its conversation: when it ran, where, with
    /// which client, and its first prompt.
    pub(super) fn add_message(
        &mut self,
        m: &Message,
        uuid: String,
        ts: Option<i64>,
        is_prompt: bool,
    ) {
        self.new_messages += 1;
        self.last_uuid = Some(uuid);
        if let Some(t) = ts {
            self.started_at = Some(self.started_at.map_or(t, |s| s.min(t)));
            self.ended_at = Some(self.ended_at.map_or(t, |e| e.max(t)));
        }
        if self.project.is_none() {
            self.project = m.cwd.clone();
        }
        if m.git_branch.is_some() {
            self.git_branch = m.git_branch.clone();
        }
        if m.version.is_some() {
            self.version = m.version.clone();
        }
        if self.entrypoint.is_none() {
            self.entrypoint = m.entrypoint.clone();
        }
        if is_prompt && self.first_prompt.is_none() {
            let text = m.prompt_text();
            self.first_prompt = Some(truncate_utf8(text.trim(), 500).to_owned());
        }
    }
}

/// What applying one batch works with: the open transaction, the file and its
/// conversation, and the state carried from record to record.
pub(super) struct BatchWriter<'a> {
    pub(super) tx: &'a Connection,
    file: &'a TranscriptFile,
    pub(super) src: &'a mut SourceRow,
    pub(super) conv: i64,
    pub(super) own: Own,
    pub(super) cache: &'a mut ChainCache,
    /// Full-text entries of the documents written, added at the commit.
    pub(super) pending: &'a mut PendingDocs,
    pub(super) known: &'a mut KnownKeys,
    pub(super) delta: ConversationDelta,
    stats: BatchStats,
}

pub(super) fn apply_batch(
    tx: &Connection,
    file: &TranscriptFile,
    src: &mut SourceRow,
    batch: &Batch,
    cache: &mut ChainCache,
    pending: &mut PendingDocs,
    known: &mut KnownKeys,
) -> Result<BatchStats> {
    let (conv, key, created) = ensure_conversation(tx, file, src, batch)?;
    // The durable copy of the batch's bytes.
    tx.prepare_cached(
        "INSERT INTO raw_chunks (source_id, conversation_id, start_offset, end_offset, first_line, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![src.id, conv, batch.start_offset as i64, batch.end_offset as i64, batch.first_line as i64, batch.compressed])?;

    let mut w = BatchWriter {
        tx,
        file,
        src,
        conv,
        own: Own {
            key,
            kind: file.kind,
        },
        cache,
        pending,
        known,
        delta: ConversationDelta::default(),
        stats: BatchStats::default(),
    };
    for item in &batch.items {
        w.record(item)?;
    }
    w.write_calls()?;
    w.write_usage()?;
    w.take_waiting_summaries()?;
    w.update_conversation()?;
    w.settle_copies()?;
    if w.delta.usage_changed {
        crate::totals::refresh(tx, w.conv)?;
    }
    for &other in &w.delta.usage_moved_from {
        crate::totals::refresh(tx, other)?;
    }
    w.log_events(created)?;
    Ok(w.stats)
}

/// The file's conversation (created with its first batch): its row, its session key,
/// and whether it is new.
fn ensure_conversation(
    tx: &Connection,
    file: &TranscriptFile,
    src: &mut SourceRow,
    batch: &Batch,
) -> Result<(i64, String, bool)> {
    if let Some(id) = src.conversation_id {
        let key = tx
            .prepare_cached("SELECT session_key FROM conversations WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        return Ok((id, key, false));
    }
    let stem = file
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("session");
    let first_session = batch.items.iter().find_map(|item| match &item.record {
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
        FileKind::Session => None,
        FileKind::Subagent => file.parent_session.clone().or(first_session),
        FileKind::LegacyAgent => first_session,
    };
    let created = tx
        .prepare_cached(
            "INSERT INTO conversations (session_key, kind, parent_session) VALUES (?1, ?2, ?3)
             ON CONFLICT(session_key) DO NOTHING",
        )?
        .execute(params![key, file.kind.as_str(), parent])?
        == 1;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM conversations WHERE session_key = ?1")?
        .query_row([&key], |r| r.get(0))?;
    src.conversation_id = Some(id);
    Ok((id, key, created))
}

/// Looks like a Claude Code session id (a UUID) or agent file name, so the file stem
/// can name the conversation.
fn stem_is_session_key(stem: &str) -> bool {
    stem.starts_with("agent-")
        || (stem.len() == 36 && stem.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

impl BatchWriter<'_> {
    fn record(&mut self, item: &Item) -> Result<()> {
        let (line, offset) = (item.line, item.offset);
        match &item.record {
            Err(reason) => self.warn(line, offset, reason)?,
            Ok(Record::Message(m)) => {
                if self.message(offset, m, &item.docs)? {
                    self.stats.new_messages += 1;
                }
            }
            Ok(Record::Summary { summary, leaf_uuid }) => {
                if let Some(leaf) = leaf_uuid {
                    self.summary(leaf, summary)?;
                }
            }
            Ok(Record::Title { title, custom, .. }) => {
                if !title.trim().is_empty() {
                    let slot = if *custom {
                        &mut self.delta.custom_title
                    } else {
                        &mut self.delta.ai_title
                    };
                    *slot = Some(title.trim().to_owned());
                }
            }
            Ok(Record::Metadata { .. }) => {}
            Ok(Record::Unknown { kind }) => self.warn(
                line,
                offset,
                &format!("unknown record type {kind:?}; skipped"),
            )?,
        }
        Ok(())
    }

    fn warn(&mut self, line: u64, offset: u64, reason: &str) -> Result<()> {
        self.stats.warnings += 1;
        tracing::warn!(file = %self.file.path.display(), line, %reason, "skipped transcript line");
        let stored: i64 = self
            .tx
            .prepare_cached("SELECT count(*) FROM warnings WHERE source_id = ?1")?
            .query_row([self.src.id], |r| r.get(0))?;
        if stored < MAX_STORED_WARNINGS {
            self.tx
                .prepare_cached(
                    "INSERT INTO warnings (source_id, line, offset, reason) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![self.src.id, line as i64, offset as i64, reason])?;
        }
        Ok(())
    }

    /// Summaries read before their leaf message, which this batch stored, name its
    /// conversation now: one statement for the messages that `WaitingLeaves` says
    /// may have one (a probe per message was 4% of a cold index, and one for every
    /// message of a batch 3%).
    fn take_waiting_summaries(&mut self) -> Result<()> {
        let uuids = std::mem::take(&mut self.delta.stored_uuids);
        if uuids.is_empty() {
            return Ok(());
        }
        let list = serde_json::Value::from(&uuids[..]).to_string();
        let found: HashMap<String, String> = self
            .tx
            .prepare_cached(
                "DELETE FROM summaries WHERE leaf_uuid IN (SELECT value FROM json_each(?1))
                 RETURNING leaf_uuid, summary",
            )?
            .query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // The latest leaf's summary, as when each message took its own in turn.
        if let Some(summary) = uuids.iter().rev().find_map(|u| found.get(u)) {
            self.tx
                .prepare_cached("UPDATE conversations SET summary = ?1 WHERE id = ?2")?
                .execute(params![summary, self.conv])?;
        }
        Ok(())
    }

    /// A summary names the conversation that contains its leaf message.
    fn summary(&mut self, leaf: &str, summary: &str) -> Result<()> {
        let resolved = self.tx
            .prepare_cached("UPDATE conversations SET summary = ?1 WHERE id = (SELECT conversation_id FROM messages WHERE uuid_hash = ?3 AND uuid = ?2)")?
            .execute(params![summary, leaf, key_hash(leaf)])?;
        if resolved == 0 {
            self.tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO summaries (leaf_uuid, summary) VALUES (?1, ?2)",
                )?
                .execute(params![leaf, summary])?;
            self.known.waiting.add(leaf);
        }
        Ok(())
    }

    /// Writes what the batch's records changed on the conversation row.
    fn update_conversation(&mut self) -> Result<()> {
        let delta = &mut self.delta;
        if delta.parent_session.is_none() && self.file.kind != FileKind::Session {
            delta.parent_session = self.file.parent_session.clone();
        }
        self.tx
            .prepare_cached(
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
            message_count = message_count + ?11,
            first_record_at = CASE WHEN first_record_at IS NULL OR ?13 < first_record_at THEN ?13 ELSE first_record_at END,
            last_record_at = CASE WHEN last_record_at IS NULL OR ?14 > last_record_at THEN ?14 ELSE last_record_at END,
            continues = COALESCE(?15, continues)
         WHERE id = ?12",
    )?
    .execute(params![
        delta.started_at,
        delta.ended_at,
        delta.project.as_ref().or(delta.copied_project.as_ref()),
        delta.git_branch,
        delta.version,
        delta.entrypoint.as_ref().or(delta.copied_entrypoint.as_ref()),
        delta.first_prompt,
        delta.custom_title,
        delta.ai_title,
        delta.parent_session,
        delta.new_messages,
        self.conv,
        delta.first_record_at,
        delta.last_record_at,
        delta.continues
    ])?;
        Ok(())
    }

    /// Logs the batch: a new conversation, its new messages, then its tool-call events
    /// in order, and its usage totals if they changed.
    fn log_events(&mut self, created: bool) -> Result<()> {
        let delta = &mut self.delta;
        let mut log = Vec::with_capacity(delta.events.len() + 3);
        if created {
            log.push(events::Pending {
                kind: events::kind::CONVERSATION_STARTED,
                path: None,
                data: serde_json::json!({ "kind": self.file.kind.as_str(), "parent_session": delta.parent_session }),
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
            let totals: (i64, i64, i64, i64) = self.tx.prepare_cached(
                "SELECT COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0), COALESCE(sum(cache_creation_tokens), 0),
                    COALESCE(sum(cache_read_tokens), 0) FROM usage WHERE conversation_id = ?1",
            )?
            .query_row([self.conv], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            log.push(events::Pending {
                kind: events::kind::USAGE_UPDATED,
                path: None,
                data: serde_json::json!({ "input_tokens": totals.0, "output_tokens": totals.1,
                "cache_creation_input_tokens": totals.2, "cache_read_input_tokens": totals.3 }),
            });
        }
        events::write(self.tx, self.conv, &log)
    }
}
