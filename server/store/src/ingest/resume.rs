//! Records held by two conversations. `claude --resume` starts the new session's file
//! by repeating earlier records (same uuids, tool-use ids and results; most keep the
//! session they were written in, some are re-stamped with the new one). Rows are
//! keyed by those ids, so each record is stored once, first under whichever file was
//! indexed first; this module moves it to the conversation that wrote it first,
//! decided by the records alone, so the credit does not depend on the order in which
//! files are indexed.
//!
//! Which conversation wrote a shared record first, in order:
//! 1. A conversation whose file holds records naming the other's session continues
//!    it (`conversations.continues`): the other wrote them.
//! 2. The one whose records, copies included, start earlier: a resume copies from
//!    the start of a conversation or from a compaction, never from before it.
//! 3. At the same start, the one whose records end earlier: a resume that copied a
//!    whole conversation went on after it.
//! 4. Otherwise (no times, or the same span) the record stays where it is.

use std::cmp::Ordering;

use observatory_transcript::{Block, Message, Role};
use rusqlite::{params, Connection, OptionalExtension};

use super::batch::BatchWriter;
use super::prepare::truncate_utf8;
use crate::sql::key_hash;
use crate::{events, Result};

/// A record of the batch already stored under another conversation, with the keys of
/// the rows that came from it.
pub(super) struct Copy {
    uuid: String,
    owner: i64,
    tool_use_ids: Vec<String>,
    usage_key: Option<String>,
}

impl Copy {
    pub(super) fn new(m: &Message, uuid: &str, owner: i64) -> Self {
        let tool_use_ids = m
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::ToolUse { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        // The same key `BatchWriter::usage` counts it under.
        let usage_key =
            (m.role_or_user() == Role::Assistant && m.usage.is_some()).then(|| {
                match (&m.message_id, &m.request_id) {
                    (Some(mid), Some(rid)) => format!("{mid}:{rid}"),
                    _ => uuid.to_owned(),
                }
            });
        Self {
            uuid: uuid.to_owned(),
            owner,
            tool_use_ids,
            usage_key,
        }
    }
}

/// What decides which of two conversations wrote their shared records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Standing {
    pub(super) key: String,
    pub(super) continues: Option<String>,
    pub(super) first_record_at: Option<i64>,
    pub(super) last_record_at: Option<i64>,
}

/// Whether `a` wrote the records it shares with `b` (see the module's rules); false
/// when nothing says so, which leaves them where they are.
pub(super) fn wrote_first(a: &Standing, b: &Standing) -> bool {
    if a.continues.as_deref() == Some(b.key.as_str()) {
        return false;
    }
    if b.continues.as_deref() == Some(a.key.as_str()) {
        return true;
    }
    let (Some(a_first), Some(b_first)) = (a.first_record_at, b.first_record_at) else {
        return false;
    };
    match a_first.cmp(&b_first) {
        Ordering::Less => true,
        Ordering::Greater => false,
        Ordering::Equal => matches!(
            (a.last_record_at, b.last_record_at),
            (Some(a_last), Some(b_last)) if a_last < b_last
        ),
    }
}

fn standing(tx: &Connection, conv: i64) -> Result<Standing> {
    Ok(tx
        .prepare_cached(
            "SELECT session_key, continues, first_record_at, last_record_at FROM conversations WHERE id = ?1",
        )?
        .query_row([conv], |r| {
            Ok(Standing {
                key: r.get(0)?,
                continues: r.get(1)?,
                first_record_at: r.get(2)?,
                last_record_at: r.get(3)?,
            })
        })?)
}

impl BatchWriter<'_> {
    /// Moves the batch's records that are stored under another conversation here
    /// when this conversation wrote them first. Runs once per batch, after its
    /// conversation row is updated, so both spans are known; copies exist only
    /// where a file repeats another's records, so this is no cost on other files.
    pub(super) fn settle_copies(&mut self) -> Result<()> {
        if self.delta.copies.is_empty() {
            return Ok(());
        }
        let mut copies = std::mem::take(&mut self.delta.copies);
        copies.sort_by_key(|c| c.owner);
        let mine = standing(self.tx, self.conv)?;
        for group in copies.chunk_by(|a, b| a.owner == b.owner) {
            let owner = group[0].owner;
            let theirs = standing(self.tx, owner)?;
            if wrote_first(&mine, &theirs) {
                for copy in group {
                    self.take_copy(copy)?;
                }
                recount(self.tx, owner)?;
                recount(self.tx, self.conv)?;
                note_continuation(self.tx, owner, &mine.key)?;
            } else if wrote_first(&theirs, &mine) {
                note_continuation(self.tx, self.conv, &theirs.key)?;
            }
        }
        Ok(())
    }

    /// Credits one record, with its tool calls, documents and usage, to this
    /// conversation; its calls that changed a file are logged as attribution changes.
    fn take_copy(&mut self, copy: &Copy) -> Result<()> {
        let id: Option<i64> = self
            .tx
            .prepare_cached(
                "UPDATE messages SET conversation_id = ?1
                 WHERE uuid_hash = ?4 AND uuid = ?2 AND conversation_id = ?3 RETURNING id",
            )?
            .query_row(
                params![self.conv, copy.uuid, copy.owner, key_hash(&copy.uuid)],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(());
        };
        self.tx
            .prepare_cached("UPDATE docs SET conversation_id = ?1 WHERE message_id = ?2")?
            .execute(params![self.conv, id])?;
        for tool_use_id in &copy.tool_use_ids {
            let moved: Option<(String, Option<String>, bool)> = self
                .tx
                .prepare_cached(
                    "UPDATE tool_calls SET conversation_id = ?1
                     WHERE tool_use_id_hash = ?4 AND tool_use_id = ?2 AND conversation_id = ?3
                     RETURNING name, path, change IS NOT NULL AND failed = 0",
                )?
                .query_row(
                    params![self.conv, tool_use_id, copy.owner, key_hash(tool_use_id)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((tool, Some(path), true)) = moved {
                self.delta.events.push(events::Pending {
                    kind: events::kind::ATTRIBUTION_CHANGED,
                    path: Some(path),
                    data: serde_json::json!({ "tool": tool, "tool_use_id": tool_use_id, "failed": false }),
                });
            }
        }
        if let Some(key) = &copy.usage_key {
            self.tx
                .prepare_cached(
                    "UPDATE usage SET conversation_id = ?1
                     WHERE key_hash = ?4 AND key = ?2 AND conversation_id = ?3",
                )?
                .execute(params![self.conv, key, copy.owner, key_hash(key)])?;
            self.delta.usage_changed = true;
            if !self.delta.usage_moved_from.contains(&copy.owner) {
                self.delta.usage_moved_from.push(copy.owner);
            }
        }
        Ok(())
    }
}

/// Which conversation another continues, when its records did not name it (all its
/// copies were re-stamped with its own session).
fn note_continuation(tx: &Connection, conv: i64, continues: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE conversations SET continues = ?2 WHERE id = ?1 AND continues IS NULL AND kind = 'session'",
    )?
    .execute(params![conv, continues])?;
    Ok(())
}

/// A conversation's span, message count and first prompt, from the messages credited
/// to it now (after records moved to or from it).
fn recount(tx: &Connection, conv: i64) -> Result<()> {
    let first_prompt: Option<String> = tx
        .prepare_cached(
            "SELECT d.text FROM messages m JOIN docs d ON d.message_id = m.id AND d.kind = 'prompt'
             WHERE m.conversation_id = ?1 AND m.is_prompt ORDER BY m.ts, m.id, d.id LIMIT 1",
        )?
        .query_row([conv], |r| r.get(0))
        .optional()?;
    let first_prompt = first_prompt.map(|p| truncate_utf8(p.trim(), 500).to_owned());
    tx.prepare_cached(
        "UPDATE conversations SET
            started_at = (SELECT min(ts) FROM messages WHERE conversation_id = ?1),
            ended_at = (SELECT max(ts) FROM messages WHERE conversation_id = ?1),
            message_count = (SELECT count(*) FROM messages WHERE conversation_id = ?1),
            first_prompt = ?2
         WHERE id = ?1",
    )?
    .execute(params![conv, first_prompt])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(key: &str, continues: Option<&str>, span: Option<(i64, i64)>) -> Standing {
        Standing {
            key: key.to_owned(),
            continues: continues.map(str::to_owned),
            first_record_at: span.map(|s| s.0),
            last_record_at: span.map(|s| s.1),
        }
    }

    #[test]
    fn a_named_predecessor_wrote_first_whatever_the_times() {
        let original = standing("o", None, Some((50, 60)));
        let resumed = standing("r", Some("o"), Some((10, 90)));
        assert!(wrote_first(&original, &resumed));
        assert!(!wrote_first(&resumed, &original));
    }

    #[test]
    fn otherwise_the_earlier_start_then_the_earlier_end() {
        let original = standing("o", None, Some((10, 60)));
        let whole_copy = standing("r", None, Some((10, 90)));
        let partial_copy = standing("r", None, Some((30, 90)));
        assert!(wrote_first(&original, &whole_copy));
        assert!(!wrote_first(&whole_copy, &original));
        assert!(wrote_first(&original, &partial_copy));
        assert!(!wrote_first(&partial_copy, &original));
    }

    #[test]
    fn nothing_to_go_by_leaves_the_records_where_they_are() {
        let same = standing("a", None, Some((10, 60)));
        let twin = standing("b", None, Some((10, 60)));
        let untimed = standing("c", None, None);
        assert!(!wrote_first(&same, &twin) && !wrote_first(&twin, &same));
        assert!(!wrote_first(&untimed, &same) && !wrote_first(&same, &untimed));
    }
}
