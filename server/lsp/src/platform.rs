//! The language server's view of the platform: a typed client over its REST API,
//! with the protocol's types (fields a newer platform adds are ignored).

use std::time::Duration;

use serde::de::DeserializeOwned;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// No answer: the platform is down or unreachable.
    #[error("the Observatory platform at {url} is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// It answered with an error (problem+json `detail` when it gave one).
    #[error("the Observatory platform refused {what}: {status} {detail}")]
    Refused {
        what: String,
        status: u16,
        detail: String,
        /// `Retry-After`, when it said how long to wait.
        retry_after: Option<Duration>,
    },
    #[error("unexpected answer from the Observatory platform to {what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: reqwest::Error,
    },
}

impl PlatformError {
    /// The platform could not be reached at all (as opposed to refusing a request).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, PlatformError::Unreachable { .. })
    }

    /// The platform refused this client rather than this request: its key (401,
    /// 403) or its pace (429). Asking again at once would be refused again.
    /// The platform is shedding load: ask again shortly.
    pub fn is_busy(&self) -> bool {
        matches!(self, PlatformError::Refused { status: 503, .. })
    }

    pub fn refuses_client(&self) -> bool {
        matches!(self, PlatformError::Refused { status, .. } if refuses_client(*status))
    }
}

/// Longest wait before asking a busy platform again: an editor is waiting.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// Statuses that refuse the client as a whole: a missing, wrong or revoked key, a
/// key without the scope the language server needs, too many requests.
pub fn refuses_client(status: u16) -> bool {
    matches!(status, 401 | 403 | 429)
}

/// `Retry-After` in seconds (what the platform sends). An HTTP date is not followed:
/// the caller's backoff applies instead. Capped, so that a platform cannot park the
/// client for days.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    const LONGEST: Duration = Duration::from_secs(15 * 60);
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(LONGEST))
}

/// The `detail` of an RFC 9457 problem body, if it is one.
pub fn problem_detail(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

pub type Result<T> = std::result::Result<T, PlatformError>;

// The platform's answers, as the protocol defines them: one shape for every client.
pub use observatory_protocol::analytics::EditedFile;
pub use observatory_protocol::changes::{FileChange as Change, Hunk, TextEdit as Edit};
pub use observatory_protocol::conversations::{
    ConversationFile, ConversationPage, ConversationSummary as Conversation, MessagePage,
};
pub use observatory_protocol::events::Event;
pub use observatory_protocol::files::{
    BlameRequest, BlameResponse, BlameRun, FileInsights, FileTouch as Touch, SymbolChangeRow,
};
pub use observatory_protocol::search::SearchPage;

/// A connection to one platform.
#[derive(Clone)]
pub struct Platform {
    http: reqwest::Client,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8787`.
    pub url: String,
    token: String,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("url", &self.url).finish()
    }
}

/// One HTTP client for the process: it holds the trusted roots (the system's store,
/// then Mozilla's), which are read once rather than at every reconnection.
fn http_client() -> anyhow::Result<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<std::result::Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    let built = CLIENT.get_or_init(|| {
        let builder = || {
            reqwest::Client::builder()
                // An editor waits on these answers: a platform that hangs counts as down.
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(2))
        };
        builder().build().or_else(|e| {
            // The system's store holds only certificates rustls cannot read: Mozilla's
            // roots alone still reach a platform with a public certificate.
            tracing::warn!(error = %e, "the system's trusted certificates are unusable; using Mozilla's roots only");
            builder()
                .tls_built_in_native_certs(false)
                .build()
                .map_err(|e| format!("{e:#}"))
        })
    });
    built
        .clone()
        .map_err(|e| anyhow::anyhow!("cannot set up HTTPS: {e}"))
}

impl Platform {
    pub fn new(url: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Platform {
            http: http_client()?,
            url: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The WebSocket URL of the event stream after event `after`, of event kinds
    /// `kinds` (comma-separated).
    pub fn stream_url(&self, after: Option<i64>, kinds: &str) -> String {
        let base = self
            .url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        match after {
            Some(a) => format!("{base}/api/v1/stream?kind={kinds}&after={a}"),
            None => format!("{base}/api/v1/stream?kind={kinds}"),
        }
    }

    fn unreachable(&self, source: reqwest::Error) -> PlatformError {
        PlatformError::Unreachable {
            url: self.url.clone(),
            source,
        }
    }

    /// Sends `req`; a platform shedding load (503) is asked again after the wait it
    /// names (at most [`BUSY_WAIT`]), a few times, before its answer is an error.
    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        use backon::Retryable;
        let Some(first) = req.try_clone() else {
            return self.send_once(what, req).await;
        };
        let attempts = std::sync::Mutex::new(Some(first));
        (|| async {
            let req = attempts
                .lock()
                .ok()
                .and_then(|mut a| a.take())
                .or_else(|| req.try_clone())
                .ok_or_else(|| PlatformError::Refused {
                    what: what.to_owned(),
                    status: 503,
                    detail: "the request cannot be sent again".to_owned(),
                    retry_after: None,
                })?;
            self.send_once(what, req).await
        })
        .retry(
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(BUSY_WAIT)
                .with_max_times(3)
                .with_jitter(),
        )
        .when(PlatformError::is_busy)
        .adjust(|e, wait| match e {
            PlatformError::Refused {
                retry_after: Some(after),
                ..
            } => Some((*after).min(BUSY_WAIT)),
            _ => wait,
        })
        .await
    }

    async fn send_once(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = retry_after(resp.headers());
        let body = resp.bytes().await.unwrap_or_default();
        Err(PlatformError::Refused {
            what: what.to_owned(),
            status: status.as_u16(),
            detail: problem_detail(&body),
            retry_after,
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        let req = self
            .http
            .get(format!("{}/api/v1{path}", self.url))
            .query(query);
        let resp = self.send(path, req).await?;
        resp.json().await.map_err(|source| PlatformError::Decode {
            what: path.to_owned(),
            source,
        })
    }

    /// The process is up and serving.
    pub async fn healthy(&self) -> bool {
        self.probe("/healthz").await
    }

    /// Has finished its first indexing pass.
    pub async fn ready(&self) -> bool {
        self.readiness().await.is_none()
    }

    /// `None` once the first indexing pass is done; before, how far it has got
    /// (the share of bytes read, 0 to 100, when the platform says).
    pub async fn readiness(&self) -> Option<Option<u32>> {
        let resp = self
            .http
            .get(format!("{}/readyz", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        let resp = match resp {
            Ok(r) if r.status().is_success() => return None,
            Ok(r) => r,
            Err(_) => return Some(None),
        };
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let n = |k: &str| body.get(k).and_then(Value::as_u64);
        Some(match (n("bytes_done"), n("bytes_total")) {
            (Some(done), Some(total)) if total > 0 => {
                Some((done.saturating_mul(100) / total).min(100) as u32)
            }
            _ => None,
        })
    }

    async fn probe(&self, path: &str) -> bool {
        self.http
            .get(format!("{}{path}", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    pub async fn blame(
        &self,
        path: &str,
        root: Option<&str>,
        content: &str,
        ignore_whitespace: bool,
    ) -> Result<BlameResponse> {
        let what = "/files/blame";
        let req = self
            .http
            .post(format!("{}/api/v1{what}", self.url))
            .json(&BlameRequest {
                path: path.to_owned(),
                root: root.map(str::to_owned),
                content: content.to_owned(),
                ignore_whitespace,
            });
        let resp = self.send(what, req).await?;
        resp.json().await.map_err(|source| PlatformError::Decode {
            what: what.to_owned(),
            source,
        })
    }

    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        self.get_json(&format!("/conversations/{id}"), &[]).await
    }

    /// The files conversation `id` touched, most recently first.
    pub async fn conversation_files(&self, id: &str) -> Result<Vec<ConversationFile>> {
        self.get_json(&format!("/conversations/{id}/files"), &[])
            .await
    }

    /// A page of conversation `id`'s messages (`limit`, `cursor`).
    pub async fn messages(&self, id: &str, query: &[(&str, &str)]) -> Result<MessagePage> {
        self.get_json(&format!("/conversations/{id}/messages"), query)
            .await
    }

    pub async fn markdown(&self, id: &str) -> Result<String> {
        let what = format!("/conversations/{id}/markdown");
        let req = self.http.get(format!("{}/api/v1{what}", self.url));
        let resp = self.send(&what, req).await?;
        resp.text()
            .await
            .map_err(|source| PlatformError::Decode { what, source })
    }

    pub async fn touches(&self, path: &str) -> Result<Vec<Touch>> {
        self.get_json("/files/touches", &[("path", path)]).await
    }

    pub async fn search(&self, query: &[(&str, &str)]) -> Result<SearchPage> {
        self.get_json("/search", query).await
    }

    pub async fn conversations(&self, query: &[(&str, &str)]) -> Result<ConversationPage> {
        self.get_json("/conversations", query).await
    }

    pub async fn file_insights(&self, path: &str) -> Result<FileInsights> {
        self.get_json("/files/insights", &[("path", path)]).await
    }

    /// The files agents changed most in `project`.
    /// The files agents changed most, in `project` or (`None`) anywhere.
    pub async fn most_edited(&self, project: Option<&str>, limit: u32) -> Result<Vec<EditedFile>> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(p) = project {
            query.push(("project", p));
        }
        self.get_json("/analytics/files", &query).await
    }

    /// Which conversations changed a symbol of that name, anywhere.
    pub async fn symbol_changes(&self, query: &[(&str, &str)]) -> Result<Vec<SymbolChangeRow>> {
        self.get_json("/symbols", query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A platform that sheds the first request (503, `Retry-After: 1`) and answers
    /// the next: the client asks again and gets the answer.
    #[tokio::test]
    async fn a_busy_platform_is_asked_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = tokio::spawn(async move {
            let mut hits = 0;
            let page = r#"{"hits":[],"next_offset":null,"ranked_newest":null}"#;
            let answers = [
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/problem+json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_owned(),
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len()),
            ];
            for answer in answers {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(answer.as_bytes()).await.unwrap();
                hits += 1;
            }
            hits
        });
        let p = Platform::new(&format!("http://127.0.0.1:{port}"), "t").unwrap();
        let page = p
            .search(&[("q", "greet")])
            .await
            .expect("answered the second time");
        assert!(page.hits.is_empty());
        assert_eq!(served.await.unwrap(), 2);
    }
}
