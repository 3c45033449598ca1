//! How long attribution of a large, much-edited file takes: the full replay + map,
//! and the incremental map after a small buffer change with the replay reused.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use observatory_attribution::blame::{history_of, Blame};
use observatory_attribution::{replay, Replay};
use observatory_store::{RecordedWrite, Store};
use observatory_transcript::FileChange;

use crate::accuracy::{self, pct};
use crate::scenario;

/// Runs of each measure: up to `MAX_RUNS`, fewer when one takes long (at least
/// `MIN_RUNS`, or whatever fits in `BUDGET`).
const MAX_RUNS: usize = 15;
const MIN_RUNS: usize = 3;
const BUDGET: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
    runs: usize,
}

impl Timing {
    fn of(mut v: Vec<Duration>) -> Timing {
        v.sort();
        Timing {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
            runs: v.len(),
        }
    }
}

/// Times `f` (which reports the durations of its own two phases) over several runs:
/// the first phase, the second, and both.
fn time2(mut f: impl FnMut() -> (Duration, Duration)) -> (Timing, Timing, Timing) {
    let started = Instant::now();
    let (mut a, mut b, mut both) = (Vec::new(), Vec::new(), Vec::new());
    while both.len() < MAX_RUNS && (both.len() < MIN_RUNS || started.elapsed() < BUDGET) {
        let (x, y) = f();
        a.push(x);
        b.push(y);
        both.push(x + y);
    }
    (Timing::of(a), Timing::of(b), Timing::of(both))
}

fn time<T>(mut f: impl FnMut() -> T) -> Timing {
    time2(|| {
        let t = Instant::now();
        black_box(f());
        (t.elapsed(), Duration::ZERO)
    })
    .0
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The content after a person's small change: a line typed in the middle and
/// another line edited.
fn small_change(content: &str) -> String {
    let mut lines: Vec<&str> = content.split_terminator('\n').collect();
    let mid = lines.len() / 2;
    lines.insert(mid, "    let retry_budget = 3; // typed in the editor");
    let edited = format!("{} // checked", lines[mid + 10]);
    lines[mid + 10] = &edited;
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The same writes as old versions record them: the tool input only.
fn without_results(writes: &[RecordedWrite]) -> Vec<RecordedWrite> {
    writes
        .iter()
        .map(|w| RecordedWrite {
            change: FileChange {
                original: None,
                hunks: Vec::new(),
                created: None,
                ..w.change.clone()
            },
            ..w.clone()
        })
        .collect()
}

pub fn run(seed: u64, lines: usize, edits: usize, keep: bool) -> Result<()> {
    eprintln!("speed: generating a {lines}-line file with {edits} recorded writes…");
    let s = scenario::long_history(seed, lines, edits)?;
    let laid = accuracy::lay_out(&s, keep)?;
    if keep {
        eprintln!("speed: files kept in {}", laid.root.display());
    }
    let mut store = Store::open_in_memory()?;
    let t = Instant::now();
    store.index_roots(std::slice::from_ref(&laid.claude), &mut |_| {})?;
    eprintln!("speed: indexed in {:.1} s", t.elapsed().as_secs_f64());
    let query = time(|| history_of(&store, &laid.file, &laid.root, &[]));
    let writes = history_of(&store, &laid.file, &laid.root, &[])?;
    let content = s.content();
    let changed = small_change(&content);
    let n_lines = content.lines().count();

    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut quality = Vec::new();
    for (variant, ws) in [
        ("structuredPatch + originalFile", writes.clone()),
        (
            "tool input only (string fallback)",
            without_results(&writes),
        ),
    ] {
        let changes: Vec<&FileChange> = ws.iter().map(|w| &w.change).collect();
        let (replay_only, map_only, full) = time2(|| {
            let t = Instant::now();
            let r = replay(&changes);
            let replayed = t.elapsed();
            let t = Instant::now();
            black_box(r.map_onto(&content));
            (replayed, t.elapsed())
        });
        let r: Replay = replay(&changes);
        let incremental = time(|| r.map_onto(&changed));
        rows.push([
            format!("replay + map_onto, {variant}"),
            ms(full.median),
            format!("{} – {}", ms(full.min), ms(full.max)),
            "< 20 ms".into(),
            format!(
                "replay {} + map_onto {}; {} runs",
                ms(replay_only.median),
                ms(map_only.median),
                full.runs
            ),
        ]);
        rows.push([
            format!("map_onto after a small edit, Replay reused ({variant})"),
            ms(incremental.median),
            format!("{} – {}", ms(incremental.min), ms(incremental.max)),
            "much faster than full".into(),
            format!(
                "{:.0}x faster than full; {} runs",
                full.median.as_secs_f64() / incremental.median.as_secs_f64().max(1e-9),
                incremental.runs
            ),
        ]);
        let b = Blame {
            lines: r.map_onto(&content),
            unplaced: r.unplaced.clone(),
            writes: ws,
        };
        quality.push((variant, accuracy::score_blame(&s, &b), b.unplaced.len()));
    }
    rows.push([
        format!(
            "store query: writes to the file (path match, {} changes decoded)",
            writes.len()
        ),
        ms(query.median),
        format!("{} – {}", ms(query.min), ms(query.max)),
        String::new(),
        format!(
            "part of `observatory blame`, not of the cached path; {} runs",
            query.runs
        ),
    ]);

    println!(
        "\n## Attribution speed ({n_lines} lines, {} recorded writes, median of up to {MAX_RUNS} runs)\n",
        writes.len()
    );
    println!("| measure | median | min – max | target | notes |");
    println!("|---|---:|---:|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} | {} |", r[0], r[1], r[2], r[3], r[4]);
    }
    println!("\nAccuracy on this history (a person's change before every tenth write):\n");
    println!("| records | precision | recall | unplaced changes |");
    println!("|---|---:|---:|---:|");
    for (variant, t, unplaced) in quality {
        println!(
            "| {variant} | {} | {} | {unplaced} |",
            pct(t.precision()),
            pct(t.recall())
        );
    }
    Ok(())
}
