//! `workspace/executeCommand`: conversations, lists, diffs and search pages written as
//! documents and shown with `window/showDocument`, so any client can read them.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use observatory_protocol::lsp::command::{SearchResults, Shown};
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::server::{internal, path_of, Backend};
use crate::view;

impl Backend {
    /// Writes `text` to the cache and asks the client to show it.
    pub(crate) async fn show(&self, name: &str, text: &str, line: u32) -> Result<Shown> {
        let dir = &self.state.cache_dir;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| internal(format!("creating {}: {e}", dir.display())))?;
        let file = dir.join(name);
        tokio::fs::write(&file, text)
            .await
            .map_err(|e| internal(format!("writing {}: {e}", file.display())))?;
        let uri =
            Uri::from_file_path(&file).ok_or_else(|| internal("cache path is not absolute"))?;
        let shown = if self.state.caps().show_document {
            self.state
                .client
                .show_document(ShowDocumentParams {
                    uri: uri.clone(),
                    external: Some(false),
                    take_focus: Some(true),
                    selection: Some(Range::new(Position::new(line, 0), Position::new(line, 0))),
                })
                .await
                .unwrap_or(false)
        } else {
            false
        };
        // Observatory's own extensions open the file from the result themselves.
        if !shown && !self.state.caps().shim {
            self.state
                .client
                .show_message(
                    MessageType::INFO,
                    format!("Observatory: written to {}", file.display()),
                )
                .await;
        }
        Ok(Shown {
            uri: uri.as_str().to_owned(),
            path: file.display().to_string(),
            line,
            shown,
        })
    }

    pub(crate) async fn open_conversation(
        &self,
        id: &str,
        message: Option<&str>,
    ) -> Result<Option<Value>> {
        let id = conversation_id(id)?;
        let platform = self.state.platform()?;
        let md = self.state.answer(platform.markdown(id).await)?;
        // The message's heading, the first line after the anchor that names it (an
        // anchor is for jumping to, and editors hide it); else the top.
        let line = message
            .and_then(|m| {
                let mut lines = md.lines().enumerate();
                lines.find(|(_, l)| l.contains(m))?;
                lines.find(|(_, l)| !l.trim().is_empty()).map(|(i, _)| i)
            })
            .unwrap_or(0) as u32;
        self.show(&format!("conversation-{id}.md"), &md, line)
            .await
            .map(result)
    }

    pub(crate) async fn list_conversations(&self, uri: &Uri) -> Result<Option<Value>> {
        let v = self
            .state
            .view(uri)
            .ok_or_else(|| Error::invalid_params("that document is not open"))?;
        let name = path_of(uri)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let now = Utc::now();
        let mut md = format!("# Agent conversations that wrote {name}\n\n");
        for id in v.session_ids() {
            let runs: Vec<_> = v.runs.iter().filter(|r| r.session_id == id).collect();
            let lines: usize = runs.iter().map(|r| r.end_line + 1 - r.start_line).sum();
            let last = runs.iter().filter_map(|r| r.at).max();
            let title = runs
                .first()
                .map(|r| r.conversation_title.clone())
                .unwrap_or_default();
            md.push_str(&format!(
                "## {title}\n\n{} · last {} · `{id}`\n\n",
                view::plural(lines, "line", "lines"),
                view::ago(last, now)
            ));
            if let Some(p) = runs.iter().rev().find_map(|r| r.prompt.as_ref()) {
                md.push_str(&format!("> {}\n\n", view::trim(p, 300)));
            }
            md.push_str(&format!("Open: run the command `observatory.openConversation` with `{id}`, or `claude --resume {id}`\n\n"));
        }
        self.show(&format!("conversations-{name}.md"), &md, 0)
            .await
            .map(result)
    }

    pub(crate) async fn show_diff(&self, path: &str, call: &str) -> Result<Option<Value>> {
        let platform = self.state.platform()?;
        // Recorded paths are the agent's (another checkout, another machine): ask by
        // file name and pick the call.
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned());
        let touches = self.state.answer(platform.touches(&name).await)?;
        let t = touches
            .iter()
            .find(|t| t.tool_use_id == call)
            .ok_or_else(|| Error::invalid_params(format!("no recorded change {call} of {path}")))?;
        let change = t.change.clone().unwrap_or_default();
        let mut diff = format!(
            "# {} · {} · {}\n--- a{}\n+++ b{}\n",
            t.conversation_title,
            t.tool,
            t.at.map(|a| a.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            t.path,
            t.path
        );
        if !change.hunks.is_empty() {
            for h in &change.hunks {
                diff.push_str(&format!(
                    "@@ -{},{} +{},{} @@\n",
                    h.old_start, h.old_lines, h.new_start, h.new_lines
                ));
                for l in &h.lines {
                    diff.push_str(l);
                    diff.push('\n');
                }
            }
        } else if !change.edits.is_empty() {
            for e in &change.edits {
                diff.push_str("@@ @@\n");
                for l in e.old_string.lines() {
                    diff.push_str(&format!("-{l}\n"));
                }
                for l in e.new_string.lines() {
                    diff.push_str(&format!("+{l}\n"));
                }
            }
        } else if let Some(c) = &change.content {
            diff.push_str("@@ @@\n");
            for l in c.lines() {
                diff.push_str(&format!("+{l}\n"));
            }
        }
        self.show(&format!("change-{call}.diff"), &diff, 0)
            .await
            .map(result)
    }

    /// `observatory.search`: with a `project` (a code action passes the one the
    /// document's changes were recorded in), that project's conversations first; when
    /// nothing there matches, every project's, and the page says so.
    pub(crate) async fn search_command(
        &self,
        query: &str,
        project: Option<&str>,
    ) -> Result<Option<Value>> {
        let platform = self.state.platform()?;
        let mut scope = project;
        let (page, changes) = loop {
            let mut q = vec![("q", query), ("limit", "20")];
            if let Some(p) = scope {
                q.push(("project", p));
            }
            let page = self.state.answer(platform.search(&q).await)?;
            // An identifier: first the recorded changes inside a symbol of that name.
            let mut changes = if is_identifier(query) {
                self.state.answer(
                    platform
                        .symbol_changes(&[("name", query), ("limit", "20")])
                        .await,
                )?
            } else {
                Vec::new()
            };
            if let Some(p) = scope {
                // The changes made in this project's conversations. Not by path: an
                // agent may write outside the directory it runs in.
                if !changes.is_empty() {
                    let ours = self.state.answer(
                        platform
                            .conversations(&[("project", p), ("limit", "500")])
                            .await,
                    )?;
                    let ids: std::collections::HashSet<&str> =
                        ours.items.iter().map(|c| c.session_id.as_str()).collect();
                    changes.retain(|r| ids.contains(r.session_id.as_str()));
                }
                if page.hits.is_empty() && changes.is_empty() {
                    scope = None;
                    continue;
                }
            }
            break (page, changes);
        };
        let when = |at: Option<DateTime<Utc>>| {
            at.map(|a| a.to_rfc3339_opts(SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let mut md = match (project, scope) {
            (_, Some(p)) => format!(
                "# Conversations about `{query}` in {p}\n\nOnly this project. For every \
                 project, use the code action \"Observatory: search conversations about \
                 `{query}` in all projects\" (the command `observatory.search` with the query \
                 alone).\n\n"
            ),
            (Some(p), None) => format!(
                "# Conversations about `{query}`\n\nNothing in {p} mentions it; these are \
                 from all projects.\n\n"
            ),
            (None, None) => format!("# Conversations about `{query}`\n\n"),
        };
        if !changes.is_empty() {
            md.push_str(&format!("## Changes to `{query}`\n\n"));
            for r in &changes {
                let span = match (r.lines.first(), r.lines.last()) {
                    (Some(a), Some(b)) if a != b => format!(":{a}-{b}"),
                    (Some(a), _) => format!(":{a}"),
                    _ => String::new(),
                };
                md.push_str(&format!(
                    "- **{}** · {} `{}` in `{}{span}` · {} · `{}`\n",
                    view::escape(&r.conversation_title),
                    r.tool,
                    r.symbol,
                    r.path,
                    when(r.at),
                    r.session_id,
                ));
            }
            md.push_str("\n## Mentions\n\n");
        }
        if page.hits.is_empty() {
            md.push_str("No conversation mentions it.\n");
        }
        // Under "Mentions" when the page lists changes first.
        let heading = if changes.is_empty() { "##" } else { "###" };
        for h in &page.hits {
            md.push_str(&view::search_hit(h, heading));
        }
        let safe: String = query
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let document = self.show(&format!("search-{safe}.md"), &md, 0).await?;
        Ok(result(SearchResults {
            results: page,
            symbol_changes: changes,
            document,
        }))
    }
}

/// `id` if it can be a session id or a prefix of one. It goes into the platform's
/// URL paths, so nothing else gets through: no `/`, `..`, `?` or `%`, and no length
/// beyond any real id (sessions are UUIDs, subagents `agent-…`).
pub(crate) fn conversation_id(id: &str) -> Result<&str> {
    const LONGEST: usize = 128;
    if id.is_empty()
        || id.len() > LONGEST
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        let shown: String = id.chars().take(LONGEST).collect();
        return Err(Error::invalid_params(format!(
            "{shown:?} is not a conversation id"
        )));
    }
    Ok(id)
}

/// A command's result, as `workspace/executeCommand` returns it.
pub(crate) fn result<T: serde::Serialize>(value: T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == ':')
}
