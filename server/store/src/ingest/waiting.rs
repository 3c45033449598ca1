//! Summaries read before their leaf message wait in `summaries` until it is stored.
//!
//! A store keeps some waiting for good (summaries naming messages of transcripts
//! Claude Code has deleted: 920 in the real-shaped benchmark corpus), so every
//! batch looked its stored messages up in that table: 3% of a cold index's writer.
//! The hashes of the waiting leaves are kept in memory instead, exact for the write
//! transaction: read again when another connection has committed since
//! (`PRAGMA data_version`), or after a rollback.

use rusqlite::Connection;
use rustc_hash::FxHashSet;

use crate::sql::key_hash;
use crate::Result;

#[derive(Default)]
pub(crate) struct WaitingLeaves {
    /// `key_hash` of every waiting `leaf_uuid`, and perhaps of some taken since: a
    /// hash that waits no more only costs a lookup that finds nothing.
    hashes: FxHashSet<i64>,
    /// The `data_version` they were read at; `None`: read them again.
    version: Option<i64>,
}

impl WaitingLeaves {
    /// Brings the hashes up to date at the start of a write transaction (nobody
    /// else writes until it ends) whose `data_version` is `version`.
    pub(super) fn refresh(&mut self, conn: &Connection, version: i64) -> Result<()> {
        if self.version == Some(version) {
            return Ok(());
        }
        self.hashes = conn
            .prepare_cached("SELECT leaf_uuid FROM summaries")?
            .query_map([], |r| Ok(key_hash(&r.get::<_, String>(0)?)))?
            .collect::<rusqlite::Result<_>>()?;
        self.version = Some(version);
        Ok(())
    }

    /// Whether a summary may wait for the message whose uuid has hash `hash`.
    pub(super) fn may_wait_for(&self, hash: i64) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&hash)
    }

    /// A summary of `leaf` now waits (written in the open transaction).
    pub(super) fn add(&mut self, leaf: &str) {
        self.hashes.insert(key_hash(leaf));
    }

    /// The open transaction was rolled back: what it added may not be there.
    pub(crate) fn forget(&mut self) {
        self.version = None;
    }
}
