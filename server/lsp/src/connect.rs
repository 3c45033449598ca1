//! Finding a platform to talk to, in order:
//!
//! 1. the URL the editor configured (or `OBSERVATORY_URL`), with its API key (the
//!    local token instead only for a platform on this machine);
//! 2. the platform already running for this data directory (it publishes its address
//!    in `serve.json`), shared by every editor on the machine, unless it is a daemon
//!    of an older version: that one is stopped and replaced;
//! 3. a platform started now as a background daemon (`observatory serve` in its own
//!    process group, so it outlives this editor session and later ones reuse it, as
//!    `gopls -remote=auto` does), which exits after 30 minutes without an editor;
//! 4. failing that, a platform inside this process, serving only this session.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use observatory_protocol::discovery::{self, Running};

use crate::platform::Platform;

/// Where a connection came from, for the status shown to the user.
pub use observatory_protocol::lsp::ConnectionSource as Source;

/// Serves a platform inside this process: the last resort when no daemon can be
/// started. The binary passes one in (the platform's `serve_until`), so the
/// language server itself links no platform, store or database.
pub trait InProcess: Send + Sync {
    /// Serves `data_dir`, indexing `claude_dirs`, on a loopback port until `stop`
    /// completes; `bound` is told the address once the listener is up.
    fn serve(
        &self,
        data_dir: PathBuf,
        claude_dirs: Vec<PathBuf>,
        stop: tokio::sync::oneshot::Receiver<()>,
        bound: tokio::sync::oneshot::Sender<std::net::SocketAddr>,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<()>>;
}

/// What the server needs to find or start a local platform.
#[derive(Clone)]
pub struct Local {
    pub data_dir: PathBuf,
    /// Claude Code directories to index when a platform has to be started.
    pub claude_dirs: Vec<PathBuf>,
    /// The `observatory` binary (this one) to start the daemon with.
    pub exe: PathBuf,
    /// Whether a daemon may be started (tests turn it off to exercise the fallback).
    pub spawn_daemon: bool,
    /// How to serve in-process; `None`: that fallback is not available.
    pub in_process: Option<std::sync::Arc<dyn InProcess>>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("data_dir", &self.data_dir)
            .field("claude_dirs", &self.claude_dirs)
            .field("exe", &self.exe)
            .field("spawn_daemon", &self.spawn_daemon)
            .field("in_process", &self.in_process.is_some())
            .finish()
    }
}

/// How long a daemon the language server started waits with no editor before exiting.
pub const DAEMON_IDLE_TIMEOUT: &str = "30m";

pub struct Connection {
    pub platform: Platform,
    pub source: Source,
    /// Stops the in-process platform when dropped.
    _in_process: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Why a configured platform cannot be used as configured: retrying will not help
/// until the settings change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the `url` setting {url:?} is not an http:// or https:// URL")]
    BadUrl { url: String },
    #[error(
        "the platform at {url} is not on this machine, so it needs an API key: set `apiKey` \
         (or OBSERVATORY_API_KEY) to a key from `observatory keys create`"
    )]
    ApiKeyRequired { url: String },
    #[error(transparent)]
    Client(#[from] anyhow::Error),
}

/// A configured platform: no probing here, a platform that is down is reported by
/// the first request and retried like any other outage.
///
/// Without an API key the local token (all scopes, read from the data directory) is
/// used, but only for a platform on this machine: a `url` can come from a
/// workspace's editor settings, and the token must not go to whoever wrote them.
pub fn configured(
    url: &str,
    api_key: Option<&str>,
    local: &Local,
) -> Result<Connection, ConfigError> {
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ConfigError::BadUrl { url: url.into() })?;
    let token = match api_key {
        Some(key) => {
            if parsed.scheme() == "http" && !is_loopback(&parsed) {
                tracing::warn!(url, "the API key goes over plain HTTP to another machine");
            }
            key.to_owned()
        }
        None if is_loopback(&parsed) => read_local_token(&local.data_dir).unwrap_or_default(),
        None => return Err(ConfigError::ApiKeyRequired { url: url.into() }),
    };
    Ok(Connection {
        platform: Platform::new(url, &token)?,
        source: Source::Configured,
        _in_process: None,
    })
}

/// 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or `localhost`. Names that merely
/// resolve to a loopback address do not count: resolution is not ours to trust.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts come bracketed.
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// What the platform serving `data_dir` published in `serve.json`, if anything. The
/// process may have died since: callers check that it answers.
fn discover(data_dir: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(data_dir.join(discovery::SERVE_JSON)).ok()?;
    serde_json::from_str(&text).ok()
}

fn read_local_token(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(discovery::TOKEN))
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The platform running for `data_dir`, if it answers, and what it published.
pub async fn shared(local: &Local) -> Option<(Connection, Running)> {
    let running = discover(&local.data_dir)?;
    let token = read_local_token(&local.data_dir)?;
    let platform = Platform::new(&running.url, &token)
        .inspect_err(|e| tracing::warn!(error = %format!("{e:#}"), "no HTTP client"))
        .ok()?;
    platform.healthy().await.then_some((
        Connection {
            platform,
            source: Source::Shared,
            _in_process: None,
        },
        running,
    ))
}

/// Finds the local platform, starting one if none runs or if the one running is a
/// daemon of an older version.
pub async fn local(local: &Local) -> anyhow::Result<Connection> {
    if let Some((c, running)) = shared(local).await {
        let ours = env!("CARGO_PKG_VERSION");
        // With --no-daemon nothing replaces it: serving in-process instead would
        // take the shared platform away from every other editor.
        if !local.spawn_daemon
            || !should_replace(
                &running.version,
                ours,
                is_daemon(&local.data_dir, running.pid),
            )
        {
            return Ok(c);
        }
        tracing::info!(pid = running.pid, old = %running.version, new = ours, "replacing an older background platform");
        drop(c);
        if let Err(e) = stop_daemon(&local.data_dir, running.pid).await {
            tracing::warn!(error = %format!("{e:#}"), "could not stop the older background platform; using it");
            if let Some((c, _)) = shared(local).await {
                return Ok(c);
            }
        }
    }
    if local.spawn_daemon {
        match start_daemon(local).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not start a background platform; serving in-process")
            }
        }
    }
    in_process(local).await
}

async fn start_daemon(local: &Local) -> anyhow::Result<Connection> {
    std::fs::create_dir_all(&local.data_dir)
        .with_context(|| format!("creating {}", local.data_dir.display()))?;
    let log_path = local.data_dir.join("serve.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut cmd = std::process::Command::new(&local.exe);
    cmd.arg("--data-dir").arg(&local.data_dir);
    for d in &local.claude_dirs {
        cmd.arg("--claude-dir").arg(d);
    }
    // It exits once no editor has used it for a while, so that an upgrade or an
    // uninstall does not leave an old indexer running for good.
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--idle-timeout",
        DAEMON_IDLE_TIMEOUT,
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(log);
    // Its own process group: the editor stopping this server (or a Ctrl-C in the
    // terminal it runs in) must not take the shared platform down with it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} serve", local.exe.display()))?;
    tracing::info!(pid = child.id(), "started a background platform");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some((c, running)) = shared(local).await {
            if running.pid == child.id() {
                record_daemon(&local.data_dir, running.pid);
            }
            // Reap it in the background if it ever exits while we run.
            std::thread::spawn(move || child.wait());
            return Ok(Connection {
                source: Source::Started,
                ..c
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Another editor's daemon may have won the lock: use that one.
            if let Some((c, _)) = shared(local).await {
                return Ok(c);
            }
            bail!(
                "the background platform exited ({status}); see {}",
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "the background platform did not come up within 15 s; see {}",
        log_path.display()
    )
}

/// Where the language server records the pid of the daemon it started.
fn daemon_pid_path(data_dir: &Path) -> PathBuf {
    data_dir.join("daemon.pid")
}

fn record_daemon(data_dir: &Path, pid: u32) {
    let path = daemon_pid_path(data_dir);
    if let Err(e) = std::fs::write(&path, pid.to_string()) {
        tracing::warn!(path = %path.display(), error = %e, "cannot record the background platform's pid");
    }
}

/// Whether the platform with `pid` is a daemon a language server started, rather
/// than one a person runs (which is never stopped from here): the language server
/// recorded its pid in `daemon.pid`; or, on Linux, its stderr is the data
/// directory's `serve.log`, which is how every language server version started its
/// daemons, including those from before `daemon.pid`.
fn is_daemon(data_dir: &Path, pid: u32) -> bool {
    let recorded = std::fs::read_to_string(daemon_pid_path(data_dir))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
    if recorded == Some(pid) {
        return true;
    }
    if cfg!(target_os = "linux") {
        let log = std::fs::canonicalize(data_dir.join("serve.log"));
        let stderr = std::fs::read_link(format!("/proc/{pid}/fd/2"));
        if let (Ok(log), Ok(stderr)) = (log, stderr) {
            return log == stderr;
        }
    }
    false
}

/// Replace a running daemon only with a newer version. An older language server
/// works with a newer platform (the API only grows), and two versions in use at
/// once must not keep replacing each other's daemon. A version that is not semver
/// is left alone.
fn should_replace(running: &str, ours: &str, is_daemon: bool) -> bool {
    match (
        semver::Version::parse(running),
        semver::Version::parse(ours),
    ) {
        (Ok(running), Ok(ours)) => is_daemon && running < ours,
        _ => false,
    }
}

/// SIGTERM to the daemon, then waits until it has let go of the data directory's
/// platform lock, so that ours can take it: up to 10 s, as a platform that handles
/// SIGTERM first gives open requests a few seconds to finish.
async fn stop_daemon(data_dir: &Path, pid: u32) -> anyhow::Result<()> {
    // 0, -1 and negative pids signal whole groups: only ever one process here.
    let target = i32::try_from(pid)
        .ok()
        .filter(|&p| p > 1 && pid != std::process::id())
        .with_context(|| format!("refusing to signal pid {pid}"))?;
    // SAFETY: kill(2) with a positive pid sends one signal to one process.
    if unsafe { libc::kill(target, libc::SIGTERM) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("stopping the background platform (pid {pid})"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if lock_released(data_dir) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the background platform (pid {pid}) still runs 10 s after SIGTERM")
}

/// Whether no platform holds `serve.lock` (the lock `observatory serve` holds for
/// its lifetime, see `observatory_protocol::discovery`).
fn lock_released(data_dir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(discovery::SERVE_LOCK))
    else {
        return false;
    };
    // Taken only to test it: released when `file` closes.
    file.try_lock().is_ok()
}

async fn in_process(local: &Local) -> anyhow::Result<Connection> {
    let Some(launcher) = &local.in_process else {
        bail!("no platform runs, none could be started, and this build cannot serve one in-process")
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tell, told) = tokio::sync::oneshot::channel();
    let serving = launcher.serve(
        local.data_dir.clone(),
        local.claude_dirs.clone(),
        stopped,
        tell,
    );
    let mut serving = tokio::spawn(serving);
    // Until it listens, its end is the answer: a platform that cannot open the
    // store says why (a database from a newer version, a data directory it may
    // not write), and that reason is what the editor shows.
    let addr = tokio::select! {
        Ok(addr) = told => addr,
        ended = &mut serving => {
            let why = match ended {
                Ok(Err(e)) => e,
                Ok(Ok(())) => anyhow::anyhow!("it stopped before listening"),
                Err(e) => anyhow::anyhow!("it panicked: {e}"),
            };
            return Err(why.context("the in-process platform did not start"));
        }
    };
    tokio::spawn(async move {
        match serving.await {
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "in-process platform stopped"),
            Err(e) => tracing::error!(error = %e, "in-process platform panicked"),
            Ok(Ok(())) => {}
        }
    });
    let token = read_local_token(&local.data_dir).context("reading the local API token")?;
    Ok(Connection {
        platform: Platform::new(&format!("http://{addr}"), &token)?,
        source: Source::InProcess,
        _in_process: Some(stop),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &Path) -> Local {
        Local {
            data_dir: dir.to_path_buf(),
            claude_dirs: Vec::new(),
            exe: PathBuf::from("observatory"),
            spawn_daemon: false,
            in_process: None,
        }
    }

    #[test]
    fn only_an_older_daemon_is_replaced() {
        assert!(should_replace("0.1.0", "0.2.0", true));
        assert!(should_replace("0.2.0-dev.1", "0.2.0", true));
        assert!(should_replace("0.9.9", "1.0.0", true));
        // A platform someone runs is theirs to stop.
        assert!(!should_replace("0.1.0", "0.2.0", false));
        // The same or a newer version serves this one too.
        assert!(!should_replace("0.2.0", "0.2.0", true));
        assert!(!should_replace("0.3.0", "0.2.0", true));
        assert!(!should_replace("custom-build", "0.2.0", true));
        assert!(!should_replace("", "0.2.0", true));
    }

    #[test]
    fn a_daemon_is_the_recorded_pid_or_writes_to_serve_log() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        assert!(!is_daemon(dir.path(), me));
        record_daemon(dir.path(), me);
        assert!(is_daemon(dir.path(), me));
        assert!(!is_daemon(dir.path(), me + 1));
    }

    #[test]
    fn a_lock_held_elsewhere_is_not_released() {
        let dir = tempfile::tempdir().unwrap();
        assert!(lock_released(dir.path()));
        let held = std::fs::File::create(dir.path().join(discovery::SERVE_LOCK)).unwrap();
        held.lock().unwrap();
        // flock is per open file: this process's second open file cannot take it.
        assert!(!lock_released(dir.path()));
        drop(held);
        assert!(lock_released(dir.path()));
    }

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://127.0.0.1:8787",
            "http://127.9.9.9",
            "https://localhost:1/",
            "http://LocalHost",
            "http://[::1]:8787",
            "http://[::ffff:127.0.0.1]:8787",
            "http://127.1:8787",
        ] {
            assert!(is_loopback(&url.parse().unwrap()), "{url}");
        }
        for url in [
            "https://observatory.example.com",
            "http://10.0.0.1",
            "http://0.0.0.0:8787",
            "http://[::]:8787",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
            "http://[::ffff:10.0.0.1]",
        ] {
            assert!(!is_loopback(&url.parse().unwrap()), "{url}");
        }
    }

    #[test]
    fn the_local_token_goes_only_to_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(discovery::TOKEN), "local-secret\n").unwrap();
        let l = local(dir.path());
        let here = configured("http://127.0.0.1:9", None, &l).unwrap();
        assert_eq!(here.platform.token(), "local-secret");
        let err = configured("https://observatory.example.com", None, &l)
            .err()
            .unwrap();
        assert!(matches!(err, ConfigError::ApiKeyRequired { .. }), "{err}");
        assert!(err.to_string().contains("apiKey"), "{err}");
        let keyed = configured("https://observatory.example.com", Some("obs_k"), &l).unwrap();
        assert_eq!(keyed.platform.token(), "obs_k");
        let bad = configured("ftp://127.0.0.1", None, &l).err().unwrap();
        assert!(matches!(bad, ConfigError::BadUrl { .. }), "{bad}");
    }
}
