//! Runs scenarios through the real pipeline and scores the engine line by line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use observatory_attribution::blame::{blame, Blame};
use observatory_store::Store;

use crate::scenario::{self, Kind, Scenario, KINDS};

/// Line counts over some scenarios.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub scenarios: usize,
    pub lines: usize,
    /// Lines some agent call truly wrote.
    pub agent: usize,
    /// Lines the engine attributed.
    pub attributed: usize,
    /// Attributed to the call that truly wrote them.
    pub correct: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.scenarios += o.scenarios;
        self.lines += o.lines;
        self.agent += o.agent;
        self.attributed += o.attributed;
        self.correct += o.correct;
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
struct Scored {
    tally: Tally,
    /// Why each wrong line is wrong, by cause.
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

pub fn lay_out(s: &Scenario, keep: bool) -> Result<Laid> {
    let mut dir = tempfile::Builder::new()
        .prefix("observatory-attr-")
        .tempdir()
        .context("temporary directory")?;
    if keep {
        dir.disable_cleanup(true);
    }
    let claude = dir.path().join("claude");
    for c in &s.convs {
        if !c.is_empty() {
            c.write(&claude)?;
        }
    }
    let root = dir.path().join(&s.root_name);
    let file = root.join(&s.rel);
    if keep {
        // The file itself, for `observatory blame` by hand.
        let parent = file.parent().context("file path has no parent")?;
        std::fs::create_dir_all(parent)?;
        std::fs::write(&file, s.content()).with_context(|| file.display().to_string())?;
    }
    Ok(Laid {
        _dir: dir,
        claude,
        root,
        file,
    })
}

fn run_engine(s: &Scenario, laid: &Laid) -> Result<Blame> {
    let mut store = Store::open_in_memory()?;
    store.index_roots(std::slice::from_ref(&laid.claude), &mut |_| {})?;
    Ok(blame(&store, &laid.file, &laid.root, &s.content(), &[])?)
}

fn describe(s: &Scenario, i: usize) -> String {
    let l = &s.lines[i];
    let mut d = if l.text.trim().is_empty() {
        "blank line".to_owned()
    } else {
        l.how.to_string()
    };
    if l.moved {
        d.push_str(", moved");
    }
    if l.respaced {
        d.push_str(", re-spaced");
    }
    d
}

/// Precision and recall of `b` on `s`.
pub fn score_blame(s: &Scenario, b: &Blame) -> Tally {
    score(s, b).tally
}

fn score(s: &Scenario, b: &Blame) -> Scored {
    let truth = s.truth();
    let mut t = Tally {
        scenarios: 1,
        lines: truth.len(),
        ..Tally::default()
    };
    let mut causes: BTreeMap<String, usize> = BTreeMap::new();
    for (i, want) in truth.iter().enumerate() {
        let want = want.map(|c| s.calls[c as usize].id.as_str());
        let write = b
            .lines
            .get(i)
            .copied()
            .flatten()
            .map(|o| &b.writes[o as usize]);
        let got = write.map(|w| w.tool_use_id.as_str());
        t.agent += usize::from(want.is_some());
        t.attributed += usize::from(got.is_some());
        if got.is_some() && got == want {
            t.correct += 1;
            continue;
        }
        let cause = match (want, write) {
            (None, None) => continue,
            (Some(_), None) => format!("missed: {}", describe(s, i)),
            (want, Some(w)) => {
                let to = if s.calls.iter().any(|c| c.id == w.tool_use_id && !c.ours) {
                    "given to another file's call"
                } else if want.is_none() {
                    "a person's line given to a call"
                } else {
                    "given to the wrong call"
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
        *causes.entry(cause).or_default() += 1;
    }
    let ours: Vec<&str> = s
        .calls
        .iter()
        .filter(|c| c.ours)
        .map(|c| c.id.as_str())
        .collect();
    Scored {
        tally: t,
        causes,
        unplaced: b.unplaced.len(),
        foreign_writes: b
            .writes
            .iter()
            .filter(|w| !ours.contains(&w.tool_use_id.as_str()))
            .count(),
    }
}

pub fn run(seed: u64, n: usize, verbose: bool) -> Result<()> {
    let started = Instant::now();
    let mut all = Tally::default();
    let mut per_kind: Vec<Tally> = vec![Tally::default(); KINDS.len()];
    let mut without_foreign = Tally::default();
    let mut modern = Tally::default();
    // Lines per cause: in all scenarios, and in those with current records only.
    let mut causes: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut worst: Vec<(usize, usize, String)> = Vec::new();
    let mut records = 0usize;
    let mut engine_time = Duration::ZERO;
    for i in 0..n {
        let s = scenario::generate(seed, i)?;
        records += s.convs.iter().map(|c| c.len()).sum::<usize>();
        let laid = lay_out(&s, false)?;
        let t = Instant::now();
        let b = run_engine(&s, &laid).with_context(|| format!("scenario {i}"))?;
        engine_time += t.elapsed();
        let sc = score(&s, &b);
        all.add(&sc.tally);
        for (k, (kind, _)) in KINDS.iter().enumerate() {
            if s.has(*kind) {
                per_kind[k].add(&sc.tally);
            }
        }
        if !s.has(Kind::ForeignSamePath) {
            without_foreign.add(&sc.tally);
            if !s.has(Kind::Strings) {
                modern.add(&sc.tally);
            }
        }
        let current = !s.has(Kind::ForeignSamePath) && !s.has(Kind::Strings);
        for (c, m) in &sc.causes {
            let e = causes.entry(c.clone()).or_default();
            e.0 += m;
            if current {
                e.1 += m;
            }
        }
        let errors = sc.tally.errors();
        if verbose && errors > 0 {
            println!(
                "scenario {i}: {errors} wrong of {} lines, precision {}, recall {}: {}",
                sc.tally.lines,
                pct(sc.tally.precision()),
                pct(sc.tally.recall()),
                reason(&s, &sc)
            );
        }
        if errors > 0 {
            worst.push((errors, i, reason(&s, &sc)));
        }
        if (i + 1) % 100 == 0 {
            eprintln!("{} scenarios…", i + 1);
        }
    }
    worst.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    println!("\n## Attribution accuracy (seed {seed})\n");
    println!("| scenarios | lines | agent lines (truth) | attributed | precision | recall |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for (name, t) in [
        ("all", &all),
        ("all but other-project same path", &without_foreign),
        ("and no old-version records", &modern),
    ] {
        println!(
            "| {} ({name}) | {} | {} | {} | **{}** | **{}** |",
            t.scenarios,
            t.lines,
            t.agent,
            t.attributed,
            pct(t.precision()),
            pct(t.recall())
        );
    }
    println!("\nTargets: precision >= 99.5%, recall >= 98%.");
    println!(
        "{records} transcript records; index + blame {:.1} ms per scenario on average; {:.1} s in all.",
        engine_time.as_secs_f64() * 1e3 / n.max(1) as f64,
        started.elapsed().as_secs_f64()
    );

    println!("\n### By situation (scenarios containing it)\n");
    println!("| situation | scenarios | lines | precision | recall |");
    println!("|---|---:|---:|---:|---:|");
    for (k, (_, name)) in KINDS.iter().enumerate() {
        let t = &per_kind[k];
        if t.scenarios > 0 {
            println!(
                "| {name} | {} | {} | {} | {} |",
                t.scenarios,
                t.lines,
                pct(t.precision()),
                pct(t.recall())
            );
        }
    }

    println!("\n### Wrong lines by cause\n");
    println!("| cause | lines | of which with current records only |");
    println!("|---|---:|---:|");
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    for (c, (m, cur)) in causes.iter().take(25) {
        println!("| {c} | {m} | {cur} |");
    }

    println!("\n### Worst scenarios\n");
    println!("| scenario | wrong lines | reason |");
    println!("|---:|---:|---|");
    for (errors, i, why) in worst.iter().take(5) {
        println!("| {i} | {errors} | {why} |");
    }
    println!(
        "\n{} of {} scenarios have at least one wrong line. Inspect one with `--scenario N`.",
        worst.len(),
        n
    );
    Ok(())
}

/// A one-line explanation of a scenario's errors: the main cause and what it had.
fn reason(s: &Scenario, sc: &Scored) -> String {
    let mut causes: Vec<_> = sc.causes.iter().collect();
    causes.sort_by(|a, b| b.1.cmp(a.1));
    let main = causes
        .iter()
        .take(2)
        .map(|(c, m)| format!("{m} {c}"))
        .collect::<Vec<_>>()
        .join("; ");
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
    let kinds: Vec<&str> = KINDS
        .iter()
        .filter(|(k, _)| s.has(*k))
        .map(|(_, n)| *n)
        .collect();
    extra.push(format!("has: {}", kinds.join(", ")));
    format!("{main} ({})", extra.join("; "))
}

/// Prints one scenario: its events, and truth and engine side by side where they
/// differ (with a little context).
pub fn show(seed: u64, index: usize) -> Result<()> {
    let s = scenario::generate(seed, index)?;
    let laid = lay_out(&s, true)?;
    let b = run_engine(&s, &laid)?;
    let sc = score(&s, &b);
    println!("scenario {} ({:?}, {})", s.index, s.lang, s.rel);
    let kinds: Vec<&str> = KINDS
        .iter()
        .filter(|(k, _)| s.has(*k))
        .map(|(_, n)| *n)
        .collect();
    println!("has: {}", kinds.join(", "));
    println!("files kept in {}", parent(&laid.claude).display());
    for l in &s.log {
        println!("  {l}");
    }
    println!("\nrecorded writes considered:");
    for (k, w) in b.writes.iter().enumerate() {
        let ours = s.calls.iter().position(|c| c.id == w.tool_use_id);
        println!(
            "  [{k}] {} {} {} call={ours:?}{}",
            w.tool,
            w.tool_use_id,
            w.path,
            if b.unplaced.contains(&(k as u32)) {
                " UNPLACED"
            } else {
                ""
            }
        );
    }
    let truth = s.truth();
    println!("\n  line | truth | engine | text");
    let call_of = |id: &str| s.calls.iter().position(|c| c.id == id);
    let bad: Vec<bool> = truth
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let got = b.lines.get(i).copied().flatten();
            let got = got.and_then(|o| call_of(&b.writes[o as usize].tool_use_id));
            got != t.map(|c| c as usize)
        })
        .collect();
    for (i, t) in truth.iter().enumerate() {
        let near = (i.saturating_sub(2)..=(i + 2).min(truth.len() - 1)).any(|j| bad[j]);
        if !near {
            continue;
        }
        let got = b.lines.get(i).copied().flatten();
        let got = got.and_then(|o| call_of(&b.writes[o as usize].tool_use_id));
        let fmt = |x: Option<usize>| x.map_or("-".to_owned(), |c| c.to_string());
        println!(
            "{} {:>4} | {:>5} | {:>6} | {}   [{}]",
            if bad[i] { "!" } else { " " },
            i + 1,
            fmt(t.map(|c| c as usize)),
            fmt(got),
            s.lines[i].text,
            describe(&s, i)
        );
    }
    let t = sc.tally;
    println!(
        "\n{} lines, {} agent, {} attributed, {} correct: precision {}, recall {}",
        t.lines,
        t.agent,
        t.attributed,
        t.correct,
        pct(t.precision()),
        pct(t.recall())
    );
    Ok(())
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(p)
}
