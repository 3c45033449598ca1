//! Bytes → `LineReader`, `parse_line`, file changes, Markdown (see
//! `observatory_fuzzing::transcript`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| observatory_fuzzing::transcript::fuzz_transcript(data));
