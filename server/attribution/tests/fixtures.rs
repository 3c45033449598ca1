//! Attribution on real transcripts, checked line by line by hand.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use observatory_attribution::blame::{blame, Blame};
use observatory_attribution::History;
use observatory_store::Store;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/transcripts")
}

fn store_of(path: &Path) -> Store {
    let mut store = Store::open_in_memory().expect("store");
    store
        .index_roots(&[path.to_path_buf()], &mut |_| {})
        .expect("index");
    store
}

/// The tool-use id that wrote each line, `None` for lines no agent wrote.
fn tool_ids(b: &Blame) -> Vec<Option<&str>> {
    b.lines
        .iter()
        .map(|o| o.map(|o| b.writes[o as usize].tool_use_id.as_str()))
        .collect()
}

const WRITE: &str = "toolu_01Az5RFXg2kqmCM5Ppu91oaU";
const EDIT: &str = "toolu_019SNd8fNkSwFWe1m4EHjxLs";

/// ai-blame's example project: its files are what the recorded session left, under a
/// different directory than the session's `cwd` and its recorded paths.
#[test]
fn ai_blame_fixture_every_written_line_goes_to_its_session() {
    let base = fixtures().join("ai-blame/tests/examples");
    let store = store_of(&base.join("simple-home/.claude"));
    let root = base.join("simple");
    let check = |name: &str| -> Blame {
        let file = root.join(name);
        let content = std::fs::read_to_string(&file).expect("read");
        let b = blame(&store, &file, &root, &content, &[]).expect("blame");
        assert!(
            b.lines.iter().flatten().all(|&o| b.writes[o as usize].session_id == "2c965cfd-41e4-4e31-8339-2986ebced03c"),
            "{name}: a line went to another session"
        );
        b
    };

    let b = check("example.py");
    let mut want = vec![Some(WRITE); 16];
    want[8] = Some(EDIT); // >>> greet("Alice")
    want[9] = Some(EDIT); // 'Hello, Alice!'
    assert_eq!(tool_ids(&b), want);

    // main.py existed before the session; only the comment was the agent's.
    let b = check("main.py");
    assert_eq!(b.attributed_lines(), 1);
    assert_eq!(tool_ids(&b)[1].map(|_| ()), Some(()));
    assert_eq!(b.writes[b.lines[1].expect("line 2") as usize].tool, "Edit");

    let b = check("config.yaml");
    let ids = tool_ids(&b);
    assert_eq!(
        ids[0],
        Some("toolu_01KEWTiWkAKSTP8UvpofQtE5"),
        "name: test-project"
    );
    assert_eq!(
        b.writes[b.lines[4].expect("debug") as usize].tool,
        "Edit",
        "debug: false"
    );
    assert_eq!(
        b.writes[b.lines[6].expect("timeout") as usize].tool,
        "Edit",
        "timeout: 30"
    );
    assert_eq!(
        ids[7],
        Some("toolu_01KEWTiWkAKSTP8UvpofQtE5"),
        "the blank line between the edit and the rest is the Write's, which wrote it"
    );
    assert_eq!(ids[8], Some("toolu_01KEWTiWkAKSTP8UvpofQtE5"), "items:");

    let b = check("pyproject.toml");
    assert_eq!(
        b.attributed_lines(),
        1,
        "only the description line was edited"
    );
    assert!(b.lines[3].is_some());

    let b = check("README.md");
    assert_eq!(b.attributed_lines(), 3, "written whole");

    let b = check("notes.md");
    assert_eq!(b.attributed_lines(), 18);
    // The blank line before "## Updated" is the Edit's, which wrote it with the
    // section.
    assert_eq!(tool_ids(&b)[14], Some("toolu_01G4PnZLTsnKLxamJHmgcJAB"));

    let b = check("foo.md");
    assert_eq!(b.attributed_lines(), 21);
    assert_eq!(
        b.writes[b.lines[3].expect("line 4") as usize].tool,
        "Edit",
        "Dancing in the silver moonlight"
    );
    assert_eq!(b.writes[b.lines[4].expect("line 5") as usize].tool, "Write");
}

/// Applies `structuredPatch` hunks to a text: what the file was after the change.
fn apply(original: &str, hunks: &[observatory_transcript::Hunk]) -> String {
    let lines: Vec<&str> = original.split_terminator('\n').collect();
    let mut out: Vec<String> = Vec::new();
    let mut pos = 0;
    for h in hunks {
        let start = (h.old_start as usize).saturating_sub(1);
        out.extend(lines[pos..start].iter().map(|l| l.to_string()));
        pos = start;
        for l in &h.lines {
            match l.as_bytes().first() {
                Some(b'+') => out.push(l[1..].to_owned()),
                Some(b'-') => pos += 1,
                Some(b'\\') => {}
                _ => {
                    out.push(l.get(1..).unwrap_or_default().to_owned());
                    pos += 1;
                }
            }
        }
    }
    out.extend(lines[pos..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
}

/// Puts `content` at `rel` below a fresh workspace root (another machine than the
/// transcript's) and blames it.
fn blame_at(store: &Store, rel: &str, content: &str) -> (Blame, Vec<String>) {
    let root = tempfile::tempdir().expect("tmp");
    let file = root.path().join(rel);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, content).expect("write");
    let b = blame(store, &file, root.path(), content, &[]).expect("blame");
    (b, content.lines().map(str::to_owned).collect())
}

fn line_of<'a>(b: &'a Blame, lines: &[String], needle: &str) -> Option<&'a str> {
    let i = lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}"));
    b.lines[i].map(|o| b.writes[o as usize].tool.as_str())
}

/// git-ai: an Edit (with originalFile) then a MultiEdit (patch only) of globals.css.
#[test]
fn git_ai_css_edits() {
    let dir = tempfile::tempdir().expect("tmp");
    let proj = dir.path().join("projects/p");
    std::fs::create_dir_all(&proj).expect("mkdir");
    std::fs::copy(
        fixtures().join("git-ai/tests/fixtures/example-claude-code.jsonl"),
        proj.join("cb947e5b.jsonl"),
    )
    .expect("copy");
    let store = store_of(dir.path());
    let writes = store.writes_to_files_named("globals.css").expect("writes");
    assert_eq!(writes.len(), 2);
    let first = apply(
        writes[0].change.original.as_deref().expect("originalFile"),
        &writes[0].change.hunks,
    );
    let last = apply(&first, &writes[1].change.hunks);
    let (b, lines) = blame_at(&store, "src/app/globals.css", &last);
    assert_eq!(line_of(&b, &lines, "--green: #7cff7c;"), Some("Edit"));
    assert_eq!(line_of(&b, &lines, "--yellow: #ffff7c;"), Some("Edit"));
    assert_eq!(
        line_of(&b, &lines, "--blue: #7cb7ff;"),
        None,
        "there before the session"
    );
    assert_eq!(
        line_of(&b, &lines, ".stripe-green-yellow {"),
        Some("MultiEdit")
    );
    assert_eq!(line_of(&b, &lines, "color: #73da5f;"), Some("MultiEdit"));
    assert_eq!(line_of(&b, &lines, "cursor: pointer;"), None);
    let added: usize = writes
        .iter()
        .flat_map(|w| &w.change.hunks)
        .flat_map(|h| &h.lines)
        .filter(|l| l.starts_with('+'))
        .count();
    assert_eq!(b.attributed_lines(), added, "exactly the added lines");
}

/// sniffly: CLAUDE.md written, then edited twice in the same session.
#[test]
fn sniffly_claude_md_write_then_edits() {
    let dir = tempfile::tempdir().expect("tmp");
    let proj = dir.path().join("projects/p");
    std::fs::create_dir_all(&proj).expect("mkdir");
    let src = "sniffly/tests/mock-data/-Users-chip-dev-ai-music/ba79134d-b6e9-4867-af0c-6941038c9e4b.jsonl";
    std::fs::copy(
        fixtures().join(src),
        proj.join("ba79134d-b6e9-4867-af0c-6941038c9e4b.jsonl"),
    )
    .expect("copy");
    let store = store_of(dir.path());
    let writes = store.writes_to_files_named("CLAUDE.md").expect("writes");
    assert_eq!(
        writes.iter().map(|w| w.tool.as_str()).collect::<Vec<_>>(),
        ["Write", "Edit", "Edit"]
    );
    let last = &writes[2].change;
    let content = apply(last.original.as_deref().expect("originalFile"), &last.hunks);
    let (b, lines) = blame_at(&store, "CLAUDE.md", &content);
    let by = |needle: &str| {
        let i = lines.iter().position(|l| l.contains(needle)).expect(needle);
        b.lines[i].map(|o| b.writes[o as usize].tool_use_id.clone())
    };
    assert_eq!(by("# CLAUDE.md"), Some(writes[0].tool_use_id.clone()));
    assert_eq!(
        by("## Development Commands"),
        Some(writes[0].tool_use_id.clone())
    );
    assert_eq!(
        by("Run the AI music generator:"),
        Some(writes[1].tool_use_id.clone())
    );
    assert_eq!(
        by("conda activate aie311"),
        Some(writes[2].tool_use_id.clone())
    );
    // The whole file came from the agent: every line that is not blank is attributed.
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.trim().is_empty() || b.lines[i].is_some(),
            "line {}: {l:?}",
            i + 1
        );
    }
}

/// A file written, then moved with `git mv` in a Bash call, keeps its history.
#[test]
fn history_follows_shell_moves() {
    let dir = tempfile::tempdir().expect("tmp");
    let proj = dir.path().join("projects/-w");
    std::fs::create_dir_all(&proj).expect("mkdir");
    let lines = [
        r#"{"type":"user","uuid":"u1","parentUuid":null,"sessionId":"s","cwd":"/w","timestamp":"2025-01-01T00:00:00.000Z","message":{"role":"user","content":"write and move it"}}"#,
        r#"{"type":"assistant","uuid":"a1","parentUuid":"u1","sessionId":"s","cwd":"/w","timestamp":"2025-01-01T00:00:01.000Z","message":{"id":"m1","role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"/w/old_name.py","content":"def moved_function():\n    return 42\n"}}]}}"#,
        r#"{"type":"user","uuid":"u2","parentUuid":"a1","sessionId":"s","cwd":"/w","timestamp":"2025-01-01T00:00:02.000Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"File created successfully at: /w/old_name.py"}]},"toolUseResult":{"type":"create","filePath":"/w/old_name.py","content":"def moved_function():\n    return 42\n","structuredPatch":[],"originalFile":null}}"#,
        r#"{"type":"assistant","uuid":"a2","parentUuid":"u2","sessionId":"s","cwd":"/w","timestamp":"2025-01-01T00:00:03.000Z","message":{"id":"m2","role":"assistant","content":[{"type":"tool_use","id":"t2","name":"Bash","input":{"command":"git mv old_name.py pkg/new_name.py && git status"}}]}}"#,
        r#"{"type":"user","uuid":"u3","parentUuid":"a2","sessionId":"s","cwd":"/w","timestamp":"2025-01-01T00:00:04.000Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t2","content":"renamed"}]},"toolUseResult":{"stdout":"renamed","stderr":"","interrupted":false,"isImage":false}}"#,
    ];
    std::fs::write(proj.join("s.jsonl"), lines.join("\n") + "\n").expect("write");
    let store = store_of(dir.path());
    let (b, _) = blame_at(
        &store,
        "pkg/new_name.py",
        "def moved_function():\n    return 42\n",
    );
    assert_eq!(tool_ids(&b), vec![Some("t1"), Some("t1")]);
}

/// "Which conversations changed `greet`?", across the whole store.
#[test]
fn changes_to_a_symbol_across_the_store() {
    let base = fixtures().join("ai-blame/tests/examples");
    let store = store_of(&base.join("simple-home/.claude"));
    let found =
        observatory_attribution::symbols::changes_to_symbol(&store, "greet", 10).expect("query");
    let calls: Vec<(&str, &str, Vec<usize>)> = found
        .iter()
        .map(|c| (c.tool_use_id.as_str(), c.symbol.as_str(), c.lines.clone()))
        .collect();
    // Newest first: the Edit of the doctest lines inside greet, then the Write that
    // created it (greet was lines 4 to 10 of the file it wrote).
    assert_eq!(
        calls,
        vec![
            (EDIT, "greet", vec![9, 10]),
            (WRITE, "greet", (4..=10).collect()),
        ]
    );
    assert!(found[0].path.ends_with("example.py"));
    assert!(
        observatory_attribution::symbols::changes_to_symbol(&store, "no_such_symbol", 10)
            .expect("query")
            .is_empty()
    );
}
