//! A guard in front of the LSP transport. tower-lsp-server's reader ends the whole
//! session on the first message it cannot decode (the framed stream stops after an
//! error), so one malformed message from a client would kill the server. Messages
//! are read here first; those whose body is not JSON, or whose headers are
//! unreadable, are logged and dropped, and the rest pass through unchanged.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

/// Messages larger than this are refused (a runaway client must not exhaust memory).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Returns a reader yielding only well-formed messages from `input`.
pub fn guard(input: impl AsyncRead + Unpin + Send + 'static) -> impl AsyncRead + Unpin + Send {
    let (mut tx, rx) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let mut r = BufReader::new(input);
        loop {
            match next_message(&mut r).await {
                Ok(Some(body)) => {
                    let header = format!("Content-Length: {}\r\n\r\n", body.len());
                    if tx.write_all(header.as_bytes()).await.is_err()
                        || tx.write_all(&body).await.is_err()
                    {
                        return;
                    }
                }
                Ok(None) => continue,
                Err(Closed) => return,
            }
        }
    });
    rx
}

/// The input ended.
struct Closed;

/// The next message body; `Ok(None)` for a message that was dropped.
async fn next_message(r: &mut (impl AsyncBufReadExt + Unpin)) -> Result<Option<Vec<u8>>, Closed> {
    let mut len: Option<usize> = None;
    let mut bad_header = false;
    loop {
        let mut line = String::new();
        match r.read_line(&mut line).await {
            Ok(0) | Err(_) => return Err(Closed),
            Ok(_) => {}
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if len.is_some() || bad_header {
                break;
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(n) => len = Some(n),
                    Err(_) => bad_header = true,
                }
            }
            Some(_) => {}
            None => bad_header = true,
        }
    }
    let Some(len) = len.filter(|_| !bad_header) else {
        tracing::error!("dropped a message with an unreadable header");
        return Ok(None);
    };
    if len > MAX_MESSAGE {
        tracing::error!(bytes = len, "dropped a message larger than 64 MB");
        let mut rest = r.take(len as u64);
        let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
        return Ok(None);
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).await.is_err() {
        return Err(Closed);
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        Ok(_) => Ok(Some(body)),
        Err(e) => {
            tracing::error!(error = %e, "dropped a message that is not JSON");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_messages_and_drops_garbage() {
        let input = b"Content-Length: 2\r\n\r\n{}Content-Length: 9\r\n\r\n{not jsonContent-Length: x\r\n\r\nContent-Length: 7\r\n\r\n{\"a\":1}".to_vec();
        let mut out = String::new();
        guard(std::io::Cursor::new(input))
            .read_to_string(&mut out)
            .await
            .unwrap();
        assert_eq!(
            out,
            "Content-Length: 2\r\n\r\n{}Content-Length: 7\r\n\r\n{\"a\":1}"
        );
    }
}
