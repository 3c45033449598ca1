//! A conversation as readable Markdown: prompts, answers, tool calls, edits as diffs.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;
use similar::TextDiff;

use crate::{Block, CommandEcho, Message, Record, Role};

/// Lines of a tool's output shown before it is cut.
const OUTPUT_LINES: usize = 40;
/// Lines of written file content shown before it is cut.
const CONTENT_LINES: usize = 80;

/// Header facts printed above the conversation.
#[derive(Debug, Default)]
pub struct Header<'a> {
    pub title: &'a str,
    pub session_id: &'a str,
    pub project: Option<&'a str>,
    pub git_branch: Option<&'a str>,
    pub started: Option<String>,
    pub models: &'a [String],
    /// Claude Code version and entrypoint (cli, sdk, ...).
    pub client: Option<String>,
}

pub fn render(header: &Header<'_>, records: &[Record]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", header.title);
    let _ = writeln!(out, "- **Session:** `{}`", header.session_id);
    if let Some(p) = header.project {
        let _ = writeln!(out, "- **Project:** `{p}`");
    }
    if let Some(b) = header.git_branch {
        let _ = writeln!(out, "- **Branch:** `{b}`");
    }
    if let Some(s) = &header.started {
        let _ = writeln!(out, "- **Started:** {s}");
    }
    if !header.models.is_empty() {
        let _ = writeln!(out, "- **Models:** {}", header.models.join(", "));
    }
    if let Some(c) = &header.client {
        let _ = writeln!(out, "- **Claude Code:** {c}");
    }
    out.push('\n');

    let mut seen = HashSet::new();
    let mut tool_names: HashMap<String, String> = HashMap::new();
    for rec in records {
        let Record::Message(m) = rec else { continue };
        if let Some(u) = &m.uuid {
            if !seen.insert(u.clone()) {
                continue;
            }
        }
        let mut part = String::new();
        render_message(&mut part, m, &mut tool_names);
        if part.is_empty() {
            continue;
        }
        // An invisible anchor, so that a viewer (or the language server) can open
        // the conversation at this message.
        if let Some(u) = &m.uuid {
            let _ = writeln!(out, "<a id=\"{u}\"></a>\n");
        }
        out.push_str(&part);
    }
    out
}

fn when(m: &Message) -> String {
    m.timestamp
        .map(|t| format!(" · {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default()
}

fn render_message(out: &mut String, m: &Message, tool_names: &mut HashMap<String, String>) {
    match m.role_or_user() {
        Role::User if m.is_prompt() => {
            let _ = writeln!(out, "## Prompt{}\n", when(m));
            match m.prompt_command() {
                Some(typed) => {
                    let _ = writeln!(out, "{}\n", inline_code(&typed));
                }
                None => {
                    let _ = writeln!(out, "{}\n", m.text().trim());
                }
            }
        }
        Role::User => {
            for (id, content, is_error) in m.tool_results() {
                let name = tool_names.get(id).map_or("tool", String::as_str);
                if is_error {
                    let _ = writeln!(
                        out,
                        "> **{name} failed:** {}\n",
                        first_lines(content, 5).replace('\n', "\n> ")
                    );
                } else if !content.trim().is_empty() {
                    let _ = writeln!(
                        out,
                        "<details><summary>{name} output</summary>\n\n{}\n</details>\n",
                        fenced("", &first_lines(content, OUTPUT_LINES))
                    );
                }
            }
            let text = m.text();
            if let Some(shown) = command_echo(&text) {
                if !shown.is_empty() {
                    let _ = writeln!(out, "{shown}\n");
                }
            } else if !text.trim().is_empty() && m.tool_results().next().is_none() {
                let _ = writeln!(
                    out,
                    "> {}\n",
                    first_lines(text.trim(), 10).replace('\n', "\n> ")
                );
            }
        }
        Role::System => {
            let text = m.text();
            let label = m.subtype.as_deref().unwrap_or("system");
            if label == "compact_boundary" {
                let _ = writeln!(out, "---\n\n*Conversation compacted{}*\n", when(m));
            } else if !text.trim().is_empty() {
                let _ = writeln!(out, "*{label}:* {}\n", first_lines(text.trim(), 5));
            }
        }
        Role::Assistant => {
            let mut header_done = false;
            for b in &m.blocks {
                if !header_done && !matches!(b, Block::Other(_) | Block::Image) {
                    let model = m
                        .model
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default();
                    let _ = writeln!(out, "### Claude{}{model}\n", when(m));
                    header_done = true;
                }
                match b {
                    Block::Text(t) if !t.trim().is_empty() => {
                        let _ = writeln!(out, "{}\n", t.trim());
                    }
                    Block::Thinking(t) if !t.trim().is_empty() => {
                        let _ = writeln!(
                            out,
                            "<details><summary>Thinking</summary>\n\n{}\n</details>\n",
                            t.trim()
                        );
                    }
                    Block::ToolUse { id, name, input } => {
                        tool_names.insert(id.clone(), name.clone());
                        render_tool_use(out, name, input);
                    }
                    _ => {}
                }
            }
        }
    }
}

fn render_tool_use(out: &mut String, name: &str, input: &Value) {
    let get = |k: &str| input.get(k).and_then(Value::as_str);
    match name {
        "Edit" => {
            let path = get("file_path").unwrap_or("?");
            let _ = writeln!(out, "**Edit** `{path}`\n");
            diff_block(
                out,
                get("old_string").unwrap_or(""),
                get("new_string").unwrap_or(""),
            );
        }
        "MultiEdit" => {
            let path = get("file_path").unwrap_or("?");
            let _ = writeln!(out, "**MultiEdit** `{path}`\n");
            for e in input
                .get("edits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
                diff_block(out, s("old_string"), s("new_string"));
            }
        }
        "Write" => {
            let path = get("file_path").unwrap_or("?");
            let content = get("content").unwrap_or("");
            let _ = writeln!(
                out,
                "**Write** `{path}` ({} lines)\n",
                content.lines().count()
            );
            let _ = writeln!(
                out,
                "{}\n",
                fenced(lang_of(path), &first_lines(content, CONTENT_LINES))
            );
        }
        "Bash" => {
            let _ = writeln!(
                out,
                "**Bash**\n\n{}\n",
                fenced("sh", get("command").unwrap_or(""))
            );
        }
        "Read" | "NotebookRead" => {
            let path = get("file_path")
                .or_else(|| get("notebook_path"))
                .unwrap_or("?");
            let _ = writeln!(out, "**{name}** `{path}`\n");
        }
        _ => {
            let json = serde_json::to_string_pretty(input).unwrap_or_default();
            let _ = writeln!(
                out,
                "**{name}**\n\n{}\n",
                fenced("json", &first_lines(&json, 30))
            );
        }
    }
}

fn diff_block(out: &mut String, old: &str, new: &str) {
    let diff = TextDiff::from_lines(old, new);
    let mut body = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        body.push(sign);
        body.push_str(change.value().trim_end_matches('\n'));
        body.push('\n');
    }
    let _ = writeln!(out, "{}\n", fenced("diff", &body));
}

/// A slash command's record as Markdown: the command as typed in a quote, its output
/// in a block; `None` for any other text, `Some("")` for an empty output.
fn command_echo(text: &str) -> Option<String> {
    Some(match CommandEcho::of(text)? {
        CommandEcho::Typed(typed) => format!("> {}", inline_code(&typed)),
        CommandEcho::Output(o) if o.is_empty() => String::new(),
        CommandEcho::Output(o) => fenced("", &first_lines(&o, OUTPUT_LINES)),
    })
}

/// A slash command as typed, as inline code (a backtick in it would end the span).
fn inline_code(typed: &str) -> String {
    format!("`{}`", typed.replace('`', "'"))
}

/// `body` as a fenced block whose fence is longer than any run of backticks in it
/// (CommonMark), so that text holding fences of its own, such as Markdown the agent
/// wrote, is shown whole and copied exactly.
fn fenced(info: &str, body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body = body.strip_suffix('\n').unwrap_or(body);
    format!("{fence}{info}\n{body}\n{fence}")
}

fn first_lines(s: &str, n: usize) -> String {
    let total = s.lines().count();
    if total <= n {
        return s.trim_end().to_owned();
    }
    let mut kept: Vec<&str> = s.lines().take(n).collect();
    let more = format!("… ({} more lines)", total - n);
    kept.push(&more);
    kept.join("\n")
}

fn lang_of(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "rs" => "rust",
        "py" => "python",
        "ts" | "tsx" => "typescript",
        "js" | "jsx" | "mjs" => "javascript",
        "go" => "go",
        "md" => "markdown",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        "sh" => "sh",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_line;

    /// As the fixtures have them (sniffly's `/init`, claude-code-log's `/model`).
    #[test]
    fn slash_commands_read_as_typed_and_their_output_without_escapes() {
        let init = "<command-message>init is analyzing your codebase…</command-message>\n  <command-name>init</command-name>\n  <command-args></command-args>\n  <command-contents>{\"type\": \"text\"}</command-contents>";
        assert_eq!(command_echo(init).as_deref(), Some("> `/init`"));
        let model = "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args>opus</command-args>";
        assert_eq!(command_echo(model).as_deref(), Some("> `/model opus`"));
        let out = "<local-command-stdout>Set model to \u{1b}[1mhaiku (claude-haiku-4-5-20251001)\u{1b}[22m</local-command-stdout>";
        assert_eq!(
            command_echo(out).as_deref(),
            Some("```\nSet model to haiku (claude-haiku-4-5-20251001)\n```")
        );
        assert_eq!(
            command_echo("<local-command-stdout></local-command-stdout>").as_deref(),
            Some("")
        );
        assert_eq!(command_echo("plain words <command-name>"), None);
    }

    #[test]
    fn renders_prompt_edit_diff_and_dedupes() {
        let lines = [
            r#"{"type":"user","uuid":"u1","message":{"content":"Rename x to y"}}"#,
            r#"{"type":"assistant","uuid":"a1","message":{"model":"m","content":[{"type":"tool_use","id":"t1","name":"Edit","input":{"file_path":"/p/a.rs","old_string":"let x = 1;","new_string":"let y = 1;"}}]}}"#,
            r#"{"type":"user","uuid":"u2","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"boom","is_error":true}]}}"#,
            r#"{"type":"user","uuid":"u1","message":{"content":"Rename x to y"}}"#,
        ];
        let records: Vec<Record> = lines
            .iter()
            .filter_map(|l| parse_line(l.as_bytes()).ok())
            .collect();
        let md = render(
            &Header {
                title: "T",
                session_id: "s",
                ..Header::default()
            },
            &records,
        );
        assert_eq!(md.matches("Rename x to y").count(), 1, "{md}");
        assert!(md.contains("-let x = 1;\n+let y = 1;"), "{md}");
        assert!(md.contains("**Edit failed:** boom"), "{md}");
    }

    #[test]
    fn text_with_fences_of_its_own_is_fenced_around_them_and_kept_exact() {
        let readme = "# Use\n\n```sh\nmake\n```\n\nor ````` five";
        assert_eq!(fenced("md", readme), format!("``````md\n{readme}\n``````"));
        assert_eq!(fenced("", "plain\n"), "```\nplain\n```");
        // A Write of that README: the whole file, as written, inside one block.
        let write = serde_json::json!({"file_path": "/p/README.md", "content": readme});
        let mut md = String::new();
        render_tool_use(&mut md, "Write", &write);
        assert!(
            md.contains(&format!("``````markdown\n{readme}\n``````")),
            "{md}"
        );
        assert!(!md.contains('\u{200b}'));
    }
}
