//! Writes fuzz seeds from real transcripts (never modifying them):
//!
//! ```sh
//! cargo run -p observatory-fuzzing --example make_seeds -- ../shared/fixtures/transcripts /tmp/seeds
//! ```
//!
//! - `<out>/transcript/`: single lines, each writing tool call with the line holding
//!   its result, and the first lines of each file (so the reader sees several lines
//!   and an unterminated tail);
//! - `<out>/replay/`: each file's recorded history per path, in windows of a few
//!   changes, as a `replay::Case` in JSON, attributing the file as the last change
//!   left it.
//!
//! Every seed is capped in size; `cargo fuzz cmin` then keeps the ones that add
//! coverage.

// A one-off tool run by hand: it stops with the reason on any failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use observatory_attribution::symbols::after_change;
use observatory_fuzzing::replay::Case;
use observatory_fuzzing::transcript::changes_in;
use observatory_transcript::{parse_line, FileChange, Record};

/// Largest seed written: libFuzzer works best on small inputs. A replay seed holds
/// whole copies of the file (`originalFile`), so it gets more room.
const MAX_TRANSCRIPT_SEED: usize = 16 * 1024;
const MAX_REPLAY_SEED: usize = 32 * 1024;
/// Changes per replay seed.
const WINDOW: usize = 6;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, fixtures, out] = args.as_slice() else {
        eprintln!("usage: make_seeds FIXTURES_DIR OUT_DIR");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    jsonl_files(Path::new(fixtures), &mut files);
    files.sort();
    let out = Path::new(out);
    let (mut transcript, mut replay) = (
        Seeds::new(out, "transcript", MAX_TRANSCRIPT_SEED),
        Seeds::new(out, "replay", MAX_REPLAY_SEED),
    );
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        for line in &lines {
            transcript.add(line);
        }
        transcript.add(&head(&bytes, 4 * 1024));
        for pair in call_and_result(&lines) {
            transcript.add(&pair);
        }
        let records: Vec<Record> = lines.iter().filter_map(|l| parse_line(l).ok()).collect();
        let mut by_path: BTreeMap<String, Vec<FileChange>> = BTreeMap::new();
        for c in changes_in(&records) {
            by_path.entry(c.path.clone()).or_default().push(c);
        }
        for history in by_path.values() {
            for end in 1..=history.len() {
                let window = &history[end.saturating_sub(WINDOW)..end];
                let content = window
                    .last()
                    .and_then(after_change)
                    .map(|(after, _)| after)
                    .unwrap_or_default();
                let case = Case {
                    changes: window.to_vec(),
                    roots: Vec::new(),
                    content,
                };
                if let Ok(json) = serde_json::to_vec(&case) {
                    replay.add(&json);
                }
            }
        }
    }
    eprintln!(
        "{} transcript seeds, {} replay seeds from {} files",
        transcript.written,
        replay.written,
        files.len()
    );
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            jsonl_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
}

/// The file's first `cap` bytes: several lines, the last usually cut short, so the
/// reader also sees an unterminated tail.
fn head(bytes: &[u8], cap: usize) -> Vec<u8> {
    bytes[..bytes.len().min(cap)].to_vec()
}

/// Each tool call's line followed by the line holding its result.
fn call_and_result(lines: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut calls: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Ok(Record::Message(m)) = parse_line(line) else {
            continue;
        };
        for (id, _, _) in m.tool_uses() {
            calls.insert(id.to_owned(), i);
        }
        for (id, _, _) in m.tool_results() {
            if let Some(&call) = calls.get(id) {
                let mut pair = lines[call].to_vec();
                pair.push(b'\n');
                pair.extend_from_slice(line);
                pair.push(b'\n');
                out.push(pair);
            }
        }
    }
    out
}

struct Seeds {
    dir: PathBuf,
    max: usize,
    written: usize,
}

impl Seeds {
    fn new(out: &Path, target: &str, max: usize) -> Self {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("create seed directory");
        Seeds {
            dir,
            max,
            written: 0,
        }
    }

    /// Writes `data` under a name derived from its content (duplicates collapse).
    fn add(&mut self, data: &[u8]) {
        if data.is_empty() || data.len() > self.max {
            return;
        }
        let path = self.dir.join(format!("seed-{:016x}", fnv1a(data)));
        if !path.exists() {
            std::fs::write(&path, data).expect("write seed");
            self.written += 1;
        }
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
