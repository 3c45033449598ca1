//! File changes made by tool calls, kept exact: per-line attribution replays them.
//!
//! The tool's input says what the agent asked for; `toolUseResult` (newer versions)
//! says what happened, with `structuredPatch` hunks and the file's content before the
//! change. Both are kept, because older transcripts only have the input.

use serde_json::{Map, Value};

// The shapes are the wire's (the API sends them in file touches, the store keeps them
// as this JSON): they live in the protocol crate.
pub use observatory_protocol::changes::{FileChange, Hunk, TextEdit};

/// Tools whose calls change a file.
pub fn is_writing_tool(name: &str) -> bool {
    matches!(name, "Edit" | "MultiEdit" | "Write" | "NotebookEdit")
}

/// The file a tool call is about, if it is about one file.
pub fn touched_path<'a>(tool: &str, input: &'a Value) -> Option<&'a str> {
    let o = input.as_object()?;
    let key = match tool {
        "Read" | "Edit" | "MultiEdit" | "Write" => "file_path",
        "NotebookEdit" | "NotebookRead" => "notebook_path",
        _ => return None,
    };
    o.get(key).and_then(Value::as_str).filter(|p| !p.is_empty())
}

fn s(o: &Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn b(o: &Map<String, Value>, k: &str) -> bool {
    matches!(o.get(k), Some(Value::Bool(true)))
}

fn edit_from(o: &Map<String, Value>) -> Option<TextEdit> {
    Some(TextEdit {
        old_string: s(o, "old_string").or_else(|| s(o, "oldString"))?,
        new_string: s(o, "new_string").or_else(|| s(o, "newString"))?,
        replace_all: b(o, "replace_all") || b(o, "replaceAll"),
    })
}

fn hunks_from(v: Option<&Value>) -> Vec<Hunk> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|h| {
            let o = h.as_object()?;
            let n = |k: &str| o.get(k).and_then(Value::as_u64);
            Some(Hunk {
                old_start: n("oldStart")?,
                old_lines: n("oldLines")?,
                new_start: n("newStart")?,
                new_lines: n("newLines")?,
                lines: o
                    .get("lines")?
                    .as_array()?
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect(),
            })
        })
        .collect()
}

/// Claude Code's Read returns at most this many lines unless asked for a range: an
/// answer this long may be cut short.
const READ_DEFAULT_LIMIT: usize = 2000;

/// The file's whole content as an old-version Read showed it, for line attribution:
/// old transcripts record no `originalFile`, and a Read (which Claude Code requires
/// before writing an existing file) is then the only record of what the file held.
///
/// `None` when the call read part of the file (`offset`/`limit`, or an answer as
/// long as the default limit), when the result is structured (newer versions, whose
/// writes carry `originalFile` themselves), or when the output is not numbered lines
/// (`cat -n` style, `     1\tline` or `     1→line`, numbered from 1).
pub fn read_snapshot(input: &Value, output: &str, result: Option<&Value>) -> Option<FileChange> {
    if result.is_some_and(Value::is_object) {
        return None;
    }
    let input = input.as_object()?;
    let ranged = input
        .get("offset")
        .and_then(Value::as_u64)
        .is_some_and(|o| o > 1)
        || input.get("limit").is_some_and(|l| !l.is_null());
    if ranged {
        return None;
    }
    let path = s(input, "file_path")?;
    let mut text = String::new();
    let mut n = 0usize;
    for line in output.lines() {
        let trimmed = line.trim_start();
        let digits = trimmed.len()
            - trimmed
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let Ok(number) = trimmed[..digits].parse::<usize>() else {
            break;
        };
        let rest = &trimmed[digits..];
        let Some(body) = rest
            .strip_prefix('\t')
            .or_else(|| rest.strip_prefix('\u{2192}'))
        else {
            break;
        };
        if number != n + 1 {
            return None;
        }
        n = number;
        text.push_str(body);
        text.push('\n');
    }
    if n == 0 || n >= READ_DEFAULT_LIMIT {
        return None;
    }
    Some(FileChange {
        tool: "Read".into(),
        path,
        content: Some(text),
        ..FileChange::default()
    })
}

/// Builds the change a writing tool call made, from its input and (when present) the
/// `toolUseResult` Claude Code wrote for it. `None` for tools that write no file or
/// inputs too broken to say what changed.
pub fn change_from(tool: &str, input: &Value, result: Option<&Value>) -> Option<FileChange> {
    if !is_writing_tool(tool) {
        return None;
    }
    let input = input.as_object()?;
    // Older versions record only a sentence ("File created successfully at: ...",
    // "The file ... has been updated"); it still says whether a Write created the file.
    let said_created = result.and_then(Value::as_str).and_then(|t| {
        if t.starts_with("File created successfully") {
            Some(true)
        } else if t.contains("has been updated") || t.contains("has been overwritten") {
            Some(false)
        } else {
            None
        }
    });
    let result = result.and_then(Value::as_object);
    let path = result
        .and_then(|r| s(r, "filePath"))
        .or_else(|| s(input, "file_path"))
        .or_else(|| s(input, "notebook_path"))?;
    let mut change = FileChange {
        tool: tool.to_owned(),
        path,
        edits: Vec::new(),
        content: None,
        original: None,
        hunks: Vec::new(),
        created: None,
        user_modified: false,
        notebook_cell: None,
        notebook_edit_mode: None,
        renamed_from: None,
    };
    if let Some(r) = result {
        change.hunks = hunks_from(r.get("structuredPatch"));
        change.original = s(r, "originalFile").or_else(|| s(r, "originalFileContents"));
        change.user_modified = b(r, "userModified");
    }
    match tool {
        "Edit" => {
            // The result's strings are what was applied (the user may have modified
            // the proposal); the input is the fallback for old versions.
            let edit = result.and_then(edit_from).or_else(|| edit_from(input));
            change.edits.extend(edit);
        }
        "MultiEdit" => {
            let edits = result
                .and_then(|r| r.get("edits"))
                .or_else(|| input.get("edits"));
            if let Some(Value::Array(items)) = edits {
                change.edits = items
                    .iter()
                    .filter_map(|e| e.as_object().and_then(edit_from))
                    .collect();
            }
        }
        "Write" => {
            change.content = result
                .and_then(|r| s(r, "content"))
                .or_else(|| s(input, "content"));
            change.created = result
                .and_then(|r| match r.get("type").and_then(Value::as_str) {
                    Some("create") => Some(true),
                    Some("update") => Some(false),
                    _ => None,
                })
                .or(said_created);
        }
        "NotebookEdit" => {
            change.content = s(input, "new_source");
            change.notebook_cell = s(input, "cell_id").or_else(|| {
                input
                    .get("cell_number")
                    .and_then(Value::as_u64)
                    .map(|n| n.to_string())
            });
            change.notebook_edit_mode = s(input, "edit_mode");
        }
        _ => {}
    }
    Some(change)
}

/// File moves in a shell command, best effort: `mv SRC DST` and `git mv SRC DST` with
/// exactly one source, in commands joined by `&&`, `||` or `;`. Relative paths are
/// resolved against `cwd`; a destination ending in `/` is a directory. A `cd` earlier
/// in the command, globs and several sources are not followed.
pub fn renames_in_command(command: &str, cwd: Option<&str>) -> Vec<FileChange> {
    let Ok(tokens) = shell_words::split(command) else {
        return Vec::new();
    };
    let resolve = |p: &str| -> Option<String> {
        if p.starts_with('/') {
            Some(p.to_owned())
        } else {
            cwd.map(|c| format!("{}/{}", c.trim_end_matches('/'), p.trim_start_matches("./")))
        }
    };
    let mut out = Vec::new();
    for segment in tokens.split(|t| matches!(t.as_str(), "&&" | "||" | ";" | "|")) {
        let args: Vec<&str> = match segment {
            [mv, rest @ ..] if mv == "mv" => rest.iter().map(String::as_str).collect(),
            [git, mv, rest @ ..] if git == "git" && mv == "mv" => {
                rest.iter().map(String::as_str).collect()
            }
            _ => continue,
        };
        let args: Vec<&str> = args
            .into_iter()
            .map(|a| a.trim_end_matches(';'))
            .filter(|a| !a.starts_with('-'))
            .collect();
        let [src, dst] = args.as_slice() else {
            continue;
        };
        if src.contains(['*', '?']) {
            continue;
        }
        let dst = if dst.ends_with('/') {
            format!("{dst}{}", src.rsplit('/').next().unwrap_or(src))
        } else {
            (*dst).to_owned()
        };
        if let (Some(from), Some(to)) = (resolve(src), resolve(&dst)) {
            out.push(FileChange {
                tool: "Bash".to_owned(),
                path: to,
                renamed_from: Some(from),
                ..FileChange::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shell_moves_are_found() {
        let r = renames_in_command(
            "mkdir -p src/new && git mv -f src/old.rs src/new/ && cargo build",
            Some("/p"),
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].renamed_from.as_deref(), Some("/p/src/old.rs"));
        assert_eq!(r[0].path, "/p/src/new/old.rs");
        let r = renames_in_command("mv '/a/x y.py' b.py", Some("/w"));
        assert_eq!(
            (r[0].renamed_from.as_deref(), r[0].path.as_str()),
            (Some("/a/x y.py"), "/w/b.py")
        );
        assert!(renames_in_command("mv *.py dir/", Some("/w")).is_empty());
        assert!(renames_in_command("mv a b c/", Some("/w")).is_empty());
        assert!(renames_in_command("echo 'unterminated", Some("/w")).is_empty());
        assert!(renames_in_command("ls -la", None).is_empty());
    }

    #[test]
    fn edit_prefers_result_and_keeps_patch() {
        let input = json!({"file_path": "/p/a.py", "old_string": "a", "new_string": "b"});
        let result = json!({
            "filePath": "/p/a.py", "oldString": "a", "newString": "B", "originalFile": "a\n",
            "structuredPatch": [{"oldStart":1,"oldLines":1,"newStart":1,"newLines":1,"lines":["-a","+B"]}],
            "userModified": true, "replaceAll": false
        });
        let c = change_from("Edit", &input, Some(&result)).expect("change");
        assert_eq!(c.edits[0].new_string, "B");
        assert_eq!(c.original.as_deref(), Some("a\n"));
        assert_eq!(c.hunks[0].lines, vec!["-a", "+B"]);
        assert!(c.user_modified);
    }

    #[test]
    fn old_result_sentences_say_whether_a_write_created_the_file() {
        let input = json!({"file_path": "/p/n.md", "content": "x\n"});
        let made = json!("File created successfully at: /p/n.md");
        assert_eq!(
            change_from("Write", &input, Some(&made)).and_then(|c| c.created),
            Some(true)
        );
        let updated =
            json!("The file /p/n.md has been updated. Here's the result of running `cat -n`");
        assert_eq!(
            change_from("Write", &input, Some(&updated)).and_then(|c| c.created),
            Some(false)
        );
    }

    #[test]
    fn write_without_result_uses_input() {
        let input = json!({"file_path": "/p/n.md", "content": "# hi\n"});
        let c = change_from("Write", &input, None).expect("change");
        assert_eq!(c.content.as_deref(), Some("# hi\n"));
        assert_eq!(c.created, None);
    }

    #[test]
    fn multiedit_and_non_writing_tools() {
        let input =
            json!({"file_path": "/x", "edits": [{"old_string": "", "new_string": "x"}, "junk"]});
        let c = change_from("MultiEdit", &input, Some(&json!("File created"))).expect("change");
        assert_eq!(c.edits.len(), 1);
        assert!(change_from("Read", &json!({"file_path": "/x"}), None).is_none());
        assert!(change_from("Edit", &json!("nonsense"), None).is_none());
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_old_whole_file_read_is_a_snapshot() {
        let out = "     1\tfn a() {\n     2\t    1\n     3\t}\n";
        let c = read_snapshot(&json!({"file_path": "/p/a.rs"}), out, None).unwrap();
        assert_eq!(c.tool, "Read");
        assert_eq!(c.content.as_deref(), Some("fn a() {\n    1\n}\n"));
        let arrows =
            "     1\u{2192}x\n     2\u{2192}y\n\n<system-reminder>not code</system-reminder>";
        let c = read_snapshot(
            &json!({"file_path": "/p/a.rs"}),
            arrows,
            Some(&json!("text")),
        )
        .unwrap();
        assert_eq!(c.content.as_deref(), Some("x\ny\n"));
    }

    #[test]
    fn partial_structured_or_odd_reads_are_not() {
        let out = "     1\tx\n";
        assert!(read_snapshot(&json!({"file_path": "/a", "offset": 10}), out, None).is_none());
        assert!(read_snapshot(&json!({"file_path": "/a", "limit": 5}), out, None).is_none());
        let structured = json!({"type": "text", "file": {"filePath": "/a", "content": "x"}});
        assert!(read_snapshot(&json!({"file_path": "/a"}), out, Some(&structured)).is_none());
        assert!(read_snapshot(&json!({"file_path": "/a"}), "     2\tx\n", None).is_none());
        assert!(read_snapshot(&json!({"file_path": "/a"}), "no such file", None).is_none());
        let long: String = (1..=2000).map(|i| format!("{i:>6}\tl{i}\n")).collect();
        assert!(read_snapshot(&json!({"file_path": "/a"}), &long, None).is_none());
    }
}
