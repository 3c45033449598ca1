//! The "real-shaped" corpus: the real fixture transcripts copied N times with fresh
//! ids, so a benchmark sees the real format, record mix and file layout at any size.
//!
//! Every id in a copy (uuids, `msg_`/`req_`/`toolu_` ids, session and agent ids) is
//! replaced by a fresh one derived from `(seed, copy, original id)`: a pure
//! function, so an id and every reference to it (`parentUuid`, `leafUuid`,
//! `tool_use_id`, a file or directory name) map to the same value within a copy,
//! and different copies share nothing, so the indexer cannot deduplicate one copy
//! against another. Every other byte is the fixture's.
//!
//! Layout: each fixture folder that holds transcripts (a project directory) becomes
//! `<out>/projects/<flattened fixture path>-<copy>/`, with the files below it in
//! the same arrangement (sessions, `agent-*.jsonl` beside them, and
//! `<session>/subagents/agent-*.jsonl`), their id-named components remapped.

use crate::CorpusStats;
use regex::bytes::Regex;

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

#[derive(Clone, Debug)]
pub struct RealSpec {
    /// The fixture transcripts (`shared/fixtures/transcripts`).
    pub fixtures: PathBuf,
    /// Copies are written until the corpus reaches this many bytes (at least one).
    pub target_bytes: u64,
    pub seed: u64,
}

/// One fixture transcript, read once and split at its ids.
struct Fixture {
    /// Path below the fixtures directory.
    rel: PathBuf,
    /// The fixture folder that plays the project directory, flattened to one name.
    project: String,
    /// Path below that project directory.
    inner: PathBuf,
    bytes: Vec<u8>,
    /// Byte ranges of the ids in `bytes`, in order, not overlapping.
    ids: Vec<(usize, usize)>,
    lines: u64,
    subagent: bool,
}

/// The fixtures, parsed once, ready to be written out as many copies as wanted.
pub struct Replicator {
    seed: u64,
    fixtures: Vec<Fixture>,
    /// Ids that have no recognisable shape (`sess-1`, `agent-<hex>` names), collected
    /// from the places that hold ids.
    named: BTreeSet<Vec<u8>>,
}

/// Keys whose string values are ids whatever they look like.
const ID_KEYS: &str = "uuid|parentUuid|leafUuid|logicalParentUuid|messageId|promptId|tool_use_id|requestId|sessionId|agentId|session_id|parentToolUseID|toolUseID|sourceToolUseID|parent_tool_use_id|backgroundTaskId|bash_id|shellId|shell_id";
/// Prefixes of the API's and Claude Code's own ids.
const PREFIXES: [&str; 4] = ["msg_", "req_", "toolu_", "srvtoolu_"];
/// Their real shape (`msg_01…`, `toolu_vrtx_01…`, `req_011C…`): found anywhere, while
/// words such as `msg_count` in code are left alone. Fixture ids of other shapes
/// (`toolu_plan_write`) are collected from the `id`/`tool_use_id` fields instead.
const SHAPED: &str = "(?:msg|req|toolu|srvtoolu)_(?:[a-z]{4}_)?0[A-Za-z0-9]{12,}";
/// Named ids shorter than this (`s1`) are replaced only as whole JSON strings,
/// since as bare words they could be ordinary text.
const SHORT: usize = 7;

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Replicator {
    /// Reads every `.jsonl` under `fixtures` (sorted, so copies are deterministic).
    pub fn new(fixtures: &Path, seed: u64) -> io::Result<Replicator> {
        let mut paths = Vec::new();
        let mut stack = vec![fixtures.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d)? {
                let p = e?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    paths.push(p);
                }
            }
        }
        paths.sort();
        if paths.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no .jsonl under {}", fixtures.display())));
        }
        let mut raw = Vec::new();
        for p in paths {
            let bytes = fs::read(&p)?;
            let rel = p.strip_prefix(fixtures).map_err(io::Error::other)?.to_path_buf();
            raw.push((rel, bytes));
        }
        let named = collect_named(&raw);
        let ids = id_regex(&named)?;
        let fixtures = raw
            .into_iter()
            .map(|(rel, bytes)| {
                let (project, inner) = split_project(&rel);
                let subagent = rel.iter().any(|c| c == "subagents")
                    || rel.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("agent-"));
                // Non-empty lines, the last one counted even without its newline (five
                // fixtures end without one), as the benchmark's parse row counts them.
                let lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
                let ids = find_ids(&ids, &bytes);
                Fixture { rel, project, inner, bytes, ids, lines, subagent }
            })
            .collect();
        Ok(Replicator { seed, fixtures, named })
    }

    /// Bytes of one copy before remapping (named ids may grow a few bytes).
    pub fn fixture_bytes(&self) -> u64 {
        self.fixtures.iter().map(|f| f.bytes.len() as u64).sum()
    }

    /// The fixture files, relative to the fixtures directory.
    pub fn fixture_paths(&self) -> impl Iterator<Item = &Path> {
        self.fixtures.iter().map(|f| f.rel.as_path())
    }

    /// Where copy `copy` of the fixture at `rel` goes, relative to the corpus root.
    pub fn copy_path(&self, copy: u64, rel: &Path) -> Option<PathBuf> {
        let f = self.fixtures.iter().find(|f| f.rel == rel)?;
        Some(self.out_path(copy, f))
    }

    fn out_path(&self, copy: u64, f: &Fixture) -> PathBuf {
        let mut p = PathBuf::from("projects").join(format!("{}-{copy:04}", f.project));
        let n = f.inner.iter().count();
        for (i, c) in f.inner.iter().enumerate() {
            let s = c.to_string_lossy();
            let (stem, ext) = match s.strip_suffix(".jsonl") {
                Some(stem) if i + 1 == n => (stem, ".jsonl"),
                _ => (&*s, ""),
            };
            p.push(format!("{}{ext}", self.component(copy, stem)));
        }
        p
    }

    /// A file or directory name with the id it stands for remapped.
    fn component(&self, copy: u64, s: &str) -> String {
        let b = s.as_bytes();
        if is_uuid(b) || self.named.contains(b) {
            return String::from_utf8_lossy(&fresh(self.seed, copy, b)).into_owned();
        }
        if let Some(rest) = s.strip_prefix("agent-") {
            if is_uuid(rest.as_bytes()) || self.named.contains(rest.as_bytes()) {
                return format!("agent-{}", String::from_utf8_lossy(&fresh(self.seed, copy, rest.as_bytes())));
            }
        }
        s.to_owned()
    }

    /// Writes copy number `copy` under `out`, adding to `stats`.
    pub fn write_copy(&self, out: &Path, copy: u64, stats: &mut CorpusStats) -> io::Result<()> {
        for f in &self.fixtures {
            let path = out.join(self.out_path(copy, f));
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let mut w = io::BufWriter::with_capacity(1 << 16, fs::File::create(&path)?);
            let mut at = 0;
            let mut written = 0u64;
            for &(s, e) in &f.ids {
                w.write_all(&f.bytes[at..s])?;
                let id = fresh(self.seed, copy, &f.bytes[s..e]);
                w.write_all(&id)?;
                written += (s - at + id.len()) as u64;
                at = e;
            }
            w.write_all(&f.bytes[at..])?;
            written += (f.bytes.len() - at) as u64;
            w.flush()?;
            stats.files += 1;
            stats.bytes += written;
            stats.lines += f.lines;
            if f.subagent {
                stats.subagent_files += 1;
            } else {
                stats.sessions += 1;
            }
        }
        Ok(())
    }
}

/// Ids without a recognisable shape: the string values of id keys and the names of
/// agent files. Uuids and prefixed ids are found by their shape instead.
fn collect_named(files: &[(PathBuf, Vec<u8>)]) -> BTreeSet<Vec<u8>> {
    let mut named = BTreeSet::new();
    // A literal pattern: it compiles.
    let Ok(re) = Regex::new(&format!(r#"(?-u)"(id|{ID_KEYS})"\s*:\s*"([A-Za-z0-9_-]{{2,100}})""#)) else {
        return named;
    };
    for (rel, bytes) in files {
        for c in re.captures_iter(bytes) {
            let (Some(k), Some(v)) = (c.get(1), c.get(2)) else { continue };
            let v = v.as_bytes();
            // `id` also numbers todos and the like: only message and tool-use ids
            // count there (`msg_01…`, or `msg-alpha-1` in hand-written fixtures).
            let api = [&b"msg"[..], b"req", b"toolu", b"srvtoolu"].iter().any(|p| v.starts_with(p));
            if k.as_bytes() != b"id" || api {
                named.insert(v.to_vec());
            }
        }
        let stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if let Some(agent) = stem.strip_prefix("agent-") {
            named.insert(agent.as_bytes().to_vec());
        }
    }
    // Uuids are matched by their shape.
    named.retain(|v| !is_uuid(v));
    named
}

/// Uuids, prefixed ids, long named ids anywhere, short named ids as JSON strings.
fn id_regex(named: &BTreeSet<Vec<u8>>) -> io::Result<Regex> {
    let hex = "[0-9a-fA-F]";
    let mut alts = vec![format!("{hex}{{8}}-{hex}{{4}}-{hex}{{4}}-{hex}{{4}}-{hex}{{12}}"), SHAPED.to_owned()];
    // Longest first, so an id is not matched by a shorter one it contains.
    let mut sorted: Vec<&Vec<u8>> = named.iter().collect();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in sorted {
        let lit = regex::escape(&String::from_utf8_lossy(v));
        alts.push(if v.len() < SHORT { format!("\"{lit}\"") } else { lit });
    }
    // Thousands of literals (every tool-use id) outgrow the default size limit.
    regex::bytes::RegexBuilder::new(&format!("(?-u){}", alts.join("|")))
        .size_limit(256 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .map_err(io::Error::other)
}

/// The ranges of the ids in `bytes`; quotes around short named ids are left out.
fn find_ids(re: &Regex, bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for m in re.find_iter(bytes) {
        let (mut s, mut e) = (m.start(), m.end());
        if bytes[s] == b'"' {
            s += 1;
            e -= 1;
        } else if (s > 0 && is_word(bytes[s - 1])) || bytes.get(e).is_some_and(|c| is_word(*c)) {
            // Part of a longer word (`xmsg_count`), not an id.
            continue;
        }
        out.push((s, e));
    }
    out
}

/// Splits a fixture path into the folder that plays its project directory
/// (flattened to one name) and the path below it. The project directory is the one
/// under a `projects` folder when there is one, else the folder above a session's
/// `<session>/subagents/`, else the file's folder.
fn split_project(rel: &Path) -> (String, PathBuf) {
    let comps: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let n = comps.len();
    let root = if let Some(i) = comps.iter().position(|c| c == "projects").filter(|i| i + 2 < n) {
        i + 2
    } else if let Some(i) = comps.iter().rposition(|c| c == "subagents").filter(|i| *i >= 1) {
        i - 1
    } else {
        n - 1
    };
    let project = comps[..root].join("-");
    let inner: PathBuf = comps[root..].iter().collect();
    (if project.is_empty() { "fixtures".to_owned() } else { project }, inner)
}

/// A deterministic generator for one id in one copy (splitmix64 seeded by FNV-1a
/// of the seed, the copy number and the id), so the mapping needs no table.
struct Mix(u64);

impl Mix {
    fn new(seed: u64, copy: u64, id: &[u8]) -> Mix {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.to_le_bytes().iter().chain(&copy.to_le_bytes()).chain(id) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        Mix(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        alphabet[(self.next() % alphabet.len() as u64) as usize]
    }
}

const HEX: &[u8] = b"0123456789abcdef";
const HEX_UP: &[u8] = b"0123456789ABCDEF";
const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The fresh id standing for `id` in copy `copy`, in the same shape: a uuid stays a
/// uuid (version and variant kept), a prefixed id keeps its prefix and length, a
/// hex id stays hex of the same length; an id of no such shape (`sess-1`) gets the
/// copy number appended, which keeps copies apart even when it is short.
pub fn fresh(seed: u64, copy: u64, id: &[u8]) -> Vec<u8> {
    let mut rng = Mix::new(seed, copy, id);
    if is_uuid(id) {
        let upper = id.iter().any(|c| c.is_ascii_uppercase());
        let alphabet = if upper { HEX_UP } else { HEX };
        return id
            .iter()
            .enumerate()
            .map(|(i, c)| match i {
                8 | 13 | 14 | 18 | 19 | 23 => *c,
                _ => rng.pick(alphabet),
            })
            .collect();
    }
    if let Some(p) = PREFIXES.iter().find(|p| id.starts_with(p.as_bytes())) {
        let mut out = p.as_bytes().to_vec();
        out.extend(id[p.len()..].iter().map(|c| if c.is_ascii_alphanumeric() { rng.pick(B62) } else { *c }));
        return out;
    }
    if id.len() >= SHORT && id.iter().all(|c| HEX.contains(c)) {
        return id.iter().map(|_| rng.pick(HEX)).collect();
    }
    let mut out = id.to_vec();
    out.extend_from_slice(format!("-c{copy}").as_bytes());
    out
}

/// Writes copies of the fixtures under `out/projects` until `spec.target_bytes`.
pub fn replicate(out: &Path, spec: &RealSpec) -> io::Result<CorpusStats> {
    let r = Replicator::new(&spec.fixtures, spec.seed)?;
    let mut stats = CorpusStats::default();
    let mut copy = 0;
    while copy == 0 || stats.bytes < spec.target_bytes {
        r.write_copy(out, copy, &mut stats)?;
        copy += 1;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests;
