//! A platform stand-in on a real loopback socket, for what the real one cannot be
//! made to do on demand (answer 429 with a long `Retry-After`) and to see exactly
//! what a client sends it: every request's path and `Authorization` header.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
}

/// An answer: status, extra headers, JSON body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

pub struct HttpStub {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HttpStub {
    /// Answers `/healthz` with 200 and everything else with `answer(path)`, one
    /// request per connection.
    pub fn start(answer: impl Fn(&str) -> Answer + Send + 'static) -> HttpStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let mut authorization = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") {
                            authorization = Some(value.trim().to_owned());
                        }
                    }
                }
                log.lock().expect("log").push(Seen {
                    path: path.clone(),
                    authorization,
                });
                let (status, headers, body) = if path == "/healthz" {
                    (200, Vec::new(), "ok".to_owned())
                } else {
                    answer(&path)
                };
                let mut head = format!(
                    "HTTP/1.1 {status} Stub\r\nContent-Length: {}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                // One write: a WebSocket client reads the body of a refused upgrade
                // only as far as it arrived with the head.
                head.push_str(&body);
                let _ = stream.write_all(head.as_bytes());
            }
        });
        HttpStub { port, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }

    /// Requests to `path` (query string ignored).
    pub fn hits(&self, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path.split('?').next() == Some(path))
            .count()
    }
}
