use super::*;
use observatory_transcript::{FileChange, Hunk, TextEdit};

fn write(content: &str, created: bool) -> FileChange {
    FileChange {
        tool: "Write".into(),
        path: "/p/a.py".into(),
        edits: vec![],
        content: Some(content.into()),
        original: None,
        hunks: vec![],
        created: Some(created),
        user_modified: false,
        notebook_cell: None,
        notebook_edit_mode: None,
        renamed_from: None,
    }
}

fn edit(old: &str, new: &str, original: Option<&str>, hunks: Vec<Hunk>) -> FileChange {
    FileChange {
        tool: "Edit".into(),
        edits: vec![TextEdit {
            old_string: old.into(),
            new_string: new.into(),
            replace_all: false,
        }],
        content: None,
        original: original.map(str::to_owned),
        hunks,
        created: None,
        ..write("", false)
    }
}

fn hunk(old_start: u64, lines: &[&str]) -> Hunk {
    let old_lines = lines.iter().filter(|l| !l.starts_with('+')).count() as u64;
    let new_lines = lines.iter().filter(|l| !l.starts_with('-')).count() as u64;
    Hunk {
        old_start,
        old_lines,
        new_start: old_start,
        new_lines,
        lines: lines.iter().map(|s| s.to_string()).collect(),
    }
}

fn blame(history: &[FileChange], current: &str) -> Vec<Option<Origin>> {
    let refs: Vec<&FileChange> = history.iter().collect();
    replay(&refs).map_onto(current)
}

const BASE: &str = "def a():\n    return 1\n\ndef b():\n    return 2\n";

#[test]
fn a_created_file_is_all_the_writer_s() {
    assert_eq!(blame(&[write(BASE, true)], BASE), vec![Some(0); 5]);
}

#[test]
fn hunks_attribute_only_changed_lines() {
    let after = "def a():\n    return 10\n\ndef b():\n    return 2\n";
    let h = hunk(
        1,
        &[
            " def a():",
            "-    return 1",
            "+    return 10",
            " ",
            " def b():",
        ],
    );
    let got = blame(
        &[
            write(BASE, true),
            edit("return 1", "return 10", Some(BASE), vec![h]),
        ],
        after,
    );
    // The blank line sits between two changes' lines; the Write wrote it.
    assert_eq!(got, vec![Some(0), Some(1), Some(0), Some(0), Some(0)]);
}

#[test]
fn string_edits_without_patch_are_located_in_the_text() {
    let after = "def a():\n    return 10\n\ndef b():\n    return 2\n";
    let got = blame(
        &[
            write(BASE, true),
            edit("    return 1\n", "    return 10\n", None, vec![]),
        ],
        after,
    );
    assert_eq!(got, vec![Some(0), Some(1), Some(0), Some(0), Some(0)]);
}

#[test]
fn human_changes_lose_attribution_and_untouched_lines_keep_it() {
    // A person inserts a header, edits b's body and re-indents nothing else.
    let current = "# header\nimport os\n\ndef a():\n    return 1\n\ndef b():\n    return 3\n";
    let got = blame(&[write(BASE, true)], current);
    assert_eq!(
        got,
        vec![None, None, None, Some(0), Some(0), Some(0), Some(0), None]
    );
}

fn blame_ignoring_whitespace(history: &[FileChange], current: &str) -> Vec<Option<Origin>> {
    let refs: Vec<&FileChange> = history.iter().collect();
    let o = Options {
        ignore_whitespace: true,
    };
    replay_with(&refs, o).map_onto(current)
}

#[test]
fn reindenting_is_authorship_unless_whitespace_is_ignored() {
    // Like `git blame`: a person who re-indents a line is its author; like
    // `git blame -w`, with whitespace ignored the agent keeps it.
    let current = "def a():\n        return 1\n\ndef b():\n  return 2\n";
    let got = blame(&[write(BASE, true)], current);
    assert_eq!((got[1], got[4]), (None, None), "{got:?}");
    assert_eq!((got[0], got[3]), (Some(0), Some(0)), "{got:?}");
    assert_eq!(
        blame_ignoring_whitespace(&[write(BASE, true)], current),
        vec![Some(0); 5]
    );
    // Inner spacing counts the same way.
    let respaced = BASE.replace("return 2", "return  2");
    assert_eq!(blame(&[write(BASE, true)], &respaced)[4], None);
}

#[test]
fn line_endings_and_trailing_whitespace_never_count() {
    // A file saved with CRLF, or with trailing blanks added or trimmed, is not a
    // re-indent: every line stays the agent's in both modes.
    let crlf = BASE.replace('\n', "\r\n");
    let trailing = BASE.replace("return 1", "return 1   ");
    for current in [crlf.as_str(), trailing.as_str()] {
        assert_eq!(blame(&[write(BASE, true)], current), vec![Some(0); 5]);
        assert_eq!(
            blame_ignoring_whitespace(&[write(BASE, true)], current),
            vec![Some(0); 5]
        );
    }
}

#[test]
fn a_patch_shows_what_someone_re_indented_before_it() {
    // A person re-indented `return 2` before the agent's edit; the edit's context
    // line says so. The re-indented line is the person's unless whitespace is
    // ignored; the patch still applies.
    let seen = BASE.replace("    return 2", "        return 2");
    let after = seen.replace("return 1", "return 10");
    let h = hunk(
        1,
        &[
            " def a():",
            "-    return 1",
            "+    return 10",
            " ",
            " def b():",
            "         return 2",
        ],
    );
    let history = [
        write(BASE, true),
        edit("return 1", "return 10", None, vec![h]),
    ];
    let got = blame(&history, &after);
    assert_eq!(
        (got[1], got[3], got[4]),
        (Some(1), Some(0), None),
        "{got:?}"
    );
    let got = blame_ignoring_whitespace(&history, &after);
    assert_eq!(
        (got[1], got[3], got[4]),
        (Some(1), Some(0), Some(0)),
        "{got:?}"
    );
}

#[test]
fn string_edits_keep_the_exact_text_of_the_lines_they_leave() {
    // Without a patch, an edit's strings are located as written; the indented lines
    // it keeps stay the earlier author's, the ones it writes are its own, with their
    // indentation, so the content matches them exactly.
    let after = BASE.replace("    return 1\n", "    return 1\n    # checked\n");
    let history = [
        write(BASE, true),
        edit(
            "def a():\n    return 1\n",
            "def a():\n    return 1\n    # checked\n",
            None,
            vec![],
        ),
    ];
    assert_eq!(
        blame(&history, &after),
        vec![Some(0), Some(0), Some(1), Some(0), Some(0), Some(0)]
    );
}

#[test]
fn moved_blocks_keep_attribution() {
    let agent = "def helper_function():\n    compute_everything_now()\n";
    let human = "x = 1\ny = 2\nz = 3\n";
    let history = [write(&format!("{human}{agent}"), true)];
    // Everything was the agent's here; now a person wrote a new first half and moved
    // the agent's function to the top.
    let refs: Vec<&FileChange> = history.iter().collect();
    let r = replay(&refs);
    let moved = format!("{agent}q = 9\nx = 1\ny = 2\nz = 3\n");
    let got = r.map_onto(&moved);
    assert_eq!(got[0], Some(0), "{got:?}");
    assert_eq!(got[1], Some(0), "{got:?}");
    assert_eq!(got[2], None);
}

#[test]
fn later_edits_overwrite_and_reverts_leave_nothing() {
    let v1 = "a = 1\nb = 2\n";
    let v2 = "a = 1\nb = 20\n";
    let v3 = "a = 1\nb = 200\n";
    let h2 = hunk(1, &[" a = 1", "-b = 2", "+b = 20"]);
    let h3 = hunk(1, &[" a = 1", "-b = 20", "+b = 200"]);
    let history = [
        write(v1, true),
        edit("b = 2", "b = 20", Some(v1), vec![h2]),
        edit("b = 20", "b = 200", Some(v2), vec![h3]),
    ];
    assert_eq!(blame(&history, v3), vec![Some(0), Some(2)]);
    // The last edit was reverted by hand: its line is gone, and so is its tag.
    assert_eq!(blame(&history, v2), vec![Some(0), None]);
}

#[test]
fn original_file_resyncs_after_human_changes_in_between() {
    let v1 = "one\ntwo\nthree\n";
    // A person rewrote "two" before the agent's next edit, which records the file as
    // it found it.
    let seen = "one\nTWO by hand\nthree\n";
    let after = "one\nTWO by hand\nthree\nfour\n";
    let h = hunk(2, &[" TWO by hand", " three", "+four"]);
    let got = blame(
        &[
            write(v1, true),
            edit("three\n", "three\nfour\n", Some(seen), vec![h]),
        ],
        after,
    );
    assert_eq!(got, vec![Some(0), None, Some(0), Some(1)]);
}

#[test]
fn overwrite_keeps_the_tags_of_lines_it_did_not_change() {
    let v2 = "def a():\n    return 1\n\ndef b():\n    return 22\n";
    let got = blame(&[write(BASE, true), write(v2, false)], v2);
    assert_eq!(got, vec![Some(0), Some(0), Some(0), Some(0), Some(1)]);
}

#[test]
fn blank_lines_are_whoever_wrote_them() {
    let agent = "fn a() {}\n\nfn b() {}\n";
    let got = blame(&[write(agent, true)], &format!("{agent}\nhuman();\n"));
    assert_eq!(got, vec![Some(0), Some(0), Some(0), None, None]);
    // Like `git blame`: a blank line the agent wrote between its own line and a
    // person's is the agent's, and one the person wrote inside the agent's block is
    // the person's.
    let current = "fn a() {}\n\nhuman_wrote_this();\nfn b() {}\n";
    let got = blame(&[write(agent, true)], current);
    assert_eq!(got, vec![Some(0), Some(0), None, Some(0)]);
    let current = "fn a() {}\n\n\nfn b() {}\n";
    let got = blame(&[write(agent, true)], current);
    assert_eq!(got.iter().filter(|o| o.is_none()).count(), 1, "{got:?}");
}

#[test]
fn lone_boilerplate_lines_need_a_credited_neighbour() {
    // The agent wrote a function; a person rewrote its body and everything around it
    // since. The diff still aligns the agent's `}` and `end` lines with the person's.
    let agent = "fn compute_the_answer() {\n    let x = expensive_work();\n}\nend\n";
    let current = "fn person_function() {\n    person_body();\n}\nend\n";
    assert_eq!(blame(&[write(agent, true)], current), vec![None; 4]);
    // Next to a line the agent wrote, they stay the agent's.
    let current = "fn person_function() {\n    let x = expensive_work();\n}\nend\n";
    assert_eq!(
        blame(&[write(agent, true)], current),
        vec![None, Some(0), Some(0), Some(0)]
    );
}

#[test]
fn a_brace_kept_between_a_later_change_s_lines_stays_its_writer_s() {
    // The agent rewrote the lines around a `}` it wrote first: like `git blame`, the
    // brace is still the first write's, not nobody's.
    let v1 = "fn run() {\n    if ready {\n        start_engine();\n    }\n    finish_up();\n";
    let v2 = "fn run() {\n    if steady {\n        start_motor();\n    }\n    wrap_things_up();\n";
    assert_eq!(
        blame(&[write(v1, true), write(v2, false)], v2),
        vec![Some(0), Some(1), Some(1), Some(0), Some(1)]
    );
    // Between a person's lines it is still nobody's.
    let current = "fn run() {\n    if steady {\n        person_line();\n    }\n    person_too();\n";
    assert_eq!(
        blame(&[write(v1, true), write(v2, false)], current),
        vec![Some(0), Some(1), None, None, None]
    );
}

#[test]
fn an_overwrite_of_a_file_with_unknown_history_takes_only_its_patch_s_lines() {
    // A person's file, overwritten by a Write recorded with its patch but without
    // `originalFile`: the lines the patch leaves alone were the person's.
    let content = "person_wrote_this();\nagent_line();\nperson_too();\nlast_person_line();\n";
    let mut w = write(content, false);
    w.hunks = vec![hunk(
        1,
        &[
            " person_wrote_this();",
            "-old_line();",
            "+agent_line();",
            " person_too();",
        ],
    )];
    assert_eq!(
        blame(&[w.clone()], content),
        vec![None, Some(0), None, None]
    );
    // A patch that does not describe the content: the Write is taken whole.
    w.hunks[0].new_start = 3;
    assert_eq!(blame(&[w], content), vec![Some(0); 4]);
}

#[test]
fn drifted_hunks_are_found_nearby() {
    // The model has two extra lines at the top that the agent's patch did not know.
    let v1 = "x\ny\nz\n";
    let h = hunk(1, &[" x", "-y", "+Y", " z"]);
    let refs_history = [
        write("pre1\npre2\nx\ny\nz\n", true),
        edit("y", "Y", None, vec![h]),
    ];
    assert_eq!(
        blame(&refs_history, "pre1\npre2\nx\nY\nz\n"),
        vec![Some(0), Some(0), Some(0), Some(1), Some(0)]
    );
    let _ = v1;
}

#[test]
fn edits_to_files_with_unknown_history_are_found_by_content() {
    // The file existed before any transcript; the edit records neither originalFile
    // nor a patch that fits, only its strings.
    let current = "old line one\nold line two\nnew line written by the agent\nold line three\n";
    let e = edit(
        "old line two\n",
        "old line two\nnew line written by the agent\n",
        None,
        vec![],
    );
    assert_eq!(blame(&[e], current), vec![None, None, Some(0), None]);

    // Same with only a structuredPatch (claude-code-viewer's CLAUDE.md edits).
    let h = hunk(
        40,
        &[
            " context before",
            "-removed",
            "+added by the agent",
            " context after",
        ],
    );
    let mut e = edit("removed", "added by the agent", None, vec![h]);
    e.edits[0].old_string = "something not in the model".into();
    let current = "x\ncontext before\nadded by the agent\ncontext after\ny\n";
    assert_eq!(blame(&[e], current), vec![None, None, Some(0), None, None]);
}

#[test]
fn string_edits_splice_like_a_full_rebuild() {
    // Edits spanning parts of lines, whole lines and line ends.
    let base = "alpha one\nbeta two\ngamma three\ndelta four\nepsilon five\n";
    let cases = [
        ("epsilon five\n", "EPS\n"),
        ("\nbeta", "\nBETA"),
        ("four\nepsilon five\n", "4\n"),
        (
            "alpha one\nbeta two\ngamma three\ndelta four\nepsilon five\n",
            "all new\n",
        ),
        ("beta two\n", "BETA\nTWO\n"),
        ("two\ngamma", "2\nG"),
        ("one", "uno"),
        ("delta four\nepsilon five\n", ""),
        ("epsilon five", "eps 5\nsix"),
        ("alpha one\n", "zero\nalpha one\n"),
    ];
    for (old, new) in cases {
        let after = base.replacen(old, new, 1);
        let got = blame(&[write(base, true), edit(old, new, None, vec![])], &after);
        let expect: Vec<Option<Origin>> = after
            .lines()
            .map(|l| {
                if base.lines().any(|b| b == l) {
                    Some(0)
                } else {
                    Some(1)
                }
            })
            .collect();
        assert_eq!(got, expect, "{old:?} -> {new:?}");
    }
}

#[test]
fn a_copy_created_in_another_checkout_takes_only_the_lines_it_changed() {
    // Checkout 0 creates the file; checkout 1 (a fork, a copy) creates it too, the
    // same but for one line. Within one checkout a re-creation takes every line.
    let copy = BASE.replace("return 2", "return 3");
    let history = [write(BASE, true), write(&copy, true)];
    let refs: Vec<&FileChange> = history.iter().collect();
    let at = |id, local| Checkout { id, local };
    let across = replay_from_roots(&refs, &[at(0, true), at(1, false)]).map_onto(&copy);
    assert_eq!(
        across,
        vec![Some(0), Some(0), Some(0), Some(0), Some(1)],
        "only the changed line is the copy's"
    );
    let within = replay_from_roots(&refs, &[at(0, true), at(0, true)]).map_onto(&copy);
    assert_eq!(within, vec![Some(1); 5]);
    // A creation in the file's own checkout after another's is a real one too.
    let back_home = replay_from_roots(&refs, &[at(1, false), at(0, true)]).map_onto(&copy);
    assert_eq!(back_home, within);
    assert_eq!(replay(&refs).map_onto(&copy), within);
}

fn read(content: &str) -> FileChange {
    FileChange {
        tool: "Read".into(),
        content: Some(content.into()),
        created: None,
        ..write("", false)
    }
}

#[test]
fn an_old_write_after_a_read_takes_only_what_it_changed() {
    // A person's file; an old-version Write (no originalFile) rewrites one line.
    let after = BASE.replace("return 2", "return 3");
    let mut overwrite = write(&after, false);
    overwrite.created = None;
    // Without knowing what the file held, every line is the Write's.
    assert_eq!(blame(&[overwrite.clone()], &after), vec![Some(0); 5]);
    // The Read the agent had to make first says what the file held.
    let with_read = blame(&[read(BASE), overwrite], &after);
    assert_eq!(with_read, vec![None, None, None, None, Some(1)]);
}

#[test]
fn a_hunk_numbered_past_any_file_is_placed_by_its_text() {
    // `oldStart` comes from the transcript as it is: a damaged or hostile one can say
    // anything up to u64::MAX. The hunk then fits nowhere near that line, and the
    // edit's strings place it.
    let after = "def a():\n    return 10\n\ndef b():\n    return 2\n";
    for start in [u64::MAX, u64::MAX - 1, usize::MAX as u64 / 2, 1 << 40] {
        let h = hunk(
            start,
            &[" def a():", "-    return 1", "+    return 10", " "],
        );
        let got = blame(
            &[
                write(BASE, true),
                edit("return 1", "return 10", None, vec![h]),
            ],
            after,
        );
        assert_eq!(
            got,
            vec![Some(0), Some(1), Some(0), Some(0), Some(0)],
            "oldStart {start}"
        );
    }
}

fn replace_all(edits: &[(&str, &str)]) -> FileChange {
    FileChange {
        tool: "MultiEdit".into(),
        edits: edits
            .iter()
            .map(|(old, new)| TextEdit {
                old_string: (*old).into(),
                new_string: (*new).into(),
                replace_all: true,
            })
            .collect(),
        content: None,
        created: None,
        ..write("", false)
    }
}

#[test]
fn replace_all_cannot_grow_the_model_past_what_the_history_records() {
    // Each edit doubles every line: 24 of them would make 16 million lines out of a
    // transcript of a hundred bytes, and replaying them would run out of memory.
    let doubling = vec![("x", "x\nx"); 24];
    let history = [write("x\n", true), replace_all(&doubling)];
    let refs: Vec<&FileChange> = history.iter().collect();
    let r = replay(&refs);
    let recorded = 2 + 24 * 4;
    assert!(r.len() <= 2 * recorded, "{} lines", r.len());
    assert_eq!(r.unplaced, vec![1]);
}

#[test]
fn a_whitespace_only_replace_all_is_not_located() {
    // Lines are compared without their whitespace, so a string of only whitespace
    // cannot be found in them; treated as empty, it would match between every
    // character.
    let got = blame(
        &[write("a b\nc\n", true), replace_all(&[("  ", "z")])],
        "a b\nc\n",
    );
    assert_eq!(got, vec![Some(0), Some(0)]);
}

/// A store of several projects, as a list.
struct Recorded(Vec<crate::RecordedWrite>);

impl crate::History for Recorded {
    fn writes_to_files_named(
        &self,
        name: &str,
    ) -> crate::history::Result<Vec<crate::RecordedWrite>> {
        Ok(self
            .0
            .iter()
            .filter(|w| {
                std::path::Path::new(&w.path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    == Some(name)
            })
            .cloned()
            .collect())
    }

    fn writes_mentioning(
        &self,
        _: &str,
        _: usize,
    ) -> crate::history::Result<Vec<crate::RecordedWrite>> {
        Ok(Vec::new())
    }

    fn paths_written_under(&self, dir: &str, limit: usize) -> crate::history::Result<Vec<String>> {
        let mut paths: Vec<(Option<chrono::DateTime<chrono::Utc>>, String)> = Vec::new();
        for w in self.0.iter().rev() {
            if w.path
                .starts_with(&format!("{}/", dir.trim_end_matches('/')))
                && !paths.iter().any(|(_, p)| *p == w.path)
            {
                paths.push((w.at, w.path.clone()));
            }
        }
        paths.sort_by_key(|p| std::cmp::Reverse(p.0));
        Ok(paths.into_iter().take(limit).map(|(_, p)| p).collect())
    }

    fn checkouts_named(&self, name: &str) -> crate::history::Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for cwd in self.0.iter().filter_map(|w| w.cwd.clone()) {
            if std::path::Path::new(&cwd)
                .file_name()
                .and_then(|n| n.to_str())
                == Some(name)
                && !out.contains(&cwd)
            {
                out.push(cwd);
            }
        }
        Ok(out)
    }
}

/// `change` recorded in the project at `cwd`, the `n`th call of the store.
fn recorded(cwd: &str, rel: &str, n: i64, mut change: FileChange) -> crate::RecordedWrite {
    let path = format!("{cwd}/{rel}");
    change.path = path.clone();
    crate::RecordedWrite {
        path,
        cwd: Some(cwd.into()),
        session_id: format!("session-{cwd}"),
        message_uuid: format!("m{n}"),
        tool_use_id: format!("t{n}"),
        tool: change.tool.clone(),
        at: chrono::DateTime::from_timestamp(1_700_000_000 + n, 0),
        call_id: n,
        change,
        ..Default::default()
    }
}

/// Blames `content` as `rel` in the checkout `root` against `history`: the tool-use id
/// of each line's call.
fn blamed_calls(history: &Recorded, root: &str, rel: &str, content: &str) -> Vec<Option<String>> {
    let root = std::path::Path::new(root);
    let b = crate::blame::blame(history, &root.join(rel), root, content, &[]).expect("blame");
    b.lines
        .iter()
        .map(|o| o.map(|o| b.writes[o as usize].tool_use_id.clone()))
        .collect()
}

#[test]
fn other_projects_with_the_same_relative_path_never_take_the_own_history_s_lines() {
    // The file's own project wrote a long CHANGELOG.md; later, unrelated projects in
    // the same store created their own, short ones, every line of which is in this
    // one too ("# Changelog", "## [Unreleased]", …). Mixed into the history, each of
    // their creations replaced the model and left this file's author a handful of
    // lines.
    let mut own = String::from("# Changelog\n\n## [Unreleased]\n\n");
    for i in 0..30 {
        own.push_str(&format!("- entry {i}: a change described at some length\n"));
    }
    let generic = "# Changelog\n\n## [Unreleased]\n";
    let teammate = format!("{own}- an entry only the teammate's checkout wrote\n");
    let history = Recorded(vec![
        recorded("/home/me/app", "CHANGELOG.md", 1, write(&own, true)),
        recorded("/home/x/other", "CHANGELOG.md", 2, write(generic, true)),
        recorded("/home/y/another", "CHANGELOG.md", 3, write(generic, true)),
        recorded("/home/me/fork", "CHANGELOG.md", 4, write(&teammate, true)),
    ]);
    let root = std::path::Path::new("/work/app");
    let file = root.join("CHANGELOG.md");
    let b = crate::blame::blame(&history, &file, root, &teammate, &[]).expect("blame");
    let by: Vec<Option<&str>> = b
        .lines
        .iter()
        .map(|o| o.map(|o| b.writes[o as usize].tool_use_id.as_str()))
        .collect();
    let n = own.lines().count();
    for (i, who) in by.iter().enumerate().take(n) {
        if !own.lines().nth(i).unwrap_or_default().is_empty() {
            assert_eq!(*who, Some("t1"), "line {}: {by:?}", i + 1);
        }
    }
    // Another checkout may still explain what the own history cannot.
    assert_eq!(by[n], Some("t4"), "{by:?}");
}

#[test]
fn another_checkout_that_edited_the_file_carries_its_history_on() {
    // A teammate's checkout of the same project (named otherwise) edited the file as
    // the own checkout left it, then deleted and wrote it again: its creation wrote
    // every line, though the own history has them too.
    let v1 = "fn first_function() {}\nfn second_function() {}\n";
    let v2 = format!("{v1}fn third_function() {{}}\n");
    let v3 = format!("{v2}fn fourth_function() {{}}\n");
    let history = Recorded(vec![
        recorded("/home/me/app", "src/lib.rs", 1, write(v1, true)),
        recorded(
            "/home/me/clone",
            "src/lib.rs",
            2,
            edit(
                "fn second_function() {}\n",
                &v2[v1.len() - 24..],
                Some(v1),
                vec![],
            ),
        ),
        recorded("/home/me/clone", "src/lib.rs", 3, write(&v3, true)),
    ]);
    let by = blamed_calls(&history, "/work/app", "src/lib.rs", &v3);
    assert_eq!(by, vec![Some("t3".to_owned()); 4]);
}

#[test]
fn a_session_started_in_a_subdirectory_is_the_same_checkout() {
    // One session ran at the checkout's root, another in its `src/`; a person then
    // deleted the file and the first session wrote it again, with most of its old
    // lines. Taken for two checkouts, the creation was read as another checkout's
    // copy, and the old lines kept their old authors.
    let v1 = "fn first_function() {}\nfn second_function() {}\nfn third_function() {}\n";
    let v2 = format!("{v1}fn fourth_function() {{}}\n");
    let v3 = format!("fn zeroth_function() {{}}\n{v2}");
    let mut overwrite = write(&v2, false);
    overwrite.original = Some(v1.to_owned());
    let history = Recorded(vec![
        recorded("/home/me/app", "src/index.ts", 1, write(v1, true)),
        recorded("/home/me/app/src", "index.ts", 2, overwrite),
        recorded("/home/me/app", "src/index.ts", 3, write(&v3, true)),
    ]);
    // A checkout named otherwise: no root is known to be the file's own.
    let by = blamed_calls(&history, "/work/checkout", "src/index.ts", &v3);
    assert_eq!(by, vec![Some("t3".to_owned()); 5]);
}

#[test]
fn a_change_a_person_undid_leaves_the_creation_its_lines() {
    // The file's project (its checkout named otherwise) created the file; an agent
    // then added a function, which the person deleted again. Judged by what it wrote
    // after the creation, as another project's copy would be, the project explained
    // nothing, and an unrelated project sharing two generic lines took them.
    let mut created = String::from("use std::collections::HashMap;\n\n");
    for i in 0..20 {
        created.push_str(&format!("fn own_function_{i}() {{ own_work({i}); }}\n"));
    }
    let mut added = write(
        &format!("{created}fn added_then_removed() {{ gone(); }}\n"),
        false,
    );
    added.original = Some(created.clone());
    let unrelated =
        "use std::collections::HashMap;\n\nfn other_a() {}\nfn other_b() {}\nfn other_c() {}\n";
    let history = Recorded(vec![
        recorded("/Users/dev/app", "src/lib.rs", 1, write(&created, true)),
        recorded("/Users/dev/app", "src/lib.rs", 2, added),
        recorded("/Users/dev/other", "src/lib.rs", 3, write(unrelated, true)),
    ]);
    let by = blamed_calls(&history, "/work/checkout", "src/lib.rs", &created);
    assert_eq!(by, vec![Some("t1".to_owned()); 22]);
}

#[test]
fn generic_lines_do_not_make_an_unrelated_history_count() {
    // Neither checkout is named like the local one. The unrelated project's
    // CHANGELOG.md shares its title, its headings and its blank lines with this one:
    // two thirds of what it wrote is "still there", and replayed with the file's own
    // history, its later Write replaced this file's entries.
    let mut own = String::from("# Changelog\n\n");
    for (heading, entries) in [("## [0.2.0]", 10), ("## [0.1.0]", 5)] {
        own.push_str(&format!("{heading}\n### Added\n\n"));
        for i in 0..entries {
            own.push_str(&format!("- {heading} added entry {i}\n"));
        }
        own.push_str("### Fixed\n\n- a fix in ");
        own.push_str(heading);
        own.push('\n');
    }
    let unrelated = "# Changelog\n\n### Added\n\n- other entry a\n- other entry b\n- other entry c\n### Fixed\n\n";
    let history = Recorded(vec![
        recorded("/Users/dev/app", "CHANGELOG.md", 1, write(&own, true)),
        recorded(
            "/Users/dev/other",
            "CHANGELOG.md",
            2,
            write(unrelated, true),
        ),
    ]);
    let by = blamed_calls(&history, "/work/checkout", "CHANGELOG.md", &own);
    assert_eq!(by, vec![Some("t1".to_owned()); own.lines().count()]);
}

#[test]
fn a_block_a_person_moved_before_the_next_change_keeps_its_author() {
    // The person moves the agent's settings below its function; the agent's next edit
    // records the file as it found it (originalFile), which resynchronises the model.
    // The moved lines were not written by the person.
    let agent = "fn helper_function() {\n    compute_everything_now();\n}\n";
    let v1 = format!("first_setting_value = 1\nsecond_setting_value = 2\n{agent}");
    let seen = format!("{agent}first_setting_value = 1\nsecond_setting_value = 2\n");
    let after = format!("{agent}first_setting_value = 1\nsecond_setting_value = 20\n");
    let history = [
        write(&v1, true),
        edit(
            "second_setting_value = 2",
            "second_setting_value = 20",
            Some(&seen),
            vec![],
        ),
    ];
    assert_eq!(
        blame(&history, &after),
        vec![Some(0), Some(0), Some(0), Some(0), Some(1)]
    );
}

#[test]
fn another_project_s_copy_of_a_person_s_file_does_not_take_its_lines() {
    // A person wrote the file; another project on the machine created a copy of it
    // (a fork, a vendored twin) and changed the copy since. The file's own history is
    // an overwrite from a checkout named otherwise, so no root is known to be the
    // file's own: the copy's creation explained every line the person wrote.
    let mut person = String::new();
    for i in 0..20 {
        person.push_str(&format!("fn person_function_{i}() {{ do_work({i}); }}\n"));
    }
    let copy_changed = person.replace("do_work(3)", "do_other_work(3)")
        + "fn only_in_the_copy() { elsewhere(); }\n";
    let current = format!("{person}fn agent_function() {{ agent_work(); }}\n");
    let mut overwrite = write(&current, false);
    overwrite.original = Some(person.clone());
    let mut copy_update = write(&copy_changed, false);
    copy_update.original = Some(person.clone());
    let history = Recorded(vec![
        recorded(
            "/Users/dev/old-prototype",
            "src/lib.rs",
            1,
            write(&person, true),
        ),
        recorded("/home/ci/build/app", "src/lib.rs", 2, overwrite),
        recorded("/Users/dev/old-prototype", "src/lib.rs", 3, copy_update),
    ]);
    let by = blamed_calls(&history, "/work/checkout", "src/lib.rs", &current);
    let mut want = vec![None; 20];
    want.push(Some("t2".to_owned()));
    assert_eq!(by, want);
}

#[test]
fn an_overwrite_without_original_file_takes_only_its_patch_s_lines() {
    // Older records keep no `originalFile`. A person moved a block and typed a
    // function before the overwrite, so its patch does not fit the model; diffing the
    // model against its content credited it with the moved and the typed lines.
    let created = "fn first_function() {\n    first_body_line();\n}\n\
                   fn second_function() {\n    second_body_line();\n}\n\
                   fn third_function() {\n    third_body_line();\n}\n";
    // The person moved the third function to the top and typed one at the end.
    let on_disk = "fn third_function() {\n    third_body_line();\n}\n\
                   fn first_function() {\n    first_body_line();\n}\n\
                   fn second_function() {\n    second_body_line();\n}\n\
                   fn person_function() {\n    person_body_line();\n}\n";
    let current = format!("{on_disk}fn agent_function() {{\n    agent_body_line();\n}}\n");
    let mut overwrite = write(&current, false);
    overwrite.hunks = vec![hunk(
        10,
        &[
            " fn person_function() {",
            "     person_body_line();",
            " }",
            "+fn agent_function() {",
            "+    agent_body_line();",
            "+}",
        ],
    )];
    let got = blame(&[write(created, true), overwrite], &current);
    // The moved block's lone brace is too short to be recovered as moved (line 3).
    assert_eq!(got[..2], [Some(0), Some(0)], "{got:?}");
    assert_eq!(got[3..9], [Some(0); 6], "{got:?}");
    assert_eq!(
        got[9..],
        [None, None, None, Some(1), Some(1), Some(1)],
        "{got:?}"
    );
}

#[test]
fn a_function_inserted_by_its_strings_takes_the_blank_lines_after_it_as_git_does() {
    // `git blame` of this change credits the new function with the two blank lines
    // after it (git's diff slides an insertion down past lines it repeats). A
    // string edit anchored on the line above put the new blank lines before it.
    let v1 = "import os\n\n\ndef f():\n    pass\n";
    let v2 = "import os\n\n\ndef g():\n    return 1\n\n\ndef f():\n    pass\n";
    let git = vec![
        Some(0),
        Some(0),
        Some(0),
        Some(1),
        Some(1),
        Some(1),
        Some(1),
        Some(0),
        Some(0),
    ];
    for (name, e) in [
        (
            "anchored on the line above",
            edit(
                "import os\n",
                "import os\n\n\ndef g():\n    return 1\n",
                None,
                vec![],
            ),
        ),
        (
            "anchored on the line below",
            edit(
                "def f():\n",
                "def g():\n    return 1\n\n\ndef f():\n",
                None,
                vec![],
            ),
        ),
        ("an overwrite", write(v2, false)),
    ] {
        assert_eq!(blame(&[write(v1, true), e], v2), git, "{name}");
    }
}

/// A module an agent wrote in `/w/app/src/util.py` over two calls.
fn util_history() -> (Recorded, String) {
    let v1 = "import os\n\n\ndef load(path):\n    return open(path).read()\n";
    let v2 = format!("{v1}\n\ndef save(path, text):\n    open(path, 'w').write(text)\n");
    let mut second = write(&v2, false);
    second.original = Some(v1.to_owned());
    let history = Recorded(vec![
        recorded("/w/app", "src/util.py", 1, write(v1, true)),
        recorded("/w/app", "src/util.py", 2, second),
    ]);
    (history, v2)
}

/// A checkout on this machine named `name`, to blame in: moves are looked for only
/// in a checkout that is here (a platform elsewhere cannot see what is on disk).
fn checkout(tmp: &tempfile::TempDir, name: &str) -> String {
    let root = tmp.path().join(name);
    std::fs::create_dir_all(&root).expect("mkdir");
    root.to_string_lossy().into_owned()
}

#[test]
fn a_file_a_person_moved_keeps_the_calls_that_wrote_it() {
    // Moved and renamed in the editor (or with `git mv`): no transcript records it,
    // and git blame follows it. The old path no longer exists.
    let (history, v2) = util_history();
    let content = format!("# moved here by hand\n{v2}");
    let tmp = tempfile::tempdir().expect("tmp");
    // Recorded in /w/app: this checkout is named like it (a teammate's machine, a
    // checkout moved since).
    let app = checkout(&tmp, "app");
    let by = blamed_calls(&history, &app, "lib/helpers.py", &content);
    assert_eq!(by[0], None, "the person's line");
    assert_eq!(by[4], Some("t1".to_owned()), "{by:?}");
    assert_eq!(by[9], Some("t2".to_owned()), "{by:?}");
    assert_eq!(by.iter().filter(|b| b.is_some()).count(), 9, "{by:?}");

    // An agent editing it at its new name carries the history on.
    let edited = content.replace(
        "return open(path).read()",
        "return open(path).read().strip()",
    );
    let mut edit_there = write(&edited, false);
    edit_there.original = Some(content.clone());
    let mut calls = history.0.clone();
    calls.push(recorded("/w/app", "lib/helpers.py", 3, edit_there));
    let by = blamed_calls(&Recorded(calls), &app, "lib/helpers.py", &edited);
    assert_eq!(by[4], Some("t1".to_owned()), "{by:?}");
    assert_eq!(by[5], Some("t3".to_owned()), "{by:?}");
    assert_eq!(by[9], Some("t2".to_owned()), "{by:?}");

    // Not while the old path is still there: that is a copy.
    std::fs::create_dir_all(tmp.path().join("app/src")).expect("mkdir");
    std::fs::write(tmp.path().join("app/src/util.py"), &v2).expect("write");
    let by = blamed_calls(&history, &app, "lib/helpers.py", &content);
    assert!(by.iter().all(Option::is_none), "{by:?}");
}

#[test]
fn a_file_like_one_that_is_gone_is_not_taken_for_it() {
    let (history, v2) = util_history();
    let tmp = tempfile::tempdir().expect("tmp");
    let app = checkout(&tmp, "app");
    // Another extension, or too little in common: not the moved file.
    let by = blamed_calls(&history, &app, "lib/helpers.rs", &v2);
    assert!(by.iter().all(Option::is_none), "{by:?}");
    let mostly_new =
        "import os\n\n\ndef load(path):\n    pass\n\ndef a(): pass\ndef b(): pass\ndef c(): pass\n";
    let by = blamed_calls(&history, &app, "lib/helpers.py", mostly_new);
    assert!(by.iter().all(Option::is_none), "{by:?}");
    // Another project's checkout, and a checkout that is not on this machine (a
    // platform elsewhere cannot tell what is gone from it).
    let other = checkout(&tmp, "other");
    let by = blamed_calls(&history, &other, "lib/helpers.py", &v2);
    assert!(by.iter().all(Option::is_none), "{by:?}");
    let by = blamed_calls(&history, "/w/app", "lib/helpers.py", &v2);
    assert!(by.iter().all(Option::is_none), "{by:?}");
}

#[test]
fn another_project_named_like_the_checkout_is_not_where_the_file_came_from() {
    // Another project named `app` (two Django projects' settings.py share most of
    // their lines): its agent wrote util.py and three more files, none of which are
    // in this checkout, so it is not this project on another machine.
    let (history, v2) = util_history();
    let mut calls = history.0.clone();
    for (n, name) in ["a.py", "b.py", "c.py"].into_iter().enumerate() {
        let change = write("x = 1\n", true);
        calls.push(recorded(
            "/w/app",
            &format!("src/{name}"),
            10 + n as i64,
            change,
        ));
    }
    let calls = Recorded(calls);
    let tmp = tempfile::tempdir().expect("tmp");
    let app = checkout(&tmp, "app");
    let by = blamed_calls(&calls, &app, "lib/helpers.py", &v2);
    assert!(by.iter().all(Option::is_none), "{by:?}");
    // With those files here, it is: the move is followed.
    for name in ["a.py", "b.py", "c.py"] {
        std::fs::create_dir_all(tmp.path().join("app/src")).expect("mkdir");
        std::fs::write(tmp.path().join("app/src").join(name), "x = 1\n").expect("write");
    }
    let by = blamed_calls(&calls, &app, "lib/helpers.py", &v2);
    assert_eq!(by[3], Some("t1".to_owned()), "{by:?}");
}
