//! `observatory-bench`: the figures the core issue names, each next to a baseline run
//! in the same process on the same bytes (serde_json, ccusage, ripgrep).
//!
//! ```sh
//! cargo run --release -p observatory-bench -- --size 1GB [--corpus real|synthetic|both]
//! ```
//!
//! The indexing rows (parse, cold index, per-session totals, re-index) are measured on
//! each chosen corpus: the synthetic one and the real fixtures replicated with fresh
//! ids. The latency and search rows use one corpus (the synthetic one when chosen).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
mod stream;

use common::{ms, percentile, CorpusKind};

use anyhow::{bail, Context, Result};
use clap::Parser;
use observatory_store::{Catalog, SearchQuery, Store};
use observatory_transcript::{parse_line, LineReader, ReadLine};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    setup: common::Setup,
    /// ccusage binary; skipped when absent
    #[arg(long, env = "OBSERVATORY_CCUSAGE")]
    ccusage: Option<PathBuf>,
    #[arg(long, default_value = "rg")]
    rg: String,
    /// Which corpus the indexing rows run on
    #[arg(long, value_enum, default_value = "both")]
    corpus: Which,
    /// The real fixture transcripts the real-shaped corpus replicates
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// Cold index runs per corpus (each into an empty data directory); the median
    /// is reported, with the range and the largest peak RSS
    #[arg(long, default_value_t = 3)]
    cold_runs: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    Real,
    Synthetic,
    Both,
}

impl Which {
    fn kinds(self) -> Vec<CorpusKind> {
        match self {
            Which::Real => vec![CorpusKind::Real],
            Which::Synthetic => vec![CorpusKind::Synthetic],
            Which::Both => vec![CorpusKind::Synthetic, CorpusKind::Real],
        }
    }
}

struct Row {
    what: String,
    corpus: &'static str,
    ours: String,
    baseline: String,
    note: String,
}

fn row(what: &str, corpus: CorpusKind, ours: String, baseline: String, note: String) -> Row {
    Row {
        what: what.to_owned(),
        corpus: corpus.label(),
        ours,
        baseline,
        note,
    }
}

fn mbps(bytes: u64, d: Duration) -> String {
    format!("{:.0} MB/s", bytes as f64 / 1e6 / d.as_secs_f64())
}

struct Measured {
    time: Duration,
    stdout: Vec<u8>,
    /// Peak resident set of this child alone.
    peak_rss_mb: f64,
}

/// Runs a command to completion and reports its wall time and its own peak RSS
/// (wait4's rusage for this child, not the whole family).
fn run_measured(cmd: &mut Command) -> Result<Measured> {
    let out = tempfile_path();
    cmd.stdout(std::fs::File::create(&out)?)
        .stderr(Stdio::inherit());
    let t = Instant::now();
    let child = cmd.spawn().context("spawning")?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes only into the two values we pass; pid is our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = t.elapsed();
    if rc != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{cmd:?} failed (status {status})");
    }
    let stdout = std::fs::read(&out)?;
    let _ = std::fs::remove_file(&out);
    Ok(Measured {
        time,
        stdout,
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    })
}

fn tempfile_path() -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("observatory-bench-{}-{n}.out", std::process::id()))
}

fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    observatory_transcript::transcript_files(dir)
        .into_iter()
        .map(|f| f.path)
        .collect()
}

fn read_all(files: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| f.display().to_string()))
        .collect()
}

/// Runs of each short command whose median is reported.
const RUNS: usize = 7;

/// The run of `n` (at least one) with the median wall time.
fn median_of(n: usize, mut run: impl FnMut() -> Result<Measured>) -> Result<Measured> {
    let mut runs = (0..n.max(1)).map(|_| run()).collect::<Result<Vec<_>>>()?;
    runs.sort_by_key(|r| r.time);
    Ok(runs.swap_remove(runs.len() / 2))
}

/// One corpus under measure: where it is, where its index goes, and its size.
struct Corpus {
    kind: CorpusKind,
    dir: PathBuf,
    data: PathBuf,
    files: Vec<PathBuf>,
    bytes: u64,
}

/// Cold index (with peak RSS) against ccusage, per-session totals, and re-index with
/// nothing changed, on one corpus; leaves the corpus indexed in `c.data`.
fn index_rows(
    c: &Corpus,
    obs_bin: &Path,
    ccusage: Option<&Path>,
    cold_runs: usize,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let obs = |extra: &[&str]| -> Result<Measured> {
        run_measured(
            Command::new(obs_bin)
                .arg("--data-dir")
                .arg(&c.data)
                .args(extra),
        )
    };
    let corpus_s = c.dir.to_str().context("corpus path")?;
    // Cold index in a child process, for a clean peak-RSS figure; the median of
    // several, since runs on this machine differ by a tenth or more.
    let mut colds = (0..cold_runs.max(1))
        .map(|_| {
            let _ = std::fs::remove_dir_all(&c.data);
            obs(&["index", "--claude-dir", corpus_s, "--json"])
        })
        .collect::<Result<Vec<_>>>()?;
    colds.sort_by_key(|r| r.time);
    let cold = colds[colds.len() / 2].time;
    let cold_range = format!("{}–{}", ms(colds[0].time), ms(colds[colds.len() - 1].time));
    let index_rss = colds.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max);
    // Commands of a few milliseconds: the median of several runs, since one run
    // moves by a fifth with whatever else the machine does.
    let stats_runs = median_of(RUNS, || obs(&["stats", "--by", "conversation", "--json"]))?;
    let stats_t = stats_runs.time;
    let sessions = serde_json::from_slice::<serde_json::Value>(&stats_runs.stdout)?
        .as_array()
        .map_or(0, Vec::len);
    let reindex = median_of(RUNS, || obs(&["index", "--claude-dir", corpus_s, "--json"]))?.time;

    let cc = match ccusage {
        Some(cc) => {
            let run = median_of(3, || {
                run_measured(
                    Command::new(cc)
                        .args(["session", "--json", "--offline"])
                        .env("CLAUDE_CONFIG_DIR", &c.dir),
                )
            })?;
            let n = serde_json::from_slice::<serde_json::Value>(&run.stdout)
                .ok()
                .and_then(|v| v["session"].as_array().map(Vec::len))
                .unwrap_or(0);
            Some((run.time, n, run.peak_rss_mb))
        }
        None => None,
    };
    let cc_str = |f: &dyn Fn(Duration) -> String| {
        cc.as_ref().map_or("ccusage not run".to_owned(), |c| f(c.0))
    };
    rows.push(row(
        "cold index (child process)",
        c.kind,
        format!(
            "{} ({}), peak RSS {:.0} MB",
            ms(cold),
            mbps(c.bytes, cold),
            index_rss
        ),
        cc_str(&|d| format!("ccusage session --json: {} ({})", ms(d), mbps(c.bytes, d))),
        format!(
            "median of {} runs ({cold_range}), largest peak RSS{}",
            colds.len(),
            cc.as_ref().map_or(String::new(), |c| format!(
                "; ccusage: {} sessions, peak RSS {:.0} MB, median of 3 runs",
                c.1, c.2
            ))
        ),
    ));
    rows.push(row(
        "per-session totals, indexed",
        c.kind,
        format!("{} ({sessions} conversations)", ms(stats_t)),
        cc_str(&|d| {
            format!(
                "{} ({:.0}x slower)",
                ms(d),
                d.as_secs_f64() / stats_t.as_secs_f64()
            )
        }),
        "observatory stats --by conversation --json (median of 7 runs) vs ccusage session --json (median of 3)".into(),
    ));
    rows.push(row(
        "re-index, nothing changed",
        c.kind,
        ms(reindex),
        String::new(),
        "whole command, process start included; median of 7 runs".into(),
    ));
    Ok(())
}

/// Raw parse vs serde_json's own speed, on the same bytes held in memory.
fn parse_row(c: &Corpus) -> Result<Row> {
    let data = read_all(&c.files)?;
    let t = Instant::now();
    let mut lines = 0u64;
    for d in &data {
        for line in d.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let _ = serde_json::from_slice::<serde_json::Value>(line);
            lines += 1;
        }
    }
    let serde_t = t.elapsed();
    let t = Instant::now();
    for d in &data {
        let mut r = LineReader::new(d.as_slice(), 0);
        let mut buf = Vec::new();
        while let Ok(Some(ReadLine::Complete { .. })) = r.next_line(&mut buf) {
            let _ = parse_line(&buf);
        }
    }
    let ours_t = t.elapsed();
    Ok(row(
        "parse (records from memory)",
        c.kind,
        mbps(c.bytes, ours_t),
        format!("{} (serde_json::Value)", mbps(c.bytes, serde_t)),
        format!("{lines} lines"),
    ))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let obs_bin = args.setup.observatory()?;
    let fixtures = args
        .fixtures
        .clone()
        .unwrap_or_else(common::default_fixtures);
    let mut rows = Vec::new();

    // Corpora (generated once per size and reused).
    let mut corpora = Vec::new();
    for kind in args.corpus.kinds() {
        let dir = args.setup.corpus_of(kind, &fixtures)?;
        let files = jsonl_files(&dir);
        let bytes: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        eprintln!(
            "{} corpus: {} files, {:.0} MB",
            kind.label(),
            files.len(),
            bytes as f64 / 1e6
        );
        corpora.push(Corpus {
            kind,
            dir,
            data: args.setup.data_of(kind),
            files,
            bytes,
        });
    }
    for c in &corpora {
        index_rows(
            c,
            &obs_bin,
            args.ccusage.as_deref(),
            args.cold_runs,
            &mut rows,
        )?;
    }
    // The latency and search rows on one corpus: the synthetic one when chosen (its
    // vocabulary is what the queries are made of), already indexed above.
    let Some(main) = corpora.first() else {
        bail!("no corpus chosen");
    };
    let (corpus, data_dir, kind) = (&main.dir, &main.data, main.kind);
    let corpus_s = corpus.to_str().context("corpus path")?;

    // Append-to-searchable latency with `observatory watch` running.
    {
        // A new session file per run, so markers from earlier runs cannot match.
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let sid = format!(
            "00000000-bench-4000-8000-{:012x}",
            run_id & 0xffff_ffff_ffff
        );
        let session = corpus.join("projects/-bench").join(format!("{sid}.jsonl"));
        std::fs::create_dir_all(session.parent().context("parent")?)?;
        let mut child = Command::new(&obs_bin)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["watch", "--claude-dir", corpus_s])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_secs(2));
        let store = Store::open(&observatory_store::database_path(data_dir))?;
        let mut lat = Vec::new();
        for i in 0..20 {
            let (lines, marker) =
                observatory_corpus::continuation_lines(&sid, "/bench", None, run_id ^ i);
            let t = Instant::now();
            common::append(&session, &lines)?;
            loop {
                if !store.search(&SearchQuery::new(&marker))?.hits.is_empty() {
                    lat.push(t.elapsed());
                    break;
                }
                if t.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    bail!("appended line never became searchable");
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&session);
        lat.sort();
        rows.push(row(
            "append → searchable (watch)",
            kind,
            format!(
                "p50 {} · p95 {}",
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.95))
            ),
            String::new(),
            "20 appends of a prompt + reply; polled every 0.5 ms".into(),
        ));
    }

    // Append-to-client latency through `observatory serve`'s WebSocket stream.
    {
        let mut lat = stream::latencies(&obs_bin, data_dir, corpus, 20)?;
        lat.sort();
        rows.push(row(
            "append → stream client (serve)",
            kind,
            format!(
                "p50 {} · p95 {}",
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.95))
            ),
            String::new(),
            "20 appends; time from the write to the messages.appended event on a WebSocket".into(),
        ));
    }

    // Search latency vs ripgrep over the raw JSONL.
    {
        let store = Store::open(&observatory_store::database_path(data_dir))?;
        let mut lat = Vec::new();
        let mut per_query = Vec::new();
        for q in common::QUERIES {
            let mut best = Duration::MAX;
            for _ in 0..10 {
                let t = Instant::now();
                let page = store.search(&SearchQuery::new(q))?;
                let d = t.elapsed();
                std::hint::black_box(page);
                lat.push(d);
                best = best.min(d);
            }
            per_query.push((q, best));
        }
        lat.sort();
        let mut rg_times = Vec::new();
        for q in common::QUERIES {
            let word = q.trim_matches('"').trim_end_matches('*');
            let t = Instant::now();
            let status = Command::new(&args.rg)
                .args(["-i", "-F", "-c", word])
                .arg(corpus)
                .stdout(Stdio::null())
                .status();
            match status {
                Ok(_) => rg_times.push(t.elapsed()),
                Err(_) => break,
            }
        }
        rg_times.sort();
        let p95 = percentile(&lat, 0.95);
        let rg = if rg_times.is_empty() {
            "rg not found".to_owned()
        } else {
            let (rg50, rg95) = (percentile(&rg_times, 0.5), percentile(&rg_times, 0.95));
            let p50 = percentile(&lat, 0.5);
            format!(
                "rg -i -F -c: p50 {} · p95 {} ({:.0}x our p50, {:.0}x our p95)",
                ms(rg50),
                ms(rg95),
                rg50.as_secs_f64() / p50.as_secs_f64(),
                rg95.as_secs_f64() / p95.as_secs_f64()
            )
        };
        rows.push(row(
            "search, 20 queries x 10",
            kind,
            format!(
                "p50 {} · p95 {} · p99 {}",
                ms(percentile(&lat, 0.5)),
                ms(p95),
                ms(percentile(&lat, 0.99))
            ),
            rg,
            "top 20 hits with snippets, BM25".into(),
        ));
        eprintln!("slowest queries ({} corpus):", kind.label());
        per_query.sort_by_key(|x| std::cmp::Reverse(x.1));
        for (q, d) in per_query.iter().take(5) {
            eprintln!("  {q:<22} {}", ms(*d));
        }
    }

    // Last, so the corpus held in memory here does not inflate the children's RSS.
    for c in &corpora {
        rows.push(parse_row(c)?);
    }

    let described: Vec<String> = corpora
        .iter()
        .map(|c| {
            format!(
                "{} {} ({:.0} MB, {} files)",
                c.kind.label(),
                args.setup.size,
                c.bytes as f64 / 1e6,
                c.files.len()
            )
        })
        .collect();
    println!(
        "\nObservatory benchmark — corpus {}\n",
        described.join("; ")
    );
    println!("| measure | corpus | Observatory | baseline | notes |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.corpus, r.ours, r.baseline, r.note
        );
    }
    Ok(())
}
