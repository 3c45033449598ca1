//! Human output: tables, summaries and the progress bar. Machine output is `--json`.

use std::io::IsTerminal;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Local, Utc};
use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use num_format::{Locale, ToFormattedString};
use observatory_store::{
    ConversationSummary, FileTouch, IndexReport, SearchPage, UsageGroup, UsageRow,
};

pub fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    // Written as it is serialised: a usage report of ten thousand conversations is
    // megabytes, not worth building as one string first. Stdout is line-buffered
    // underneath, so each chunk costs two `write`s: large chunks keep them few
    // (832 for a 3.5 MB report with the default 8 KiB, 28 with these).
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// The progress bar on screen, if one is: log lines are written around it.
static SHOWN_BAR: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// Where log lines go: stderr, with the progress bar on screen taken off while a line
/// is written and drawn again below it. Written over, the bar left a stale frame
/// above the lines (a skipped transcript line during `index`).
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = SHOWN_BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Takes the progress bar off the screen for good.
pub fn clear_progress_bar(bar: &ProgressBar) {
    if let Ok(mut shown) = SHOWN_BAR.lock() {
        *shown = None;
    }
    bar.finish_and_clear();
}

pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} indexing {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if let Ok(mut shown) = SHOWN_BAR.lock() {
        *shown = Some(bar.clone());
    }
    bar
}

pub fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !std::io::stdout().is_terminal() {
        t.set_width(160);
    }
    t.set_header(headers.iter().map(Cell::new));
    t
}

/// A session id as tables show it: a uuid by its first 8 characters (unique in
/// practice, and a prefix `show` accepts), any other id whole: `agent-a1b2c3d4`
/// and `session-beta` cut to 8 named no conversation, or several.
fn short(id: &str) -> &str {
    let uuid = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if uuid {
        id.get(..8).unwrap_or(id)
    } else {
        id
    }
}

/// "2 h ago" style age, falling back to a date past a week.
pub fn ago(t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else { return "-".into() };
    let secs = (Utc::now() - t).num_seconds();
    match secs {
        s if s < 0 => t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string(),
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s if s < 7 * 86_400 => format!("{} d ago", s / 86_400),
        _ => t.with_timezone(&Local).format("%Y-%m-%d").to_string(),
    }
}

pub fn print_index_summary(
    roots: &[PathBuf],
    r: &IndexReport,
    totals: &observatory_store::Counts,
    warnings: &[(String, u64, String)],
) {
    let secs = r.elapsed.as_secs_f64();
    let mbps = if secs > 0.0 {
        r.bytes_read as f64 / 1e6 / secs
    } else {
        0.0
    };
    println!("Indexed {}", join_paths(roots));
    println!(
        "  this run: {} of {} files changed, {} lines, {:.1} MB in {:.2} s ({:.0} MB/s), {} new messages, {} warnings",
        r.files_changed,
        r.files,
        r.lines.to_formatted_string(&Locale::en),
        r.bytes_read as f64 / 1e6,
        secs,
        mbps,
        r.new_messages.to_formatted_string(&Locale::en),
        r.warnings
    );
    for failure in &r.failures {
        println!("  could not read: {failure} (retried on the next run)");
    }
    if r.files_missing > 0 {
        println!(
            "  {} transcript files were deleted by Claude Code; their indexed copies are kept",
            r.files_missing
        );
    }
    println!(
        "  in store: {} conversations, {} messages, {} file touches ({} edits), {} warnings",
        totals.conversations.to_formatted_string(&Locale::en),
        totals.messages.to_formatted_string(&Locale::en),
        totals.file_touches.to_formatted_string(&Locale::en),
        totals.edits.to_formatted_string(&Locale::en),
        totals.warnings.to_formatted_string(&Locale::en)
    );
    if !warnings.is_empty() && r.warnings > 0 {
        println!("  latest warnings:");
        for (path, line, reason) in warnings {
            println!("    {path}:{line}: {reason}");
        }
    }
}

pub fn print_search(page: &SearchPage) {
    if page.hits.is_empty() {
        println!("No matches.");
        return;
    }
    let mut t = table(&["When", "Conversation", "Where", "Snippet"]);
    for h in &page.hits {
        let place = match &h.tool {
            Some(tool) => format!("{} ({tool})", h.kind),
            None => h.kind.clone(),
        };
        t.add_row(vec![
            Cell::new(ago(h.at)),
            Cell::new(format!(
                "{}\n{}",
                h.conversation_title,
                short(&h.session_id)
            )),
            Cell::new(place),
            Cell::new(&h.snippet),
        ]);
    }
    println!("{t}");
    if let Some(next) = page.next_offset {
        println!("More results: --offset {next}");
    }
}

pub fn print_conversations(list: &[ConversationSummary]) {
    if list.is_empty() {
        println!("No conversations indexed yet. Run `observatory index`.");
        return;
    }
    let mut t = table(&[
        "Id",
        "Title",
        "Project",
        "Msgs",
        "Tokens",
        "Cost",
        "Last active",
    ]);
    for c in list {
        t.add_row(vec![
            Cell::new(short(&c.session_id)),
            Cell::new(&c.title),
            Cell::new(c.project.as_deref().unwrap_or("-")),
            Cell::new(c.message_count).set_alignment(CellAlignment::Right),
            Cell::new(c.usage.total().to_formatted_string(&Locale::en))
                .set_alignment(CellAlignment::Right),
            Cell::new(format!("${:.2}", c.cost_usd)).set_alignment(CellAlignment::Right),
            Cell::new(ago(c.ended_at)),
        ]);
    }
    println!("{t}");
}

pub fn print_usage(group: UsageGroup, rows: &[UsageRow]) {
    let first = match group {
        UsageGroup::Conversation => "Conversation",
        UsageGroup::Project => "Project",
        UsageGroup::Day => "Day (UTC)",
        UsageGroup::Model => "Model",
    };
    let mut t = table(&[
        first,
        "Convs",
        "Input",
        "Output",
        "Cache write",
        "Cache read",
        "Total",
        "Cost (est.)",
    ]);
    let mut sum = observatory_transcript::Usage::default();
    let mut cost = 0.0;
    for r in rows {
        let label = if group == UsageGroup::Conversation {
            format!("{} {}", short(&r.key), r.label)
        } else {
            r.label.clone()
        };
        sum.input_tokens += r.usage.input_tokens;
        sum.output_tokens += r.usage.output_tokens;
        sum.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
        sum.cache_read_input_tokens += r.usage.cache_read_input_tokens;
        cost += r.cost_usd;
        t.add_row(usage_cells(
            label,
            Some(r.conversations),
            &r.usage,
            r.cost_usd,
        ));
    }
    t.add_row(usage_cells("Total".into(), None, &sum, cost));
    println!("{t}");
}

fn usage_cells(
    label: String,
    convs: Option<u64>,
    u: &observatory_transcript::Usage,
    cost: f64,
) -> Vec<Cell> {
    let num =
        |n: u64| Cell::new(n.to_formatted_string(&Locale::en)).set_alignment(CellAlignment::Right);
    vec![
        Cell::new(label),
        Cell::new(convs.map(|c| c.to_string()).unwrap_or_default())
            .set_alignment(CellAlignment::Right),
        num(u.input_tokens),
        num(u.output_tokens),
        num(u.cache_creation_input_tokens),
        num(u.cache_read_input_tokens),
        num(u.total()),
        Cell::new(format!("${cost:.2}")).set_alignment(CellAlignment::Right),
    ]
}

pub fn print_touches(touches: &[FileTouch]) {
    let mut t = table(&["When", "Tool", "Conversation", "Prompt", "Path"]);
    for x in touches {
        let status = match x.failed {
            Some(true) => " (failed)",
            None => " (no result)",
            Some(false) => "",
        };
        t.add_row(vec![
            Cell::new(ago(x.at)),
            Cell::new(format!("{}{status}", x.tool)),
            Cell::new(format!(
                "{}\n{}",
                x.conversation_title,
                short(&x.session_id)
            )),
            Cell::new(
                x.prompt
                    .as_deref()
                    .map(|p| observatory_store::one_line(p, 80))
                    .unwrap_or_default(),
            ),
            Cell::new(&x.path),
        ]);
    }
    println!("{t}");
}

pub fn print_symbol_changes(changes: &[observatory_attribution::symbols::ChangeToSymbol]) {
    let mut t = table(&["When", "Tool", "Conversation", "Prompt", "Symbol", "Lines"]);
    for c in changes {
        let lines = match (c.lines.first(), c.lines.last()) {
            (Some(a), Some(b)) if a != b => format!("{}:{a}-{b}", c.path),
            (Some(a), _) => format!("{}:{a}", c.path),
            _ => c.path.clone(),
        };
        t.add_row(vec![
            Cell::new(ago(c.at)),
            Cell::new(&c.tool),
            Cell::new(format!(
                "{}\n{}",
                c.conversation_title,
                short(&c.session_id)
            )),
            Cell::new(
                c.prompt
                    .as_deref()
                    .map(|p| observatory_store::one_line(p, 80))
                    .unwrap_or_default(),
            ),
            Cell::new(&c.symbol),
            Cell::new(lines),
        ]);
    }
    println!("{t}");
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn print_blame(
    path: &std::path::Path,
    content: &str,
    blame: &observatory_attribution::blame::Blame,
) {
    use std::collections::BTreeSet;
    let sessions: BTreeSet<&str> = blame
        .lines
        .iter()
        .flatten()
        .map(|&o| blame.writes[o as usize].session_id.as_str())
        .collect();
    println!(
        "{}: {} of {} lines from {} agent conversation{}",
        path.display(),
        blame.attributed_lines(),
        blame.lines.len(),
        sessions.len(),
        if sessions.len() == 1 { "" } else { "s" }
    );
    let width = blame.lines.len().to_string().len();
    let mut prev: Option<u32> = None;
    for (i, line) in observatory_attribution::split_lines(content).enumerate() {
        let origin = blame.lines.get(i).copied().flatten();
        let note = match origin {
            Some(o) if prev == Some(o) => format!("{:<8} {:<16} {:<9} {:<30}", "", "", "", "⋮"),
            Some(o) => {
                let w = &blame.writes[o as usize];
                let title: String = observatory_store::one_line(&w.conversation_title, 30);
                format!(
                    "{:<8} {:<16} {:<9} {:<30}",
                    short(&w.session_id),
                    when(w.at),
                    w.tool,
                    title
                )
            }
            None => format!("{:<8} {:<16} {:<9} {:<30}", "", "", "", ""),
        };
        prev = origin;
        println!("{note} {:>width$} │ {line}", i + 1);
    }
    let mut shown = BTreeSet::new();
    let used: Vec<u32> = {
        let mut v: Vec<u32> = blame.lines.iter().flatten().copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if let Some(syms) = observatory_attribution::symbols::symbols(path, content) {
        let changed = observatory_attribution::symbols::attribute(&syms, &blame.lines);
        if !changed.is_empty() {
            println!("\nSymbols changed by agents:");
        }
        for s in changed {
            let latest = s
                .lines_by_change
                .keys()
                .max()
                .map(|&o| &blame.writes[o as usize]);
            let lines: usize = s.lines_by_change.values().sum();
            if let Some(w) = latest {
                println!(
                    "  {:<40} {:>4} lines  latest: {} {} ({})",
                    s.symbol.qualified_name,
                    lines,
                    short(&w.session_id),
                    observatory_store::one_line(&w.conversation_title, 40),
                    ago(w.at)
                );
            }
        }
    }
    if !used.is_empty() {
        println!("\nPrompts:");
    }
    for o in used {
        let w = &blame.writes[o as usize];
        if let Some(p) = &w.prompt {
            if shown.insert((w.session_id.clone(), p.clone())) {
                println!(
                    "  {}  {}",
                    short(&w.session_id),
                    observatory_store::one_line(p, 100)
                );
            }
        }
    }
    if !blame.unplaced.is_empty() {
        eprintln!("note: {} recorded change(s) could not be located in the file's history; their lines may be missing", blame.unplaced.len());
    }
}

pub fn blame_json(
    path: &std::path::Path,
    content: &str,
    blame: &observatory_attribution::blame::Blame,
) -> serde_json::Value {
    let symbols = observatory_attribution::symbols::symbols(path, content).map(|syms| {
        observatory_attribution::symbols::attribute(&syms, &blame.lines)
            .into_iter()
            .map(|s| {
                let changes: Vec<serde_json::Value> = s
                    .lines_by_change
                    .iter()
                    .map(|(&o, &n)| {
                        let w = &blame.writes[o as usize];
                        serde_json::json!({"session_id": w.session_id, "conversation_title": w.conversation_title,
                            "tool_use_id": w.tool_use_id, "at": w.at, "lines": n})
                    })
                    .collect();
                serde_json::json!({"name": s.symbol.qualified_name, "kind": s.symbol.kind,
                    "start_line": s.symbol.start_line, "end_line": s.symbol.end_line, "changes": changes})
            })
            .collect::<Vec<_>>()
    });
    let runs: Vec<serde_json::Value> = blame
        .runs()
        .into_iter()
        .map(|r| {
            let w = &blame.writes[r.write as usize];
            serde_json::json!({
                "start_line": r.start,
                "end_line": r.end,
                "session_id": w.session_id,
                "conversation_title": w.conversation_title,
                "message_uuid": w.message_uuid,
                "tool_use_id": w.tool_use_id,
                "tool": w.tool,
                "at": w.at,
                "model": w.model,
                "prompt": w.prompt,
            })
        })
        .collect();
    serde_json::json!({
        "path": path,
        "lines": blame.lines.len(),
        "attributed_lines": blame.attributed_lines(),
        "runs": runs,
        "recorded_changes": blame.writes.len(),
        "unplaced_changes": blame.unplaced.len(),
        "symbols": symbols,
    })
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn uuids_are_cut_and_other_ids_kept_whole() {
        assert_eq!(short("2c965cfd-41e4-4e31-8339-2986ebced03c"), "2c965cfd");
        assert_eq!(short("agent-a1b2c3d4e5f6"), "agent-a1b2c3d4e5f6");
        assert_eq!(short("session-beta"), "session-beta");
        assert_eq!(short("cb947e5b"), "cb947e5b");
    }
}
