//! How the connection to the platform stands, and telling the user about it: the
//! `observatory/status` notification on every change of state, and one
//! `window/showMessage` per outage or refusal (not one per retry).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use observatory_protocol::lsp::{ConnectionState, ConnectionStatus};
use tower_lsp_server::jsonrpc::Error;
use tower_lsp_server::ls_types::*;

use crate::platform::PlatformError;
use crate::server::{internal, State};
use crate::state::StatusNotification;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Health {
    Connecting,
    /// The event stream is open: the platform answers and accepts the key.
    Connected,
    /// Not answering, or not usable as configured: why.
    Offline(String),
    /// Answering, but refusing this client.
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub(crate) reason: RefusalReason,
    /// What to tell the user.
    pub(crate) message: String,
    /// Not before then (the platform's `Retry-After`).
    pub(crate) until: Option<Instant>,
}

/// `ApiKeyRequired`: a platform on another machine and no `apiKey` (the local token
/// is not sent); `Unauthorized`: 401, no such key or revoked; `Forbidden`: 403, the
/// key lacks a scope; `RateLimited`: 429.
pub(crate) use observatory_protocol::lsp::RefusalReason;

impl Refusal {
    /// The platform at `url` answered 401, 403 or 429.
    pub(crate) fn of_status(
        url: &str,
        status: u16,
        detail: &str,
        retry_after: Option<Duration>,
    ) -> Refusal {
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        let (reason, message) = match status {
            429 => (
                RefusalReason::RateLimited,
                format!(
                    "the platform at {url} is limiting requests from this editor (429){detail}"
                ),
            ),
            403 => (
                RefusalReason::Forbidden,
                format!("the platform at {url} refused the API key (403){detail}"),
            ),
            _ => (
                RefusalReason::Unauthorized,
                format!("the platform at {url} refused the API key ({status}){detail}"),
            ),
        };
        Refusal {
            reason,
            message,
            until: retry_after.map(|d| Instant::now() + d),
        }
    }

    fn advice(&self) -> &'static str {
        match self.reason {
            RefusalReason::ApiKeyRequired => "",
            RefusalReason::Unauthorized | RefusalReason::Forbidden => {
                " Check the `apiKey` setting; retrying now and then."
            }
            RefusalReason::RateLimited => " Waiting before asking again.",
        }
    }
}

/// What the user has been told since the last connection, so that an outage or a
/// refusal is told once however often the state changes in between.
#[derive(Debug, Default)]
pub(crate) struct Told {
    outage: bool,
    refusal: Option<RefusalReason>,
}

/// What to send the client after a change of health.
pub(crate) struct Report {
    message: Option<(MessageType, String)>,
    status: ConnectionStatus,
}

impl State {
    pub(crate) fn health(&self) -> Health {
        self.health
            .lock()
            .map(|h| h.clone())
            .unwrap_or(Health::Connecting)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.health() == Health::Connected
    }

    pub(crate) fn status(&self) -> ConnectionStatus {
        let conn = self.connection();
        let (state, reason, message) = match self.health() {
            Health::Connecting => (ConnectionState::Connecting, None, None),
            Health::Connected => (ConnectionState::Connected, None, None),
            Health::Offline(why) => (ConnectionState::Offline, None, Some(why)),
            Health::Refused(r) => (ConnectionState::Refused, Some(r.reason), Some(r.message)),
        };
        ConnectionStatus {
            state,
            url: conn
                .as_ref()
                .map(|c| c.platform.url.clone())
                .or_else(|| self.settings().url),
            source: conn.as_ref().map(|c| c.source),
            reason,
            message,
            indexing: state == ConnectionState::Connected && self.indexing.load(Ordering::Relaxed),
        }
    }

    /// The platform's first indexing pass started or ended: the client's status says so.
    pub(crate) async fn set_indexing(&self, indexing: bool) {
        let was = self.indexing.swap(indexing, Ordering::Relaxed);
        if was != indexing {
            self.client
                .send_notification::<StatusNotification>(self.status())
                .await;
        }
    }

    /// Records `new`; what to tell the client, if that is news.
    fn transition(&self, new: Health) -> Option<Report> {
        let old = {
            let mut slot = self.health.lock().ok()?;
            std::mem::replace(&mut *slot, new.clone())
        };
        let message = match (&old, &new) {
            (Health::Offline(_), Health::Offline(_)) => return None,
            (Health::Refused(a), Health::Refused(b)) if a.reason == b.reason => return None,
            (Health::Connected, Health::Connected) | (_, Health::Connecting) => return None,
            (_, Health::Connected) => {
                tracing::info!("connected to the platform");
                // Connected: the next outage or refusal is news again.
                if let Ok(mut told) = self.told.lock() {
                    *told = Told::default();
                }
                None
            }
            (_, Health::Offline(why)) => {
                tracing::warn!(reason = %why, "platform offline");
                // One warning per outage. The state goes through Connecting (a
                // settings push, which editors repeat) and maybe Refused between
                // attempts; only a connection ends the outage.
                let first = self
                    .told
                    .lock()
                    .map(|mut t| !std::mem::replace(&mut t.outage, true))
                    .unwrap_or(false);
                first.then(|| {
                    let meanwhile = if self.has_loaded() {
                        "Showing what was already loaded; reconnecting in the background."
                    } else {
                        "Nothing is loaded yet; reconnecting in the background, insights \
                         appear once it answers."
                    };
                    (
                        MessageType::WARNING,
                        format!("Observatory: {why}. {meanwhile}"),
                    )
                })
            }
            (_, Health::Refused(r)) => {
                tracing::warn!(reason = %r.message, "platform refused this client");
                let kind = if r.reason == RefusalReason::RateLimited {
                    MessageType::WARNING
                } else {
                    MessageType::ERROR
                };
                // Once per kind of refusal, until connected or the key changes.
                let first = self
                    .told
                    .lock()
                    .map(|mut t| t.refusal.replace(r.reason) != Some(r.reason))
                    .unwrap_or(false);
                first.then(|| (kind, format!("Observatory: {}.{}", r.message, r.advice())))
            }
        };
        Some(Report {
            message,
            status: self.status(),
        })
    }

    /// Whether any insight was loaded (an open document's or a workspace file's
    /// view), for what an outage message says the user still sees.
    fn has_loaded(&self) -> bool {
        self.docs.iter().any(|d| d.view.is_some()) || !self.workspace.is_empty()
    }

    /// The connection settings changed: a refusal of the new ones is told again.
    pub(crate) fn forget_refusal(&self) {
        if let Ok(mut told) = self.told.lock() {
            told.refusal = None;
        }
    }

    async fn report(&self, report: Report) {
        if let Some((kind, text)) = report.message {
            self.client.show_message(kind, text).await;
        }
        self.client
            .send_notification::<StatusNotification>(report.status)
            .await;
    }

    pub(crate) async fn set_health(&self, new: Health) {
        if let Some(report) = self.transition(new) {
            self.report(report).await;
        }
    }

    /// [`State::set_health`] from code that cannot wait on the client.
    pub(crate) fn set_health_soon(&self, new: Health) {
        if let Some(report) = self.transition(new) {
            let client = self.client.clone();
            tokio::spawn(async move {
                if let Some((kind, text)) = report.message {
                    client.show_message(kind, text).await;
                }
                client
                    .send_notification::<StatusNotification>(report.status)
                    .await;
            });
        }
    }

    /// A platform answer, or a request error; see [`State::failed`] and
    /// [`request_error`].
    pub(crate) fn answer<T>(
        &self,
        r: std::result::Result<T, PlatformError>,
    ) -> tower_lsp_server::jsonrpc::Result<T> {
        r.map_err(|e| {
            self.failed(&e);
            request_error(e)
        })
    }

    /// A request failed. When the platform is gone or refuses this client, the
    /// supervisor is interrupted to find out (and, for a refusal, to back off);
    /// meanwhile requests are answered locally (see [`State::platform`]).
    pub(crate) fn failed(&self, e: &PlatformError) {
        match e {
            PlatformError::Unreachable { .. } => {
                tracing::warn!(error = %e, "platform request failed");
                self.interrupt.notify_waiters();
            }
            PlatformError::Refused {
                status,
                detail,
                retry_after,
                ..
            } if e.refuses_client() => {
                let url = self
                    .connection()
                    .map(|c| c.platform.url.clone())
                    .unwrap_or_default();
                self.set_health_soon(Health::Refused(Refusal::of_status(
                    &url,
                    *status,
                    detail,
                    *retry_after,
                )));
                self.interrupt.notify_waiters();
            }
            _ => {}
        }
    }
}

/// The error a client gets for a request the platform did not answer. A 400 or 422
/// refuses what the client asked (a search prefix under 3 letters, an ambiguous id,
/// a page size out of range): that is `InvalidParams`, with the platform's own
/// explanation as the message, which an editor can show as it is.
pub(crate) fn request_error(e: PlatformError) -> Error {
    match &e {
        PlatformError::Refused {
            status: 400 | 422,
            detail,
            ..
        } => Error::invalid_params(if detail.is_empty() {
            e.to_string()
        } else {
            detail.clone()
        }),
        _ => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use tower_lsp_server::jsonrpc::ErrorCode;

    use super::*;

    #[test]
    fn refused_parameters_are_invalid_params_with_the_platforms_words() {
        let refused = |status: u16, detail: &str| PlatformError::Refused {
            what: "/search".to_owned(),
            status,
            detail: detail.to_owned(),
            retry_after: None,
        };
        let e = request_error(refused(400, "gr* is too short a prefix"));
        assert_eq!(e.code, ErrorCode::InvalidParams);
        assert_eq!(e.message, "gr* is too short a prefix");
        let e = request_error(refused(422, ""));
        assert_eq!(e.code, ErrorCode::InvalidParams);
        assert!(e.message.contains("422"), "{}", e.message);
        let e = request_error(refused(500, "boom"));
        assert_eq!(e.code, ErrorCode::ServerError(-32803));
    }

    #[test]
    fn refusals_say_what_and_where() {
        let r = Refusal::of_status("http://h:1", 401, "the bearer token is not valid", None);
        assert_eq!(r.reason, RefusalReason::Unauthorized);
        assert_eq!(
            r.message,
            "the platform at http://h:1 refused the API key (401): the bearer token is not valid"
        );
        assert!(r.until.is_none());
        let r = Refusal::of_status("http://h:1", 429, "", Some(Duration::from_secs(30)));
        assert_eq!(r.reason, RefusalReason::RateLimited);
        assert!(r.message.ends_with("(429)"), "{}", r.message);
        assert!(r.until.is_some_and(|u| u > Instant::now()));
        assert_eq!(
            Refusal::of_status("u", 403, "", None).reason,
            RefusalReason::Forbidden
        );
    }
}
