//! End-to-end tests of the `observatory` binary over the real fixture transcripts.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/answers.rs"]
mod answers;

const BIN: &str = env!("CARGO_BIN_EXE_observatory");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/transcripts")
}

struct Env {
    data: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            data: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir").arg(self.data.path()).args(args);
        c.env_remove("CLAUDE_CONFIG_DIR")
            .env("HOME", self.data.path())
            .env("NO_COLOR", "1");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run observatory")
    }

    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.cmd(args))
    }

    fn json(&self, args: &[&str]) -> Value {
        json_of(self.cmd(args))
    }

    fn fail(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn index_fixtures(&self) {
        let f = fixtures();
        let out = self.ok(&["index", "--claude-dir", f.to_str().expect("path")]);
        assert!(out.contains("conversations"), "{out}");
    }
}

/// The output of `cmd`, which must succeed.
fn stdout_of(mut cmd: Command) -> String {
    let out = cmd.output().expect("run observatory");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The JSON output of `cmd`, which must succeed.
fn json_of(cmd: Command) -> Value {
    serde_json::from_str(&stdout_of(cmd)).expect("JSON output")
}

#[test]
fn index_then_search_show_stats_and_files() {
    let env = Env::new();
    env.index_fixtures();

    let page = env.json(&["search", "colors green", "--json"]);
    let hits = page["hits"].as_array().expect("hits");
    assert!(!hits.is_empty());
    assert!(hits.iter().any(|h| h["session_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("cb947e5b"))));
    assert!(hits[0]["snippet"]
        .as_str()
        .is_some_and(|s| s.contains("<mark>")));

    let table = env.ok(&["search", "colors green", "--limit", "2"]);
    assert!(
        table.contains("Make the colors green and yellow"),
        "{table}"
    );

    let md = env.ok(&["show", "cb947e5b"]);
    assert!(
        md.starts_with("# Make the colors green and yellow"),
        "{}",
        &md[..200.min(md.len())]
    );
    assert!(md.contains("## Prompt"));
    assert!(md.contains("```diff"), "edits are shown as diffs");

    let stats = env.json(&["stats", "--by", "conversation", "--json"]);
    let row = stats
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["key"].as_str().is_some_and(|k| k.starts_with("cb947e5b")))
        .cloned();
    let row = row.unwrap_or_else(|| panic!("no row for cb947e5b in {stats}"));
    assert_eq!(row["usage"]["output_tokens"], 3306);
    assert_eq!(row["usage"]["cache_read_input_tokens"], 293447);

    let days = env.ok(&["stats", "--by", "day"]);
    assert!(
        days.contains("2025-06-08") && days.contains("Total"),
        "{days}"
    );

    let touches = env.json(&["files", "example.py", "--json"]);
    let tools: Vec<&str> = touches
        .as_array()
        .expect("touches")
        .iter()
        .filter_map(|t| t["tool"].as_str())
        .collect();
    assert!(
        tools.contains(&"Write") && tools.contains(&"Edit"),
        "{tools:?}"
    );

    let convs = env.json(&[
        "conversations",
        "--project",
        "/Users/chip/dev/ai-music",
        "--json",
    ]);
    assert_eq!(convs.as_array().expect("list").len(), 3);
}

#[test]
fn clear_errors_and_nonzero_exits() {
    let env = Env::new();
    let missing = env.fail(&["index", "--claude-dir", "/definitely/not/here"]);
    assert!(
        missing.contains("/definitely/not/here") && missing.contains("not a directory"),
        "{missing}"
    );
    // No transcripts at all is not an error: a new user simply has none yet.
    let none = env.ok(&["index"]);
    assert!(none.contains("No Claude Code transcripts yet"), "{none}");

    env.index_fixtures();
    let bad_id = env.fail(&["show", "zzzz-no-such"]);
    assert!(bad_id.contains("no conversation matches"), "{bad_id}");
    let ambiguous = env.fail(&["show", "agent-"]);
    assert!(
        ambiguous.contains("matches several conversations"),
        "{ambiguous}"
    );
    let bad_query = env.fail(&["search", "() &&"]);
    assert!(bad_query.contains("bad search query"), "{bad_query}");
    let bad_role = env.fail(&["search", "x", "--role", "robot"]);
    assert!(bad_role.contains("unknown role"), "{bad_role}");
    let bad_time = env.fail(&["search", "x", "--since", "yesterday"]);
    assert!(bad_time.contains("not a date"), "{bad_time}");
    // Ages past the calendar's range are refused, not a panic in date arithmetic.
    for age in ["100000000d", "9223372036854775807w"] {
        let far = env.fail(&["conversations", "--since", age]);
        assert!(!far.contains("panicked"), "{far}");
        assert!(far.contains("invalid value") && far.contains(age), "{far}");
    }
    let bad_idle = env.fail(&["serve", "--idle-timeout", "soon"]);
    assert!(
        bad_idle.contains("invalid value") && bad_idle.contains("soon"),
        "{bad_idle}"
    );
    let untouched = env.fail(&["files", "never/touched.rs"]);
    assert!(untouched.contains("no conversation touched"), "{untouched}");
}

#[test]
fn claude_config_dir_list_is_honoured() {
    let env = Env::new();
    let f = fixtures();
    let a = f.join("sniffly/tests/mock-data");
    let b = f.join("git-ai/tests/fixtures");
    let mut cmd = env.cmd(&["index", "--json"]);
    cmd.env(
        "CLAUDE_CONFIG_DIR",
        format!("{},{}", a.display(), b.display()),
    );
    let report = json_of(cmd);
    assert_eq!(report["run"]["files"], 4 + 4);
}

fn write_lines(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open");
    f.write_all(bytes).expect("append");
}

#[test]
fn watch_indexes_appended_lines() {
    let env = Env::new();
    let claude = tempfile::tempdir().expect("tmp");
    let proj = claude.path().join("projects/-w");
    std::fs::create_dir_all(&proj).expect("mkdir");
    let session = proj.join("0b0b0b0b-1111-2222-3333-444444444444.jsonl");
    let (first, _) = observatory_corpus::continuation_lines(
        "0b0b0b0b-1111-2222-3333-444444444444",
        "/w",
        None,
        1,
    );
    write_lines(&session, &first);
    let mut child = env
        .cmd(&[
            "watch",
            "--claude-dir",
            claude.path().to_str().expect("path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watch");
    let found = |word: &str| -> bool {
        let out = env.run(&["search", word, "--json"]);
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|v| v["hits"].as_array().is_some_and(|h| !h.is_empty()))
    };
    let wait_for = |word: &str| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if found(word) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    // Wait until the initial scan made the database, then append while watching.
    let (more, marker) = observatory_corpus::continuation_lines(
        "0b0b0b0b-1111-2222-3333-444444444444",
        "/w",
        None,
        2,
    );
    let start = Instant::now();
    while !env.data.path().join("observatory.db").exists()
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    write_lines(&session, &more);
    let seen = wait_for(&marker);
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen, "appended line with {marker} never became searchable");
}

/// A command that reads the index, pointed at a data directory with none (a typo in
/// --data-dir): an error that says so, and no empty database left there.
#[test]
fn reading_an_unindexed_data_dir_says_so_and_creates_nothing() {
    let env = Env::new();
    for args in [&["search", "foo"][..], &["stats"], &["conversations"]] {
        let err = env.fail(args);
        assert!(err.contains("nothing is indexed in"), "{args:?}: {err}");
    }
    assert!(!env.data.path().join("observatory.db").exists());
}

/// The same transcripts named by a relative path and by an absolute one are one set
/// of files: the second run finds nothing new (the sources were recorded as `../x`,
/// and the absolute spelling indexed them again).
#[test]
fn a_relative_claude_dir_is_the_same_files_as_its_absolute_path() {
    let env = Env::new();
    let fixtures = std::fs::canonicalize(fixtures().join("ai-blame")).expect("fixtures");
    let parent = fixtures.parent().expect("a parent");
    let mut first = env.cmd(&["index", "--claude-dir", "./ai-blame", "--json"]);
    first.current_dir(parent);
    let before = json_of(first);
    let after = env.json(&[
        "index",
        "--claude-dir",
        fixtures.to_str().expect("path"),
        "--json",
    ]);
    assert_eq!(after["totals"], before["totals"]);
    assert!(
        after["totals"]["sources"].as_u64().is_some_and(|n| n > 0),
        "{after}"
    );
}

#[test]
fn killed_indexer_resumes_to_the_same_result() {
    let corpus = tempfile::tempdir().expect("tmp");
    observatory_corpus::generate(
        corpus.path(),
        &observatory_corpus::CorpusSpec {
            target_bytes: 40 << 20,
            seed: 7,
            projects: 3,
        },
    )
    .expect("generate corpus");
    let dir = corpus.path().to_str().expect("path");

    let clean = Env::new();
    let expected = clean.json(&["index", "--claude-dir", dir, "--json"])["totals"].clone();

    let env = Env::new();
    let (mut kills, mut interrupts) = (0, 0);
    // Early enough to catch an optimised build mid-run too (40 MB takes it under a second).
    // Ctrl-C (SIGINT) ends it as promptly, and says that nothing was lost.
    for (delay, ctrl_c) in [(100u64, true), (250, false), (700, true)] {
        let mut child = env
            .cmd(&["index", "--claude-dir", dir])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().expect("wait").is_some() {
            let _ = child.wait();
            continue;
        }
        if ctrl_c {
            // SAFETY: signals a child this test spawned and has not reaped.
            let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            assert_eq!(sent, 0, "kill -INT");
            let out = child.wait_with_output().expect("wait");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(130), "{stderr}");
            assert!(
                stderr.contains("interrupted: what was indexed is kept"),
                "{stderr}"
            );
            interrupts += 1;
        } else {
            child.kill().expect("kill");
            let _ = child.wait();
            kills += 1;
        }
    }
    let resumed = env.json(&["index", "--claude-dir", dir, "--json"])["totals"].clone();
    assert!(
        kills > 0 && interrupts > 0,
        "the indexer finished before it could be stopped; make the corpus larger"
    );
    assert_eq!(resumed, expected);
}

/// Strips whitespace outside strings: ccusage only recognises records written
/// compactly, as Claude Code writes them, and two fixture sources were re-serialised
/// with spaces by the tools they come from.
fn compact_json(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let (mut in_str, mut escaped) = (false, false);
    for c in line.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c != ' ' && c != '\t' {
            out.push(c);
        }
    }
    out
}

fn ccusage() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OBSERVATORY_CCUSAGE") {
        return Some(PathBuf::from(p));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must set OBSERVATORY_CCUSAGE (see .ci/run)"
    );
    eprintln!("skipping: set OBSERVATORY_CCUSAGE to a ccusage binary to compare token totals");
    None
}

fn totals(v: &Value, keys: [&str; 4]) -> [u64; 4] {
    keys.map(|k| v[k].as_u64().unwrap_or(0))
}

/// Per-file token totals agree with ccusage on every fixture transcript.
///
/// Known, explained differences:
/// - ccusage ignores records written with spaces after `:` and `,` (ai-blame's
///   examples and claude-code-log's test data were re-serialised that way); given a
///   compact copy of the same records it agrees, which is what is compared here.
/// - ccusage skips records without a `timestamp` (ccusage's own test-transcript.jsonl);
///   Observatory counts them as undated usage.
#[test]
fn token_totals_agree_with_ccusage() {
    let Some(cc) = ccusage() else { return };
    let mut files: Vec<PathBuf> = walk(&fixtures());
    files.sort();
    let mut compared = 0;
    for file in files {
        let claude = tempfile::tempdir().expect("tmp");
        let proj = claude.path().join("projects/p");
        std::fs::create_dir_all(&proj).expect("mkdir");
        let text = std::fs::read_to_string(&file).expect("read");
        let compact: String = text.lines().map(|l| compact_json(l) + "\n").collect();
        std::fs::write(proj.join(file.file_name().expect("name")), compact).expect("write");

        let out = Command::new(&cc)
            .args(["session", "--json", "--offline"])
            .env("CLAUDE_CONFIG_DIR", claude.path())
            .output()
            .expect("run ccusage");
        assert!(
            out.status.success(),
            "ccusage failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Value = serde_json::from_slice(&out.stdout).expect("ccusage JSON");
        let theirs = totals(
            &theirs["totals"],
            [
                "inputTokens",
                "outputTokens",
                "cacheCreationTokens",
                "cacheReadTokens",
            ],
        );

        let env = Env::new();
        env.ok(&[
            "index",
            "--claude-dir",
            claude.path().to_str().expect("path"),
        ]);
        let rows = env.json(&["stats", "--json"]);
        let mut ours = [0u64; 4];
        for r in rows.as_array().expect("rows") {
            let t = totals(
                &r["usage"],
                [
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ],
            );
            for i in 0..4 {
                ours[i] += t[i];
            }
        }
        let name = file.display().to_string();
        if name.ends_with("ccusage/apps/ccusage/test/test-transcript.jsonl") {
            assert_eq!(theirs, [0; 4], "ccusage skips undated records");
            assert_eq!(ours, [3000, 150, 300, 1300]);
        } else {
            assert_eq!(
                ours, theirs,
                "{name}: [input, output, cache write, cache read]"
            );
        }
        compared += 1;
    }
    assert!(compared >= 30, "compared {compared} files");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
    out
}

#[test]
fn blame_attributes_the_ai_blame_fixture() {
    let env = Env::new();
    let base = fixtures().join("ai-blame/tests/examples");
    env.ok(&[
        "index",
        "--claude-dir",
        base.join("simple-home/.claude").to_str().expect("path"),
    ]);
    let file = base.join("simple/example.py");
    let file_s = file.to_str().expect("path");

    let human = env.ok(&["blame", file_s]);
    assert!(
        human.contains("16 of 16 lines from 1 agent conversation"),
        "{human}"
    );
    assert!(
        human.contains("Symbols changed by agents:") && human.contains("greet"),
        "{human}"
    );
    assert!(
        human.contains("make some minor random test changes to all files in this repo"),
        "{human}"
    );

    let json = env.json(&["blame", file_s, "--json"]);
    let spans = answers::spans(&json["runs"]);
    assert_eq!(
        spans,
        vec![(1, 8, "Write"), (9, 10, "Edit"), (11, 16, "Write")]
    );
    assert_eq!(json["symbols"][0]["name"], "greet");

    // Mapping the recorded checkout onto another one matches by absolute path.
    let elsewhere = tempfile::tempdir().expect("tmp");
    let copy = elsewhere.path().join("example.py");
    std::fs::copy(&file, &copy).expect("copy");
    let mapping = format!(
        "/Users/cjm/repos/ai-blame-test={}",
        elsewhere.path().display()
    );
    let mapped = env.json(&[
        "blame",
        copy.to_str().expect("path"),
        "--root",
        "/",
        "--map",
        &mapping,
        "--json",
    ]);
    assert_eq!(mapped["attributed_lines"], 16, "{mapped}");
    // The same mapping from the configuration file.
    let config = elsewhere.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[path_map]]\nfrom = \"/Users/cjm/repos/ai-blame-test\"\nto = \"{}\"\n",
            elsewhere.path().display()
        ),
    )
    .expect("config");
    let copy_s = copy.to_str().expect("path");
    let unmapped = env.json(&["blame", copy_s, "--root", "/", "--json"]);
    assert_eq!(unmapped["attributed_lines"], 0, "{unmapped}");
    let configured = env.json(&[
        "--config",
        config.to_str().expect("path"),
        "blame",
        copy_s,
        "--root",
        "/",
        "--json",
    ]);
    assert_eq!(configured["attributed_lines"], 16, "{configured}");

    // A file a person moved (no record says so) in a checkout of the project named
    // like the recorded one: blame and `files` follow it to its earlier name.
    let checkout = tempfile::tempdir().expect("tmp");
    let root = checkout.path().join("ai-blame-test");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    for f in std::fs::read_dir(base.join("simple")).expect("workspace") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, root.join(f.file_name().expect("name"))).expect("copy");
    }
    let moved = root.join("src/greeting.py");
    std::fs::rename(root.join("example.py"), &moved).expect("move");
    let moved_s = moved.to_str().expect("path");
    let blamed = env.json(&["blame", moved_s, "--json"]);
    assert_eq!(blamed["attributed_lines"], 16, "{blamed}");
    let files = env.run(&["files", moved_s]);
    assert!(files.status.success(), "{files:?}");
    let (listed, said) = (
        String::from_utf8_lossy(&files.stdout),
        String::from_utf8_lossy(&files.stderr),
    );
    assert!(
        listed.contains("/Users/cjm/repos/ai-blame-test/example.py"),
        "{listed}"
    );
    assert!(said.contains("moved here by hand"), "{said}");

    // Store-wide: which conversations changed greet()?
    let changed = env.json(&["symbols", "greet", "--json"]);
    let tools = answers::tools(&changed);
    assert_eq!(tools, vec!["Edit", "Write"], "{changed}");
    let none = env.fail(&["symbols", "no_such_function"]);
    assert!(none.contains("no recorded change"), "{none}");

    let missing = env.fail(&["blame", "/no/such/file.py"]);
    assert!(missing.contains("reading /no/such/file.py"), "{missing}");
    let bad_map = env.fail(&["blame", file_s, "--map", "nonsense"]);
    assert!(bad_map.contains("FROM=TO"), "{bad_map}");
}

#[test]
fn configuration_file_then_environment_then_flags() {
    let env = Env::new();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:9001\"\ndata_dir = \"/from/file\"\n[[path_map]]\nfrom = \"/a\"\nto = \"/b\"\n").expect("write");
    let file_s = file.to_str().expect("path");
    let show = |extra_env: &[(&str, &str)], args: &[&str]| -> Value {
        let mut c = Command::new(BIN);
        c.args(["--config", file_s])
            .args(args)
            .args(["config", "--json"]);
        c.env_remove("OBSERVATORY_DATA_DIR")
            .env_remove("OBSERVATORY_BIND")
            .env("HOME", env.data.path());
        for (k, v) in extra_env {
            c.env(k, v);
        }
        json_of(c)
    };
    let from_file = show(&[], &[]);
    assert_eq!(from_file["data_dir"], "/from/file");
    assert_eq!(from_file["bind"], "127.0.0.1:9001");
    assert_eq!(from_file["path_map"][0]["to"], "/b");
    assert!(
        from_file["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("********")),
        "the token is masked"
    );
    let from_env = show(
        &[
            ("OBSERVATORY_DATA_DIR", "/from/env"),
            ("OBSERVATORY_BIND", "127.0.0.1:9002"),
        ],
        &[],
    );
    assert_eq!(
        (from_env["data_dir"].as_str(), from_env["bind"].as_str()),
        (Some("/from/env"), Some("127.0.0.1:9002"))
    );
    let from_flag = show(
        &[("OBSERVATORY_DATA_DIR", "/from/env")],
        &["--data-dir", "/from/flag"],
    );
    assert_eq!(from_flag["data_dir"], "/from/flag");

    std::fs::write(&file, "bnd = 1\n").expect("write");
    let bad = Command::new(BIN)
        .args(["--config", file_s, "config"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("bnd"),
        "names the bad key"
    );
}

#[test]
fn api_keys_from_the_command_line() {
    let env = Env::new();
    let secret = env.ok(&[
        "keys", "create", "ci", "--scope", "read", "--scope", "write",
    ]);
    assert!(secret.trim().starts_with("obs_"), "{secret}");
    let list = env.json(&["keys", "list", "--json"]);
    assert_eq!(list[0]["name"], "ci");
    assert_eq!(list[0]["scopes"], serde_json::json!(["read", "write"]));
    assert!(!list.to_string().contains(secret.trim()));
    let bad = env.fail(&["keys", "create", "x", "--scope", "root"]);
    assert!(bad.contains("unknown scope"), "{bad}");
    env.ok(&["keys", "revoke", "1"]);
    let again = env.fail(&["keys", "revoke", "1"]);
    assert!(again.contains("no active key"), "{again}");
}

/// `observatory … | head -1`: the reader goes away after one line. The command must
/// end quietly, as Unix filters do (killed by SIGPIPE, status 141 in a shell), not
/// panic in `println!`.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;

    let env = Env::new();
    let base = fixtures().join("ai-blame/tests/examples");
    env.ok(&[
        "index",
        "--claude-dir",
        base.join("simple-home/.claude").to_str().expect("path"),
    ]);
    env.index_fixtures();
    // Every answer below is larger than a pipe's buffer, so the command is still
    // writing when the reader leaves.
    let big = env.data.path().join("big.py");
    std::fs::write(
        &big,
        "print('an unattributed line of some length')\n".repeat(5000),
    )
    .expect("write");
    let longest = env.json(&["conversations", "--limit", "1000", "--json"]);
    let longest = longest
        .as_array()
        .expect("list")
        .iter()
        .max_by_key(|c| c["message_count"].as_u64())
        .and_then(|c| c["session_id"].as_str())
        .expect("a conversation")
        .to_owned();
    let commands: [&[&str]; 3] = [
        &["blame", big.to_str().expect("path")],
        &["show", &longest],
        &["search", "the", "--limit", "500", "--json"],
    ];
    for args in commands {
        let mut child = env
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run observatory");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("first line");
        assert!(!first.is_empty(), "{args:?} printed nothing");
        drop(out);
        let done = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(
            done.status.code() == Some(0) || done.status.signal() == Some(libc::SIGPIPE),
            "{args:?} ended with {:?}",
            done.status
        );
    }
}

/// `kill` (SIGTERM), as service managers stop it, is a clean stop: the platform
/// withdraws `serve.json` so editors do not try a dead address; so does an idle
/// timeout.
#[test]
fn serve_stops_cleanly_on_sigterm_and_when_idle() {
    let env = Env::new();
    let empty = tempfile::tempdir().expect("tmp");
    let published = env.data.path().join("serve.json");
    let start = |extra: &[&str]| {
        let mut args = vec!["--claude-dir", empty.path().to_str().expect("path")];
        args.extend_from_slice(&["serve", "--bind", "127.0.0.1:0"]);
        args.extend_from_slice(extra);
        let child = env
            .cmd(&args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !published.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "serve.json never appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child
    };
    let mut child = start(&[]);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert!(!published.exists(), "a stale serve.json was left behind");

    let mut child = start(&["--idle-timeout", "1s"]);
    let status = child.wait().expect("stops by itself");
    assert!(status.success(), "{status}");
    assert!(!published.exists());
}
