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
fn after_change(change: &observatory_transcript::FileChange) -> Option<(String, Vec<usize>)> {
    let from_hunks = || -> Vec<usize> {
        let mut out = Vec::new();
        for h in &change.hunks {
            let mut line = h.new_start as usize;
            for l in &h.lines {
                match l.as_bytes().first() {
                    Some(b'+') => {
                        out.push(line);
                        line += 1;
                    }
                    Some(b'-') => {}
                    _ => line += 1,
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
                for e in &change.edits {
                    if !after.contains(&e.old_string) {
                        return None;
                    }
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
