//! Watch mode: index transcript lines as Claude Code writes them.
//!
//! Filesystem events drive indexing; a periodic full scan catches anything the
//! platform's watcher missed (event queue overflow, network filesystems).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::{FileReport, IndexReport, Result, Store};

const RESCAN_EVERY: Duration = Duration::from_secs(30);

pub enum WatchEvent<'a> {
    /// The initial (or a periodic) full scan finished.
    Scanned(&'a IndexReport),
    /// New lines of one file were indexed.
    Indexed(&'a FileReport),
    /// Indexing one file failed; watching goes on.
    Failed(PathBuf, &'a crate::Error),
    /// How far the initial scan has got (after each file it read).
    Progress(crate::Progress),
}

/// Indexes everything under `roots`, then keeps indexing changes until `stop` is set.
pub fn watch(
    store: &mut Store,
    roots: &[PathBuf],
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(WatchEvent<'_>),
) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        // The receiver only goes away when watching stops.
        let _ = tx.send(ev);
    })?;
    for root in roots {
        if root.exists() {
            watcher.watch(root, RecursiveMode::Recursive)?;
        } else {
            tracing::warn!(root = %root.display(), "transcript directory does not exist yet; it will be picked up by the periodic rescan");
        }
    }
    let report = store.index_roots(roots, &mut |p| on_event(WatchEvent::Progress(p)))?;
    on_event(WatchEvent::Scanned(&report));
    let mut last_scan = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut changed = BTreeSet::new();
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(ev) => collect(ev, &mut changed),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // Coalesce a burst of events (one per appended line) into one pass per file.
        while let Ok(ev) = rx.try_recv() {
            collect(ev, &mut changed);
        }
        for path in changed {
            match store.index_path(&path) {
                Ok(r) if r.lines > 0 || r.missing => on_event(WatchEvent::Indexed(&r)),
                Ok(_) => {}
                Err(e) => on_event(WatchEvent::Failed(path, &e)),
            }
        }
        if last_scan.elapsed() >= RESCAN_EVERY {
            for root in roots {
                // Roots created after start-up are watched from their first rescan.
                if root.exists() {
                    let _ = watcher.watch(root, RecursiveMode::Recursive);
                }
            }
            let report = store.index_roots(roots, &mut |_| {})?;
            if report.lines > 0 {
                on_event(WatchEvent::Scanned(&report));
            }
            last_scan = Instant::now();
        }
    }
    Ok(())
}

fn collect(ev: notify::Result<notify::Event>, out: &mut BTreeSet<PathBuf>) {
    match ev {
        Ok(ev) => {
            if ev.kind.is_access() {
                return;
            }
            for path in ev.paths {
                if path.extension().is_some_and(|x| x == "jsonl") {
                    out.insert(path);
                } else if path.is_dir() {
                    // A new project or session folder: the watch on it is added only
                    // after it appears, so lines written into it at once raise no
                    // event of their own. Look inside now.
                    out.extend(
                        observatory_transcript::transcript_files(&path)
                            .into_iter()
                            .map(|f| f.path),
                    );
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "file watcher reported an error"),
    }
}
