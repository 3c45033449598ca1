//! Following the platform's event stream (WebSocket), resuming after the last event
//! seen so that nothing is missed across reconnections.
//!
//! Opening the stream is also how the server learns that the platform accepts its
//! key: `/healthz` needs none, so a platform that answers it may still refuse
//! everything else.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::platform::{self, Event, Platform};

/// Event kinds that can change what an editor shows.
pub const KINDS: &str = "attribution.changed";

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Why the stream could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The platform refused this client (401, 403 or 429, see
    /// [`platform::refuses_client`]).
    Refused {
        status: u16,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// The resume cursor is past the platform's newest event: its log was reset
    /// (a new database). Start again from now; what was missed is refetched.
    CursorAhead,
    /// No answer, another error status, or a URL that cannot be one.
    Failed(String),
}

/// Opens the stream of events after `after`.
pub async fn open(platform: &Platform, after: Option<i64>) -> Result<Socket, OpenError> {
    let url = platform.stream_url(after, KINDS);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| OpenError::Failed(format!("bad stream URL {url}: {e}")))?;
    let bearer = format!("Bearer {}", platform.token())
        .parse()
        .map_err(|_| OpenError::Failed("the API key is not a valid header value".into()))?;
    request.headers_mut().insert("authorization", bearer);
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let detail = response
                .body()
                .as_deref()
                .map(platform::problem_detail)
                .unwrap_or_default();
            if status == 422 && after.is_some() {
                Err(OpenError::CursorAhead)
            } else if platform::refuses_client(status) {
                Err(OpenError::Refused {
                    status,
                    detail,
                    retry_after: platform::retry_after(response.headers()),
                })
            } else {
                Err(OpenError::Failed(format!(
                    "the platform answered the event stream with {status} {detail}"
                )))
            }
        }
        Err(e) => Err(OpenError::Failed(format!(
            "cannot open the event stream: {e}"
        ))),
    }
}

/// Calls `on_event` for each event until the stream ends or `stop` completes;
/// returns why it stopped. `last` is the resume cursor, updated as events arrive.
pub async fn follow<F, Fut>(
    mut socket: Socket,
    last: &mut Option<i64>,
    stop: impl Future<Output = ()>,
    mut on_event: F,
) -> String
where
    F: FnMut(Event) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(stop);
    loop {
        let message = tokio::select! {
            m = socket.next() => m,
            _ = &mut stop => return "asked to reconnect".into(),
        };
        match message {
            None => return "the platform closed the stream".into(),
            Some(Err(e)) => return format!("stream error: {e}"),
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<Event>(&text) {
                Ok(event) => {
                    *last = Some(event.id);
                    on_event(event).await;
                }
                Err(e) => tracing::warn!(error = %e, "unreadable stream event; skipped"),
            },
            Some(Ok(Message::Close(frame))) => {
                return format!(
                    "the platform closed the stream: {}",
                    frame.map(|f| f.reason.to_string()).unwrap_or_default()
                )
            }
            Some(Ok(_)) => {}
        }
    }
}
