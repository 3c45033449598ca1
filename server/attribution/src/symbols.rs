//! Which conversations changed a symbol, store-wide. Parsing and attributing lines
//! to symbols is `observatory_symbols` (re-exported here).

use std::path::Path;

use serde::Serialize;

pub use observatory_symbols::{
    attribute, symbols, Language, Symbol, SymbolAttribution, SymbolKind,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_whole_words() {
        assert!(has_identifier("fn a() {}", "a"));
        assert!(has_identifier("self.refresh_token()", "refresh_token"));
        assert!(!has_identifier("let abc = 1;", "a"));
        assert!(!has_identifier("refresh_tokens", "refresh_token"));
        assert!(!has_identifier("x", ""));
    }

    #[test]
    fn a_hunk_numbered_past_any_file_writes_no_line_of_it() {
        // `newStart` is whatever the transcript says, up to u64::MAX.
        let change = observatory_transcript::FileChange {
            tool: "Write".into(),
            path: "/p/a.py".into(),
            content: Some("def a():\n    return 1\n".into()),
            created: Some(false),
            hunks: vec![observatory_transcript::Hunk {
                old_start: u64::MAX,
                old_lines: 1,
                new_start: u64::MAX,
                new_lines: 2,
                lines: vec![" def a():".into(), "+    return 1".into(), " ".into()],
            }],
            ..Default::default()
        };
        let (after, written) = after_change(&change).expect("a write");
        assert_eq!(after, "def a():\n    return 1\n");
        assert!(written.iter().all(|&l| l > 2), "{written:?}");
    }

    #[test]
    fn replace_all_cannot_grow_the_rebuilt_file_past_what_the_change_records() {
        // Each edit doubles every line: 24 of them would rebuild a file of 16 million
        // lines out of a hundred bytes of transcript.
        let doubling = observatory_transcript::TextEdit {
            old_string: "x".into(),
            new_string: "x\nx".into(),
            replace_all: true,
        };
        let change = observatory_transcript::FileChange {
            tool: "MultiEdit".into(),
            path: "/p/a.py".into(),
            original: Some("x\n".into()),
            edits: vec![doubling; 24],
            hunks: vec![observatory_transcript::Hunk {
                old_start: 1,
                old_lines: 1,
                new_start: 1,
                new_lines: 2,
                lines: vec![" x".into(), "+x".into()],
            }],
            ..Default::default()
        };
        let recorded = 2 + 24 * 4 + 4;
        let rebuilt = after_change(&change).map_or(0, |(after, _)| after.len());
        assert!(rebuilt <= 2 * recorded, "{rebuilt} bytes");
    }
}

/// One recorded change to a symbol: "which conversations changed `refresh_token`?".
#[derive(Debug, Clone, Serialize)]
pub struct ChangeToSymbol {
    /// `Parser::parse`, `Auth.refresh_token`.
    pub symbol: String,
    pub kind: SymbolKind,
    /// The file as the agent named it.
    pub path: String,
    /// Lines of the symbol the change wrote (1-based, in the file after the change).
    pub lines: Vec<usize>,
    pub session_id: String,
    pub conversation_title: String,
    pub tool: String,
    pub tool_use_id: String,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub prompt: Option<String>,
}

/// Every recorded change that wrote lines inside a function, method, class or module
/// named `name` (its own name or its qualified name), newest first.
///
/// Candidates are the changes whose recorded text mentions the name; each is
/// rebuilt into the file as it was right after the change (`originalFile` with the
/// edit applied, or the Write's content), parsed, and kept when a symbol of that
/// name encloses a line the change wrote. A change recorded without the file around
/// it (old versions) is parsed from its new text alone.
pub fn changes_to_symbol(
    history: &dyn crate::history::History,
    name: &str,
    limit: usize,
) -> crate::history::Result<Vec<ChangeToSymbol>> {
    let name = name.trim();
    let mut out = Vec::new();
    // The last part of `Auth::refresh_token` / `Auth.refresh_token` is what a file
    // must contain as a whole identifier for any of its symbols to be named so.
    let simple = name.rsplit([':', '.']).next().unwrap_or(name);
    // Parsing is the expensive part: a name that is a common word in code (`a`)
    // would parse every change ever recorded.
    let deadline = std::time::Instant::now() + PARSE_BUDGET;
    // Mentions are a superset: scan more candidates than results wanted.
    let candidates = limit.saturating_mul(20).clamp(200, MAX_CANDIDATES);
    for w in history.writes_mentioning(name, candidates)? {
        let Some((after, written)) = after_change(&w.change) else {
            continue;
        };
        if !has_identifier(&after, simple) {
            continue;
        }
        if std::time::Instant::now() > deadline {
            break;
        }
        let path = if w.change.path.is_empty() {
            &w.path
        } else {
            &w.change.path
        };
        let Some(symbols) = symbols(Path::new(path), &after) else {
            continue;
        };
        for s in symbols
            .iter()
            .filter(|s| s.name == name || s.qualified_name == name)
        {
            let lines: Vec<usize> = written
                .iter()
                .copied()
                .filter(|l| (s.start_line..=s.end_line).contains(l))
                .collect();
            if lines.is_empty() {
                continue;
            }
            out.push(ChangeToSymbol {
                symbol: s.qualified_name.clone(),
                kind: s.kind,
                path: path.clone(),
                lines,
                session_id: w.session_id.clone(),
                conversation_title: w.conversation_title.clone(),
                tool: w.tool.clone(),
                tool_use_id: w.tool_use_id.clone(),
                at: w.at,
                prompt: w.prompt.clone(),
            });
        }
        if out.len() >= limit {
            out.truncate(limit);
            break;
        }
    }
    Ok(out)
}

/// Most recorded changes one symbol query parses.
const MAX_CANDIDATES: usize = 1000;
/// Parsing time one symbol query may spend; past it the newest matches found so far
/// are the answer.
const PARSE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether `name` occurs in `text` as a whole identifier (not inside a longer one).
fn has_identifier(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    !name.is_empty()
        && text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            !before.is_some_and(ident) && !after.is_some_and(ident)
        })
}

/// The file right after `change`, and the lines (1-based) the change wrote in it.
///
/// Public only for the fuzz harness (`observatory-fuzzing`).
#[doc(hidden)]
pub fn after_change(change: &observatory_transcript::FileChange) -> Option<(String, Vec<usize>)> {
    let from_hunks = || -> Vec<usize> {
        let mut out = Vec::new();
        for h in &change.hunks {
            // `newStart` is whatever the transcript says: a line past `usize` is past
            // the file, and counting on from it must not overflow.
            let mut line = usize::try_from(h.new_start).unwrap_or(usize::MAX);
            for l in &h.lines {
                match l.as_bytes().first() {
                    Some(b'+') => {
                        out.push(line);
                        line = line.saturating_add(1);
                    }
                    Some(b'-') => {}
                    _ => line = line.saturating_add(1),
                }
            }
        }
        out
    };
    match change.tool.as_str() {
        "Write" => {
            let content = change.content.clone()?;
            let written = if change.created != Some(true) && !change.hunks.is_empty() {
                from_hunks()
            } else {
                (1..=content.lines().count()).collect()
            };
            Some((content, written))
        }
        "Edit" | "MultiEdit" => match &change.original {
            Some(original) if !change.hunks.is_empty() => {
                let mut after = original.clone();
                // replace_alls compound: their growth is bounded as in the replay.
                let mut growth = crate::recorded_bytes(change);
                for e in &change.edits {
                    let found = if e.replace_all {
                        after.matches(e.old_string.as_str()).count()
                    } else {
                        usize::from(after.contains(&e.old_string))
                    };
                    let grows =
                        found.saturating_mul(e.new_string.len().saturating_sub(e.old_string.len()));
                    if found == 0 || grows > growth {
                        return None;
                    }
                    growth -= grows;
                    after = if e.replace_all {
                        after.replace(&e.old_string, &e.new_string)
                    } else {
                        after.replacen(&e.old_string, &e.new_string, 1)
                    };
                }
                Some((after, from_hunks()))
            }
            _ => {
                let text: Vec<&str> = change.edits.iter().map(|e| e.new_string.as_str()).collect();
                let text = text.join("\n");
                let n = text.lines().count();
                Some((text, (1..=n).collect()))
            }
        },
        _ => None,
    }
}
