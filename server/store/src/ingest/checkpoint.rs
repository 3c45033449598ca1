//! WAL checkpoints of a bulk run, on their own thread.
//!
//! A checkpoint copies the pages a commit appended to the WAL into the database file.
//! On the writer it was an eighth of that thread's time on real-shaped transcripts
//! (#15), while the other core had room. Here a second connection checkpoints after
//! each commit, and the writer only finishes the job every few commits: SQLite
//! starts the WAL over from its beginning only when a writer begins a transaction
//! with every frame copied, which never happens while a checkpoint runs behind a
//! writer that commits again at once. Without that the WAL grew past 2 GB on the
//! 1 GB corpus.
//!
//! Two checkpoints cannot run at once (the second gets `SQLITE_BUSY` and copies
//! nothing), so the writer's turn waits for the thread's checkpoint in progress,
//! never more than one commit's pages. Retrying instead left it to the scheduler:
//! on a loaded machine the writer kept meeting the thread mid-checkpoint and the
//! WAL grew for commit after commit.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

/// Commits after which the writer checkpoints what the thread has not yet, so the
/// WAL starts over (a commit of a bulk run is about 32 MB of transcript).
const WRITER_EVERY: u32 = 3;

/// The writer's side: tells the checkpointing thread about commits.
pub(crate) struct Checkpointer {
    commits: SyncSender<()>,
    since_full: u32,
    /// Held by whichever side checkpoints.
    turn: Arc<Mutex<()>>,
}

impl Checkpointer {
    /// The writer's handle and the thread's work (run it on a scoped thread), or
    /// `None` when the database cannot be opened a second time (the writer then
    /// checkpoints as usual).
    pub(super) fn start(path: &Path) -> Option<(Self, impl FnOnce() + Send)> {
        let opened = Connection::open(path).and_then(|conn| {
            // For reading the schema when it starts; a PASSIVE checkpoint never waits.
            conn.busy_timeout(Duration::from_secs(5))?;
            Ok(conn)
        });
        let conn = match opened {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no checkpointing thread; the writer checkpoints");
                return None;
            }
        };
        let (commits, rx) = sync_channel(1);
        let turn = Arc::new(Mutex::new(()));
        let thread_turn = Arc::clone(&turn);
        Some((
            Self {
                commits,
                since_full: 0,
                turn,
            },
            move || checkpoint_each(&conn, &rx, &thread_turn),
        ))
    }

    /// After a commit: the thread copies it; every `WRITER_EVERY` commits the writer
    /// copies what is left (little, once the thread's checkpoint in progress is
    /// done), so the WAL starts over at the next transaction. Where a reader still
    /// uses older frames it tries again at each commit. A failed
    /// checkpoint loses nothing (the commit is in the WAL): it is logged, and the
    /// run's last checkpoint reports its error.
    pub(super) fn committed(&mut self, writer: &Connection) {
        self.since_full += 1;
        // Before waking the thread, which would hold the checkpoint lock.
        if self.since_full >= WRITER_EVERY {
            let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
            match all_copied(writer) {
                // Nothing left for the thread to copy.
                Ok(true) => {
                    self.since_full = 0;
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "checkpoint after a commit"),
            }
        }
        // Full: the thread is still busy with an earlier commit, which it will
        // follow with this one's frames too.
        let _ = self.commits.try_send(());
    }
}

fn checkpoint_each(conn: &Connection, commits: &Receiver<()>, turn: &Mutex<()>) {
    for () in commits {
        let _turn = turn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = all_copied(conn) {
            tracing::warn!(error = %e, "checkpoint on the checkpointing thread");
        }
    }
}

/// A PASSIVE checkpoint (it never waits for readers or the writer): whether it
/// copied every frame of the WAL.
fn all_copied(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        let (busy, log, copied): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok(busy == 0 && log == copied)
    })
}

#[cfg(test)]
mod tests {
    // Tests: a failed expectation is the test failing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// With the thread not keeping up at all (here: not running), the writer's own
    /// checkpoints still start the WAL over every few commits.
    #[test]
    fn the_writer_starts_the_wal_over_every_few_commits() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no auto");
        conn.execute_batch("CREATE TABLE t (x BLOB)")
            .expect("table");
        let (mut checkpointer, thread) = Checkpointer::start(&path).expect("start");
        drop(thread);
        let commit = vec![7u8; 256 * 1024];
        for _ in 0..30 {
            conn.execute("INSERT INTO t VALUES (?1)", [&commit])
                .expect("insert");
            checkpointer.committed(&conn);
        }
        let wal = std::fs::metadata(dir.path().join("t.db-wal"))
            .expect("wal")
            .len();
        // Held whole, the WAL would be 30 commits long (8 MB); it is a few.
        assert!(wal < 8 * commit.len() as u64, "WAL of {wal} bytes");
    }
}
