//! A front for a platform on loopback that says its first indexing pass is still
//! running (`/readyz` answers 503) until told otherwise, and forwards every other
//! connection byte for byte (REST and the WebSocket stream alike).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct IndexingProxy {
    pub port: u16,
    ready: Arc<AtomicBool>,
}

impl IndexingProxy {
    pub fn start(upstream: SocketAddr) -> IndexingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let ready = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ready);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let ready = flag.load(Ordering::Relaxed);
                std::thread::spawn(move || serve(client, upstream, ready));
            }
        });
        IndexingProxy { port, ready }
    }

    /// From now on `/readyz` is forwarded too: the first pass is over.
    pub fn finish_indexing(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }
}

fn serve(client: TcpStream, upstream: SocketAddr, ready: bool) {
    let mut reader = BufReader::new(client.try_clone().expect("clone"));
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    if !ready && first.split_whitespace().nth(1) == Some("/readyz") {
        let mut client = client;
        // As the platform answers while its first pass runs: a quarter read.
        let body = r#"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"indexing","files_done":3,"files_total":12,"bytes_done":250,"bytes_total":1000}"#;
        let _ = client.write_all(
            format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        return;
    }
    // The request's head, with `connection: close` so that the client opens a new
    // connection (seen here) for its next request; an upgrade (the WebSocket stream)
    // is left as it is.
    let mut head = first.clone();
    let mut upgrade = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line.trim().is_empty() {
            break;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        upgrade |= name == "upgrade";
        if name != "connection" || line.to_ascii_lowercase().contains("upgrade") {
            head.push_str(&line);
        }
    }
    if !upgrade {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    // What the reader already buffered past the head (a body) goes next.
    let buffered = reader.buffer().to_vec();
    if server.write_all(head.as_bytes()).is_err() || server.write_all(&buffered).is_err() {
        return;
    }
    let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Write);
    });
    let mut from_client = client;
    let mut rest = [0u8; 16 * 1024];
    loop {
        match from_client.read(&mut rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if server.write_all(&rest[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = server.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
}
