//! A deterministic generator of synthetic Claude Code transcripts in the real
//! on-disk format, for benchmarks at gigabyte scale.
//!
//! Layout: `<out>/projects/<encoded-cwd>/<session>.jsonl`, subagents under
//! `<session>/subagents/agent-<id>.jsonl` (2.1.x) or beside the sessions as
//! `agent-<id>.jsonl` (2.0.x). Each project has a virtual file system that the
//! generated Read/Edit/MultiEdit/Write calls act on, so every `structuredPatch`
//! re-applies to its `originalFile` and files evolve across sessions.

mod json;
mod patch;
mod real;
mod session;
mod text;

pub use patch::{apply as apply_patch, edit as patch_edit, Change, Hunk};
pub use real::{fresh as fresh_id, replicate, RealSpec, Replicator};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use session::{Info, Project};
use std::fs;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct CorpusSpec {
    pub target_bytes: u64,
    pub seed: u64,
    pub projects: usize,
}

impl Default for CorpusSpec {
    fn default() -> Self {
        CorpusSpec { target_bytes: 200 << 20, seed: 42, projects: 8 }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorpusStats {
    pub files: usize,
    pub bytes: u64,
    pub lines: u64,
    pub sessions: usize,
    pub subagent_files: usize,
    /// Successful Edit, MultiEdit and Write calls.
    pub edits: u64,
}

/// Byte budget of the next session: mostly 150 KB to 1.8 MB (about 50 to 500
/// lines), some of several MB and a few of tens of MB, log-uniform within each band.
fn session_budget(rng: &mut StdRng, target: u64) -> u64 {
    let (lo, hi): (f64, f64) = match rng.random_range(0..100) {
        0..85 => (150e3, 1.8e6),
        85..97 => (1.8e6, 8e6),
        _ => (15e6, 45e6),
    };
    let b = lo * (hi / lo).powf(rng.random::<f64>());
    // Keep small corpora to several sessions.
    (b as u64).min((target / 6).max(40_000))
}

/// Writes a corpus of about `spec.target_bytes` under `out/projects`.
pub fn generate(out: &Path, spec: &CorpusSpec) -> std::io::Result<CorpusStats> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let root = out.join("projects");
    let n = spec.projects.max(1);
    let mut projects: Vec<Project> = (0..n).map(|i| Project::new(&mut rng, i, &root)).collect();
    for p in &projects {
        fs::create_dir_all(&p.dir)?;
    }
    let mut stats = CorpusStats::default();
    while stats.bytes < spec.target_bytes {
        // The minimum of two draws favours the first projects, like real usage
        // where a few repositories get most sessions.
        let i = rng.random_range(0..n).min(rng.random_range(0..n));
        let left = spec.target_bytes - stats.bytes;
        let budget = session_budget(&mut rng, spec.target_bytes).min(left.max(20_000));
        session::write_session(&mut rng, &mut projects[i], budget, &mut stats)?;
    }
    Ok(stats)
}

/// Produce N more complete lines (a user prompt and an assistant reply)
/// continuing an existing session file in the real format; used to measure
/// append-to-searchable latency. Returns the lines (each ending in '\n') and a
/// unique marker word contained in the user prompt text so a search can find it.
///
/// Timestamps come from the wall clock so the lines are newer than the file's
/// existing records; everything else is determined by `seed`.
pub fn continuation_lines(session_id: &str, cwd: &str, parent_uuid: Option<&str>, seed: u64) -> (Vec<u8>, String) {
    let mut rng = StdRng::seed_from_u64(seed);
    // Letters only, so any tokenizer keeps the marker as one word.
    let marker = text::rand_id(&mut rng, "zq", 12, b"abcdefghijklmnopqrstuvwxyz");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut proj = Project::bare(cwd, now);
    let info = Info {
        sid: session_id.to_owned(),
        version: "2.1.81",
        tail: true,
        model: session::model(&mut rng),
        branch: "main".to_owned(),
        slug: Some(text::slug(&mut rng)),
        agent_id: None,
        sidechain: false,
    };
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail and the records always serialize.
    let _ = session::continuation(&mut rng, &mut proj, info, parent_uuid, &marker, &mut buf);
    (buf, marker)
}

/// Parses sizes such as `200MB`, `1GB`, `1.5GiB`, `64k` or a plain byte count.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.trim().parse().ok()?;
    let mult: u64 = match unit.to_ascii_lowercase().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    (num >= 0.0).then_some((num * mult as f64) as u64)
}

#[cfg(test)]
mod tests;
