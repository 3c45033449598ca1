//! Observatory's wire contract: every type that crosses the REST API (requests, query
//! parameters, responses, errors), the event stream, the language server's
//! extensions (`lsp`) and the files that say where the platform runs (`discovery`),
//! once. No I/O.
//!
//! With the `openapi` feature the types carry their OpenAPI schemas: doc comments
//! become descriptions, `#[schema(example = …)]` the examples, `#[param(…)]` the
//! parameters' bounds. The platform builds its document from them, so a change here
//! is a change of the API.
//!
//! The TypeScript bindings in `editors/protocol/observatory.ts` are generated from
//! these types (`UPDATE_TS=1 cargo test -p observatory-protocol`); a test fails while
//! the committed file differs from what the types generate (src/typescript.rs).

pub mod analytics;
pub mod changes;
pub mod conversations;
pub mod discovery;
pub mod events;
pub mod files;
pub mod ingest;
pub mod keys;
pub mod lsp;
pub mod problem;
pub mod search;
pub mod usage;
pub mod webhooks;

#[cfg(test)]
mod typescript;
