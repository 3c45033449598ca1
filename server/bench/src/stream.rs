//! Append-to-client latency through the platform's realtime stream: `observatory
//! serve` runs on loopback, a WebSocket client subscribes, lines are appended to a
//! transcript, and the time until their event arrives is measured.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;

use crate::common::append;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Latencies of `n` appends, each measured from the write to the event's arrival.
pub fn latencies(
    observatory: &Path,
    data_dir: &Path,
    corpus: &Path,
    n: u64,
) -> Result<Vec<Duration>> {
    let port = free_port()?;
    let _server = Server(
        Command::new(observatory)
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--claude-dir",
            ])
            .arg(corpus)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting observatory serve")?,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Ready once the initial scan (nothing new here) is done.
        let started = Instant::now();
        loop {
            let ok = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
                && std::fs::read_to_string(data_dir.join("token")).is_ok();
            if ok {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("observatory serve did not start");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let token = std::fs::read_to_string(data_dir.join("token"))?;
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let sid = format!("00000000-5eaa-4000-8000-{:012x}", run_id & 0xffff_ffff_ffff);
        let session = corpus
            .join("projects/-bench-stream")
            .join(format!("{sid}.jsonl"));
        std::fs::create_dir_all(session.parent().context("parent")?)?;
        let mut req =
            format!("ws://127.0.0.1:{port}/api/v1/stream?kind=messages.appended&session_id={sid}")
                .into_client_request()?;
        req.headers_mut()
            .insert("authorization", format!("Bearer {}", token.trim()).parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(req)
            .await
            .context("connecting to the stream")?;
        let mut out = Vec::new();
        for i in 0..n {
            let (lines, _) =
                observatory_corpus::continuation_lines(&sid, "/bench", None, run_id ^ i);
            let t = Instant::now();
            append(&session, &lines)?;
            loop {
                let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
                    .await
                    .context("no event within 10 s")?
                    .context("stream closed")??;
                if let Message::Text(_) = msg {
                    out.push(t.elapsed());
                    break;
                }
            }
            // Let the watcher go idle, as between an agent's real writes.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = std::fs::remove_file(&session);
        let _ = std::fs::remove_dir(session.parent().context("parent")?);
        Ok(out)
    })
}
