//! The writes the platform makes besides indexing (events from hooks, API keys,
//! deleting a conversation, webhooks and their deliveries), behind a trait like the read side (`Catalog`) so that a
//! server database can stand behind the platform.

use observatory_protocol::conversations::ConversationSummary;

use crate::keys::{self, ApiKey};
use crate::webhooks::{self, AttemptRecord};
use crate::{events, Catalog, Result, Store};
use chrono::{DateTime, Utc};
use observatory_protocol::webhooks::{Delivery, NewWebhook, Webhook, WebhookUpdate};

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
    /// Subscribes a URL to events; the returned signing secret is the only time it
    /// is seen. `Error::Invalid` for a bad URL, event type or filter.
    fn create_webhook(&mut self, new: &NewWebhook) -> Result<(Webhook, String)>;
    /// Changes a webhook (pausing and resuming it too); `Error::NotFound`, `Invalid`.
    fn update_webhook(&mut self, id: i64, update: &WebhookUpdate) -> Result<Webhook>;
    /// Deletes a webhook with its deliveries; false if there is none.
    fn delete_webhook(&mut self, id: i64) -> Result<bool>;
    /// A new signing secret; the old one keeps signing until `grace_until`. Returns
    /// the secret and, when the old one is kept, until when.
    fn rotate_webhook_secret(
        &mut self,
        id: i64,
        grace_until: DateTime<Utc>,
    ) -> Result<(String, Option<DateTime<Utc>>)>;
    /// Queues a `webhook.test` delivery to one webhook, due now.
    fn send_webhook_test(&mut self, id: i64) -> Result<Delivery>;
    /// Queues one delivery again (`Some`), or every failed one (`None`), due now with
    /// the retry schedule started over; returns how many.
    fn redeliver_webhook(&mut self, webhook_id: i64, delivery_id: Option<i64>) -> Result<u64>;
    /// Records an attempt and what it came to (the dispatcher's write); returns the
    /// reason the webhook was disabled, if this attempt disabled it.
    fn record_webhook_attempt(&mut self, attempt: &AttemptRecord) -> Result<Option<String>>;
    /// Removes finished deliveries created before `before`; returns how many.
    fn prune_webhook_deliveries(&mut self, before: DateTime<Utc>) -> Result<u64>;
}

impl Writer for Store {
    fn create_webhook(&mut self, new: &NewWebhook) -> Result<(Webhook, String)> {
        webhooks::create(&self.conn, new)
    }

    fn update_webhook(&mut self, id: i64, update: &WebhookUpdate) -> Result<Webhook> {
        webhooks::update(&mut self.conn, id, update)
    }

    fn delete_webhook(&mut self, id: i64) -> Result<bool> {
        webhooks::delete(&self.conn, id)
    }

    fn rotate_webhook_secret(
        &mut self,
        id: i64,
        grace_until: DateTime<Utc>,
    ) -> Result<(String, Option<DateTime<Utc>>)> {
        webhooks::rotate(&self.conn, id, grace_until)
    }

    fn send_webhook_test(&mut self, id: i64) -> Result<Delivery> {
        webhooks::enqueue_test(&self.conn, id)
    }

    fn redeliver_webhook(&mut self, webhook_id: i64, delivery_id: Option<i64>) -> Result<u64> {
        webhooks::redeliver(&self.conn, webhook_id, delivery_id)
    }

    fn record_webhook_attempt(&mut self, attempt: &AttemptRecord) -> Result<Option<String>> {
        webhooks::record_attempt(&mut self.conn, attempt)
    }

    fn prune_webhook_deliveries(&mut self, before: DateTime<Utc>) -> Result<u64> {
        webhooks::prune(&self.conn, before)
    }

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
