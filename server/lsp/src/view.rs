//! What the server knows about one open file, computed once per change of the file
//! or its history, so that hover, code lens and inlay hints only read it.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use num_format::{Locale, ToFormattedString};
use observatory_symbols::{self as symbols, Symbol};

use crate::platform::{BlameResponse, BlameRun, Conversation};

/// A function, method or class agents changed, with the latest change inside it.
#[derive(Debug, Clone)]
pub struct ChangedSymbol {
    pub symbol: Symbol,
    /// Index in [`FileView::runs`] of the latest change that wrote lines inside it.
    pub latest: usize,
    pub conversations: usize,
    pub lines: usize,
}

#[derive(Debug, Clone, Default)]
pub struct FileView {
    /// The document version this was computed for.
    pub version: i32,
    /// Runs of lines and the change that wrote them (1-based lines).
    pub runs: Vec<BlameRun>,
    /// For each line (0-based), its index in `runs`.
    line_run: Vec<Option<u32>>,
    pub symbols: Vec<ChangedSymbol>,
    pub conversations: usize,
    pub attributed_lines: usize,
    pub last_at: Option<DateTime<Utc>>,
    /// Why the file is not attributed (too large), shown instead of insights.
    pub skipped: Option<String>,
}

impl FileView {
    pub fn skipped(version: i32, why: String) -> Self {
        FileView {
            version,
            skipped: Some(why),
            ..FileView::default()
        }
    }

    pub fn new(version: i32, path: &Path, text: &str, blame: BlameResponse) -> Self {
        let lines = text.lines().count().max(blame.lines);
        let mut line_run = vec![None; lines];
        for (i, r) in blame.runs.iter().enumerate() {
            let span = r.start_line.saturating_sub(1)..r.end_line.min(lines);
            if let Some(slots) = line_run.get_mut(span) {
                slots.fill(Some(i as u32));
            }
        }
        let conversations = blame
            .runs
            .iter()
            .map(|r| r.session_id.as_str())
            .collect::<HashSet<_>>()
            .len();
        let last_at = blame.runs.iter().filter_map(|r| r.at).max();
        // The same change split in several runs is one origin for symbol grouping.
        let mut origin_of: BTreeMap<&str, u32> = BTreeMap::new();
        let mut first_run: Vec<usize> = Vec::new();
        for (i, r) in blame.runs.iter().enumerate() {
            origin_of.entry(r.tool_use_id.as_str()).or_insert_with(|| {
                first_run.push(i);
                (first_run.len() - 1) as u32
            });
        }
        let origins: Vec<Option<u32>> = line_run
            .iter()
            .map(|r| r.map(|i| origin_of[blame.runs[i as usize].tool_use_id.as_str()]))
            .collect();
        let symbols = symbols::symbols(path, text)
            .map(|syms| {
                symbols::attribute(&syms, &origins)
                    .into_iter()
                    .filter_map(|a| {
                        // Its lines count once, for the innermost symbol (a method's
                        // are not its class's), but its lens names the latest change
                        // anywhere inside it, methods included.
                        let span = a.symbol.start_line.saturating_sub(1)
                            ..a.symbol.end_line.min(line_run.len());
                        let inside: Vec<usize> = line_run
                            .get(span)
                            .unwrap_or_default()
                            .iter()
                            .flatten()
                            .map(|&i| i as usize)
                            .collect();
                        let latest = inside
                            .iter()
                            .copied()
                            .max_by_key(|&i| (blame.runs[i].at, i))?;
                        Some(ChangedSymbol {
                            conversations: inside
                                .iter()
                                .map(|&i| blame.runs[i].session_id.as_str())
                                .collect::<HashSet<_>>()
                                .len(),
                            lines: a.lines_by_change.values().sum(),
                            symbol: a.symbol,
                            latest,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        FileView {
            version,
            attributed_lines: blame.attributed_lines,
            runs: blame.runs,
            line_run,
            symbols,
            conversations,
            last_at,
            skipped: None,
        }
    }

    /// The run covering `line` (0-based).
    pub fn run_at(&self, line: usize) -> Option<&BlameRun> {
        let i = (*self.line_run.get(line)?)?;
        self.runs.get(i as usize)
    }

    /// Runs overlapping lines `start..=end` (0-based), each once.
    pub fn runs_in(&self, start: usize, end: usize) -> Vec<&BlameRun> {
        let mut seen = HashSet::new();
        (start..=end)
            .filter_map(|l| self.run_at(l))
            .filter(|r| seen.insert(r.tool_use_id.clone()))
            .collect()
    }

    pub fn session_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.runs.iter().map(|r| r.session_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// "just now", "5 min ago", "2 h ago", "3 days ago", then the date.
pub fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "at an unknown time".into();
    };
    let secs = (now - at).num_seconds().max(0);
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        // The same steps as the editors' own (VS Code's annotations and views), so a
        // lens and the annotation under it say the same age.
        86_400..2_592_000 => plural_ago(secs / 86_400, "day"),
        2_592_000..31_536_000 => plural_ago(secs / 2_592_000, "month"),
        _ => plural_ago(secs / 31_536_000, "year"),
    }
}

fn plural_ago(n: i64, unit: &str) -> String {
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// `text` on one line, at most `max` characters, with an ellipsis when cut.
pub fn trim(text: &str, max: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        return one;
    }
    let cut: String = one.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What names a change in lenses, hints and hovers: the prompt that led to it, on
/// one line, or the conversation's title when the change has no prompt. A
/// conversation's title is its first prompt, so naming changes by it labels every
/// later change with a request it was not made for.
pub fn label(r: &BlameRun) -> &str {
    r.prompt
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or(&r.conversation_title)
}

/// The file's summary: "4 agent conversations · 37 lines · last 2 h ago".
pub fn summary(view: &FileView, now: DateTime<Utc>) -> String {
    format!(
        "{} · {} · last {}",
        plural(
            view.conversations,
            "agent conversation",
            "agent conversations"
        ),
        plural(view.attributed_lines, "line", "lines"),
        ago(view.last_at, now)
    )
}

/// The file's lens: its [`summary`], and with a single conversation the prompt of
/// the latest change (with several, the lens lists them instead).
pub fn file_lens(view: &FileView, now: DateTime<Utc>) -> String {
    let summary = summary(view, now);
    let latest = view.runs.iter().enumerate().max_by_key(|(i, r)| (r.at, *i));
    match latest {
        Some((_, r)) if view.conversations == 1 => format!("{summary} · {}", trim(label(r), 50)),
        _ => summary,
    }
}

/// A symbol's lens: the latest change inside it, named by its prompt.
pub fn symbol_lens(view: &FileView, s: &ChangedSymbol, now: DateTime<Utc>) -> String {
    let r = &view.runs[s.latest];
    let more = if s.conversations > 1 {
        format!(" (+{} more)", s.conversations - 1)
    } else {
        String::new()
    };
    format!("{} · {}{more}", trim(label(r), 60), ago(r.at, now))
}

/// The end-of-line annotation.
pub fn inlay(r: &BlameRun, now: DateTime<Utc>) -> String {
    format!("◆ {} · {}", trim(label(r), 50), ago(r.at, now))
}

/// The lines (0-based) that get an end-of-line annotation when every run has one:
/// each run's first line, except for a run right after one of the same conversation
/// with the same annotation (a Write and then an Edit for one prompt), which
/// continues it.
pub fn labelled_lines(runs: &[BlameRun], now: DateTime<Utc>) -> Vec<usize> {
    let ending: std::collections::HashMap<usize, &BlameRun> =
        runs.iter().map(|q| (q.end_line, q)).collect();
    runs.iter()
        .filter(|r| {
            !ending
                .get(&r.start_line.wrapping_sub(1))
                .is_some_and(|q| q.session_id == r.session_id && inlay(q, now) == inlay(r, now))
        })
        .map(|r| r.start_line.saturating_sub(1))
        .collect()
}

/// The annotation's tooltip: the whole prompt, the conversation it belongs to, and
/// the subagent that made the change, if one did.
pub fn inlay_tooltip(r: &BlameRun) -> String {
    let by = subagent(r)
        .map(|task| format!("\nSubagent: {}", trim(task, 100)))
        .unwrap_or_default();
    let text = match &r.prompt {
        Some(p) => format!(
            "Prompt: {}\nConversation: {}",
            trim(p, 300),
            trim(&r.conversation_title, 100)
        ),
        None => format!("Conversation: {}", trim(&r.conversation_title, 100)),
    };
    text + &by
}

/// "line 9" or "lines 9–10".
pub fn line_span(start: usize, end: usize) -> String {
    if end <= start {
        format!("line {start}")
    } else {
        format!("lines {start}–{end}")
    }
}

/// The facts line of a hover: tool, model, age, lines, the conversation's tokens.
fn hover_facts(r: &BlameRun, conversation: Option<&Conversation>, now: DateTime<Utc>) -> String {
    let mut facts = vec![r.tool.clone()];
    if let Some(m) = &r.model {
        facts.push(m.clone());
    }
    facts.push(ago(r.at, now));
    facts.push(line_span(r.start_line, r.end_line));
    if let Some(c) = conversation {
        // The count is the whole conversation's, not this change's: say so.
        facts.push(format!(
            "{} tokens in the conversation",
            c.usage.total().to_formatted_string(&Locale::en)
        ));
    }
    facts.join(" · ")
}

/// The conversation's title, when it says something the change's label does not.
fn other_title(r: &BlameRun) -> Option<&str> {
    let title = r.conversation_title.trim();
    (!title.is_empty() && title != label(r)).then_some(title)
}

/// The subagent that made the change, when one did: the conversation (`session_id`,
/// the title, resume) is then the session that launched it, and this says who in it
/// wrote the line.
fn subagent(r: &BlameRun) -> Option<&str> {
    r.subagent
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Hover Markdown for a line written by `r`.
pub fn hover(r: &BlameRun, conversation: Option<&Conversation>, now: DateTime<Utc>) -> String {
    let mut out = format!("**{}**  \n", escape(&trim(label(r), 100)));
    if let Some(title) = other_title(r) {
        out.push_str(&format!(
            "in the conversation *{}*  \n",
            escape(&trim(title, 100))
        ));
    }
    if let Some(task) = subagent(r) {
        out.push_str(&format!(
            "by a subagent: *{}*  \n",
            escape(&trim(task, 100))
        ));
    }
    out.push_str(&hover_facts(r, conversation, now));
    out.push_str("\n\n");
    if let Some(p) = &r.prompt {
        out.push_str(&format!(
            "**Prompt:** {}\n\n",
            inline_markdown(&trim(p, 300))
        ));
    }
    if let Some(why) = &r.reason {
        out.push_str(&format!(
            "**Why:** {}\n\n",
            inline_markdown(&trim(why, 300))
        ));
    }
    let open = command_link("observatory.openConversation", &[&r.session_id]);
    let message = command_link(
        "observatory.openConversation",
        &[&r.session_id, &r.message_uuid],
    );
    // The command on a line of its own: after the links, a narrow hover (Neovim's
    // float) broke the session id in two.
    out.push_str(&format!(
        "[Open conversation]({open}) · [Open message]({message})\n\nResume: `claude --resume {}`",
        r.session_id
    ));
    out
}

/// The same hover for a client that asked for plain text (eglot can): no Markdown
/// syntax and no `command:` links, which such a client shows as raw text; the
/// commands are named in words instead.
pub fn hover_plain(
    r: &BlameRun,
    conversation: Option<&Conversation>,
    now: DateTime<Utc>,
) -> String {
    let mut out = trim(label(r), 100);
    out.push('\n');
    if let Some(title) = other_title(r) {
        out.push_str(&format!("in the conversation: {}\n", trim(title, 100)));
    }
    if let Some(task) = subagent(r) {
        out.push_str(&format!("by a subagent: {}\n", trim(task, 100)));
    }
    out.push_str(&hover_facts(r, conversation, now));
    out.push_str("\n\n");
    if let Some(p) = &r.prompt {
        out.push_str(&format!("Prompt: {}\n\n", trim(p, 300)));
    }
    if let Some(why) = &r.reason {
        out.push_str(&format!("Why: {}\n\n", trim(why, 300)));
    }
    out.push_str(&format!(
        "Open it with the code action \"Observatory: open the conversation that wrote this\", or resume it in a terminal: claude --resume {}",
        r.session_id
    ));
    out
}

/// One hit of a search page: its conversation, a link to the message, and the
/// snippet with its matched words in bold. All of it is recorded text, escaped: a
/// transcript's own Markdown (a `command:` link) must not become a live link here.
pub fn search_hit(h: &observatory_protocol::search::SearchHit, heading: &str) -> String {
    let mut snippet = String::new();
    for (i, part) in h.snippet.split("<mark>").enumerate() {
        let (marked, rest) = match part.split_once("</mark>") {
            Some((m, rest)) if i > 0 => (m, rest),
            _ => ("", part),
        };
        if !marked.trim().is_empty() {
            snippet.push_str(&format!("**{}**", escape(marked.trim())));
        }
        snippet.push_str(&escape(rest));
    }
    let open = command_link(
        "observatory.openConversation",
        &[&h.session_id, &h.message_uuid],
    );
    format!(
        "{heading} {}\n\n`{}` · [Open at this message]({open})\n\n> {}\n\n",
        escape(&trim(&h.conversation_title, 100)),
        h.session_id,
        snippet.replace(['\n', '\r'], " ")
    )
}

fn command_link(command: &str, args: &[&str]) -> String {
    let args = serde_json::to_string(args).unwrap_or_default();
    format!("command:{command}?{}", percent(&args))
}

fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A recorded text (a prompt, the assistant's reason) as Markdown that keeps its
/// emphasis, strong emphasis and code spans, and shows everything else as text:
/// links and images by their words, HTML as written. It is still untrusted, so
/// nothing of it becomes a link; editors that show hovers as plain text (Neovim's)
/// see `**this**` rather than `\*\*this\*\*`.
pub(crate) fn inline_markdown(s: &str) -> String {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut out = String::with_capacity(s.len() + 8);
    for event in Parser::new(s) {
        match event {
            Event::Text(t) => out.push_str(&escape(&t)),
            Event::Code(c) if !c.contains('`') && !c.trim().is_empty() => {
                out.push('`');
                out.push_str(&c);
                out.push('`');
            }
            Event::Code(c) => out.push_str(&escape(&c)),
            Event::Html(h) | Event::InlineHtml(h) => out.push_str(&escape(&h)),
            Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => out.push('*'),
            Event::Start(Tag::Strong) | Event::End(TagEnd::Strong) => out.push_str("**"),
            Event::Start(Tag::Item) => out.push_str("• "),
            Event::SoftBreak | Event::HardBreak | Event::Rule | Event::End(_) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text shown as Markdown must not turn into markup.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // An underscore inside a word never emphasises (CommonMark), and editors that
        // show the Markdown as text (Neovim's hover) would show `file\_name.py`.
        let in_word = c == '_'
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if "\\`*_[]<>#|".contains(c) && !in_word {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run(start: usize, end: usize, id: &str, session: &str, at: i64) -> BlameRun {
        BlameRun {
            start_line: start,
            end_line: end,
            session_id: session.into(),
            conversation_title: format!("conversation {session}"),
            subagent: None,
            message_uuid: format!("m-{id}"),
            tool_use_id: id.into(),
            tool: "Edit".into(),
            at: Utc.timestamp_opt(at, 0).single(),
            model: Some("claude-opus-4-5".into()),
            prompt: Some("Fix the *token* refresh".into()),
            reason: None,
            project: None,
        }
    }

    #[test]
    fn lines_runs_and_symbols() {
        let text = "fn a() {\n    1\n}\n\nfn b() {\n    2\n    3\n}\n";
        let blame = BlameResponse {
            lines: 8,
            attributed_lines: 4,
            runs: vec![
                run(2, 2, "t1", "s1", 100),
                run(6, 7, "t2", "s2", 200),
                run(8, 8, "t1", "s1", 100),
            ],
        };
        let v = FileView::new(3, Path::new("/x/lib.rs"), text, blame);
        assert_eq!(v.conversations, 2);
        assert_eq!(v.run_at(1).unwrap().tool_use_id, "t1");
        assert!(v.run_at(0).is_none());
        assert_eq!(v.runs_in(0, 7).len(), 2, "t1's two runs count once");
        let names: Vec<(&str, &str)> = v
            .symbols
            .iter()
            .map(|s| {
                (
                    s.symbol.name.as_str(),
                    v.runs[s.latest].tool_use_id.as_str(),
                )
            })
            .collect();
        assert_eq!(names, vec![("a", "t1"), ("b", "t2")]);
        let b = &v.symbols[1];
        assert_eq!((b.conversations, b.lines), (2, 3));
    }

    /// A Write and an Edit for one prompt, one after the other, get one annotation;
    /// another conversation's run, or another prompt's, gets its own.
    #[test]
    fn adjacent_runs_of_one_change_share_an_annotation() {
        let now = Utc.timestamp_opt(10_000, 0).unwrap();
        let mut other_prompt = run(7, 7, "t4", "s1", 9_000);
        other_prompt.prompt = Some("Another request".into());
        let runs = vec![
            run(1, 2, "t1", "s1", 9_000),
            run(3, 4, "t2", "s1", 9_000),
            run(5, 6, "t3", "s2", 9_000),
            other_prompt,
        ];
        assert_eq!(labelled_lines(&runs, now), vec![0, 4, 6]);
    }

    /// A prompt's or reason's emphasis and code stay; its links, images and HTML
    /// become text, so nothing recorded is a live link in a hover.
    #[test]
    fn recorded_markdown_keeps_emphasis_and_code_only() {
        assert_eq!(
            inline_markdown("Use **waltz rhythm** in `play_note()` for my_file.py"),
            "Use **waltz rhythm** in `play_note()` for my_file.py"
        );
        assert_eq!(
            inline_markdown("[run](command:observatory.resumeConversation?x) ![i](https://t/p.png) <img src=x onerror=alert(1)>"),
            "run i &lt;img src=x onerror=alert(1)&gt;".replace("&lt;", "\\<").replace("&gt;", "\\>")
        );
        assert_eq!(inline_markdown("# Title\n\n- a\n- b"), "Title • a • b");
        assert_eq!(inline_markdown("a `` ` `` b"), "a \\` b");
    }

    /// Recorded text on a search page stays text: a link in a transcript is not
    /// live, and the matched words are bold around escaped code.
    #[test]
    fn a_search_hit_escapes_recorded_text_and_links_its_message() {
        let hit = observatory_protocol::search::SearchHit {
            session_id: "s1".into(),
            conversation_title: "Fix [it](command:observatory.resumeConversation?x)".into(),
            project: None,
            message_uuid: "m1".into(),
            kind: "tool_output".into(),
            role: "user".into(),
            tool: None,
            model: None,
            at: None,
            snippet: "params['<mark>token</mark>'].lower() [go](command:x)".into(),
        };
        let md = search_hit(&hit, "##");
        assert!(
            md.starts_with("## Fix \\[it\\](command:observatory.resumeConversation?x)\n"),
            "{md}"
        );
        assert!(
            md.contains("> params\\['**token**'\\].lower() \\[go\\](command:x)"),
            "{md}"
        );
        assert!(
            md.contains("[Open at this message](command:observatory.openConversation?%5B%22s1%22%2C%22m1%22%5D)"),
            "{md}"
        );
    }

    /// A class's lens names the latest change anywhere in it, its methods' included;
    /// its line count stays its own (the method's lines are the method's).
    #[test]
    fn a_class_lens_sees_the_changes_of_its_methods() {
        let text = "class A:\n    x = 1\n\n    def m(self):\n        return 2\n";
        let blame = BlameResponse {
            lines: 5,
            attributed_lines: 3,
            runs: vec![run(1, 2, "old", "s1", 100), run(5, 5, "new", "s2", 200)],
        };
        let v = FileView::new(1, Path::new("/x/a.py"), text, blame);
        let class = v
            .symbols
            .iter()
            .find(|s| s.symbol.name == "A")
            .expect("the class is a changed symbol");
        assert_eq!(v.runs[class.latest].tool_use_id, "new");
        assert_eq!((class.conversations, class.lines), (2, 2));
    }

    #[test]
    fn changes_are_named_by_their_own_prompt() {
        let now = Utc.timestamp_opt(10_000, 0).unwrap();
        let mut r = run(2, 2, "t", "s", 9_000);
        r.conversation_title = "create some files".into();
        r.prompt = Some("  make some minor\nrandom changes ".into());
        assert_eq!(label(&r), "make some minor\nrandom changes");
        assert!(inlay(&r, now).starts_with("◆ make some minor random changes · "));
        let tip = inlay_tooltip(&r);
        assert!(tip.contains("Conversation: create some files"), "{tip}");
        let h = hover(&r, None, now);
        assert!(h.starts_with("**make some minor random changes**"), "{h}");
        assert!(h.contains("in the conversation *create some files*"), "{h}");
        assert!(h.contains("· line 2\n"), "{h}");
        assert!(!h.contains("2–2"), "{h}");
        // No prompt (or an empty one): the conversation's title.
        r.prompt = Some(" ".into());
        assert_eq!(label(&r), "create some files");
        r.prompt = None;
        assert_eq!(label(&r), "create some files");
        assert!(!hover(&r, None, now).contains("in the conversation"));

        let blame = BlameResponse {
            lines: 3,
            attributed_lines: 1,
            runs: vec![run(1, 1, "t", "s", 9_000)],
        };
        let v = FileView::new(1, Path::new("/x/a.txt"), "a\nb\nc\n", blame);
        assert_eq!(
            file_lens(&v, now),
            "1 agent conversation · 1 line · last 16 min ago · Fix the *token* refresh"
        );
    }

    #[test]
    fn wording_of_spans_and_tokens() {
        assert_eq!(line_span(2, 2), "line 2");
        assert_eq!(line_span(9, 10), "lines 9–10");
        assert_eq!(plural(1, "line", "lines"), "1 line");
        let now = Utc.timestamp_opt(10_000, 0).unwrap();
        let c: Conversation = serde_json::from_value(serde_json::json!({"session_id": "s", "title": "t", "kind": "session", "parent_session": null, "project": null, "git_branch": null, "version": null, "entrypoint": null, "started_at": null, "ended_at": null, "message_count": 1, "models": [], "usage": {"input_tokens": 170_159, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}, "cost_usd": 0.0}))
        .unwrap();
        let h = hover(&run(9, 10, "t", "s", 9_000), Some(&c), now);
        assert!(
            h.contains("lines 9–10 · 170,159 tokens in the conversation"),
            "{h}"
        );
    }

    #[test]
    fn plain_text_hover_has_no_markdown_or_command_links() {
        let now = Utc.timestamp_opt(10_000, 0).unwrap();
        let mut r = run(1, 2, "t", "sess-1", 9_000);
        r.reason = Some("Because `x` < y".into());
        let h = hover_plain(&r, None, now);
        for markup in ["**", "command:", "](", "\\", "`claude"] {
            assert!(!h.contains(markup), "{markup} in {h}");
        }
        assert!(h.starts_with("Fix the *token* refresh\n"), "{h}");
        assert!(h.contains("Why: Because `x` < y"), "{h}");
        assert!(h.contains("claude --resume sess-1"), "{h}");
        assert!(h.contains("Observatory: open the conversation"), "{h}");
    }

    #[test]
    fn a_subagents_change_names_the_subagent_and_resumes_the_session() {
        let now = Utc.timestamp_opt(10_000, 0).unwrap();
        let mut r = run(1, 2, "t", "parent-session", 9_000);
        r.subagent = Some("Create data models".into());
        let h = hover(&r, None, now);
        assert!(h.contains("by a subagent: *Create data models*"), "{h}");
        // On a line of its own, where a narrow hover does not break the id.
        assert!(
            h.ends_with("\n\nResume: `claude --resume parent-session`"),
            "{h}"
        );
        let plain = hover_plain(&r, None, now);
        assert!(
            plain.contains("by a subagent: Create data models\n"),
            "{plain}"
        );
        assert!(inlay_tooltip(&r).ends_with("\nSubagent: Create data models"));
        r.subagent = None;
        assert!(!hover(&r, None, now).contains("subagent"));
        assert!(!inlay_tooltip(&r).contains("Subagent"));
    }

    #[test]
    fn text_is_trimmed_escaped_and_timed() {
        let now = Utc.timestamp_opt(10_000, 0).unwrap();
        assert_eq!(
            ago(Utc.timestamp_opt(10_000 - 7200, 0).single(), now),
            "2 h ago"
        );
        assert_eq!(
            ago(Utc.timestamp_opt(10_000 - 30, 0).single(), now),
            "just now"
        );
        let later = Utc.timestamp_opt(400 * 86_400, 0).unwrap();
        let days_before = |d: i64| Utc.timestamp_opt(400 * 86_400 - d * 86_400, 0).single();
        assert_eq!(ago(days_before(1), later), "1 day ago");
        assert_eq!(ago(days_before(45), later), "1 month ago");
        assert_eq!(ago(days_before(340), later), "11 months ago");
        assert_eq!(ago(days_before(366), later), "1 year ago");
        assert_eq!(trim("a  b\n c", 10), "a b c");
        assert_eq!(trim("abcdefghijkl", 5), "abcd…");
        let h = hover(&run(1, 2, "t", "s", 9_000), None, now);
        // The label, in bold, is escaped; the prompt keeps its emphasis.
        assert!(h.contains("**Fix the \\*token\\* refresh**"), "{h}");
        assert!(h.contains("**Prompt:** Fix the *token* refresh"), "{h}");
        assert_eq!(
            escape("run my_file.py _x_ a__b_"),
            "run my_file.py \\_x\\_ a\\_\\_b\\_"
        );
        assert!(
            h.contains("command:observatory.openConversation?%5B%22s%22%5D"),
            "{h}"
        );
    }
}
