//! Watch mode picks up lines written into folders that did not exist when it started.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use observatory_store::{watch, Store};

#[test]
fn lines_written_at_once_into_a_new_folder_are_indexed() {
    let claude = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(claude.path().join("projects")).expect("mkdir");
    let db = tempfile::tempdir().expect("tmp");
    let path = db.path().join("o.db");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, root, path) = (Arc::clone(&stop), claude.path().to_path_buf(), path.clone());
        std::thread::spawn(move || {
            let mut store = Store::open(&path).expect("store");
            watch(&mut store, &[root], &stop, &mut |_| {}).expect("watch");
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // A new project folder and its first line, as fast as a program can.
    let dir = claude.path().join("projects/-brand-new");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let line = r#"{"type":"user","uuid":"n-1","sessionId":"s","cwd":"/n","timestamp":"2025-11-25T10:00:00.000Z","message":{"role":"user","content":"first words"}}"#;
    std::fs::write(
        dir.join("0000cccc-1111-2222-3333-444444444444.jsonl"),
        format!("{line}\n"),
    )
    .expect("write");
    let reader = Store::open(&path).expect("store");
    let start = Instant::now();
    let mut seen = false;
    // Well under the 30 s rescan that would otherwise find it.
    while start.elapsed() < Duration::from_secs(10) {
        if reader.has_message("n-1").expect("query") {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    assert!(
        seen,
        "the line in the new folder was not indexed by the watcher"
    );
}
