//! Platform load benchmark: `observatory serve` under an open-loop request rate.
//!
//! Indexes the synthetic corpus, starts the platform as a child process and sends
//! a mix of editor and dashboard requests on a fixed schedule (100, 300, 500, 1,000
//! and 3,000 requests/s by default), each request in its own task whether or not
//! the earlier ones have been answered. Latency runs from the time a request was
//! *scheduled*, not from when it went out, so a server (or a client) falling
//! behind shows as latency instead of hiding as a lower rate (coordinated
//! omission). Beside it, in the same run, the baselines: the same mix sent
//! closed-loop, one request at a time back to back (the service time without
//! queueing), and one at a time 10 ms apart (what waking an idle server costs).
//!
//! The platform's per-token rate limit is raised through a configuration file for
//! the run: one token sends everything here, and the limit (50/s by default) would
//! otherwise answer 429 to almost every request and measure the limiter instead.

#[path = "../common.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use common::{ms, percentile};
use rand::{Rng, SeedableRng};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;
use serde_json::Value;

#[derive(Parser)]
#[command(about = "Latency and load shedding of the platform's REST API at fixed request rates")]
// A smaller corpus than the other benchmarks by default: what is measured here is
// the server under load, and 300 MB indexes in well under a minute.
#[command(mut_arg("size", |a| a.default_value("300MB")))]
struct Args {
    #[command(flatten)]
    setup: common::Setup,
    /// Request rates to hold, in requests per second, in order
    #[arg(long, value_delimiter = ',', default_value = "100,300,500,1000,3000")]
    rates: Vec<u32>,
    /// Seconds measured at each rate
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds sent at each rate before measuring (connections opened, caches warm)
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Requests measured by the closed-loop baseline
    #[arg(long, default_value_t = 1000)]
    baseline: usize,
}

/// The endpoints in the mix, with their share of it (percent).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Search,
    Conversations,
    Insights,
    Blame,
}

const KINDS: [(Kind, u32); 4] = [
    (Kind::Search, 30),
    (Kind::Conversations, 25),
    (Kind::Insights, 25),
    (Kind::Blame, 20),
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Search => "GET /search?q=",
            Kind::Conversations => "GET /conversations?limit=20",
            Kind::Insights => "GET /files/insights?path=",
            Kind::Blame => "POST /files/blame (buffer)",
        }
    }
}

/// One request of the mix, built once.
struct Req {
    kind: Kind,
    /// The query or file, to tell requests of one endpoint apart.
    what: String,
    url: Url,
    /// JSON body of a POST.
    body: Option<Arc<String>>,
}

enum Outcome {
    Status(u16),
    /// No HTTP answer: connection refused or reset, or the client's timeout.
    Transport,
}

struct Sample {
    req: Arc<Req>,
    outcome: Outcome,
    /// From the scheduled send time to the last byte of the body.
    latency: Duration,
}

impl Sample {
    fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Status(s) if (200..300).contains(&s))
    }
    fn shed(&self) -> bool {
        matches!(self.outcome, Outcome::Status(503))
    }
}

/// Sends one request and reads the whole answer; `from` is when it was due.
async fn send(client: reqwest::Client, auth: HeaderValue, req: Arc<Req>, from: Instant) -> Sample {
    let rb = match &req.body {
        Some(b) => client
            .post(req.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(String::clone(b)),
        None => client.get(req.url.clone()),
    };
    let outcome = match rb.header(AUTHORIZATION, auth).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(_) => Outcome::Status(status),
                Err(_) => Outcome::Transport,
            }
        }
        Err(_) => Outcome::Transport,
    };
    Sample {
        req,
        outcome,
        latency: from.elapsed(),
    }
}

/// The platform child process; stopped (SIGTERM, then SIGKILL) when dropped, so an
/// error anywhere in the run does not leave it serving.
struct Platform {
    child: Child,
    url: String,
    token: String,
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_platform(
    obs: &Path,
    corpus: &Path,
    data: &Path,
    config: &Path,
    log: &Path,
) -> Result<Platform> {
    let child = Command::new(obs)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        // Only the corpus: without it the platform would also index whatever
        // transcripts this machine's user has.
        .arg("--claude-dir")
        .arg(corpus)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("starting the platform")?;
    let pid = child.id();
    let mut platform = Platform {
        child,
        url: String::new(),
        token: String::new(),
    };
    let t = Instant::now();
    // serve.json may be left from an earlier run: wait for the one this child wrote.
    loop {
        if let Ok(Some(status)) = platform.child.try_wait() {
            bail!("the platform exited ({status}); see {}", log.display());
        }
        if let Some((url, token, p)) = common::published(data) {
            if p == pid {
                platform.url = url;
                platform.token = token;
                break;
            }
        }
        if t.elapsed() > Duration::from_secs(60) {
            bail!(
                "the platform did not publish its address; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = reqwest::blocking::Client::builder().no_proxy().build()?;
    loop {
        let ready = http
            .get(format!("{}/readyz", platform.url))
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ready {
            break;
        }
        if t.elapsed() > Duration::from_secs(600) {
            bail!("the platform was not ready after 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "platform ready at {} after {:.1} s",
        platform.url,
        t.elapsed().as_secs_f64()
    );
    Ok(platform)
}

/// A GET for setting up the mix, which must succeed.
fn get_json(
    http: &reqwest::blocking::Client,
    p: &Platform,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Value> {
    let r = http
        .get(format!("{}/api/v1{path}", p.url))
        .query(query)
        .bearer_auth(&p.token)
        .send()?;
    if !r.status().is_success() {
        bail!("GET {path}: {}", r.status());
    }
    Ok(r.json()?)
}

/// Search queries made of words the corpus's conversations are titled with: single
/// words, and pairs from one title (both must match).
fn search_queries(titles: &[String]) -> Vec<String> {
    const SKIP: &[&str] = &[
        "this", "that", "with", "from", "into", "when", "then", "them", "have",
    ];
    let mut singles = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for t in titles {
        let words: Vec<String> = t
            .split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
            .filter(|w| w.len() >= 4 && !SKIP.contains(&w.as_str()))
            .collect();
        if let [a, b, ..] = words.as_slice() {
            pairs.insert(format!("{a} {b}"));
        }
        singles.extend(words);
    }
    singles
        .into_iter()
        .take(40)
        .chain(pairs.into_iter().take(20))
        .collect()
}

/// The file as the newest recorded change left it: a Write's content, or an Edit
/// applied to the `originalFile` it carries. `None` when no change records enough.
fn latest_content(touches: &Value, path: &str) -> Option<String> {
    for t in touches.as_array()? {
        let c = &t["change"];
        if t["failed"] != Value::Bool(false) || c["path"].as_str() != Some(path) {
            continue;
        }
        if let Some(content) = c["content"].as_str() {
            return Some(content.to_owned());
        }
        if let Some(original) = c["original"].as_str() {
            let mut text = original.to_owned();
            for e in c["edits"].as_array().into_iter().flatten() {
                let (Some(old), Some(new)) = (e["old_string"].as_str(), e["new_string"].as_str())
                else {
                    continue;
                };
                text = if e["replace_all"].as_bool() == Some(true) {
                    text.replace(old, new)
                } else {
                    text.replacen(old, new, 1)
                };
            }
            return Some(text);
        }
    }
    None
}

/// The request mix: `len` requests drawn (seeded) from the corpus's words, files and
/// projects, in the proportions of [`KINDS`].
fn build_mix(http: &reqwest::blocking::Client, p: &Platform, len: usize) -> Result<Vec<Arc<Req>>> {
    let api = |path: &str| Url::parse(&format!("{}/api/v1{path}", p.url));
    let convs = get_json(http, p, "/conversations", &[("limit", "200")])?;
    let titles: Vec<String> = convs["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str().map(str::to_owned))
        .collect();
    let queries = search_queries(&titles);
    let files: Vec<String> = get_json(http, p, "/analytics/files", &[("limit", "50")])?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str().map(str::to_owned))
        .collect();
    let projects: Vec<String> = get_json(http, p, "/projects", &[])?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["project"].as_str().map(str::to_owned))
        .collect();
    // Buffers to blame: the most edited files as the agents last left them, sent
    // with the project they belong to as the workspace root, as an editor would.
    let mut buffers = Vec::new();
    for f in &files {
        if buffers.len() == 8 {
            break;
        }
        let touches = get_json(http, p, "/files/touches", &[("path", f.as_str())])?;
        let Some(content) = latest_content(&touches, f) else {
            continue;
        };
        let root = projects
            .iter()
            .filter(|r| f.starts_with(&format!("{r}/")))
            .max_by_key(|r| r.len());
        let body = serde_json::json!({"path": f, "root": root, "content": content}).to_string();
        // A buffer nothing is attributed in would measure an empty lookup.
        let r = http
            .post(format!("{}/api/v1/files/blame", p.url))
            .header(CONTENT_TYPE, "application/json")
            .bearer_auth(&p.token)
            .body(body.clone())
            .send()?;
        if !r.status().is_success() {
            bail!("POST /files/blame {f}: {}", r.status());
        }
        let b: Value = r.json()?;
        let (lines, attributed) = (
            b["lines"].as_u64().unwrap_or(0),
            b["attributed_lines"].as_u64().unwrap_or(0),
        );
        if attributed == 0 {
            continue;
        }
        eprintln!("blame buffer {f}: {lines} lines, {attributed} attributed");
        buffers.push((f.clone(), Arc::new(body)));
    }
    if queries.is_empty() || files.is_empty() || buffers.is_empty() {
        bail!(
            "the corpus gave {} queries, {} files and {} buffers to blame",
            queries.len(),
            files.len(),
            buffers.len()
        );
    }
    eprintln!(
        "mix from the corpus: {} search queries, {} file paths, {} buffers to blame",
        queries.len(),
        files.len(),
        buffers.len()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
    let mut mix = Vec::with_capacity(len);
    for _ in 0..len {
        let mut draw = rng.random_range(0..total);
        let mut kind = Kind::Search;
        for (k, w) in KINDS {
            if draw < w {
                kind = k;
                break;
            }
            draw -= w;
        }
        let req = match kind {
            Kind::Search => {
                let q = &queries[rng.random_range(0..queries.len())];
                let mut url = api("/search")?;
                url.query_pairs_mut().append_pair("q", q);
                Req {
                    kind,
                    what: format!("q={q}"),
                    url,
                    body: None,
                }
            }
            Kind::Conversations => Req {
                kind,
                what: "limit=20".into(),
                url: api("/conversations?limit=20")?,
                body: None,
            },
            Kind::Insights => {
                let path = &files[rng.random_range(0..files.len())];
                let mut url = api("/files/insights")?;
                url.query_pairs_mut().append_pair("path", path);
                Req {
                    kind,
                    what: path.clone(),
                    url,
                    body: None,
                }
            }
            Kind::Blame => {
                let (path, body) = &buffers[rng.random_range(0..buffers.len())];
                Req {
                    kind,
                    what: path.clone(),
                    url: api("/files/blame")?,
                    body: Some(Arc::clone(body)),
                }
            }
        };
        mix.push(Arc::new(req));
    }
    Ok(mix)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it are fixed.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

/// Established TCP connections to `port` on loopback (the client's ends, seen
/// from the remote port), from /proc/net/tcp.
fn connections_to(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = format!(":{port:04X}");
    Some(
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // Fields: sl, local address, remote address, state (01: established).
                f.get(2).is_some_and(|r| r.ends_with(&want)) && f.get(3) == Some(&"01")
            })
            .count(),
    )
}

/// Peak resident memory of a process, in MB.
fn peak_rss(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// What one phase measured.
struct Phase {
    label: String,
    samples: Vec<Sample>,
    /// How late the client issued each request (its own scheduling delay).
    lag: Vec<Duration>,
    /// Wall time of the measured part, and the platform's CPU seconds in it.
    wall: Duration,
    server_cpu: Option<f64>,
    /// CPU seconds this benchmark (the client) used in it.
    client_cpu: Option<f64>,
    /// Most connections the client had open to the platform (sampled).
    connections: Option<usize>,
}

/// The client: one connection pool (HTTP/1.1 keep-alive) on a single-threaded
/// runtime in a thread of its own, so that the benchmark takes at most one of the
/// machine's two cores from the server.
struct Client {
    handle: tokio::runtime::Handle,
    http: reqwest::Client,
    auth: HeaderValue,
    /// The platform's port, to count the connections to it.
    port: u16,
    stop: Arc<AtomicBool>,
    driver: Option<std::thread::JoinHandle<()>>,
}

impl Client {
    fn new(token: &str, port: u16) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let until = Arc::clone(&stop);
        let driver = std::thread::spawn(move || {
            rt.block_on(async move {
                while !until.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            // As many connections as requests in flight: an open-loop client must
            // never wait for a free connection, or it would queue requests itself.
            .pool_max_idle_per_host(usize::MAX)
            // Under the platform's 10 s keep-alive header timeout, so that the pool
            // does not reuse a connection the server is closing.
            .pool_idle_timeout(Duration::from_secs(5))
            // Beyond the platform's 30 s request timeout, so that a queued request
            // shows its whole wait rather than the client's limit.
            .timeout(Duration::from_secs(60))
            .build()?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}"))?;
        Ok(Self {
            handle,
            http,
            auth,
            port,
            stop,
            driver: Some(driver),
        })
    }

    fn spawn(&self, req: &Arc<Req>, due: Instant) -> tokio::task::JoinHandle<Sample> {
        self.handle.spawn(send(
            self.http.clone(),
            self.auth.clone(),
            Arc::clone(req),
            due,
        ))
    }

    /// Requests sent on a fixed schedule, `rate` per second, for `warmup` then
    /// `measured`; samples of the warm-up are dropped.
    fn open_loop(
        &self,
        mix: &[Arc<Req>],
        rate: u32,
        warmup: Duration,
        measured: Duration,
        pid: u32,
    ) -> Phase {
        let rate = u64::from(rate.max(1));
        let at = |i: u64| Duration::from_nanos(i * 1_000_000_000 / rate);
        let warm_n = warmup.as_secs() * rate;
        let total = warm_n + measured.as_secs() * rate;
        let start = Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::with_capacity(total as usize);
        let mut lag = Vec::with_capacity((total - warm_n) as usize);
        let mut cpu0 = None;
        let mut own0 = None;
        let mut measuring = start;
        let mut connections = None;
        let every = (rate / 10).max(1);
        // The schedule runs on this thread with the OS's sleep (tens of microseconds
        // of jitter), not on tokio's timer (millisecond ticks), and each request is
        // handed to the client's runtime as its own task.
        for i in 0..total {
            let due = start + at(i);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if i == warm_n {
                cpu0 = cpu_seconds(pid);
                own0 = cpu_seconds(std::process::id());
                measuring = Instant::now();
            }
            if i >= warm_n {
                lag.push(Instant::now().saturating_duration_since(due));
            }
            tasks.push(self.spawn(&mix[(i as usize) % mix.len()], due));
            // Ten times a second: how many connections the load needed.
            if i % every == 0 {
                connections = connections.max(connections_to(self.port));
            }
        }
        // The span the client actually took to send the measured requests: longer
        // than scheduled if it could not keep up.
        let wall = measuring.elapsed();
        let cpu1 = cpu_seconds(pid);
        let own1 = cpu_seconds(std::process::id());
        let results = self.handle.block_on(futures_util::future::join_all(tasks));
        let server_cpu = match (cpu0, cpu1) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let samples = results
            .into_iter()
            .skip(warm_n as usize)
            .filter_map(Result::ok)
            .collect();
        Phase {
            label: format!("{rate} req/s, open loop"),
            samples,
            lag,
            wall,
            server_cpu,
            client_cpu: own0.zip(own1).map(|(a, b)| b - a),
            connections,
        }
    }

    /// The same mix, one request at a time: each sent when the previous one is
    /// answered, or `gap` after it. The first 200 requests warm the platform and
    /// are dropped.
    fn closed_loop(&self, mix: &[Arc<Req>], n: usize, gap: Duration, pid: u32) -> Phase {
        let (http, auth) = (self.http.clone(), self.auth.clone());
        let mix: Vec<Arc<Req>> = mix.to_vec();
        let warm = mix.len().min(200);
        let task = self.handle.spawn(async move {
            let mut out = Vec::with_capacity(n);
            let (mut cpu0, mut own0) = (None, None);
            let mut t0 = Instant::now();
            for i in 0..warm + n {
                if i == warm {
                    cpu0 = cpu_seconds(pid);
                    own0 = cpu_seconds(std::process::id());
                    t0 = Instant::now();
                }
                let s = send(
                    http.clone(),
                    auth.clone(),
                    Arc::clone(&mix[i % mix.len()]),
                    Instant::now(),
                )
                .await;
                if i >= warm {
                    out.push(s);
                }
                if !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
            }
            (out, t0.elapsed(), cpu0, own0)
        });
        let (samples, wall, cpu0, own0) = self
            .handle
            .block_on(task)
            .unwrap_or_else(|_| (Vec::new(), Duration::ZERO, None, None));
        let server_cpu = match (cpu0, cpu_seconds(pid)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Phase {
            label: if gap.is_zero() {
                "baseline: closed loop, 1 at a time".into()
            } else {
                format!("baseline: 1 at a time, {} ms apart", gap.as_millis())
            },
            samples,
            lag: Vec::new(),
            wall,
            server_cpu,
            client_cpu: own0
                .zip(cpu_seconds(std::process::id()))
                .map(|(a, b)| b - a),
            connections: connections_to(self.port),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.driver.take() {
            let _ = d.join();
        }
    }
}

fn sorted(it: impl Iterator<Item = Duration>) -> Vec<Duration> {
    let mut v: Vec<Duration> = it.collect();
    v.sort();
    v
}

fn row(p: &Phase) -> String {
    let sent = p.samples.len();
    let ok = sorted(p.samples.iter().filter(|s| s.ok()).map(|s| s.latency));
    let shed = sorted(p.samples.iter().filter(|s| s.shed()).map(|s| s.latency));
    let other = sent - ok.len() - shed.len();
    let slowest = p
        .samples
        .iter()
        .map(|s| s.latency)
        .max()
        .unwrap_or_default();
    let pct = |n: usize| 100.0 * n as f64 / sent.max(1) as f64;
    let q = |v: &[Duration], x: f64| {
        if v.is_empty() {
            "–".to_owned()
        } else {
            ms(percentile(v, x))
        }
    };
    let achieved = sent as f64 / p.wall.as_secs_f64().max(1e-9);
    let share = |c: Option<f64>| {
        c.map(|c| format!("{:.0}%", 100.0 * c / p.wall.as_secs_f64().max(1e-9)))
            .unwrap_or_else(|| "?".into())
    };
    let cpu = format!("{} / {}", share(p.server_cpu), share(p.client_cpu));
    format!(
        "| {} | {sent} ({achieved:.0}/s) | {} | {:.1}% | {other} | {} | {} | {} | {} | {} | {} | {cpu} |",
        p.label,
        ok.len(),
        pct(shed.len()),
        q(&ok, 0.5),
        q(&ok, 0.9),
        q(&ok, 0.99),
        ok.last().map(|d| ms(*d)).unwrap_or_else(|| "–".into()),
        q(&shed, 0.99),
        ms(slowest),
    )
}

/// p50 / p99 of one endpoint's OK answers, and its shed share.
fn endpoint_cell(p: &Phase, kind: Kind) -> String {
    let mine: Vec<&Sample> = p.samples.iter().filter(|s| s.req.kind == kind).collect();
    let ok = sorted(mine.iter().filter(|s| s.ok()).map(|s| s.latency));
    let shed = mine.iter().filter(|s| s.shed()).count();
    if ok.is_empty() {
        return format!("– ({shed} shed)");
    }
    let mut cell = format!(
        "{} / {}",
        ms(percentile(&ok, 0.5)),
        ms(percentile(&ok, 0.99))
    );
    if shed > 0 {
        cell.push_str(&format!(
            " ({:.0}% shed)",
            100.0 * shed as f64 / mine.len() as f64
        ));
    }
    cell
}

/// The `n` requests of the mix with the highest median, OK answers only: which
/// query or file a slow tail comes from.
fn slowest(p: &Phase, n: usize) -> Vec<String> {
    let mut by: std::collections::BTreeMap<(&str, &str), Vec<Duration>> = Default::default();
    for s in p.samples.iter().filter(|s| s.ok()) {
        by.entry((s.req.kind.name(), s.req.what.as_str()))
            .or_default()
            .push(s.latency);
    }
    let mut rows: Vec<(Duration, String)> = by
        .into_iter()
        .map(|((kind, what), mut v)| {
            v.sort();
            let med = percentile(&v, 0.5);
            let line = format!(
                "{kind} `{what}`: median {} · max {} ({} requests)",
                ms(med),
                ms(v.last().copied().unwrap_or_default()),
                v.len()
            );
            (med, line)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.into_iter().take(n).map(|(_, l)| l).collect()
}

/// The 1, 5 and 15 minute load averages: what else the machine was doing.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// What the non-OK, non-503 answers were.
fn other_errors(p: &Phase) -> Option<String> {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for s in &p.samples {
        if s.ok() || s.shed() {
            continue;
        }
        let key = match s.outcome {
            Outcome::Status(c) => c.to_string(),
            Outcome::Transport => "no answer".into(),
        };
        *by.entry(key).or_default() += 1;
    }
    (!by.is_empty()).then(|| {
        by.into_iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Transcript files and bytes under the corpus directory.
fn corpus_size(dir: &Path) -> (usize, u64) {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    let (mut files, mut bytes) = (0, 0);
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) if path.extension().is_some_and(|x| x == "jsonl") => {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    (files, bytes)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let obs = args.setup.observatory()?;
    let corpus = args.setup.corpus()?;
    let data = args.setup.data();
    if !observatory_store::database_path(&data).exists() {
        eprintln!("indexing the corpus into {}", data.display());
        let ok = Command::new(&obs)
            .arg("--data-dir")
            .arg(&data)
            .args(["index", "--claude-dir"])
            .arg(&corpus)
            // Its summary is not part of the results on stdout.
            .stdout(std::io::stderr())
            .status()?
            .success();
        if !ok {
            bail!("indexing failed");
        }
    }
    // One token sends every request of the run: lift its rate limit so that what
    // is measured is the server's capacity and its load shedding, not the limiter.
    let config = args.setup.work.join("api-bench.toml");
    std::fs::write(&config, "rate_per_second = 1000000\nrate_burst = 1000000\n")?;
    let log = args.setup.work.join("api-bench-serve.log");
    let platform = start_platform(&obs, &corpus, &data, &config, &log)?;
    let pid = platform.child.id();

    let http = reqwest::blocking::Client::builder().no_proxy().build()?;
    let mix = build_mix(&http, &platform, 1000)?;
    // Every request of the mix must work before it is timed.
    for r in mix.iter().take(200) {
        let rb = match &r.body {
            Some(b) => http
                .post(r.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(String::clone(b)),
            None => http.get(r.url.clone()),
        };
        let resp = rb.bearer_auth(&platform.token).send()?;
        if !resp.status().is_success() {
            bail!("{} {}: {}", r.kind.name(), r.url, resp.status());
        }
    }
    let limit = http
        .get(format!("{}/api/v1/conversations?limit=1", platform.url))
        .bearer_auth(&platform.token)
        .send()?
        .headers()
        .get("ratelimit-limit")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned();

    let load_before = loadavg();
    let port = Url::parse(&platform.url)?
        .port()
        .context("the platform's URL has no port")?;
    let client = Client::new(&platform.token, port)?;
    // Back to back: the service time with nothing queued. Then spaced out as at a
    // low rate, with the server idle between requests: what waking it costs.
    let mut phases = vec![
        client.closed_loop(&mix, args.baseline, Duration::ZERO, pid),
        client.closed_loop(&mix, args.baseline, Duration::from_millis(10), pid),
    ];
    eprintln!("{}\n{}", row(&phases[0]), row(&phases[1]));
    for &rate in &args.rates {
        // Let the previous rate's connections and queues settle.
        std::thread::sleep(Duration::from_secs(1));
        let p = client.open_loop(
            &mix,
            rate,
            Duration::from_secs(args.warmup),
            Duration::from_secs(args.seconds),
            pid,
        );
        eprintln!("{}", row(&p));
        phases.push(p);
    }
    let rss = peak_rss(pid);
    drop(client);
    drop(platform);

    let (files, bytes) = corpus_size(&corpus);
    println!(
        "## Platform API under load ({} corpus: {files} transcript files, {:.0} MB; 2 cores)",
        args.setup.size,
        bytes as f64 / 1e6
    );
    println!();
    println!(
        "Mix: {}. In flight at most {} (then 503); per-token rate limit lifted to {limit}/s for the run.",
        KINDS
            .iter()
            .map(|(k, w)| format!("{w}% {}", k.name()))
            .collect::<Vec<_>>()
            .join(", "),
        observatory_platform::max_in_flight()
    );
    println!();
    println!("| phase | sent (rate) | ok | 503 shed | other errors | p50 | p90 | p99 | max (ok) | p99 of 503s | slowest answer | CPU: platform / client |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for p in &phases {
        println!("{}", row(p));
    }
    println!();
    print!("| endpoint: p50 / p99 of OK answers |");
    for p in &phases {
        print!(" {} |", p.label);
    }
    println!();
    println!("|---|{}", "---:|".repeat(phases.len()));
    for (k, _) in KINDS {
        print!("| {} |", k.name());
        for p in &phases {
            print!(" {} |", endpoint_cell(p, k));
        }
        println!();
    }
    println!();
    for p in &phases {
        if let Some(e) = other_errors(p) {
            println!("- {}: other errors: {e}", p.label);
        }
        let over = |t: Duration| p.samples.iter().filter(|s| s.latency > t).count();
        println!(
            "- {}: answers slower than 100 ms / 1 s / 10 s: {} / {} / {}; client connections at most {}",
            p.label,
            over(Duration::from_millis(100)),
            over(Duration::from_secs(1)),
            over(Duration::from_secs(10)),
            p.connections.map_or("?".into(), |n| n.to_string()),
        );
        if !p.lag.is_empty() {
            let lag = sorted(p.lag.iter().copied());
            println!(
                "- {}: client send lag p50 {} · p99 {} · max {} (included in the latencies)",
                p.label,
                ms(percentile(&lag, 0.5)),
                ms(percentile(&lag, 0.99)),
                ms(lag.last().copied().unwrap_or_default())
            );
        }
    }
    if let Some(rss) = rss {
        println!("- platform peak RSS: {rss:.0} MB");
    }
    println!(
        "- load average before / after the run: {load_before} / {}",
        loadavg()
    );
    println!("- slowest requests of the mix in the baseline (closed loop):");
    for l in slowest(&phases[0], 6) {
        println!("  - {l}");
    }
    println!(
        "Latency is from the scheduled send time to the last byte of the answer; {} s measured per rate after {} s of warm-up.",
        args.seconds, args.warmup
    );
    Ok(())
}
