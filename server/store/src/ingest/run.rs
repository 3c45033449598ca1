//! The reading side of a run: one thread that reads, parses and compresses the files
//! the writer hands it, in order, each from where the writer says, and frees the
//! batches the writer hands back.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::read::{read_batches, Batch};
use crate::Error;

/// Files decided and handed to the reader ahead of the one being written: enough for
/// the reader to run ahead across many small files (what it may read ahead is
/// bounded by `Budget`, not by this).
pub(super) const AHEAD: usize = 64;

/// Transcript bytes the reader may hold parsed ahead of the writer. Reading a file is
/// a few times faster than writing it, but not evenly: with only a batch or two
/// ahead, the writer finished a run of small files and then waited on the reader to
/// parse a large one (a fifth of a cold index on real-shaped transcripts, #15).
const AHEAD_BYTES: usize = 12 * 1024 * 1024;

/// The bytes read ahead and not yet written, shared by the reader (which waits for
/// room) and the writer (which makes it, or stops).
#[derive(Default)]
pub(super) struct Budget {
    /// Bytes held, and whether the writer stopped.
    state: Mutex<(usize, bool)>,
    freed: Condvar,
}

impl Budget {
    /// Waits until `n` more bytes fit (always true of a batch when nothing is held,
    /// so a batch larger than the budget still passes), or the writer stopped.
    fn take(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 > 0 && state.0 + n > AHEAD_BYTES && !state.1 {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.0 += n;
    }

    /// The writer is done with a batch of `n` bytes.
    pub(super) fn give(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = state.0.saturating_sub(n);
        self.freed.notify_one();
    }

    /// The writer stopped: a reader waiting for room goes on (to find nobody
    /// listening) instead of waiting forever.
    fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 = true;
        self.freed.notify_all();
    }
}

/// Closes the budget when the writer leaves a run, however it leaves.
pub(super) struct CloseOnDrop<'a>(pub(super) &'a Budget);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A file to read: from byte `start`, which is line `first_line + 1`.
pub(super) struct Job {
    pub(super) path: PathBuf,
    pub(super) start: u64,
    pub(super) first_line: u64,
}

/// What the reader hands over for the current file: its batches, then how it ended.
pub(super) enum Read {
    Batch(Batch),
    Failed(std::io::Error),
    Done,
}

/// How often a reader waiting for its next file frees what was written meanwhile.
const FREE_EVERY: Duration = Duration::from_millis(10);

/// Reads the jobs in order until there are none, or the writer stops listening.
///
/// The batches come back once written, to be freed here: their memory was allocated
/// on this thread, and glibc frees a block from another thread under the lock of
/// the arena it came from, which this thread holds while it allocates. Freed on a
/// thread of their own, a cold index of real-shaped transcripts took a sixth longer
/// (#15).
pub(super) fn reader(
    jobs: Receiver<Job>,
    out: Sender<Read>,
    written: Receiver<Batch>,
    budget: &Budget,
    max_line: usize,
) {
    // One context for the run: creating one per batch cost as much as a tenth of
    // the compressing. Level 1: the copy is read rarely, and this runs for every
    // byte indexed.
    let mut compressor = match zstd::bulk::Compressor::new(1) {
        Ok(c) => c,
        Err(e) => {
            let _ = out.send(Read::Failed(e));
            return;
        }
    };
    loop {
        let job = match jobs.recv_timeout(FREE_EVERY) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                written.try_iter().for_each(drop);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut listening = true;
        let result = File::open(&job.path).and_then(|mut fh| {
            fh.seek(SeekFrom::Start(job.start))?;
            read_batches(
                fh,
                job.start,
                job.first_line,
                max_line,
                &mut compressor,
                &mut |b| {
                    budget.take(b.len());
                    // Room was made by batches being written: free them.
                    written.try_iter().for_each(drop);
                    listening = out.send(Read::Batch(b)).is_ok();
                    listening
                },
            )
        });
        let end = match result {
            Ok(()) => Read::Done,
            Err(e) => Read::Failed(e),
        };
        if !listening || out.send(end).is_err() {
            return;
        }
    }
}

/// The reading thread is gone (it only stops when the writer does, or panics).
pub(super) fn stopped() -> Error {
    Error::Internal("the transcript reading thread stopped".into())
}
