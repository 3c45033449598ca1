//! A real editor: headless Neovim 0.11 with its built-in LSP client attached to
//! `observatory lsp`, driven by tests/neovim/lsp_spec.lua (no Observatory code in the
//! editor) and tests/neovim/plugin_spec.lua (the plugin in editors/neovim).

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/lsp_client.rs"]
mod lsp_client;
#[path = "support/lsp_env.rs"]
mod lsp_env;

use std::path::{Path, PathBuf};
use std::process::Command;

use lsp_env::{Env, BIN, LIVE_SESSION};
use serde_json::Value;

/// `nvim` from OBSERVATORY_NVIM (scripts/test.sh installs it), else from PATH.
fn nvim() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OBSERVATORY_NVIM") {
        return Some(PathBuf::from(p));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must set OBSERVATORY_NVIM (see scripts/test.sh)"
    );
    let found = Command::new("nvim").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipping: set OBSERVATORY_NVIM to a Neovim 0.11 binary");
    }
    found.then(|| PathBuf::from("nvim"))
}

#[test]
fn neovim_shows_lenses_hover_hints_actions_and_live_updates() {
    let Some(nvim) = nvim() else { return };
    let env = Env::new();
    let result = env.dir().join("nvim-result.json");
    let live_src = env.dir().join("live.jsonl");
    std::fs::write(&live_src, env.live_transcript()).expect("write");
    let observed = run_spec(&nvim, &env, "lsp_spec.lua", &result, |cmd| {
        cmd.env("OBS_LIVE_SRC", &live_src);
    });
    // The same facts, checked here too.
    assert!(observed["lens_top"]
        .as_str()
        .is_some_and(|t| t.starts_with("1 agent conversation · 16 lines")));
    assert_eq!(observed["lens_lines"], serde_json::json!([0, 3]));
    assert!(observed["hint"]
        .as_str()
        .is_some_and(|h| h.starts_with("◆ ")));
    assert!(observed["actions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t == "Observatory: copy the prompt")));
    assert!(observed["viewer_first_line"]
        .as_str()
        .is_some_and(|l| l.starts_with('#')));
    assert!(observed["search_hits"].as_u64().unwrap_or(0) > 0);
    assert!(observed["symbols"]
        .as_array()
        .is_some_and(|s| s.iter().any(|n| n == "greet")));
    assert!(observed["live_hover"]
        .as_str()
        .is_some_and(|h| h.contains("Make greet shout")));
}

/// The plugin in editors/neovim, as a user has it: `require("observatory").setup{}`,
/// lenses and the current-line annotation with no keypress, and every `:Observatory`
/// command against the real server, with a fake `claude` on PATH.
#[test]
fn neovim_plugin_shows_lenses_follows_the_cursor_and_runs_its_commands() {
    let Some(nvim) = nvim() else { return };
    let env = Env::new();
    let result = env.dir().join("plugin-result.json");
    let claude_log = env.dir().join("claude-argv.txt");
    let live_src = env.dir().join("live.jsonl");
    std::fs::write(&live_src, env.live_transcript()).expect("write");
    // `claude` records its arguments and directory, then stays up like the real one.
    let bin = env.dir().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let fake = bin.join("claude");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s\\n%s\\n' \"$*\" \"$(pwd)\" > \"$OBS_CLAUDE_LOG\"\nsleep 30\n",
    )
    .expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let observed = run_spec(&nvim, &env, "plugin_spec.lua", &result, |cmd| {
        cmd.env("OBS_PLUGIN", repo().join("editors/neovim"))
            .env("OBS_CLAUDE_LOG", &claude_log)
            .env("OBS_LIVE_SRC", &live_src)
            .env("PATH", &path)
            .env_remove("XDG_DATA_HOME");
    });
    eprintln!(
        "neovim plugin: lens on screen {} ms after :edit",
        observed["lens_ms"]
    );
    // The same facts, checked here too.
    assert!(observed["lens_top"]
        .as_str()
        .is_some_and(|t| t.starts_with("1 agent conversation · 16 lines")));
    assert_eq!(observed["hint_lines"], serde_json::json!([11]));
    assert!(observed["status"]
        .as_str()
        .is_some_and(|s| s.contains("connected")));
    assert!(observed["statusline"]
        .as_str()
        .is_some_and(|s| s.starts_with("observatory: connected")));
    assert!(observed["search"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(Value::as_str)
        .is_some_and(|s| s.contains("create some files for test purposes")));
    assert!(observed["opened"]
        .as_str()
        .is_some_and(|s| s.starts_with("conversation-") && s.ends_with(".md")));
    assert_eq!(
        observed["copied"],
        "make some minor random test changes to all files in this repo"
    );
    let argv = std::fs::read_to_string(&claude_log).expect("claude ran");
    let mut lines = argv.lines();
    assert!(lines
        .next()
        .is_some_and(|l| l.starts_with("--resume ") && l.len() > 20));
    assert_eq!(
        lines.next().map(PathBuf::from),
        Some(env.workspace()),
        "claude runs in the local checkout"
    );
    assert_eq!(observed["health_ok"], true);
    assert_eq!(observed["live_lens"], true);
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `tests/neovim/<spec>` in headless Neovim against the test environment's
/// server and fixtures (`setup` adds to its environment), and returns what the spec
/// wrote to `result`, after checking that it passed.
fn run_spec(
    nvim: &Path,
    env: &Env,
    spec: &str,
    result: &Path,
    setup: impl FnOnce(&mut Command),
) -> Value {
    let mut cmd = Command::new(nvim);
    cmd.args(["--headless", "--clean", "-l"])
        .arg(repo().join("tests/neovim").join(spec))
        .env("OBS_BIN", BIN)
        .env("OBS_DATA", env.data())
        .env("OBS_CLAUDE", env.claude())
        .env("OBS_ROOT", env.workspace())
        .env("OBS_FILE", env.workspace().join("example.py"))
        .env("OBS_RESULT", result)
        .env(
            "OBS_LIVE_DST",
            env.project_dir().join(format!("{LIVE_SESSION}.jsonl")),
        )
        .env("HOME", env.dir())
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("OBSERVATORY_URL");
    setup(&mut cmd);
    let out = cmd.output().expect("run nvim");
    let observed: Value = std::fs::read_to_string(result)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "{spec} failed: {}\nobserved: {observed}\nstderr: {}",
        observed["failure"],
        String::from_utf8_lossy(&out.stderr)
    );
    observed
}
