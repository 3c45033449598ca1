//! Full-text entries held back until their transaction commits.
//!
//! FTS5 writes out the terms it holds in memory whenever a statement that may need
//! rolling back on its own starts in the transaction (its `xSavepoint`): every
//! batch's event log is one (AUTOINCREMENT and the webhook trigger), so entries added
//! as their rows were written left a small segment per file, and merging those
//! segments was a fifth of a cold index (#15). Added together before the commit,
//! a transaction's entries make a few large segments instead.

use std::ops::RangeInclusive;

use rusqlite::{params, Connection};

use crate::Result;

/// Text held back before it is handed to FTS5 early: bounds what a transaction
/// that holds an unusually large amount of text rewrites at its commit.
const MAX_PENDING_BYTES: usize = 24 * 1024 * 1024;

/// Documents stored in `docs` whose `docs_fts` entries wait for the commit: their
/// ids, as runs of consecutive ids (a transaction's documents are numbered one after
/// the other), read back from `docs` when they are added. Holding a copy of each
/// text instead cost memory and a copy per document.
#[derive(Default)]
pub(crate) struct PendingDocs {
    runs: Vec<RangeInclusive<i64>>,
    bytes: usize,
}

impl PendingDocs {
    /// Holds back the entry of document `id`, of `bytes` of text; adds the ones
    /// held so far when they grow too large.
    pub(super) fn push(&mut self, conn: &Connection, id: i64, bytes: usize) -> Result<()> {
        self.bytes += bytes;
        match self.runs.last_mut() {
            Some(run) if *run.end() + 1 == id => *run = *run.start()..=id,
            _ => self.runs.push(id..=id),
        }
        if self.bytes >= MAX_PENDING_BYTES {
            self.write(conn)?;
        }
        Ok(())
    }

    /// Adds the held entries to the index, in the open transaction.
    pub(crate) fn write(&mut self, conn: &Connection) -> Result<()> {
        if self.runs.is_empty() {
            return Ok(());
        }
        let mut insert = conn.prepare_cached(
            "INSERT INTO docs_fts (rowid, text, idents)
             SELECT id, text, idents FROM docs WHERE id BETWEEN ?1 AND ?2",
        )?;
        for run in self.runs.drain(..) {
            insert.execute(params![run.start(), run.end()])?;
        }
        self.bytes = 0;
        Ok(())
    }

    /// Forgets the held entries: their transaction was rolled back.
    pub(crate) fn clear(&mut self) {
        self.runs.clear();
        self.bytes = 0;
    }
}
