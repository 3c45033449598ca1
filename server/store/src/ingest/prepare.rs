//! What the reading thread works out of each message before the writer sees it: the
//! search document of each block, with the words of its identifiers, and the change
//! a tool result records when its call is earlier in the same file. None of it needs
//! the database, and the writer (SQLite allows one) is what limits a cold index.

use std::collections::{HashMap, HashSet};

use observatory_transcript::changes::{is_writing_tool, renames_in_command, touched_path};
use observatory_transcript::{Block, CommandEcho, Message, Role, ToolUseResult};
use serde_json::Value;

use super::message::{change_of, is_error_result};
use crate::packed::StoredChange;

/// Longest text put into the full-text index for one block; the whole text stays in
/// the raw copy and is shown by `show`.
const MAX_DOC_BYTES: usize = 256 * 1024;

/// One block's search document, as the writer stores it (see `BatchWriter::blocks`).
#[derive(Default)]
pub(super) struct Prepared {
    /// The document's text when it is not the block's own (a tool call's input, as a
    /// person would search it).
    pub(super) rendered: Option<String>,
    /// The words of the identifiers in the text (`fts::identifier_words`).
    pub(super) idents: Option<String>,
    /// A tool call's input as JSON, for calls whose result needs it (writing tools
    /// and reads), or a shell move's rename.
    pub(super) input_json: Option<String>,
    /// The path a tool call touches: its input's, or a shell move's new name.
    pub(super) path: Option<String>,
    /// For a successful result of a call made earlier in the file: the change it
    /// made, worked out from that call's input.
    pub(super) change: Option<Change>,
}

/// The change a result records, worked out here rather than by the writer, with
/// what it was worked out from: the writer uses it only when the call's row holds
/// the same input.
pub(super) struct Change {
    pub(super) name: String,
    pub(super) input_json: String,
    /// As it is stored: compressed here, on the reading thread, when large.
    pub(super) change: Option<StoredChange>,
}

impl Prepared {
    /// The document's text: `rendered`, else the block's own `text`, cut to the
    /// longest document indexed; `None` when blank.
    pub(super) fn text<'a>(&'a self, own: &'a str) -> Option<&'a str> {
        doc_text(self.rendered.as_deref().unwrap_or(own))
    }
}

/// Prepares the messages of one file, in order.
#[derive(Default)]
pub(super) struct Preparer {
    /// Calls of the file that read a file, until their result: a read's result is
    /// the file's own content, which the writer does not index, so its identifiers
    /// are not worth splitting (a call made before this run is not known here, and
    /// its result is prepared as any other).
    reads: HashSet<String>,
    /// Calls of the file whose result records a change (writing tools and reads),
    /// until their result: their name and input, as JSON and parsed.
    calls: HashMap<String, (String, String, Value)>,
}

impl Preparer {
    /// The prepared documents of `m`'s blocks, in order.
    pub(super) fn prepare(&mut self, m: &Message) -> Vec<Prepared> {
        // As the writer: a message's `toolUseResult` belongs to its only result.
        let tool_result = if m.tool_results().count() == 1 {
            m.tool_use_result.as_ref()
        } else {
            None
        };
        let user = m.role_or_user() == Role::User;
        m.blocks
            .iter()
            .map(|b| match b {
                // A slash command is found, and shown in search hits and hovers, as it
                // was typed, and its output without Claude Code's markup.
                Block::Text(t) if user => match CommandEcho::of(t) {
                    Some(CommandEcho::Typed(shown) | CommandEcho::Output(shown)) => {
                        with_idents(Some(shown), "")
                    }
                    None => with_idents(None, t),
                },
                _ => self.block(b, tool_result, m.cwd.as_deref()),
            })
            .collect()
    }

    fn block(
        &mut self,
        b: &Block,
        tool_result: Option<&ToolUseResult>,
        cwd: Option<&str>,
    ) -> Prepared {
        match b {
            Block::Text(t) | Block::Thinking(t) => with_idents(None, t),
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let mut p = if self.reads.remove(tool_use_id) {
                    Prepared::default()
                } else {
                    with_idents(None, content)
                };
                if let Some((name, input_json, input)) = self.calls.remove(tool_use_id) {
                    if !is_error_result(*is_error, content, tool_result) {
                        let change = change_of(&name, &input_json, &input, content, tool_result)
                            .map(StoredChange::pack);
                        p.change = Some(Change {
                            name,
                            input_json,
                            change,
                        });
                    }
                }
                p
            }
            Block::ToolUse { id, name, input } => {
                if matches!(name.as_str(), "Read" | "NotebookRead") {
                    self.reads.insert(id.clone());
                }
                let mut p = with_idents(Some(tool_input_text(name, input)), "");
                // Kept until the result says what happened (writes), or because the
                // result may be the only record of the file's content (reads).
                if is_writing_tool(name) || name == "Read" {
                    let json = input.to_string();
                    self.calls
                        .insert(id.clone(), (name.clone(), json.clone(), input.clone()));
                    p.input_json = Some(json);
                }
                p.path = touched_path(name, input).map(str::to_owned);
                if name == "Bash" {
                    // A shell move of one file: its history continues under the new
                    // name. The change is known now; the result says if it happened.
                    let command = input
                        .get("command")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if let Some(rename) = renames_in_command(command, cwd).into_iter().next() {
                        p.path = Some(rename.path.clone());
                        p.input_json = serde_json::to_string(&rename).ok();
                    }
                }
                p
            }
            Block::Image | Block::Other(_) => Prepared::default(),
        }
    }
}

/// The document of `rendered`, else of the block's `own` text, with the words of its
/// identifiers.
fn with_idents(rendered: Option<String>, own: &str) -> Prepared {
    let idents =
        doc_text(rendered.as_deref().unwrap_or(own)).and_then(crate::fts::identifier_words);
    Prepared {
        rendered,
        idents,
        ..Prepared::default()
    }
}

fn doc_text(text: &str) -> Option<&str> {
    let text = truncate_utf8(text, MAX_DOC_BYTES);
    (!text.trim().is_empty()).then_some(text)
}

pub(super) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A searchable rendering of a tool call's input: the parts a person would search for.
fn tool_input_text(name: &str, input: &Value) -> String {
    let Some(o) = input.as_object() else {
        return input.to_string();
    };
    let get = |k: &str| o.get(k).and_then(Value::as_str);
    match name {
        "Bash" => get("command").unwrap_or_default().to_owned(),
        "Edit" => [get("file_path"), get("old_string"), get("new_string")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n"),
        "Write" => [get("file_path"), get("content")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n"),
        _ => input.to_string(),
    }
}
