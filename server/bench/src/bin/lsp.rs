//! Language-server benchmark: `observatory lsp` over stdio, as an editor drives it,
//! with the 1 GB corpus indexed and a 5,000-line file with a long recorded history.
//!
//! Prints hover / codeLens / inlayHint latency (client round trip, p50 and p99),
//! append-to-`workspace/codeLens/refresh` latency, and the server's memory, each
//! beside a baseline measured in the same run: the platform's own attribution
//! request (what each hover would cost without the server's per-file view), and the
//! platform process's memory.

#[path = "../common.rs"]
mod common;
// The tests' client: it stops the benchmark with a message when the server
// misbehaves, which is what a benchmark should do too.
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../../../../tests/support/lsp_client.rs"]
mod lsp_client;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use common::{append, ms, percentile};
use lsp_client::LspClient;
use observatory_corpus::{patch_edit, Change};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Latency and memory of `observatory lsp`")]
struct Args {
    #[command(flatten)]
    setup: common::Setup,
    /// Lines of the file open in the editor
    #[arg(long, default_value_t = 5000)]
    lines: usize,
    /// Recorded agent edits of that file
    #[arg(long, default_value_t = 200)]
    edits: usize,
    /// Requests measured per kind
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Transcript appends measured for the refresh latency
    #[arg(long, default_value_t = 30)]
    appends: usize,
}

/// Every run's agent works below this directory.
const BENCH_PROJECTS: &str = "/home/dev/lsp-bench";

/// Removes earlier runs' conversations from the store: their file has the same
/// relative path and the same content, so they would count as its history too.
fn forget_earlier_runs(data: &Path) -> Result<()> {
    use observatory_store::{Catalog, ConversationFilter, Store, Writer};
    let mut store = Store::open(&observatory_store::database_path(data))?;
    let earlier = store.conversations(&ConversationFilter {
        project: Some(BENCH_PROJECTS.into()),
        ..ConversationFilter::default()
    })?;
    for c in earlier {
        store.delete_conversation(&c.session_id)?;
    }
    Ok(())
}

/// A Rust file of about `lines` lines: small functions, each line distinct.
fn source(lines: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(lines);
    let mut i = 0;
    while out.len() + 5 <= lines {
        out.push(format!("pub fn step_{i}(x: u64) -> u64 {{"));
        out.push(format!("    let y = x.wrapping_mul({});", i * 7 + 3));
        out.push(format!("    y ^ {}", i * 13 + 1));
        out.push("}".into());
        out.push(String::new());
        i += 1;
    }
    out
}

fn text(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// Claude Code's records for one session writing and editing the file.
struct Session {
    id: String,
    /// Distinguishes this run's ids from earlier runs' (the store keeps one copy of
    /// each uuid and tool call id, as it must for resumed sessions).
    run: u64,
    /// Where the agent ran, and the file it wrote: per run, because histories of
    /// one path from different runs would interleave in time.
    cwd: String,
    file: String,
    seq: u64,
    parent: Option<String>,
    clock: chrono::DateTime<chrono::Utc>,
}

impl Session {
    fn new(id: String, run: u64) -> Self {
        let cwd = format!("{BENCH_PROJECTS}/run-{run}");
        Session {
            id,
            run,
            file: format!("{cwd}/src/big.rs"),
            cwd,
            seq: 0,
            parent: None,
            clock: chrono::Utc::now() - chrono::Duration::hours(3),
        }
    }

    fn record(&mut self, kind: &str, body: Value) -> Value {
        self.seq += 1;
        self.clock += chrono::Duration::milliseconds(1500);
        let uuid = format!("{:08x}-0000-4000-8000-{:012x}", self.run as u32, self.seq);
        let mut r = json!({"parentUuid": self.parent, "isSidechain": false, "userType": "external",
            "cwd": self.cwd, "sessionId": self.id, "version": "2.0.75", "gitBranch": "main", "type": kind,
            "uuid": uuid, "timestamp": self.clock.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
        if let (Value::Object(r), Value::Object(b)) = (&mut r, body) {
            r.extend(b);
        }
        self.parent = Some(uuid);
        r
    }

    fn prompt(&mut self, text: &str) -> Value {
        self.record(
            "user",
            json!({"message": {"role": "user", "content": text}}),
        )
    }

    /// The assistant's call and the tool's result.
    fn call(&mut self, name: &str, input: Value, result: Value) -> [Value; 2] {
        let id = format!("toolu_bench{}x{:08}", self.run, self.seq);
        let call = self.record("assistant", json!({"requestId": format!("req_bench{}x{:08}", self.run, self.seq),
            "message": {"id": format!("msg_bench{}x{:08}", self.run, self.seq), "type": "message", "role": "assistant",
                "model": "claude-opus-4-5-20251101", "content": [{"type": "tool_use", "id": id, "name": name, "input": input}],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 900, "output_tokens": 80}}}));
        let done = self.record("user", json!({"message": {"role": "user", "content": [{"tool_use_id": id, "type": "tool_result", "content": "ok"}]},
            "toolUseResult": result}));
        [call, done]
    }

    fn write(&mut self, lines: &[String]) -> [Value; 2] {
        let content = text(lines);
        let file = self.file.clone();
        self.call(
            "Write",
            json!({"file_path": file, "content": content}),
            json!({"type": "create", "filePath": file, "content": content, "structuredPatch": []}),
        )
    }

    /// An Edit replacing line `at` of `lines` (updated in place).
    fn edit(&mut self, lines: &mut Vec<String>, at: usize, new: String) -> [Value; 2] {
        let original = text(lines);
        let old_line = lines[at].clone();
        let old: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (after, hunks) = patch_edit(
            &old,
            &[Change {
                at,
                del: 1,
                ins: vec![new.clone()],
            }],
        );
        *lines = after.lines().map(str::to_owned).collect();
        let file = self.file.clone();
        self.call(
            "Edit",
            json!({"file_path": file, "old_string": old_line, "new_string": new}),
            json!({"filePath": file, "oldString": old_line, "newString": new, "originalFile": original,
                "structuredPatch": hunks, "userModified": false, "replaceAll": false}),
        )
    }
}

fn jsonl(records: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend(serde_json::to_vec(r).unwrap_or_default());
        out.push(b'\n');
    }
    out
}

/// A line to change: a `let` line of some function.
fn pick_line(rng: &mut rand::rngs::StdRng, lines: &[String]) -> usize {
    loop {
        let i = rng.random_range(0..lines.len());
        if lines[i].trim_start().starts_with("let y") {
            return i;
        }
    }
}

/// Resident and peak resident memory of a process, in MB.
fn memory(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn stop_platform(data: &Path) {
    if let Some(pid) = common::published(data).map(|(_, _, p)| p) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Round trips of `n` requests built by `params`.
fn measure(
    c: &mut LspClient,
    method: &str,
    params: &dyn Fn(usize) -> Value,
    n: usize,
) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = params(i);
        let t = Instant::now();
        let r = c
            .request(method, p.clone())
            .map_err(|e| anyhow::anyhow!("{method}: {e}"))?;
        out.push(t.elapsed());
        if r.is_null() {
            bail!("{method} returned nothing for {p}");
        }
    }
    Ok(out)
}

fn stats(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    (
        percentile(&d, 0.5),
        percentile(&d, 0.95),
        percentile(&d, 0.99),
    )
}

fn main() -> Result<()> {
    let args = Args::parse();
    let obs = args.setup.observatory()?;
    let corpus = args.setup.corpus()?;
    let data = args.setup.data();
    stop_platform(&data);
    if !observatory_store::database_path(&data).exists() {
        eprintln!("indexing the corpus into {}", data.display());
        let ok = Command::new(&obs)
            .arg("--data-dir")
            .arg(&data)
            .args(["index", "--claude-dir"])
            .arg(&corpus)
            .status()?
            .success();
        if !ok {
            bail!("indexing failed");
        }
    }

    forget_earlier_runs(&data)?;

    // The file in the editor and the session that wrote it.
    let claude = args.setup.work.join("lsp-claude");
    let _ = std::fs::remove_dir_all(&claude);
    let workspace = args.setup.work.join("lsp-workspace");
    std::fs::create_dir_all(workspace.join("src"))?;
    let file = workspace.join("src/big.rs");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut lines = source(args.lines);
    let run_id = chrono::Utc::now().timestamp_millis() as u64;
    let mut s = Session::new(
        format!("7e5e1b00-0000-4000-8000-{:012x}", run_id & 0xffff_ffff_ffff),
        run_id,
    );
    let mut records = vec![s.prompt("Generate the step functions")];
    records.extend(s.write(&lines));
    records.push(s.prompt("Use wrapping arithmetic everywhere and tune the constants"));
    for k in 0..args.edits {
        let at = pick_line(&mut rng, &lines);
        let new = format!(
            "    let y = x.wrapping_mul({}).rotate_left({});",
            rng.random_range(1..999),
            k % 63
        );
        records.extend(s.edit(&mut lines, at, new));
    }
    let project = claude.join("projects").join(s.cwd.replace('/', "-"));
    std::fs::create_dir_all(&project)?;
    let session_file = project.join(format!("{}.jsonl", s.id));
    std::fs::write(&session_file, jsonl(&records))?;
    std::fs::write(&file, text(&lines))?;
    eprintln!(
        "wrote a {}-line file with {} recorded edits",
        lines.len(),
        args.edits
    );

    // The editor session.
    let mut cmd = Command::new(&obs);
    cmd.arg("--data-dir")
        .arg(&data)
        .arg("--claude-dir")
        .arg(&corpus)
        .arg("--claude-dir")
        .arg(&claude)
        .arg("lsp");
    let mut c = LspClient::spawn(cmd);
    c.initialize(&workspace, json!({"inlayHints": "all"}));
    let uri = c.open(&file, "rust");
    let t = Instant::now();
    // The whole history indexed: the Write covers every line.
    let want = (lines.len() * 9 / 10) as u64;
    c.poll(
        "observatory/blame",
        json!({"uri": uri}),
        Duration::from_secs(600),
        |b| b["attributedLines"].as_u64().unwrap_or(0) >= want,
    );
    eprintln!(
        "first attribution after {:.1} s (platform start and catch-up included)",
        t.elapsed().as_secs_f64()
    );

    let attributed: Vec<usize> = (0..lines.len()).filter(|i| !lines[*i].is_empty()).collect();
    let hover_lines: Vec<usize> = (0..args.samples)
        .map(|_| attributed[rng.random_range(0..attributed.len())])
        .collect();
    let uri_h = uri.clone();
    let hover = measure(
        &mut c,
        "textDocument/hover",
        &|i| json!({"textDocument": {"uri": uri_h}, "position": {"line": hover_lines[i], "character": 4}}),
        args.samples,
    )?;
    let uri_l = uri.clone();
    let lens = measure(
        &mut c,
        "textDocument/codeLens",
        &|_| json!({"textDocument": {"uri": uri_l}}),
        args.samples,
    )?;
    let listed = c
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri}}),
        )
        .map_err(|e| anyhow::anyhow!("codeLens: {e}"))?;
    // The summary lens comes whole; the symbols' are resolved as they scroll into view.
    let listed: Vec<Value> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l.get("data").is_some())
        .cloned()
        .collect();
    let picks: Vec<Value> = (0..args.samples)
        .map(|_| listed[rng.random_range(0..listed.len())].clone())
        .collect();
    let resolve = measure(
        &mut c,
        "codeLens/resolve",
        &|i| picks[i].clone(),
        args.samples,
    )?;
    let uri_i = uri.clone();
    let n_lines = lines.len();
    let inlay = measure(
        &mut c,
        "textDocument/inlayHint",
        &|i| {
            // A screenful, as editors ask, somewhere in the file.
            let start = (i * 97) % n_lines.saturating_sub(60).max(1);
            json!({"textDocument": {"uri": uri_i}, "range": {"start": {"line": start, "character": 0}, "end": {"line": start + 60, "character": 0}}})
        },
        args.samples,
    )?;

    // Baseline: the platform computing the attribution for each request.
    let (url, token, platform_pid) =
        common::published(&data).context("no platform published in the data directory")?;
    let http = reqwest::blocking::Client::new();
    let content = text(&lines);
    let mut direct = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let r = http
            .post(format!("{url}/api/v1/files/blame"))
            .bearer_auth(&token)
            .json(&json!({"path": file, "root": workspace, "content": content}))
            .send()?;
        if !r.status().is_success() {
            bail!("platform blame: {}", r.status());
        }
        let _: Value = r.json()?;
        direct.push(t.elapsed());
    }

    // Append to refresh.
    let mut refresh = Vec::new();
    for _ in 0..args.appends {
        let at = pick_line(&mut rng, &lines);
        let new = format!(
            "    let y = x.wrapping_add({});",
            rng.random_range(1..99_999)
        );
        let recs = s.edit(&mut lines, at, new);
        // Let the previous append's refreshes settle, then count only new ones.
        std::thread::sleep(Duration::from_millis(400));
        c.drain();
        let mark = c.seen.len();
        let t = Instant::now();
        append(&session_file, &jsonl(&recs))?;
        c.wait_for(mark, Duration::from_secs(30), |m| {
            m["method"] == "workspace/codeLens/refresh"
        })
        .context("no workspace/codeLens/refresh within 30 s")?;
        refresh.push(t.elapsed());
    }

    let (lsp_rss, lsp_peak) = memory(c.pid()).context("reading the server's memory")?;
    let (plat_rss, plat_peak) = memory(platform_pid).unwrap_or((0.0, 0.0));

    let (h50, _, h99) = stats(hover);
    let (l50, _, l99) = stats(lens);
    let (i50, _, i99) = stats(inlay);
    let (v50, _, v99) = stats(resolve);
    let (d50, _, d99) = stats(direct);
    let (r50, r95, _) = stats(refresh);
    println!(
        "## Language server ({} lines, {} recorded edits, {} corpus indexed)",
        lines.len(),
        args.edits + args.appends,
        args.setup.size
    );
    println!("| measure | observatory lsp | baseline | target |");
    println!("|---|---:|---:|---|");
    let base = format!(
        "platform attribution per request: {} / {}",
        ms(d50),
        ms(d99)
    );
    println!(
        "| hover p50 / p99 | {} / {} | {base} | p99 < 5 ms |",
        ms(h50),
        ms(h99)
    );
    println!(
        "| codeLens p50 / p99 | {} / {} | same | p99 < 5 ms |",
        ms(l50),
        ms(l99)
    );
    println!(
        "| codeLens/resolve p50 / p99 | {} / {} | same | p99 < 5 ms |",
        ms(v50),
        ms(v99)
    );
    println!(
        "| inlayHint (60 lines) p50 / p99 | {} / {} | same | p99 < 5 ms |",
        ms(i50),
        ms(i99)
    );
    println!(
        "| append → workspace/codeLens/refresh p50 / p95 | {} / {} | | p95 < 150 ms |",
        ms(r50),
        ms(r95)
    );
    println!("| server memory (RSS now / peak) | {lsp_rss:.0} / {lsp_peak:.0} MB | platform process {plat_rss:.0} / {plat_peak:.0} MB | < 60 MB |");
    println!(
        "{} requests of each kind, {} appends; latencies are client round trips over stdio.",
        args.samples, args.appends
    );

    let _ = c.stop();
    stop_platform(&data);
    Ok(())
}
