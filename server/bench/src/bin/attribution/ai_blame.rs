//! Line-by-line comparison with the `ai-blame` CLI (crates.io `ai-blame`) on the
//! fixture it ships: `tests/examples/simple` (the project) and `simple-home` (its
//! `.claude`).
//!
//! ai-blame prints a table, not JSON: `--columns TL --no-header` gives each line's
//! attribution as the time of the tool result (to the minute, `-` for none), which
//! is what is compared with the time of the call Observatory attributes the line to.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use observatory_attribution::blame::blame;
use observatory_attribution::normalize;
use observatory_store::{RecordedWrite, Store};

/// One line as ai-blame attributes it: the minute of the edit, or none.
type AiLine = Option<NaiveDateTime>;

/// Runs ai-blame on `file` (relative to `project`), the way its fixture README does,
/// falling back to naming the trace directory when the fixture's recorded project
/// path is not where the fixture is now.
fn run_ai_blame(
    bin: &Path,
    project: &Path,
    file: &str,
    home: &Path,
) -> Result<(Vec<AiLine>, String)> {
    let base = |cmd: &mut Command| {
        cmd.current_dir(project)
            .env("AI_BLAME_NO_CACHE", "1")
            .args([
                "blame",
                file,
                "--no-cache",
                "--no-header",
                "--columns",
                "TLC",
            ]);
    };
    let mut cmd = Command::new(bin);
    base(&mut cmd);
    cmd.arg("--home").arg(home);
    let out = cmd
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let (out, how) = if out.status.success() {
        (out, format!("--home {}", home.display()))
    } else {
        // ai-blame looks for `<home>/.claude/projects/<encoded cwd>`: the fixture's
        // folder is named after the machine it was recorded on.
        let projects = home.join(".claude/projects");
        let dir = std::fs::read_dir(&projects)
            .with_context(|| projects.display().to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.is_dir())
            .context("no project folder in the fixture home")?;
        let mut cmd = Command::new(bin);
        base(&mut cmd);
        cmd.arg("--trace-dir").arg(&dir);
        let out = cmd
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        (out, format!("--trace-dir {}", dir.display()))
    };
    if !out.status.success() {
        bail!(
            "ai-blame failed on {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout).context("ai-blame output is not UTF-8")?;
    let mut lines = Vec::new();
    let mut body = false;
    for l in text.lines() {
        if !body {
            body = l.starts_with("----");
            continue;
        }
        let Some((left, _code)) = l.split_once(" | ") else {
            continue;
        };
        let left = left.trim();
        let (when, _line_no) = left.rsplit_once(' ').unwrap_or(("-", left));
        let when = when.trim();
        lines.push(if when == "-" {
            None
        } else {
            Some(
                NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M")
                    .with_context(|| format!("ai-blame timestamp {when:?}"))?,
            )
        });
    }
    Ok((lines, how))
}

fn minute(at: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
    at.and_then(|t| {
        NaiveDateTime::parse_from_str(&t.format("%Y-%m-%d %H:%M").to_string(), "%Y-%m-%d %H:%M")
            .ok()
    })
}

fn short(w: &RecordedWrite) -> String {
    let id = w
        .tool_use_id
        .get(w.tool_use_id.len().saturating_sub(6)..)
        .unwrap_or("");
    let at =
        w.at.map_or("?".into(), |t| t.format("%H:%M:%S").to_string());
    format!("{} …{id} {at}", w.tool)
}

/// Why the two disagree on a line, from the recorded calls and ai-blame's algorithm
/// (`blame.rs::compute_line_blame`: newest to oldest, each Edit's whole `newString`
/// located as whole lines and credited, then reverse-applied; a create credits every
/// line still unknown).
fn reason(
    line: &str,
    ours: Option<&RecordedWrite>,
    ai: AiLine,
    writes: &[RecordedWrite],
) -> String {
    let key = normalize(line);
    let in_edit = |w: &RecordedWrite, side: fn(&observatory_transcript::TextEdit) -> &str| {
        w.change
            .edits
            .iter()
            .any(|e| side(e).split('\n').any(|l| normalize(l) == key))
    };
    match (ours, ai) {
        (None, Some(_)) if key.is_empty() => {
            "blank line between lines of different origins: Observatory's blank-line rule leaves it to neither".into()
        }
        (None, Some(_)) => {
            if writes.iter().any(|w| in_edit(w, |e| &e.old_string) && in_edit(w, |e| &e.new_string)) {
                "the line is in both old_string and new_string (context the agent quoted, unchanged): ai-blame credits all of newString, Observatory only the lines the structuredPatch adds".into()
            } else {
                "ai-blame credits it; no recorded change wrote it".into()
            }
        }
        (Some(w), None) => {
            let partial = w.change.edits.iter().any(|e| {
                !e.new_string.is_empty()
                    && !e.new_string.contains('\n')
                    && normalize(&e.new_string) != key
                    && line.contains(e.new_string.trim())
            });
            if w.tool == "MultiEdit" {
                "ai-blame skips MultiEdit (it reads only `newString`)".into()
            } else if w.tool == "Write" && w.change.created != Some(true) {
                "ai-blame skips Write updates (`type: update` is not a create and has no `newString`)".into()
            } else if partial {
                "the edit changed part of the line: ai-blame looks for `newString` as whole lines, so a partial-line string never matches".into()
            } else {
                "ai-blame found no match for it".into()
            }
        }
        (Some(w), Some(t)) => {
            let quoted = writes.iter().any(|l| {
                minute(l.at).is_some_and(|m| (m - t).num_minutes().abs() <= 1)
                    && in_edit(l, |e| &e.old_string)
                    && in_edit(l, |e| &e.new_string)
            });
            if quoted {
                format!(
                    "a later Edit quoted the line unchanged in old_string and new_string: ai-blame credits that Edit, Observatory keeps the {} that wrote it",
                    w.tool
                )
            } else {
                format!(
                    "different calls: Observatory {}, ai-blame {}",
                    short(w),
                    t.format("%H:%M")
                )
            }
        }
        (None, None) => String::new(),
    }
}

pub fn compare(bin: &Path, fixture: &Path) -> Result<()> {
    let project = fixture.join("simple");
    let home = fixture.join("simple-home");
    let claude = home.join(".claude");
    let mut store = Store::open_in_memory()?;
    store.index_roots(std::slice::from_ref(&claude), &mut |_| {})?;
    let root = project
        .canonicalize()
        .with_context(|| project.display().to_string())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| root.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();

    println!("\n## Observatory vs ai-blame on ai-blame's own fixture\n");
    let mut summary = Vec::new();
    let mut details = Vec::new();
    let mut invocation = String::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .context("file name")?
            .to_owned();
        let content = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
        let b = blame(&store, file, &root, &content, &[])?;
        let (ai, how) = run_ai_blame(bin, &root, &name, &home)?;
        invocation = how;
        let lines: Vec<&str> = observatory_attribution::split_lines(&content).collect();
        let (mut ours_n, mut ai_n, mut agree) = (0, 0, 0);
        for (i, text) in lines.iter().enumerate() {
            let ours = b
                .lines
                .get(i)
                .copied()
                .flatten()
                .map(|o| &b.writes[o as usize]);
            let theirs = ai.get(i).copied().flatten();
            ours_n += usize::from(ours.is_some());
            ai_n += usize::from(theirs.is_some());
            let same = match (ours, theirs) {
                (None, None) => true,
                // The same call: ai-blame shows the result's minute, Observatory has
                // the call's time, a second or so earlier.
                (Some(w), Some(t)) => {
                    minute(w.at).is_some_and(|m| (m - t).num_minutes().abs() <= 1)
                }
                _ => false,
            };
            if same {
                agree += 1;
            } else {
                details.push(format!(
                    "| {name}:{} | `{}` | {} | {} | {} |",
                    i + 1,
                    text.replace('|', "\\|"),
                    ours.map_or("-".into(), short),
                    theirs.map_or("-".into(), |t| t.format("%H:%M").to_string()),
                    reason(text, ours, theirs, &b.writes)
                ));
            }
        }
        summary.push(format!(
            "| {name} | {} | {} | {ours_n} | {ai_n} | {agree} |",
            lines.len(),
            b.writes.len()
        ));
    }
    println!("ai-blame run as `ai-blame blame FILE {invocation} --no-cache --no-header --columns TLC` in {}.\n", root.display());
    println!("| file | lines | recorded changes (Observatory) | attributed by Observatory | by ai-blame | lines agreeing |");
    println!("|---|---:|---:|---:|---:|---:|");
    for s in summary {
        println!("{s}");
    }
    println!("\n### Lines where they disagree\n");
    println!("| line | text | Observatory | ai-blame | why |");
    println!("|---|---|---|---|---|");
    for d in details {
        println!("{d}");
    }
    Ok(())
}
