//! Full-text entries held back until their transaction commits.
//!
//! FTS5 writes out the terms it holds in memory whenever a statement that may need
//! rolling back on its own starts in the transaction (its `xSavepoint`): every
//! batch's event log is one (AUTOINCREMENT and the webhook trigger), so entries added
//! as their rows were written left a small segment per file, and merging those
//! segments was a fifth of a cold index (#15). Added together before the commit,
//! a transaction's entries make a few large segments instead.

use rusqlite::{params, Connection};

use crate::Result;

/// Text held back before it is handed to FTS5 early: bounds the memory of a
/// transaction that holds an unusually large amount of text.
const MAX_PENDING_BYTES: usize = 24 * 1024 * 1024;

/// Documents stored in `docs` whose `docs_fts` entries wait for the commit.
#[derive(Default)]
pub(crate) struct PendingDocs {
    docs: Vec<(i64, String, Option<String>)>,
    bytes: usize,
}

impl PendingDocs {
    /// Holds back the entry of document `id`; adds the ones held so far when they
    /// grow too large.
    pub(super) fn push(
        &mut self,
        conn: &Connection,
        id: i64,
        text: &str,
        idents: Option<String>,
    ) -> Result<()> {
        self.bytes += text.len() + idents.as_ref().map_or(0, String::len);
        self.docs.push((id, text.to_owned(), idents));
        if self.bytes >= MAX_PENDING_BYTES {
            self.write(conn)?;
        }
        Ok(())
    }

    /// Adds the held entries to the index, in the open transaction.
    pub(crate) fn write(&mut self, conn: &Connection) -> Result<()> {
        if self.docs.is_empty() {
            return Ok(());
        }
        let mut insert =
            conn.prepare_cached("INSERT INTO docs_fts (rowid, text, idents) VALUES (?1, ?2, ?3)")?;
        for (id, text, idents) in self.docs.drain(..) {
            insert.execute(params![id, text, idents])?;
        }
        self.bytes = 0;
        Ok(())
    }

    /// Forgets the held entries: their transaction was rolled back.
    pub(crate) fn clear(&mut self) {
        self.docs.clear();
        self.bytes = 0;
    }
}
