//! Following the platform's event stream (WebSocket), resuming after the last event
//! seen so that nothing is missed across reconnections.

use std::future::Future;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::platform::{Event, Platform};

/// Event kinds that can change what an editor shows.
pub const KINDS: &str = "attribution.changed";

/// Calls `on_event` for each event until the stream ends, `wake` is notified, or it
/// cannot be opened; returns why it stopped. `last` is the resume cursor, updated as
/// events arrive.
pub async fn follow<F, Fut>(
    platform: &Platform,
    last: &mut Option<i64>,
    wake: &Notify,
    mut on_event: F,
) -> String
where
    F: FnMut(Event) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = platform.stream_url(*last, KINDS);
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => return format!("bad stream URL {url}: {e}"),
    };
    match format!("Bearer {}", platform.token()).parse() {
        Ok(v) => {
            request.headers_mut().insert("authorization", v);
        }
        Err(_) => return "the API token is not a valid header value".into(),
    }
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((s, _)) => s,
        Err(e) => return format!("cannot open the event stream: {e}"),
    };
    loop {
        let message = tokio::select! {
            m = socket.next() => m,
            _ = wake.notified() => return "asked to reconnect".into(),
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
