//! Every input kept under `fuzz/corpus/<target>` and `fuzz/artifacts/<target>` run
//! through its target's harness, in a plain `cargo test`: no fuzzing toolchain is
//! needed to keep the crashes found fixed.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use observatory_fuzzing::{replay::fuzz_replay, transcript::fuzz_transcript};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["corpus", "artifacts"] {
        let Ok(dir) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
            continue;
        };
        out.extend(dir.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    out.retain(|p| p.is_file());
    out.sort();
    out
}

/// Runs every input, then fails naming all that panicked (not just the first).
fn run_all(target: &str, harness: fn(&[u8]), at_least: usize) {
    let files = inputs(target);
    assert!(
        files.len() >= at_least,
        "{target}: only {} inputs under {}",
        files.len(),
        fuzz_dir().display()
    );
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read input");
        if catch_unwind(AssertUnwindSafe(|| harness(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: panicked on {failed:#?}");
}

#[test]
fn transcript_corpus_and_artifacts() {
    run_all("transcript", fuzz_transcript, 100);
}

#[test]
fn replay_corpus_and_artifacts() {
    run_all("replay", fuzz_replay, 100);
}
