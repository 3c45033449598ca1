//! Keys a first index knows are new without asking the database (#15).
//!
//! Every message, tool call and response is looked up by its key before it is
//! written: a copy made by `--resume`, or bytes read twice, must not be stored
//! again. On a store that held none of them when the run began, a key this run has
//! not written cannot be stored, as long as no other connection has committed
//! since (`PRAGMA data_version`, checked at each write transaction's start). So the
//! run keeps the hashes of the keys it writes, and a key whose hash is not among
//! them is new without a lookup. That is nearly every lookup of the first index,
//! the one a new user waits for; any other run looks every key up as before.

use rusqlite::Connection;
use rustc_hash::FxHashSet;

use crate::Result;

/// Keys kept at most (all tables), at 5 to 10 bytes each: a first index of more
/// than some 2 GB of real-shaped transcripts looks the rest up.
const MAX_KEYS: usize = 1_500_000;

/// The tables whose keys a run looks up before it writes.
#[derive(Clone, Copy)]
pub(super) enum Keyed {
    Messages,
    ToolCalls,
    Usage,
}

#[derive(Default)]
pub(crate) struct FreshKeys {
    /// The low 32 bits of the hashes of the keys this run wrote, per table (half
    /// the memory of the whole hash; a key whose bits match another's only costs
    /// its lookup); `None`: look every key up.
    written: Option<[FxHashSet<u32>; 3]>,
    /// `data_version` when the store was found empty.
    version: i64,
}

impl FreshKeys {
    /// At the start of a run: keys are known new if the store holds no message,
    /// tool call or usage row.
    pub(crate) fn at_start(conn: &Connection) -> Result<Self> {
        // The version first: a commit after it, even one the check below sees,
        // ends the run's knowledge at its next transaction.
        let version = data_version(conn)?;
        let empty: bool = conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM messages)
                AND NOT EXISTS (SELECT 1 FROM tool_calls)
                AND NOT EXISTS (SELECT 1 FROM usage)",
            [],
            |r| r.get(0),
        )?;
        Ok(Self {
            written: empty.then(Default::default),
            version,
        })
    }

    /// At the start of a write transaction whose `data_version` is `version`:
    /// another connection's commit since the run began ends what it knows.
    pub(super) fn check(&mut self, version: i64) {
        if self.written.is_some() && version != self.version {
            tracing::debug!("another connection committed: looking every key up again");
            self.written = None;
        }
    }

    /// Whether a key of `table` with this hash may be stored already (`false`: it
    /// is not, no lookup needed).
    pub(super) fn may_hold(&self, table: Keyed, hash: i64) -> bool {
        self.written
            .as_ref()
            .is_none_or(|w| w[table as usize].contains(&(hash as u32)))
    }

    /// A key of `table` with this hash was written in the open transaction. Kept
    /// after a rollback too: a hash that is not stored only costs its lookup.
    pub(super) fn wrote(&mut self, table: Keyed, hash: i64) {
        if let Some(w) = &mut self.written {
            w[table as usize].insert(hash as u32);
            if w.iter().map(FxHashSet::len).sum::<usize>() > MAX_KEYS {
                self.written = None;
            }
        }
    }
}

/// Changes whenever another connection commits to the database.
pub(super) fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}
