//! What the benchmark binaries share: the synthetic corpus, timing figures, and
//! appending to transcripts the way Claude Code does.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use std::time::{Duration, Instant};

/// Where the benchmarks keep their corpus and databases, and what they run.
#[derive(clap::Args)]
pub struct Setup {
    /// Corpus size (e.g. 200MB, 1GB); generated once and reused
    #[arg(long, default_value = "1GB")]
    pub size: String,
    /// Where to keep the corpus and databases (shared by the benchmarks)
    #[arg(long, default_value = "/tmp/observatory-bench")]
    pub work: PathBuf,
    /// The observatory binary (defaults to the one next to this benchmark)
    #[arg(long)]
    observatory: Option<PathBuf>,
}

impl Setup {
    /// The corpus, generated if it is not there yet.
    pub fn corpus(&self) -> anyhow::Result<PathBuf> {
        let target = observatory_corpus::parse_size(&self.size).context("bad --size")?;
        let dir = self.work.join(format!("corpus-{}", self.size));
        ensure_corpus(&dir, target)?;
        Ok(dir)
    }

    /// The data directory indexing that corpus.
    pub fn data(&self) -> PathBuf {
        self.work.join(format!("data-{}", self.size))
    }

    pub fn observatory(&self) -> anyhow::Result<PathBuf> {
        let bin = self.observatory.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .unwrap_or_default()
                .with_file_name("observatory")
        });
        if !bin.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p observatory-cli`",
                bin.display()
            );
        }
        Ok(bin)
    }
}

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

/// URL, local token and pid of the platform serving `data`, as it published them.
pub fn published(data: &Path) -> Option<(String, String, u32)> {
    let running = observatory_platform::discovery::discover(data)?;
    let token = std::fs::read_to_string(observatory_platform::token_path(data)).ok()?;
    Some((running.url, token.trim().to_owned(), running.pid))
}

/// Queries a developer would type, built from the generator's vocabulary.
pub const QUERIES: [&str; 20] = [
    "token refresh",
    "pagination",
    "migration",
    "error handling",
    "retry*",
    "database connection",
    "unit tests",
    "timeout",
    "cache invalidation",
    "middleware",
    "\"rate limit\"",
    "serialize",
    "config",
    "webhook",
    "panic",
    "async",
    "login",
    "README",
    "users endpoint",
    "flaky",
];
