//! Fuzz harnesses: the code the `fuzz/` targets run, and that `tests/corpus.rs` runs
//! over the kept corpus in a plain `cargo test`, so the two cannot drift apart.
//!
//! Each harness takes any bytes and must not panic. Beyond that they assert only
//! invariants whose failure would be a bug in the library (an offset that does not
//! point at the line it names, an origin outside the history), never a judgement on
//! the answer.

// A harness asserts: a broken invariant must panic, so the fuzzer reports it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod replay;
pub mod transcript;
