//! Custom requests for Observatory's editor extensions (docs/lsp.md): structured
//! data from the platform, and the cached attribution of a buffer.

use observatory_protocol::lsp;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::commands::conversation_id;
use crate::platform::{ConversationPage, FileInsights, PlatformError, SearchPage, SymbolChangeRow};
use crate::server::{internal, path_of, Backend};
use crate::settings::InlayMode;

impl Backend {
    // Custom requests (documented in docs/lsp.md).

    pub async fn search(&self, p: lsp::SearchRequestParams) -> Result<SearchPage> {
        if p.query.trim().is_empty() {
            return Err(Error::invalid_params(
                "`query` (a non-empty string) is required",
            ));
        }
        let mut q: Vec<(&str, String)> = vec![("q", p.query)];
        if p.typing == Some(true) {
            q.push(("typing", "true".to_owned()));
        }
        let numbers = [("limit", p.limit), ("offset", p.offset)];
        q.extend(
            numbers
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?.to_string()))),
        );
        let texts = [
            ("project", p.project),
            ("file", p.file),
            ("role", p.role),
            ("kind", p.kind),
            ("tool", p.tool),
            ("model", p.model),
        ];
        q.extend(texts.into_iter().filter_map(|(k, v)| Some((k, v?))));
        let platform = self.state.platform()?;
        self.state.answer(platform.search(&pairs(&q)).await)
    }

    pub async fn conversations(&self, p: lsp::ConversationsParams) -> Result<ConversationPage> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(doc) = &p.text_document {
            let uri: Uri = doc
                .uri
                .parse()
                .map_err(|_| Error::invalid_params("`textDocument.uri` is not a URI"))?;
            let path = path_of(&uri).ok_or_else(|| Error::invalid_params("not a file URI"))?;
            q.push(("file", self.state.recorded_form(&path)));
        }
        if let Some(limit) = p.limit {
            q.push(("limit", limit.to_string()));
        }
        let texts = [
            ("project", p.project),
            ("file", p.file),
            ("q", p.q),
            ("cursor", p.cursor),
            ("since", p.since),
            ("until", p.until),
            ("model", p.model),
        ];
        q.extend(texts.into_iter().filter_map(|(k, v)| Some((k, v?))));
        let platform = self.state.platform()?;
        self.state.answer(platform.conversations(&pairs(&q)).await)
    }

    /// `observatory/conversation`: the summary, the files it touched and a page of
    /// its messages, for a panel that shows one conversation.
    pub async fn conversation(
        &self,
        p: lsp::ConversationParams,
    ) -> Result<lsp::ConversationDetail> {
        let id = conversation_id(&p.id)?;
        let limit = p.limit.unwrap_or(DEFAULT_MESSAGES);
        let platform = self.state.platform()?;
        let mut q = vec![("limit", limit.to_string())];
        q.extend(p.cursor.map(|c| ("cursor", c)));
        let page = async {
            if limit == 0 {
                return Ok(None);
            }
            platform.messages(id, &pairs(&q)).await.map(Some)
        };
        // Three small requests at once: a panel opening waits for all of them.
        let (summary, files, page) = tokio::join!(
            platform.conversation(id),
            platform.conversation_files(id),
            page
        );
        let conversation = match summary {
            Err(PlatformError::Refused {
                status: 404,
                detail,
                ..
            }) => {
                // RequestFailed, with the platform's words: the id was well formed.
                return Err(internal(if detail.is_empty() {
                    format!("no conversation matches {id:?}")
                } else {
                    detail
                }));
            }
            other => self.state.answer(other)?,
        };
        let files = match files {
            // The conversation exists, so the route is what is missing: a platform
            // older than this server, run by hand. The rest is still worth showing.
            Err(e @ PlatformError::Refused { status: 404, .. }) => {
                tracing::warn!(error = %e, "the platform does not list a conversation's files; an older version?");
                Vec::new()
            }
            other => self.state.answer(other)?,
        };
        let (messages, next_cursor) = match self.state.answer(page)? {
            Some(page) => (page.items, page.next_cursor),
            None => (Vec::new(), None),
        };
        Ok(lsp::ConversationDetail {
            conversation,
            files,
            messages,
            next_cursor,
        })
    }

    pub async fn file_insights(&self, p: TextDocumentIdentifier) -> Result<FileInsights> {
        let path = path_of(&p.uri).ok_or_else(|| Error::invalid_params("not a file URI"))?;
        let platform = self.state.platform()?;
        self.state.answer(
            platform
                .file_insights(&self.state.recorded_form(&path))
                .await,
        )
    }

    /// The attribution of the document as the editor has it now.
    pub async fn blame(&self, p: TextDocumentIdentifier) -> Result<lsp::BlameResult> {
        let Some(v) = self.state.view(&p.uri) else {
            return Ok(lsp::BlameResult::Pending(lsp::PendingBlame::new()));
        };
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let symbols = v
            .symbols
            .iter()
            .filter_map(|s| {
                Some(lsp::SymbolBlame {
                    name: s.symbol.qualified_name.clone(),
                    kind: s.symbol.kind.name().to_owned(),
                    start_line: count(s.symbol.start_line),
                    end_line: count(s.symbol.end_line),
                    latest: v.runs.get(s.latest)?.clone(),
                    conversations: count(s.conversations),
                    lines: count(s.lines),
                })
            })
            .collect();
        Ok(lsp::BlameResult::Ready(lsp::DocumentBlame {
            version: v.version,
            attributed_lines: count(v.attributed_lines),
            conversations: count(v.conversations),
            skipped: v.skipped.clone(),
            runs: v.runs.clone(),
            symbols,
        }))
    }

    /// `observatory/didChangeCursor`: where the user is, for the current-line hint.
    pub async fn did_change_cursor(&self, p: TextDocumentPositionParams) {
        let line = p.position.line;
        // Only an open document has a current-line hint to move.
        let moved = self
            .state
            .docs
            .get_mut(&p.text_document.uri)
            .is_some_and(|mut d| d.cursor.replace(line) != Some(line));
        let mode = self.state.settings().inlay_hints;
        if mode == InlayMode::CurrentLine && moved {
            self.state.refresh_client();
        }
    }

    /// `observatory/symbolChanges`: which conversations changed a symbol, anywhere.
    pub async fn symbol_changes(
        &self,
        p: lsp::SymbolChangesParams,
    ) -> Result<Vec<SymbolChangeRow>> {
        if p.name.trim().is_empty() {
            return Err(Error::invalid_params(
                "`name` (a non-empty string) is required",
            ));
        }
        let mut q = vec![("name", p.name)];
        if let Some(limit) = p.limit {
            q.push(("limit", limit.to_string()));
        }
        let platform = self.state.platform()?;
        self.state.answer(platform.symbol_changes(&pairs(&q)).await)
    }

    /// `observatory/status`: the connection as it is now.
    pub async fn status(&self, _: Value) -> Result<lsp::ConnectionStatus> {
        Ok(self.state.status())
    }
}

/// Messages per `observatory/conversation` page when the client names no limit: the
/// platform's largest page, so most conversations arrive whole.
const DEFAULT_MESSAGES: u32 = 500;

fn pairs<'a>(q: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    q.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
