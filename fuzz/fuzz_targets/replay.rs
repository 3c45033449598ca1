//! Bytes → a file's recorded history → attribution replay and `map_onto` (see
//! `observatory_fuzzing::replay`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| observatory_fuzzing::replay::fuzz_replay(data));
