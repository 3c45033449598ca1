//! The reading side of a run: one thread that reads, parses and compresses the files
//! the writer hands it, in order, each from where the writer says.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};

use super::read::{read_batches, Batch};
use crate::Error;

/// Files decided and handed to the reader ahead of the one being written: enough to
/// keep it busy across small files, few enough that their batches stay bounded
/// (the channel holds at most one).
pub(super) const AHEAD: usize = 3;

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

/// Reads the jobs in order until there are none, or the writer stops listening.
pub(super) fn reader(jobs: Receiver<Job>, out: SyncSender<Read>, max_line: usize) {
    for job in jobs {
        let mut listening = true;
        let result = File::open(&job.path).and_then(|mut fh| {
            fh.seek(SeekFrom::Start(job.start))?;
            read_batches(fh, job.start, job.first_line, max_line, &mut |b| {
                listening = out.send(Read::Batch(b)).is_ok();
                listening
            })
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
