//! `observatory lsp`: a language server that shows, in any editor, which agent
//! conversation wrote each line, and lets the user search and read conversations.
//!
//! It runs beside the file's own language server, so it claims nothing that would
//! collide with one (no completion, formatting, rename or definitions) and shows
//! everything through standard LSP features: code lens, hover, inlay hints, code
//! actions, `workspace/symbol` and `window/showDocument`. Custom requests for
//! Observatory's editor extensions are documented in `docs/lsp.md`.

mod commands;
pub mod connect;
pub mod document;
mod framing;
mod health;
pub mod platform;
mod requests;
pub mod server;
pub mod settings;
mod state;
pub mod stream;
mod throttle;
pub mod view;

use std::path::PathBuf;

use observatory_protocol::lsp::{self, Notification, Request};
use tower_lsp_server::{LspService, Server};

pub use connect::{InProcess, Local};

/// Serves LSP on stdin/stdout until the client exits.
pub async fn run_stdio(local: Local, cache_dir: PathBuf) {
    let (service, socket) =
        LspService::build(|client| server::Backend::new(client, local, cache_dir))
            .custom_method(lsp::Search::METHOD, server::Backend::search)
            .custom_method(lsp::Conversations::METHOD, server::Backend::conversations)
            .custom_method(
                lsp::ConversationRequest::METHOD,
                server::Backend::conversation,
            )
            .custom_method(
                lsp::FileInsightsRequest::METHOD,
                server::Backend::file_insights,
            )
            .custom_method(lsp::Blame::METHOD, server::Backend::blame)
            .custom_method(lsp::SymbolChanges::METHOD, server::Backend::symbol_changes)
            .custom_method(lsp::Status::METHOD, server::Backend::status)
            .custom_method(
                lsp::DidChangeCursor::METHOD,
                server::Backend::did_change_cursor,
            )
            .finish();
    Server::new(
        framing::guard(tokio::io::stdin()),
        tokio::io::stdout(),
        socket,
    )
    .serve(service)
    .await;
}

/// [`run_stdio`] on a runtime of its own.
pub fn run_stdio_blocking(local: Local, cache_dir: PathBuf) -> std::io::Result<()> {
    keep_freed_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_stdio(local, cache_dir));
    // The stdin reader sits in a blocking read that never returns: do not wait for it
    // (or for the reconnect loop) once the client has said `exit`.
    runtime.shutdown_background();
    Ok(())
}

/// Answers come in bursts of allocations (a file's lenses, a blame response):
/// glibc's default returns the freed top of the heap to the system after each and
/// page-faults it back on the next, which tripled code-lens latency in the
/// benchmark. Keeping up to 16 MB around avoids that at a bounded cost in memory.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only adjusts allocator tunables; it is called before the
    // runtime starts any thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
        libc::mallopt(libc::M_TOP_PAD, 4 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
