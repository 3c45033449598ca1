//! Runs scenarios through the real pipeline and scores the engine line by line.
//!
//! Two modes, both in the default run:
//! - whole store: every scenario's transcripts in ONE on-disk store, as a user's
//!   `~/.claude` holds all their projects, indexed file by file in a shuffled order;
//!   each scenario's file is then blamed in its own checkout against that store. Many
//!   projects share relative paths (README.md, src/main.rs…), so every other project
//!   is a candidate history.
//! - per project: each scenario alone in an in-memory store (the old figure).
//!
//! A line is correct when the engine names the tool call that truly wrote it AND
//! reports the conversation that owns that call: the parent's session for a
//! subagent's call, the first session for a call a `--resume` copied. The right call
//! under another conversation (an `agent-…` id, the resuming session) is counted
//! apart, as "right call, wrong conversation", and is an error.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use observatory_attribution::blame::{blame, Blame};
use observatory_store::Store;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::record::Conversation;
use crate::scenario::{self, Scenario, KINDS};

/// Line counts over some scenarios.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub scenarios: usize,
    pub lines: usize,
    /// Lines some agent call truly wrote.
    pub agent: usize,
    /// Lines the engine attributed.
    pub attributed: usize,
    /// Attributed to the call that truly wrote them, under the owning conversation.
    pub correct: usize,
    /// Attributed to the right call but reported under another conversation.
    pub wrong_conversation: usize,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.scenarios += o.scenarios;
        self.lines += o.lines;
        self.agent += o.agent;
        self.attributed += o.attributed;
        self.correct += o.correct;
        self.wrong_conversation += o.wrong_conversation;
    }

    fn errors(&self) -> usize {
        (self.attributed - self.correct) + (self.agent - self.correct)
    }

    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.attributed)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.correct, self.agent)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

pub fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// One scored scenario.
#[derive(Default)]
struct Scored {
    /// `git blame` rules.
    tally: Tally,
    /// "Ignore whitespace" (`git blame -w`) rules.
    ws: Tally,
    /// Why each wrong line is wrong (`git blame` rules), by cause.
    causes: BTreeMap<String, usize>,
    unplaced: usize,
    /// Recorded writes the engine considered that were not of this file.
    foreign_writes: usize,
}

/// Where a scenario's transcripts and local checkout are written.
pub struct Laid {
    _dir: tempfile::TempDir,
    pub claude: PathBuf,
    pub root: PathBuf,
    pub file: PathBuf,
}

fn temp_dir(keep: bool) -> Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new()
        .prefix("observatory-attr-")
        .tempdir()
        .context("temporary directory")?;
    if keep {
        dir.disable_cleanup(true);
    }
    Ok(dir)
}

/// Writes a scenario's transcript files under `claude`: one per conversation, the
/// inline (1.0.x) subagents merged into their parent's file. Returns their paths.
fn write_transcripts(s: &Scenario, claude: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (k, c) in s.convs.iter().enumerate() {
        if c.is_empty() || c.host.is_some() {
            continue;
        }
        let inline: Vec<&Conversation> = s
            .convs
            .iter()
            .filter(|x| x.host == Some(k) && !x.is_empty())
            .collect();
        out.push(c.write(claude, &inline)?);
    }
    Ok(out)
}

fn write_file(path: &Path, content: &str) -> Result<()> {
    let parent = path.parent().context("file path has no parent")?;
    std::fs::create_dir_all(parent)?;
    std::fs::write(path, content).with_context(|| path.display().to_string())
}

/// The project's other files, in the checkout beside the file as in a real one (the
/// engine takes a path the agent wrote that is no longer there for one a person may
/// have moved the file from).
fn lay_out_others(s: &Scenario, root: &Path) -> Result<()> {
    std::fs::create_dir_all(root)?;
    for (rel, content) in &s.others {
        write_file(&root.join(rel), content)?;
    }
    Ok(())
}

/// One scenario alone in its own directory.
pub fn lay_out(s: &Scenario, keep: bool) -> Result<Laid> {
    let dir = temp_dir(keep)?;
    let claude = dir.path().join("claude");
    write_transcripts(s, &claude)?;
    let root = dir.path().join(&s.root_name);
    let file = root.join(&s.rel);
    lay_out_others(s, &root)?;
    if keep {
        // The file itself, for `observatory blame` by hand.
        write_file(&file, &s.content())?;
    }
    Ok(Laid {
        _dir: dir,
        claude,
        root,
        file,
    })
}

/// Every scenario's transcripts in one on-disk store, and every checkout beside it.
pub struct WholeStore {
    dir: tempfile::TempDir,
    pub store: Store,
    /// Transcript files, in the order they were indexed.
    pub files: usize,
    pub index_time: Duration,
}

impl WholeStore {
    fn checkout(&self, s: &Scenario) -> (PathBuf, PathBuf) {
        let root = self.dir.path().join("projects").join(&s.root_name);
        let file = root.join(&s.rel);
        (root, file)
    }

    fn blame(&self, s: &Scenario) -> Result<Blame> {
        let (root, file) = self.checkout(s);
        Ok(blame(&self.store, &file, &root, &s.content(), &[])?)
    }
}

/// Lays out all scenarios under one Claude directory and indexes its files one by
/// one in a shuffled order (a resumed copy may come before its original), into a
/// real SQLite store on disk.
fn whole_store(scenarios: &[Scenario], seed: u64, keep: bool) -> Result<WholeStore> {
    let dir = temp_dir(keep)?;
    let claude = dir.path().join("claude");
    let mut files = Vec::new();
    for s in scenarios {
        files.extend(write_transcripts(s, &claude)?);
        let root = dir.path().join("projects").join(&s.root_name);
        write_file(&root.join(&s.rel), &s.content())?;
        lay_out_others(s, &root)?;
    }
    files.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut store = Store::open(&dir.path().join("store.db")).context("opening the store")?;
    let t = Instant::now();
    for f in &files {
        store
            .index_path(f)
            .with_context(|| format!("indexing {}", f.display()))?;
    }
    Ok(WholeStore {
        dir,
        store,
        files: files.len(),
        index_time: t.elapsed(),
    })
}

/// `s` blamed in a store of its own transcripts.
pub fn blame_alone(s: &Scenario) -> Result<Blame> {
    let laid = lay_out(s, false)?;
    run_alone(s, &laid)
}

/// Precision and recall of `b` on `s` against `truth` (one call index per line).
pub fn tally_against(s: &Scenario, b: &Blame, truth: &[Option<u32>]) -> Tally {
    tally(s, b, truth, None)
}

fn run_alone(s: &Scenario, laid: &Laid) -> Result<Blame> {
    let mut store = Store::open_in_memory()?;
    store.index_roots(std::slice::from_ref(&laid.claude), &mut |_| {})?;
    Ok(blame(&store, &laid.file, &laid.root, &s.content(), &[])?)
}

fn describe(s: &Scenario, i: usize) -> String {
    let l = &s.lines[i];
    let mut d = if l.text.trim().is_empty() {
        format!("blank line {}", l.how)
    } else {
        l.how.to_string()
    };
    if let Some(c) = l.owner.and_then(|c| s.calls.get(c as usize)) {
        if c.subagent {
            d.push_str(" (a subagent's call)");
        }
    }
    if l.moved {
        d.push_str(", moved");
    }
    if l.respaced {
        d.push_str(", re-spaced");
    }
    d
}

/// Precision and recall of `b` on `s` (`git blame` rules).
pub fn score_blame(s: &Scenario, b: &Blame) -> Tally {
    score(s, b).tally
}

/// Scores `b` against `truth`; with `causes`, records why each wrong line is wrong.
fn tally(
    s: &Scenario,
    b: &Blame,
    truth: &[Option<u32>],
    mut causes: Option<&mut BTreeMap<String, usize>>,
) -> Tally {
    let mut t = Tally {
        scenarios: 1,
        lines: truth.len(),
        ..Tally::default()
    };
    for (i, want) in truth.iter().enumerate() {
        let want = want.and_then(|c| s.calls.get(c as usize));
        let write = b
            .lines
            .get(i)
            .copied()
            .flatten()
            .and_then(|o| b.writes.get(o as usize));
        t.agent += usize::from(want.is_some());
        t.attributed += usize::from(write.is_some());
        let cause = match (want, write) {
            (None, None) => continue,
            (Some(c), Some(w)) if c.id == w.tool_use_id => {
                if c.session == w.session_id {
                    t.correct += 1;
                    continue;
                }
                t.wrong_conversation += 1;
                let to = if w.session_id.starts_with("agent-") {
                    "an agent-… conversation"
                } else if c.subagent {
                    "another conversation"
                } else {
                    "the resuming session"
                };
                format!("right call, credited to {to}: {}", describe(s, i))
            }
            (Some(_), None) => format!("missed: {}", describe(s, i)),
            (want, Some(w)) => {
                let to = match s.calls.iter().find(|c| c.id == w.tool_use_id) {
                    None => "given to another project's call",
                    Some(c) if !c.ours => "given to another file's call",
                    _ if want.is_none() => "a person's line given to a call",
                    _ => "given to the wrong call",
                };
                // The call the engine chose, and what its record had.
                let call = match (&w.change, w.tool.as_str()) {
                    (c, "Write") if c.created == Some(true) => "Write create".to_owned(),
                    (c, tool) if c.original.is_some() || !c.hunks.is_empty() => tool.to_owned(),
                    (c, tool) if c.created.is_some() => format!("{tool}, no originalFile"),
                    (_, tool) => format!("{tool}, tool input only"),
                };
                format!("{to} ({call}): {}", describe(s, i))
            }
        };
        if let Some(c) = causes.as_deref_mut() {
            *c.entry(cause).or_default() += 1;
        }
    }
    t
}

fn score(s: &Scenario, b: &Blame) -> Scored {
    let mut causes = BTreeMap::new();
    let tally_blame = tally(s, b, &s.truth(), Some(&mut causes));
    let ws = tally(s, b, &s.truth_ws(), None);
    let ours: Vec<&str> = s
        .calls
        .iter()
        .filter(|c| c.ours)
        .map(|c| c.id.as_str())
        .collect();
    Scored {
        tally: tally_blame,
        ws,
        causes,
        unplaced: b.unplaced.len(),
        foreign_writes: b
            .writes
            .iter()
            .filter(|w| !ours.contains(&w.tool_use_id.as_str()))
            .count(),
    }
}

/// Totals of one mode.
#[derive(Default)]
struct Totals {
    all: Tally,
    ws: Tally,
    per_kind: Vec<Tally>,
    kind_causes: Vec<BTreeMap<String, usize>>,
    causes: BTreeMap<String, usize>,
    worst: Vec<(usize, usize, String)>,
    engine_time: Duration,
}

impl Totals {
    fn new() -> Totals {
        Totals {
            per_kind: vec![Tally::default(); KINDS.len()],
            kind_causes: vec![BTreeMap::new(); KINDS.len()],
            ..Totals::default()
        }
    }

    fn add(&mut self, s: &Scenario, sc: &Scored) {
        self.all.add(&sc.tally);
        self.ws.add(&sc.ws);
        for (k, (kind, _)) in KINDS.iter().enumerate() {
            if s.has(*kind) {
                self.per_kind[k].add(&sc.tally);
                for (c, m) in &sc.causes {
                    *self.kind_causes[k].entry(c.clone()).or_default() += m;
                }
            }
        }
        for (c, m) in &sc.causes {
            *self.causes.entry(c.clone()).or_default() += m;
        }
        let errors = sc.tally.errors();
        if errors > 0 {
            self.worst.push((errors, s.index, reason(s, sc)));
        }
    }
}

fn top_causes(causes: &BTreeMap<String, usize>, n: usize) -> String {
    let mut v: Vec<_> = causes.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .take(n)
        .map(|(c, m)| format!("{m} {c}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn run(seed: u64, n: usize, verbose: bool) -> Result<()> {
    let started = Instant::now();
    eprintln!("generating {n} scenarios (seed {seed})…");
    let scenarios: Vec<Scenario> = (0..n)
        .map(|i| scenario::generate(seed, i))
        .collect::<Result<_>>()?;
    let records: usize = scenarios
        .iter()
        .flat_map(|s| &s.convs)
        .map(Conversation::len)
        .sum();

    eprintln!("whole store: laying out and indexing…");
    let ws = whole_store(&scenarios, seed, false)?;
    let mut whole = Totals::new();
    for s in &scenarios {
        let t = Instant::now();
        let b = ws
            .blame(s)
            .with_context(|| format!("scenario {} (whole store)", s.index))?;
        whole.engine_time += t.elapsed();
        let sc = score(s, &b);
        if verbose && sc.tally.errors() > 0 {
            println!(
                "scenario {} (whole store): {} wrong of {} lines: {}",
                s.index,
                sc.tally.errors(),
                sc.tally.lines,
                reason(s, &sc)
            );
        }
        whole.add(s, &sc);
        if (s.index + 1) % 100 == 0 {
            eprintln!("whole store: {} scenarios blamed…", s.index + 1);
        }
    }

    eprintln!("per project: each scenario alone…");
    let mut alone = Totals::new();
    for s in &scenarios {
        let laid = lay_out(s, false)?;
        let t = Instant::now();
        let b = run_alone(s, &laid).with_context(|| format!("scenario {}", s.index))?;
        alone.engine_time += t.elapsed();
        alone.add(s, &score(s, &b));
    }

    let shared = {
        let mut by_rel: HashMap<&str, usize> = HashMap::new();
        for s in &scenarios {
            *by_rel.entry(s.rel.as_str()).or_default() += 1;
        }
        by_rel.values().filter(|&&c| c > 1).sum::<usize>()
    };
    println!("\n## Attribution accuracy (simulator seed {seed}, {n} scenarios)\n");
    println!(
        "Corpus: `observatory-attribution-bench` scenarios 0..{n} of seed {seed}; {records} transcript records in {} files; {shared} of the {n} projects share their file's relative path with another project.\n",
        ws.files
    );
    println!("| mode | scenarios | lines | agent lines (truth) | attributed | precision | recall | precision `-w` | recall `-w` | right call, wrong conversation |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, t) in [
        ("whole store (one on-disk store)", &whole),
        ("per project (each alone)", &alone),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | **{}** | **{}** | {} | {} | {} |",
            t.all.scenarios,
            t.all.lines,
            t.all.agent,
            t.all.attributed,
            pct(t.all.precision()),
            pct(t.all.recall()),
            pct(t.ws.precision()),
            pct(t.ws.recall()),
            t.all.wrong_conversation
        );
    }
    println!("\nTargets: precision >= 99.5%, recall >= 98%, in both modes.");
    println!(
        "Whole store: {} files indexed in {:.1} s, blame {:.1} ms per scenario; per project: index + blame {:.1} ms per scenario; {:.1} s in all.",
        ws.files,
        ws.index_time.as_secs_f64(),
        whole.engine_time.as_secs_f64() * 1e3 / n.max(1) as f64,
        alone.engine_time.as_secs_f64() * 1e3 / n.max(1) as f64,
        started.elapsed().as_secs_f64()
    );

    println!("\n### By class (scenarios containing it; `git blame` rules)\n");
    println!("| class | scenarios | lines | whole store precision | recall | per project precision | recall | most common errors (whole store) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for (k, (_, name)) in KINDS.iter().enumerate() {
        let (t, a) = (&whole.per_kind[k], &alone.per_kind[k]);
        if t.scenarios > 0 {
            println!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                t.scenarios,
                t.lines,
                pct(t.precision()),
                pct(t.recall()),
                pct(a.precision()),
                pct(a.recall()),
                top_causes(&whole.kind_causes[k], 2)
            );
        }
    }

    println!("\n### Wrong lines by cause\n");
    println!("| cause | whole store | per project |");
    println!("|---|---:|---:|");
    let mut causes: Vec<(&String, usize, usize)> = whole
        .causes
        .iter()
        .map(|(c, m)| (c, *m, alone.causes.get(c).copied().unwrap_or(0)))
        .collect();
    for (c, m) in &alone.causes {
        if !whole.causes.contains_key(c) {
            causes.push((c, 0, *m));
        }
    }
    causes.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then(a.0.cmp(b.0)));
    for (c, m, a) in causes.iter().take(25) {
        println!("| {c} | {m} | {a} |");
    }

    whole
        .worst
        .sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    println!("\n### Worst scenarios (whole store)\n");
    println!("| scenario | wrong lines | reason |");
    println!("|---:|---:|---|");
    for (errors, i, why) in whole.worst.iter().take(5) {
        println!("| {i} | {errors} | {why} |");
    }
    println!(
        "\n{} of {n} scenarios have at least one wrong line in the whole store, {} alone. Inspect one with `--scenario N` (whole store of `--scenarios` projects; add `--per-project` for it alone).",
        whole.worst.len(),
        alone.worst.len(),
    );
    Ok(())
}

/// A one-line explanation of a scenario's errors: the main cause and what it had.
fn reason(s: &Scenario, sc: &Scored) -> String {
    let main = top_causes(&sc.causes, 2);
    let mut extra = Vec::new();
    if sc.foreign_writes > 0 {
        extra.push(format!(
            "{} writes of other files matched the path",
            sc.foreign_writes
        ));
    }
    if sc.unplaced > 0 {
        extra.push(format!("{} changes unplaced", sc.unplaced));
    }
    extra.push(format!("has: {}", kinds_of(s)));
    format!("{main} ({})", extra.join("; "))
}

fn kinds_of(s: &Scenario) -> String {
    KINDS
        .iter()
        .filter(|(k, _)| s.has(*k))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints one scenario: its events, and truth and engine side by side where they
/// differ (with a little context). Blamed in a whole store of `n` scenarios, or
/// alone with `per_project`; the files are kept.
pub fn show(seed: u64, n: usize, index: usize, per_project: bool) -> Result<()> {
    let s = scenario::generate(seed, index)?;
    let (b, kept) = if per_project {
        let laid = lay_out(&s, true)?;
        (run_alone(&s, &laid)?, parent(&laid.claude).to_path_buf())
    } else {
        eprintln!("building a whole store of {} scenarios…", n.max(index + 1));
        let scenarios: Vec<Scenario> = (0..n.max(index + 1))
            .map(|i| scenario::generate(seed, i))
            .collect::<Result<_>>()?;
        let ws = whole_store(&scenarios, seed, true)?;
        let kept = ws.dir.path().to_path_buf();
        (ws.blame(&s)?, kept)
    };
    let sc = score(&s, &b);
    println!(
        "scenario {} ({:?}, {}, checkout {}) in {}",
        s.index,
        s.lang,
        s.rel,
        s.root_name,
        if per_project {
            "its own store"
        } else {
            "the whole store"
        }
    );
    println!("has: {}", kinds_of(&s));
    println!("files kept in {}", kept.display());
    for l in &s.log {
        println!("  {l}");
    }
    println!("\nconversations:");
    for (k, c) in s.convs.iter().enumerate() {
        println!(
            "  [{k}] {} {} {}{}",
            c.session_id,
            c.version,
            c.cwd,
            c.agent
                .as_ref()
                .map(|(id, l)| format!(" subagent {id} ({l:?})"))
                .unwrap_or_default()
        );
    }
    println!("\nrecorded writes considered:");
    for (k, w) in b.writes.iter().enumerate() {
        let ours = s.calls.iter().position(|c| c.id == w.tool_use_id);
        println!(
            "  [{k}] {} {} {} session={} call={ours:?}{}",
            w.tool,
            w.tool_use_id,
            w.path,
            w.session_id,
            if b.unplaced.contains(&(k as u32)) {
                " UNPLACED"
            } else {
                ""
            }
        );
    }
    let truth = s.truth();
    println!("\n  line | truth | engine | text");
    // The engine's answer as a call index, `!` when its conversation is not the
    // owner's, `?` when the call is not this scenario's.
    let got_of = |i: usize| -> Option<String> {
        let w = b
            .lines
            .get(i)
            .copied()
            .flatten()
            .and_then(|o| b.writes.get(o as usize))?;
        Some(match s.calls.iter().position(|c| c.id == w.tool_use_id) {
            Some(c) if s.calls[c].session == w.session_id => c.to_string(),
            Some(c) => format!("{c}!"),
            None => "?".to_owned(),
        })
    };
    let bad: Vec<bool> = truth
        .iter()
        .enumerate()
        .map(|(i, t)| got_of(i) != t.map(|c| c.to_string()))
        .collect();
    for (i, t) in truth.iter().enumerate() {
        let near = (i.saturating_sub(2)..=(i + 2).min(truth.len() - 1)).any(|j| bad[j]);
        if !near {
            continue;
        }
        let fmt = |x: Option<String>| x.unwrap_or_else(|| "-".to_owned());
        println!(
            "{} {:>4} | {:>5} | {:>6} | {}   [{}]",
            if bad[i] { "!" } else { " " },
            i + 1,
            fmt(t.map(|c| c.to_string())),
            fmt(got_of(i)),
            s.lines[i].text,
            describe(&s, i)
        );
    }
    let (t, w) = (sc.tally, sc.ws);
    println!(
        "\n{} lines, {} agent, {} attributed, {} correct ({} right call, wrong conversation): precision {}, recall {}; ignoring whitespace {} / {}",
        t.lines,
        t.agent,
        t.attributed,
        t.correct,
        t.wrong_conversation,
        pct(t.precision()),
        pct(t.recall()),
        pct(w.precision()),
        pct(w.recall())
    );
    Ok(())
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(p)
}
