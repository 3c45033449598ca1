//! What the benchmark binaries share: the synthetic corpus, timing figures, and
//! appending to transcripts the way Claude Code does.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

/// Generates the corpus into `dir` unless a complete one is there (reused between
/// runs: generating 1 GB takes a while).
pub fn ensure_corpus(dir: &Path, target_bytes: u64) -> anyhow::Result<()> {
    let marker = dir.join(".complete");
    if marker.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    let t = Instant::now();
    let stats = observatory_corpus::generate(
        dir,
        &observatory_corpus::CorpusSpec {
            target_bytes,
            seed: 42,
            projects: 8,
        },
    )?;
    std::fs::write(&marker, format!("{stats:?}"))?;
    eprintln!("generated {stats:?} in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// The `p` quantile (0 to 1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Appends whole lines to a transcript in one write, as Claude Code does.
pub fn append(path: &Path, lines: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(lines)
}
