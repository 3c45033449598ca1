//! `observatory`: index Claude Code transcripts and search them from the terminal.

mod output;
mod time_arg;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use observatory_platform::config::{Config, PathMap};
use observatory_store::{
    Catalog, ConversationFilter, SearchQuery, Store, UsageGroup, WatchEvent, Writer,
};

use crate::time_arg::{parse_duration, parse_time};

#[derive(Parser)]
#[command(
    name = "observatory",
    version,
    about = "See which Claude Code conversation wrote what, and search everything that was said."
)]
struct Cli {
    /// Where Observatory keeps its database [default: $XDG_DATA_HOME/observatory]
    #[arg(long, global = true, env = "OBSERVATORY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A Claude Code config directory (or its projects/ folder) to read; repeatable
    /// [default: $CLAUDE_CONFIG_DIR, else ~/.config/claude and ~/.claude]
    #[arg(long = "claude-dir", global = true, value_name = "DIR")]
    claude_dirs: Vec<PathBuf>,
    /// Configuration file [default: $XDG_CONFIG_HOME/observatory/config.toml]
    #[arg(long, global = true, env = "OBSERVATORY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log more (-v: info, -vv: debug); logs go to stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index new transcript lines (incremental; safe to interrupt and rerun)
    Index {
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Index, then keep indexing lines as they are written, until interrupted
    Watch,
    /// Run the platform: keep indexing and serve the REST API (see /docs)
    Serve {
        /// Address to listen on, loopback only for now [default: 127.0.0.1:8787]
        #[arg(long, env = "OBSERVATORY_BIND")]
        bind: Option<std::net::SocketAddr>,
        /// Stop after this long with no API request and no open stream: seconds, or
        /// a number with a unit (90s, 30m, 2h) [default: run until stopped]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        idle_timeout: Option<std::time::Duration>,
    },
    /// Manage the platform's API keys
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Send events to other tools over HTTP (Standard Webhooks, Slack, Discord);
    /// the running platform delivers them (see docs/platform.md)
    Webhooks {
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// Print the effective configuration (file, then environment, then flags)
    Config {
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over prompts, answers, thinking and tool calls
    Search(SearchArgs),
    /// List conversations, most recent first
    Conversations {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Print a conversation as Markdown
    Show {
        /// Session id, or a unique prefix of it
        id: String,
    },
    /// Token usage and estimated cost
    Stats {
        #[arg(long, value_enum, default_value_t = By::Model)]
        by: By,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long)]
        json: bool,
    },
    /// Which agent conversation wrote each line of a file, like `git blame`
    Blame {
        file: PathBuf,
        /// The workspace the file's path is relative to [default: its git checkout,
        /// else its directory]
        #[arg(long)]
        root: Option<PathBuf>,
        /// Rewrite recorded paths starting with FROM to start with TO (repeatable), for
        /// transcripts made in another checkout or on another machine
        /// [env: OBSERVATORY_PATH_MAP, as FROM=TO pairs separated by ';']
        #[arg(long = "map", value_name = "FROM=TO", value_parser = parse_mapping, env = "OBSERVATORY_PATH_MAP", value_delimiter = ';', hide_env = true)]
        mappings: Vec<observatory_attribution::paths::PathMapping>,
        /// Ignore whitespace: a line re-indented or re-spaced since an agent wrote it
        /// stays the agent's, like `git blame -w`
        #[arg(short = 'w', long)]
        ignore_whitespace: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run the language server on stdin/stdout (editors start this; see docs/lsp.md)
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport
        #[arg(long, hide = true)]
        stdio: bool,
        /// Never start a background platform: serve in-process when none runs
        #[arg(long)]
        no_daemon: bool,
    },
    /// Which conversations changed a function, method or class, anywhere, newest first
    Symbols {
        /// Its name (`refresh_token`) or qualified name (`Auth::refresh_token`)
        name: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Every conversation that touched a file, newest first
    Files {
        /// An absolute path, or a relative one matched against the end of recorded paths
        path: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key; its secret is printed once and stored only as a hash
    Create {
        name: String,
        /// read, write or admin (repeatable)
        #[arg(long = "scope", default_value = "read")]
        scopes: Vec<String>,
    },
    /// List keys (never their secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum WebhooksAction {
    /// Subscribe a URL; its signing secret is printed once
    Create {
        url: String,
        #[command(flatten)]
        options: WebhookOptions,
    },
    /// List webhooks (never their secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a webhook (an empty --project or --path-glob removes that filter)
    Update {
        id: i64,
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        options: WebhookOptions,
    },
    /// Stop sending (events are kept and sent on resume)
    Pause { id: i64 },
    /// Send again after a pause, or re-enable a disabled webhook
    Resume { id: i64 },
    /// Delete a webhook with its deliveries
    Delete { id: i64 },
    /// A new signing secret; the old one keeps signing beside it for the grace period
    Rotate {
        id: i64,
        /// How long the old secret stays valid: seconds, or 90s, 30m, 2h, 1d
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        grace: std::time::Duration,
    },
    /// Queue a `webhook.test` event (the running platform sends it)
    Test {
        id: i64,
        /// Wait up to 30 s for its first attempt and print it
        #[arg(long)]
        wait: bool,
    },
    /// A webhook's deliveries, newest first
    Deliveries {
        id: i64,
        /// pending, delivered or failed
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The HTTP attempts of one delivery: status, latency, response excerpt
    Attempts {
        id: i64,
        delivery: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send one delivery again, or (without DELIVERY) every failed one
    Redeliver { id: i64, delivery: Option<i64> },
}

#[derive(clap::Args)]
struct WebhookOptions {
    /// Event kind to send (repeatable; `*` matches any run of characters:
    /// `hook.*`, `*`) [default on create: *]
    #[arg(long = "event", value_name = "KIND")]
    events: Vec<String>,
    /// Only events of conversations in this project directory (or below)
    #[arg(long)]
    project: Option<String>,
    /// Only events about paths matching this glob (`*/src/auth/*`)
    #[arg(long)]
    path_glob: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// standard (signed JSON), slack or discord
    #[arg(long)]
    format: Option<String>,
}

impl WebhookOptions {
    fn format(&self) -> Result<Option<observatory_protocol::webhooks::WebhookFormat>> {
        self.format
            .as_deref()
            .map(|f| {
                observatory_protocol::webhooks::WebhookFormat::parse(f)
                    .with_context(|| format!("--format {f:?}: standard, slack or discord"))
            })
            .transpose()
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum By {
    Conversation,
    Project,
    Day,
    Model,
}

#[derive(clap::Args)]
struct FilterArgs {
    /// Only this project directory (and below)
    #[arg(long)]
    project: Option<String>,
    /// Only from this time: 2025-06-01, an RFC 3339 time, or an age like 7d or 12h
    #[arg(long, value_parser = parse_time)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only before this time (same forms as --since)
    #[arg(long, value_parser = parse_time)]
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only models whose id contains this
    #[arg(long)]
    model: Option<String>,
}

impl FilterArgs {
    fn to_filter(&self) -> ConversationFilter {
        ConversationFilter {
            project: self.project.clone(),
            since: self.since,
            until: self.until,
            model: self.model.clone(),
            file: None,
            text: None,
            limit: None,
            offset: 0,
        }
    }
}

#[derive(clap::Args)]
struct SearchArgs {
    /// Words, "quoted phrases", prefix*, -excluded, a OR b
    query: String,
    #[command(flatten)]
    filter: FilterArgs,
    /// Only conversations that touched this file
    #[arg(long)]
    file: Option<String>,
    /// user, assistant or system
    #[arg(long)]
    role: Option<String>,
    /// prompt, user, assistant, thinking, tool_input, tool_output or system
    #[arg(long)]
    kind: Option<String>,
    /// Only this tool's inputs and outputs (Bash, Edit, an MCP tool; in any case)
    #[arg(long)]
    tool: Option<String>,
    /// Only this conversation (session id or prefix)
    #[arg(long)]
    conversation: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long, default_value_t = 0)]
    offset: usize,
    #[arg(long)]
    json: bool,
}

fn parse_mapping(s: &str) -> Result<observatory_attribution::paths::PathMapping, String> {
    let (from, to) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not FROM=TO"))?;
    if from.is_empty() || to.is_empty() {
        return Err(format!("{s:?}: both FROM and TO must be paths"));
    }
    Ok(observatory_attribution::paths::PathMapping {
        from: from.to_owned(),
        to: to.to_owned(),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. } | Command::Lsp { .. }) {
        die_on_broken_pipe();
    }
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Rust starts with SIGPIPE ignored, so `println!` panics once the reader has gone
/// (`observatory blame FILE | head -1`). A command printing its answer should end
/// like any Unix filter instead: killed by SIGPIPE, which shells report as status
/// 141. The platform and the language server keep it ignored: they write to
/// sockets and pipes whose peers come and go, and handle those errors themselves.
fn die_on_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Ctrl-C ends the command at once, as it did, after `say`: a batch being written is
/// rolled back and read again by the next run, exactly as after `kill -9`, so there
/// is nothing to wait for, only to tell the user that nothing was lost.
fn on_interrupt(say: impl Fn() + Send + 'static) {
    let set = ctrlc::set_handler(move || {
        say();
        std::process::exit(130);
    });
    if let Err(e) = set {
        tracing::debug!(error = %e, "no Ctrl-C handler");
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OBSERVATORY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| output::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        // Its own report of a failed write goes through `eprintln!`, which panics
        // when stderr is a closed pipe (an editor that dropped the language server's
        // log): the task that logged would die with it.
        .log_internal_errors(false)
        .init();
}

fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(d) => Ok(d),
        None => observatory_store::default_data_dir()
            .context("cannot tell where to keep data: set --data-dir or OBSERVATORY_DATA_DIR"),
    }
}

/// Claude Code's directories, or where it will write them when none exists yet (the
/// watcher's periodic rescan notices the directory once it appears).
fn roots_to_watch(given: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let roots = roots(given)?;
    if !roots.is_empty() {
        return Ok(roots);
    }
    eprintln!("{NO_TRANSCRIPTS}");
    Ok(dirs::home_dir()
        .map(|h| vec![h.join(".claude")])
        .unwrap_or_default())
}

/// The store for a command that only reads it: a data directory with no database is
/// a mistyped `--data-dir` or a first run, not an empty index to create there.
fn open_index(given: Option<PathBuf>) -> Result<Store> {
    let dir = data_dir(given)?;
    let db = observatory_store::database_path(&dir);
    if !db.exists() {
        bail!(
            "nothing is indexed in {}: run `observatory index` first, or check --data-dir",
            dir.display()
        );
    }
    open_store(Some(dir))
}

fn open_store(given: Option<PathBuf>) -> Result<Store> {
    let db = observatory_store::database_path(&data_dir(given)?);
    Store::open(&db).with_context(|| format!("opening the database at {}", db.display()))
}

/// The directories to read: those given with --claude-dir (which must exist), else
/// Claude Code's own directories that exist (possibly none yet).
fn roots(given: &[PathBuf]) -> Result<Vec<PathBuf>> {
    for d in given {
        if !d.is_dir() {
            bail!(
                "{} is not a directory (given with --claude-dir)",
                d.display()
            );
        }
    }
    if !given.is_empty() {
        // A relative path is made absolute once, as the files under it are recorded
        // by path: `../x` from one directory and `/abs/x` from another would
        // otherwise be two sets of files, indexed twice.
        return given
            .iter()
            .map(|d| {
                if d.is_absolute() {
                    Ok(d.clone())
                } else {
                    std::fs::canonicalize(d).with_context(|| format!("resolving {}", d.display()))
                }
            })
            .collect();
    }
    Ok(observatory_transcript::claude_config_dirs())
}

/// The language server's last resort: the platform on this process's runtime.
struct PlatformInProcess;

impl observatory_lsp::InProcess for PlatformInProcess {
    fn serve(
        &self,
        data_dir: PathBuf,
        claude_dirs: Vec<PathBuf>,
        stop: tokio::sync::oneshot::Receiver<()>,
        bound: tokio::sync::oneshot::Sender<std::net::SocketAddr>,
    ) -> futures_util::future::BoxFuture<'static, anyhow::Result<()>> {
        let opts = observatory_platform::ServeOptions {
            // One editor, one process: its bursts are not a runaway script's.
            rate_per_second: 1000,
            rate_burst: 1000,
            ..observatory_platform::ServeOptions::new(
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                data_dir,
                claude_dirs,
            )
        };
        Box::pin(observatory_platform::serve_until(
            opts,
            async {
                let _ = stop.await;
            },
            move |addr, _| {
                let _ = bound.send(addr);
            },
        ))
    }
}

const NO_TRANSCRIPTS: &str =
    "No Claude Code transcripts yet: nothing at $CLAUDE_CONFIG_DIR, ~/.config/claude or \
     ~/.claude. Use Claude Code and run this again, or point at a directory with --claude-dir DIR.";

/// The configuration file, with what the environment and flags override applied.
fn effective_config(cli: &Cli) -> Result<Config> {
    let (path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => match observatory_platform::config::default_path() {
            Some(p) => (p, false),
            None => return Ok(Config::default()),
        },
    };
    let mut config = Config::load(&path, explicit)?;
    if cli.data_dir.is_some() {
        config.data_dir = cli.data_dir.clone();
    }
    if !cli.claude_dirs.is_empty() {
        config.claude_dirs = cli.claude_dirs.clone();
    }
    match &cli.command {
        Command::Serve { bind: Some(b), .. } => config.bind = *b,
        // So that `config` shows what `serve` would use.
        _ => {
            if let Some(b) = std::env::var("OBSERVATORY_BIND")
                .ok()
                .and_then(|b| b.parse().ok())
            {
                config.bind = b;
            }
        }
    }
    if let Command::Blame { mappings, .. } = &cli.command {
        if !mappings.is_empty() {
            config.path_map = mappings
                .iter()
                .map(|m| PathMap {
                    from: m.from.clone(),
                    to: m.to.clone(),
                })
                .collect();
        }
    }
    if let Ok(v) = std::env::var("OBSERVATORY_WEBHOOKS_ALLOW_PRIVATE_TARGETS") {
        config.webhooks.allow_private_targets = matches!(v.as_str(), "1" | "true" | "yes");
    }
    if config.data_dir.is_none() {
        config.data_dir = observatory_store::default_data_dir();
    }
    Ok(config)
}

/// `--map` (or OBSERVATORY_PATH_MAP) when given, else the configuration's.
fn path_mappings(config: &Config) -> Vec<observatory_attribution::paths::PathMapping> {
    config
        .path_map
        .iter()
        .map(|m| observatory_attribution::paths::PathMapping {
            from: m.from.clone(),
            to: m.to.clone(),
        })
        .collect()
}

/// The paths the file at `path` had before a person moved it, as blame finds them:
/// none when it is not a file here, or has a history of its own.
fn earlier_names(
    store: &observatory_store::Store,
    path: &str,
    mappings: &[observatory_attribution::paths::PathMapping],
) -> Result<Vec<String>> {
    let file = std::path::absolute(path).with_context(|| format!("resolving {path}"))?;
    let Ok(content) = std::fs::read(&file) else {
        return Ok(Vec::new());
    };
    let root = observatory_attribution::blame::workspace_root(&file);
    let blame = observatory_attribution::blame::blame(
        store,
        &file,
        &root,
        &String::from_utf8_lossy(&content),
        mappings,
    )?;
    let here = file.to_string_lossy();
    let mut names: Vec<String> = Vec::new();
    for w in &blame.writes {
        if w.path != here && !names.contains(&w.path) {
            names.push(w.path.clone());
        }
    }
    Ok(names)
}

fn run(cli: Cli) -> Result<()> {
    let config = effective_config(&cli)?;
    let cli = Cli {
        data_dir: config.data_dir.clone(),
        claude_dirs: config.claude_dirs.clone(),
        ..cli
    };
    match cli.command {
        Command::Index { json } => {
            let roots = roots(&cli.claude_dirs)?;
            if roots.is_empty() {
                println!("{NO_TRANSCRIPTS}");
                return Ok(());
            }
            let bar = output::progress_bar();
            on_interrupt({
                let bar = bar.clone();
                move || {
                    bar.abandon();
                    eprintln!(
                        "interrupted: what was indexed is kept; `observatory index` goes on from there"
                    );
                }
            });
            let mut store = open_store(cli.data_dir)?;
            let report = store
                .index_roots(&roots, &mut |p| {
                    bar.set_length(p.bytes_total);
                    bar.set_position(p.bytes_done);
                })
                .context("indexing")?;
            output::clear_progress_bar(&bar);
            let counts = store.counts()?;
            if json {
                output::print_json(&serde_json::json!({ "run": report, "totals": counts }))?;
            } else {
                output::print_index_summary(&roots, &report, &counts, &store.warnings(5)?);
            }
        }
        Command::Watch => {
            let roots = roots_to_watch(&cli.claude_dirs)?;
            let mut store = open_store(cli.data_dir)?;
            let stop = Arc::new(AtomicBool::new(false));
            on_interrupt(|| eprintln!("stopped watching; what was indexed is kept"));
            eprintln!("watching {} (Ctrl-C to stop)", output::join_paths(&roots));
            observatory_store::watch(&mut store, &roots, &stop, &mut |ev| match ev {
                WatchEvent::Scanned(r) => eprintln!(
                    "indexed {} new lines from {} files ({} new messages, {} warnings)",
                    r.lines, r.files_changed, r.new_messages, r.warnings
                ),
                WatchEvent::Indexed(r) if r.missing => {
                    eprintln!("{}: deleted; its indexed copy is kept", r.path.display())
                }
                WatchEvent::Indexed(r) => eprintln!(
                    "{}: +{} lines ({} new messages)",
                    r.path.display(),
                    r.lines,
                    r.new_messages
                ),
                WatchEvent::Failed(p, e) => eprintln!("{}: {e}", p.display()),
                WatchEvent::Progress(_) => {}
            })?;
        }
        Command::Keys { action } => {
            let mut store = open_store(cli.data_dir)?;
            match action {
                KeysAction::Create { name, scopes } => {
                    let (key, secret) = store.create_api_key(&name, &scopes)?;
                    eprintln!("created key {} ({}, scopes: {}); this is the only time its secret is shown:", key.id, key.name, key.scopes.join(", "));
                    println!("{secret}");
                }
                KeysAction::List { json } => {
                    let keys = store.api_keys()?;
                    if json {
                        output::print_json(&keys)?;
                    } else {
                        for k in keys {
                            let state = if k.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            };
                            println!(
                                "{:>4}  obs_{}_…  {:<20} {:<18} {state}",
                                k.id,
                                k.prefix,
                                k.name,
                                k.scopes.join(",")
                            );
                        }
                    }
                }
                KeysAction::Revoke { id } => {
                    if !store.revoke_api_key(id)? {
                        bail!("no active key with id {id}");
                    }
                    println!("revoked key {id}");
                }
            }
        }
        Command::Webhooks { action } => {
            let store = open_store(cli.data_dir)?;
            webhooks::run(store, action, config.webhooks.allow_private_targets)?;
        }
        Command::Config { json } => {
            let token = config
                .data_dir
                .as_deref()
                .map(observatory_platform::token_path);
            if json {
                let mut v = serde_json::to_value(&config)?;
                v["token"] = serde_json::json!(token
                    .as_ref()
                    .map(|t| format!("******** (in {})", t.display())));
                output::print_json(&v)?;
            } else {
                print!("{}", config.to_toml());
                if let Some(t) = token {
                    println!("# token = \"********\" (in {})", t.display());
                }
            }
        }
        Command::Serve { idle_timeout, .. } => {
            let bind = config.bind;
            let roots = roots_to_watch(&cli.claude_dirs)?;
            let dir = data_dir(cli.data_dir)?;
            observatory_platform::serve_blocking(observatory_platform::ServeOptions {
                rate_per_second: config.rate_per_second,
                rate_burst: config.rate_burst,
                path_map: config.path_map.clone(),
                workspace_roots: config.workspace_roots.clone(),
                idle_timeout,
                webhooks: config.webhooks.clone(),
                ..observatory_platform::ServeOptions::new(bind, dir, roots)
            })?;
        }
        Command::Search(a) => {
            let store = open_index(cli.data_dir)?;
            let mut q = SearchQuery::new(a.query);
            q.project = a.filter.project;
            q.since = a.filter.since;
            q.until = a.filter.until;
            q.model = a.filter.model;
            q.file = a.file;
            q.role = a.role;
            q.kind = a.kind;
            q.tool = a.tool;
            q.conversation = a.conversation;
            q.limit = a.limit;
            q.offset = a.offset;
            if a.json {
                q.highlight = ("<mark>".into(), "</mark>".into());
            } else if output::color() {
                q.highlight = ("\x1b[1;33m".into(), "\x1b[0m".into());
            }
            let page = store.search(&q)?.into_page();
            if a.json {
                output::print_json(&page)?;
            } else {
                output::print_search(&page);
            }
        }
        Command::Conversations {
            filter,
            limit,
            json,
        } => {
            let store = open_index(cli.data_dir)?;
            let mut f = filter.to_filter();
            f.limit = Some(limit);
            let list = store.conversations(&f)?;
            if json {
                output::print_json(&list)?;
            } else {
                output::print_conversations(&list);
            }
        }
        Command::Show { id } => {
            let store = open_index(cli.data_dir)?;
            print!("{}", observatory_store::conversation_markdown(&store, &id)?);
        }
        Command::Stats { by, filter, json } => {
            let store = open_index(cli.data_dir)?;
            let group = match by {
                By::Conversation => UsageGroup::Conversation,
                By::Project => UsageGroup::Project,
                By::Day => UsageGroup::Day,
                By::Model => UsageGroup::Model,
            };
            let rows = store.usage(group, &filter.to_filter())?;
            if json {
                output::print_json(&rows)?;
            } else {
                output::print_usage(group, &rows);
            }
        }
        Command::Blame {
            file,
            root,
            ignore_whitespace,
            json,
            ..
        } => {
            // `--map` (or OBSERVATORY_PATH_MAP) when given, else the configuration's.
            let mappings = path_mappings(&config);
            let store = open_index(cli.data_dir)?;
            let file = std::path::absolute(&file)
                .with_context(|| format!("resolving {}", file.display()))?;
            let content =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let content = String::from_utf8_lossy(&content);
            let root = match root {
                Some(r) => std::path::absolute(r)?,
                None => observatory_attribution::blame::workspace_root(&file),
            };
            let options = observatory_attribution::Options { ignore_whitespace };
            let blame = observatory_attribution::blame::blame_with(
                &store, &file, &root, &content, &mappings, options,
            )?;
            if json {
                output::print_json(&output::blame_json(&file, &content, &blame))?;
            } else {
                output::print_blame(&file, &content, &blame);
            }
        }
        Command::Lsp { no_daemon, .. } => {
            let dir = data_dir(cli.data_dir)?;
            let local = observatory_lsp::Local {
                claude_dirs: roots_to_watch(&cli.claude_dirs)?,
                exe: std::env::current_exe().context("locating the observatory binary")?,
                spawn_daemon: !no_daemon,
                data_dir: dir.clone(),
                in_process: Some(std::sync::Arc::new(PlatformInProcess)),
            };
            observatory_lsp::run_stdio_blocking(local, dir.join("editor"))?;
        }
        Command::Symbols { name, limit, json } => {
            let store = open_index(cli.data_dir)?;
            let found = observatory_attribution::symbols::changes_to_symbol(&store, &name, limit)?;
            if json {
                output::print_json(&found)?;
            } else if found.is_empty() {
                bail!("no recorded change wrote inside a symbol named {name:?}");
            } else {
                output::print_symbol_changes(&found);
            }
        }
        Command::Files { path, json } => {
            let store = open_index(cli.data_dir)?;
            let mut touches = store.file_touches(&path)?;
            let mut earlier = Vec::new();
            if touches.is_empty() {
                // A file a person moved has no touches under its name; blame follows
                // it to the names it had, and so does this list.
                earlier = earlier_names(&store, &path, &path_mappings(&config))?;
                for name in &earlier {
                    touches.extend(store.file_touches(name)?);
                }
                touches.sort_by_key(|t| std::cmp::Reverse(t.at));
            }
            if json {
                output::print_json(&touches)?;
            } else if touches.is_empty() {
                bail!("no conversation touched {path:?}");
            } else {
                if !earlier.is_empty() {
                    eprintln!(
                        "{path} was moved here by hand; touches under its earlier name: {}",
                        earlier.join(", ")
                    );
                }
                output::print_touches(&touches);
            }
        }
    }
    Ok(())
}
