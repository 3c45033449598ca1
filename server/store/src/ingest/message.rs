//! Storing one user, assistant or system record, step by step: its row and the prompt
//! that led to it, its text for full-text search, its tool calls and their results
//! (with the exact change and the events of each file touched), and its token usage.

use indexmap::IndexMap;
use observatory_transcript::changes::{change_from, is_writing_tool, read_snapshot};
use observatory_transcript::{Block, Message, Role, ToolUseResult};
use rusqlite::{params, OptionalExtension};
use rustc_hash::FxBuildHasher;
use serde_json::Value;

use super::batch::BatchWriter;
use super::fresh::Keyed;
use super::prepare::{truncate_utf8, Prepared};
use super::resume::Copy;
use crate::packed::StoredChange;
use crate::sql::key_hash;
use crate::{events, Result};

/// A message just stored, with what its documents and tool calls carry.
struct Stored<'m> {
    m: &'m Message,
    /// The search documents of its blocks, prepared by the reader.
    docs: &'m [Prepared],
    /// Its row.
    id: i64,
    role: Role,
    ts: Option<i64>,
    is_prompt: bool,
    /// The prompt that led to it (itself, for a prompt).
    prompt_id: Option<i64>,
}

/// A tool call's row, as its result finds it.
struct Call {
    row: CallRow,
    name: String,
    /// The input the result needs (see `BatchWriter::tool_use`), or a shell move.
    pending: Option<String>,
    path: Option<String>,
}

/// Where a tool call's row is: stored, or written with this batch.
enum CallRow {
    Stored(i64),
    Batched(usize),
}

/// The tool calls a batch makes, by tool-use id in the order they were made, written
/// when its records are in (`write_calls`): a call answered in the same batch is
/// written once, with its result, instead of written with its input and then
/// updated.
pub(super) type BatchCalls = IndexMap<String, NewCall, FxBuildHasher>;

pub(super) struct NewCall {
    message_id: i64,
    prompt_id: Option<i64>,
    name: String,
    path: Option<String>,
    ts: Option<i64>,
    /// The input its result needs until it comes (as text), then the change it made.
    change: Option<StoredChange>,
    failed: Option<bool>,
    error: Option<String>,
}

impl BatchWriter<'_> {
    /// Stores one user/assistant/system record. Returns false when it was already
    /// stored (a copy made by `--resume`, or bytes read twice).
    pub(super) fn message(&mut self, offset: u64, m: &Message, docs: &[Prepared]) -> Result<bool> {
        let uuid = uuid_key(&m.uuid, self.src.id, offset);
        self.delta.saw_record(m, ts_ms(m), &self.own);
        let hash = key_hash(&uuid);
        if let Some((owner, prompt)) = self.stored_message(&uuid, hash)? {
            self.delta.saw_copy(m);
            if owner != self.conv {
                // Another conversation's file holds it too: which one wrote it is
                // settled once the batch is in (`resume`).
                self.delta.copies.push(Copy::new(m, &uuid, owner));
            }
            self.cache.prompt_of.insert(uuid, prompt);
            return Ok(false);
        }
        let is_prompt = m.is_prompt();
        // A prompt leads to itself (stored as NULL and resolved by `prompt_of`, saving
        // a second write per message).
        let inherited = if is_prompt {
            None
        } else {
            self.inherited_prompt(m)?
        };
        let id = self.insert_message(m, &uuid, hash, offset, is_prompt, inherited)?;
        self.known.fresh.wrote(Keyed::Messages, hash);
        if self.known.waiting.may_wait_for(hash) {
            self.delta.stored_uuids.push(uuid.clone());
        }
        let msg = Stored {
            m,
            docs,
            id,
            role: m.role_or_user(),
            ts: ts_ms(m),
            is_prompt,
            prompt_id: if is_prompt { Some(id) } else { inherited },
        };
        if is_prompt {
            self.src.last_prompt_id = Some(id);
        }
        self.cache.prompt_of.insert(uuid.clone(), msg.prompt_id);
        self.blocks(&msg)?;
        self.usage(&msg, &uuid)?;
        self.delta.add_message(m, uuid, msg.ts, is_prompt);
        Ok(true)
    }

    /// The conversation the stored message `uuid` (of hash `hash`) is credited to,
    /// and the prompt that led to it (itself, for a prompt); `None` when it is not
    /// stored, which a first index knows without asking (`fresh`).
    fn stored_message(&self, uuid: &str, hash: i64) -> Result<Option<(i64, Option<i64>)>> {
        if !self.known.fresh.may_hold(Keyed::Messages, hash) {
            return Ok(None);
        }
        Ok(self
            .tx
            .prepare_cached(
                "SELECT conversation_id, CASE WHEN is_prompt THEN id ELSE prompt_id END FROM messages WHERE uuid_hash = ?1 AND uuid = ?2",
            )?
            .query_row(params![hash, uuid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The prompt that led to a message that is not one: its parent's, or a
    /// compaction's logical parent's, else the last prompt of the file.
    fn inherited_prompt(&self, m: &Message) -> Result<Option<i64>> {
        let parent = m.parent_uuid.as_ref().or(m.logical_parent_uuid.as_ref());
        let from_parent = match parent {
            Some(p) => match self.cache.prompt_of.get(p) {
                Some(v) => *v,
                None => self
                    .stored_message(p, key_hash(p))?
                    .and_then(|(_, prompt)| prompt),
            },
            None => None,
        };
        Ok(from_parent.or(self.src.last_prompt_id))
    }

    /// The new message's row id (`stored_message` has found none).
    fn insert_message(
        &self,
        m: &Message,
        uuid: &str,
        hash: i64,
        offset: u64,
        is_prompt: bool,
        inherited: Option<i64>,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO messages (uuid, uuid_hash, conversation_id, parent_uuid, logical_parent_uuid, role, is_prompt, is_sidechain, ts, model, prompt_id, source_id, offset)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                uuid,
                hash,
                self.conv,
                m.parent_uuid,
                m.logical_parent_uuid,
                m.role_or_user().as_str(),
                is_prompt,
                m.is_sidechain,
                ts_ms(m),
                m.model,
                inherited,
                self.src.id,
                offset as i64
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// The message's content blocks, in order.
    fn blocks(&mut self, msg: &Stored) -> Result<()> {
        let results = msg.m.tool_results().count();
        let none = Prepared::default();
        for (i, block) in msg.m.blocks.iter().enumerate() {
            let doc = msg.docs.get(i).unwrap_or(&none);
            match block {
                Block::Text(t) => {
                    let kind = match msg.role {
                        Role::User if msg.is_prompt => "prompt",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                        Role::System => "system",
                    };
                    self.add_doc(msg, kind, None, doc, t)?;
                }
                Block::Thinking(t) => self.add_doc(msg, "thinking", None, doc, t)?,
                Block::ToolUse { id, name, .. } => self.tool_use(msg, id, name, doc)?,
                Block::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                } => {
                    let tool_result = if results == 1 {
                        msg.m.tool_use_result.as_ref()
                    } else {
                        None
                    };
                    self.tool_result(msg, tool_use_id, content, *is_error, tool_result, doc)?;
                }
                Block::Image | Block::Other(_) => {}
            }
        }
        Ok(())
    }

    /// One document of the full-text index (nothing for blank text): the block's
    /// `own` text, or the one prepared for it.
    fn add_doc(
        &mut self,
        msg: &Stored,
        kind: &str,
        tool: Option<&str>,
        doc: &Prepared,
        own: &str,
    ) -> Result<()> {
        let Some(text) = doc.text(own) else {
            return Ok(());
        };
        self.tx.prepare_cached(
            "INSERT INTO docs (message_id, conversation_id, kind, role, tool, model, ts, text, idents) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            msg.id,
            self.conv,
            kind,
            msg.role.as_str(),
            tool,
            msg.m.model,
            msg.ts,
            text,
            doc.idents
        ])?;
        let id = self.tx.last_insert_rowid();
        let bytes = text.len() + doc.idents.as_ref().map_or(0, String::len);
        self.pending.push(self.tx, id, bytes)
    }

    /// A tool call: its input for search, and its row with the path it touches.
    fn tool_use(
        &mut self,
        msg: &Stored,
        tool_use_id: &str,
        name: &str,
        doc: &Prepared,
    ) -> Result<()> {
        self.add_doc(msg, "tool_input", Some(name), doc, "")?;
        let path = doc.path.clone();
        // The input of writing tools and reads (or a shell move's rename), kept
        // until the result comes.
        let pending = doc.input_json.clone();
        // A call stored already (another file's copy of it) keeps its row, as the
        // insert's `ON CONFLICT DO NOTHING` would.
        let hash = key_hash(tool_use_id);
        if self.delta.calls.contains_key(tool_use_id)
            || self.known.fresh.may_hold(Keyed::ToolCalls, hash)
                && self
                    .tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM tool_calls WHERE tool_use_id_hash = ?1 AND tool_use_id = ?2)")?
                    .query_row(params![hash, tool_use_id], |r| r.get::<_, bool>(0))?
        {
            return Ok(());
        }
        self.delta.calls.insert(
            tool_use_id.to_owned(),
            NewCall {
                message_id: msg.id,
                prompt_id: msg.prompt_id,
                name: name.to_owned(),
                path,
                ts: msg.ts,
                change: pending.map(StoredChange::Json),
                failed: None,
                error: None,
            },
        );
        Ok(())
    }

    /// Writes the batch's tool calls, in the order they were made.
    pub(super) fn write_calls(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.delta.calls);
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO tool_calls (tool_use_id, tool_use_id_hash, conversation_id, message_id, prompt_id, name, path, ts, change, file_name, failed, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for (tool_use_id, c) in batch {
            let file_name = c.path.as_deref().map(file_name_of);
            let hash = key_hash(&tool_use_id);
            self.known.fresh.wrote(Keyed::ToolCalls, hash);
            insert.execute(params![
                tool_use_id,
                hash,
                self.conv,
                c.message_id,
                c.prompt_id,
                c.name,
                c.path,
                c.ts,
                c.change,
                file_name,
                c.failed,
                c.error
            ])?;
        }
        Ok(())
    }

    /// A tool result: its output for search, then on its call's row whether it failed
    /// and the exact change it made, with events for the file it touched.
    fn tool_result(
        &mut self,
        msg: &Stored,
        tool_use_id: &str,
        content: &str,
        is_error: bool,
        tool_result: Option<&ToolUseResult>,
        doc: &Prepared,
    ) -> Result<()> {
        let call = self.call(tool_use_id)?;
        let failed = is_error_result(is_error, content, tool_result);
        let tool = call.as_ref().map(|c| c.name.as_str());
        // A Read result is the file's own content: the file system has it, and
        // it would be most of the index. It stays in the raw copy.
        if !matches!(tool, Some("Read" | "NotebookRead")) {
            self.add_doc(msg, "tool_output", tool, doc, content)?;
        }
        let Some(call) = call else {
            return Ok(());
        };
        let change = if failed {
            None
        } else {
            match &doc.change {
                // Worked out by the reader from the same call's input in this file:
                // the same result when the row holds that input (not, say, another
                // file's copy of the call).
                Some(pre)
                    if pre.name == call.name
                        && call.pending.as_deref() == Some(&*pre.input_json) =>
                {
                    pre.change.clone()
                }
                _ => recorded_change(&call.name, call.pending.as_deref(), content, tool_result)
                    .map(StoredChange::pack),
            }
        };
        let error = failed.then(|| truncate_utf8(content, 2000).to_owned());
        let changed = change.is_some();
        match call.row {
            CallRow::Stored(id) => {
                self.tx
                    .prepare_cached(
                        "UPDATE tool_calls SET failed = ?1, error = ?2, change = ?3 WHERE id = ?4",
                    )?
                    .execute(params![failed, error, change, id])?;
            }
            CallRow::Batched(i) => {
                let (_, row) =
                    self.delta.calls.get_index_mut(i).ok_or_else(|| {
                        crate::Error::Internal("a batched call went missing".into())
                    })?;
                row.failed = Some(failed);
                row.error = error;
                row.change = change;
            }
        }
        if let Some(path) = call.path {
            let data = serde_json::json!({ "tool": call.name, "tool_use_id": tool_use_id, "failed": failed });
            if changed {
                self.delta.events.push(events::Pending {
                    kind: events::kind::ATTRIBUTION_CHANGED,
                    path: Some(path.clone()),
                    data: data.clone(),
                });
            }
            self.delta.events.push(events::Pending {
                kind: events::kind::FILE_TOUCHED,
                path: Some(path),
                data,
            });
        }
        Ok(())
    }

    /// The call a result answers, if it is known: made in this batch (its input
    /// taken, to be replaced by the change), else stored.
    fn call(&mut self, tool_use_id: &str) -> Result<Option<Call>> {
        if let Some((i, _, row)) = self.delta.calls.get_full_mut(tool_use_id) {
            return Ok(Some(Call {
                row: CallRow::Batched(i),
                name: row.name.clone(),
                pending: row.change.take().map(StoredChange::into_json).transpose()?,
                path: row.path.clone(),
            }));
        }
        let hash = key_hash(tool_use_id);
        if !self.known.fresh.may_hold(Keyed::ToolCalls, hash) {
            return Ok(None);
        }
        let stored = self
            .tx
            .prepare_cached("SELECT id, name, change, path FROM tool_calls WHERE tool_use_id_hash = ?1 AND tool_use_id = ?2")?
            .query_row(params![hash, tool_use_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, Option<StoredChange>>(2)?,
                    r.get(3)?,
                ))
            })
            .optional()?;
        stored
            .map(|(id, name, change, path)| {
                Ok(Call {
                    row: CallRow::Stored(id),
                    name,
                    pending: change.map(StoredChange::into_json).transpose()?,
                    path,
                })
            })
            .transpose()
    }

    /// One API response is written as one line per content block, each with a copy of
    /// `usage`; streaming fills `output_tokens` in as it goes, so the largest copy is
    /// the response's real figure. Counting per (message.id, requestId) keeps it once.
    /// The copies in one batch are merged here and written once (`write_usage`).
    fn usage(&mut self, msg: &Stored, uuid: &str) -> Result<()> {
        let m = msg.m;
        let (Role::Assistant, Some(u)) = (msg.role, m.usage) else {
            return Ok(());
        };
        let key = match (&m.message_id, &m.request_id) {
            (Some(mid), Some(rid)) => format!("{mid}:{rid}"),
            _ => uuid.to_owned(),
        };
        let counts = [
            tokens(u.input_tokens),
            tokens(u.output_tokens),
            tokens(u.cache_creation_input_tokens),
            tokens(u.cache_read_input_tokens),
        ];
        match self.delta.usage.entry(key) {
            indexmap::map::Entry::Occupied(mut row) => {
                for (have, new) in row.get_mut().counts.iter_mut().zip(counts) {
                    *have = (*have).max(new);
                }
            }
            indexmap::map::Entry::Vacant(row) => {
                row.insert(ResponseUsage {
                    model: m.model.clone(),
                    ts: msg.ts,
                    counts,
                });
            }
        }
        self.delta.usage_changed = true;
        Ok(())
    }

    /// Writes the batch's token usage, a row per response: the first copy's model and
    /// time, the largest of each count over every copy, stored ones included.
    pub(super) fn write_usage(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.delta.usage);
        for (key, r) in batch {
            let [input, output, cache_creation, cache_read] = r.counts;
            let hash = key_hash(&key);
            // No upsert: the key's hash is not unique.
            let updated = if !self.known.fresh.may_hold(Keyed::Usage, hash) {
                0
            } else {
                self.tx
                    .prepare_cached(
                        "UPDATE usage SET
                        input_tokens = max(input_tokens, ?3),
                        output_tokens = max(output_tokens, ?4),
                        cache_creation_tokens = max(cache_creation_tokens, ?5),
                        cache_read_tokens = max(cache_read_tokens, ?6)
                      WHERE key_hash = ?1 AND key = ?2",
                    )?
                    .execute(params![
                        hash,
                        key,
                        input,
                        output,
                        cache_creation,
                        cache_read
                    ])?
            };
            if updated == 0 {
                self.known.fresh.wrote(Keyed::Usage, hash);
                self.tx
                    .prepare_cached(
                        "INSERT INTO usage (key, key_hash, conversation_id, model, ts, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![
                        key,
                        hash,
                        self.conv,
                        r.model,
                        r.ts,
                        input,
                        output,
                        cache_creation,
                        cache_read
                    ])?;
            }
        }
        Ok(())
    }
}

/// The token usage of one batch's responses by key, in order, before it is written.
pub(super) type BatchUsage = IndexMap<String, ResponseUsage, FxBuildHasher>;

pub(super) struct ResponseUsage {
    model: Option<String>,
    ts: Option<i64>,
    counts: [i64; 4],
}

/// Most tokens one response is counted for: a thousand times any real context
/// window, and low enough that SQLite's `sum()` over millions of responses stays
/// within an i64 (a damaged line can hold any u64, which would overflow it).
pub(crate) const MAX_TOKENS: u64 = 1 << 40;

fn tokens(n: u64) -> i64 {
    i64::try_from(n.min(MAX_TOKENS)).unwrap_or(i64::MAX)
}

/// The change a successful call made, from what its row kept of the input (see
/// `BatchWriter::tool_use`) and its result.
pub(super) fn recorded_change(
    name: &str,
    pending: Option<&str>,
    content: &str,
    tool_result: Option<&ToolUseResult>,
) -> Option<String> {
    let pending = pending?;
    if name != "Bash" && name != "Read" && !is_writing_tool(name) {
        return None;
    }
    let input = serde_json::from_str::<Value>(pending).ok()?;
    change_of(name, pending, &input, content, tool_result)
}

/// `recorded_change` of a call whose input is at hand both as its JSON (`pending`)
/// and parsed (`input`): the reader has it so, and parsing it again was a twentieth
/// of the reading thread (#15).
pub(super) fn change_of(
    name: &str,
    pending: &str,
    input: &Value,
    content: &str,
    tool_result: Option<&ToolUseResult>,
) -> Option<String> {
    if name == "Bash" {
        return Some(pending.to_owned());
    }
    let result = || tool_result.and_then(ToolUseResult::value);
    let change = if name == "Read" {
        read_snapshot(input, content, result().as_ref())
    } else if is_writing_tool(name) {
        change_from(name, input, result().as_ref())
    } else {
        None
    };
    change.and_then(|c| serde_json::to_string(&c).ok())
}

/// The message's uuid, or for the rare record without one, its place in its file.
fn uuid_key(uuid: &Option<String>, source: i64, offset: u64) -> String {
    uuid.clone()
        .unwrap_or_else(|| format!("src{source}@{offset}"))
}

/// The last component of a recorded path, as migration 4 computes it in SQL.
fn file_name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn ts_ms(m: &Message) -> Option<i64> {
    m.timestamp.map(|t| t.timestamp_millis())
}

pub(super) fn is_error_result(
    is_error: bool,
    content: &str,
    tool_use_result: Option<&ToolUseResult>,
) -> bool {
    is_error
        || content.starts_with("<tool_use_error>")
        || tool_use_result.is_some_and(ToolUseResult::is_error_text)
}
