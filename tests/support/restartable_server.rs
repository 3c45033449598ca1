//! An axum app served on loopback that can go away and come back on the same port:
//! a webhook receiver that is down for a while. Shared by `tests/webhooks.rs` and the
//! webhook benchmark (`server/bench/src/bin/webhooks.rs`), which include it by path.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct RestartableServer {
    /// Where it listens (the port stays the same across `down` and `up`).
    pub addr: SocketAddr,
    app: axum::Router,
    rt: tokio::runtime::Runtime,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl RestartableServer {
    /// Serves `app` on a free loopback port, on a runtime of its own.
    pub fn start(app: axum::Router) -> std::io::Result<Self> {
        let mut s = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            app,
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?,
            stop: None,
        };
        s.up()?;
        Ok(s)
    }

    /// Listens again, on the same port once it had one (retrying for 10 s while the
    /// old socket lingers).
    pub fn up(&mut self) -> std::io::Result<()> {
        let addr = self.addr;
        let listener = self.rt.block_on(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => return Ok(l),
                    Err(e) if Instant::now() > deadline => return Err(e),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })?;
        self.addr = listener.local_addr()?;
        let app = self.app.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = self.rt.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        self.stop = Some((tx, task));
        Ok(())
    }

    /// Stops listening and closes its connections: requests are refused until `up`.
    pub fn down(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
        }
    }
}
