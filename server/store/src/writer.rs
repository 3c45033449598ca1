//! The writes the platform makes besides indexing (events from hooks, API keys,
//! deleting a conversation), behind a trait like the read side (`Catalog`) so that a
//! server database can stand behind the platform.

use observatory_protocol::conversations::ConversationSummary;

use crate::keys::{self, ApiKey};
use crate::{events, Catalog, Result, Store};

/// Changes every backend makes for the platform. Indexing writes are not here: the
/// indexer belongs to the embedded store (`Store::index_roots`, `watch`).
pub trait Writer {
    /// Records an event that did not come from indexing (a Claude Code hook), now;
    /// returns its id.
    fn append_event(
        &mut self,
        kind: &str,
        session_id: Option<&str>,
        project: Option<&str>,
        path: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<i64>;
    /// Creates an API key with a name (a label for people) and scopes (`keys::SCOPES`);
    /// the returned secret is the only time it is seen. `Error::Invalid` for a bad
    /// name or scope.
    fn create_api_key(&mut self, name: &str, scopes: &[String]) -> Result<(ApiKey, String)>;
    /// Revokes a key; false if there is no such active key.
    fn revoke_api_key(&mut self, id: i64) -> Result<bool>;
    /// Removes a conversation (by session id or a unique prefix) and everything
    /// derived from it, including Observatory's copy of its transcript, and its events,
    /// which a `conversation.deleted` tombstone replaces. The transcript file itself is
    /// untouched; lines appended to it later are indexed as a new conversation.
    fn delete_conversation(&mut self, id: &str) -> Result<ConversationSummary>;
}

impl Writer for Store {
    fn append_event(
        &mut self,
        kind: &str,
        session_id: Option<&str>,
        project: Option<&str>,
        path: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<i64> {
        events::append(&self.conn, kind, session_id, project, path, data)
    }

    fn create_api_key(&mut self, name: &str, scopes: &[String]) -> Result<(ApiKey, String)> {
        keys::create(&self.conn, name, scopes)
    }

    fn revoke_api_key(&mut self, id: i64) -> Result<bool> {
        keys::revoke(&self.conn, id)
    }

    fn delete_conversation(&mut self, id: &str) -> Result<ConversationSummary> {
        let c = self.conversation(id)?;
        let tx = self.conn.transaction()?;
        // FTS5 external-content tables must be told which rows go, with their text.
        tx.execute(
            "INSERT INTO docs_fts (docs_fts, rowid, text, idents) SELECT 'delete', id, text, idents FROM docs WHERE conversation_id = ?1",
            [c.id],
        )?;
        for sql in [
            "DELETE FROM docs WHERE conversation_id = ?1",
            "DELETE FROM tool_calls WHERE conversation_id = ?1",
            "DELETE FROM usage WHERE conversation_id = ?1",
            "DELETE FROM messages WHERE conversation_id = ?1",
            "DELETE FROM raw_chunks WHERE conversation_id = ?1",
            "UPDATE sources SET conversation_id = NULL WHERE conversation_id = ?1",
            "DELETE FROM conversations WHERE id = ?1",
        ] {
            tx.execute(sql, [c.id])?;
        }
        // Events carry prompts and paths: they go too, and a tombstone tells
        // followers of the stream to drop what they show of it.
        tx.execute("DELETE FROM events WHERE session_id = ?1", [&c.session_id])?;
        events::append(
            &tx,
            events::kind::CONVERSATION_DELETED,
            Some(&c.session_id),
            c.project.as_deref(),
            None,
            &serde_json::json!({}),
        )?;
        tx.commit()?;
        Ok(c.summary)
    }
}
