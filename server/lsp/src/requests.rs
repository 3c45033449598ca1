//! Custom requests for Observatory's editor extensions (docs/lsp.md): structured
//! data from the platform, and the cached attribution of a buffer.

use std::sync::Arc;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::server::{path_of, Backend};
use crate::settings::InlayMode;

impl Backend {
    // Custom requests (documented in docs/lsp.md).

    pub async fn search(&self, p: Value) -> Result<Value> {
        let query = p
            .get("query")
            .and_then(Value::as_str)
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| Error::invalid_params("`query` (a non-empty string) is required"))?;
        let mut q: Vec<(&str, String)> = vec![("q", query.to_owned())];
        q.extend(query_params(
            &p,
            &[
                "project", "file", "limit", "offset", "role", "kind", "tool", "model",
            ],
        )?);
        let platform = self.state.platform()?;
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.state.answer(platform.search(&pairs).await)
    }

    pub async fn conversations(&self, p: Value) -> Result<Value> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(uri) = p.pointer("/textDocument/uri").and_then(Value::as_str) {
            let uri: Uri = uri
                .parse()
                .map_err(|_| Error::invalid_params("`textDocument.uri` is not a URI"))?;
            let path = path_of(&uri).ok_or_else(|| Error::invalid_params("not a file URI"))?;
            q.push(("file", self.state.recorded_form(&path)));
        }
        q.extend(query_params(
            &p,
            &[
                "project", "file", "q", "limit", "cursor", "since", "until", "model",
            ],
        )?);
        let platform = self.state.platform()?;
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.state.answer(platform.conversations(&pairs).await)
    }

    pub async fn file_insights(&self, p: TextDocumentIdentifier) -> Result<Value> {
        let path = path_of(&p.uri).ok_or_else(|| Error::invalid_params("not a file URI"))?;
        let platform = self.state.platform()?;
        self.state.answer(
            platform
                .file_insights(&self.state.recorded_form(&path))
                .await,
        )
    }

    /// The attribution of the document as the editor has it now.
    pub async fn blame(&self, p: TextDocumentIdentifier) -> Result<Value> {
        let Some(v) = self.state.views.get(&p.uri).map(|v| Arc::clone(&v)) else {
            return Ok(json!({"runs": [], "pending": true}));
        };
        Ok(json!({
            "version": v.version,
            "attributedLines": v.attributed_lines,
            "conversations": v.conversations,
            "skipped": v.skipped,
            "runs": v.runs,
            "symbols": v.symbols.iter().map(|s| json!({
                "name": s.symbol.qualified_name,
                "kind": s.symbol.kind,
                "startLine": s.symbol.start_line,
                "endLine": s.symbol.end_line,
                "latest": v.runs[s.latest],
                "conversations": s.conversations,
                "lines": s.lines,
            })).collect::<Vec<_>>(),
        }))
    }

    /// `observatory/didChangeCursor`: where the user is, for the current-line hint.
    pub async fn did_change_cursor(&self, p: TextDocumentPositionParams) {
        let line = p.position.line;
        let old = self.state.cursor.insert(p.text_document.uri, line);
        let mode = self.state.settings().inlay_hints;
        if mode == InlayMode::CurrentLine && old != Some(line) {
            self.state.refresh_client().await;
        }
    }

    /// `observatory/symbolChanges`: which conversations changed a symbol, anywhere.
    pub async fn symbol_changes(&self, p: Value) -> Result<Value> {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| Error::invalid_params("`name` (a non-empty string) is required"))?;
        let mut q = vec![("name", name.to_owned())];
        q.extend(query_params(&p, &["limit"])?);
        let platform = self.state.platform()?;
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.state
            .answer(platform.get_raw("/symbols", &pairs).await)
    }

    /// `observatory/status`: the connection as it is now.
    pub async fn status(&self, _: Value) -> Result<Value> {
        Ok(self.state.status_value())
    }
}

/// The listed keys of a custom request's parameters, as query parameters for the
/// platform (strings and numbers; anything else is refused, naming the key).
pub(crate) fn query_params(
    p: &Value,
    keys: &[&'static str],
) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    for &key in keys {
        match p.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => out.push((key, s.clone())),
            Some(Value::Number(n)) => out.push((key, n.to_string())),
            Some(_) => {
                return Err(Error::invalid_params(format!(
                    "`{key}` must be a string or a number"
                )))
            }
        }
    }
    Ok(out)
}
