//! Line diffs over normalised lines.

use similar::{capture_diff_slices, Algorithm, DiffOp};

/// A line as compared: whitespace runs collapsed to one space, ends trimmed, so
/// re-indentation and re-spacing are not changes.
pub fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Equal {
        old: usize,
        new: usize,
        len: usize,
    },
    Replace {
        old: usize,
        old_len: usize,
        new: usize,
        new_len: usize,
    },
}

pub(crate) fn ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    // Patience anchors on unique lines, which keeps code blocks together where Myers
    // would match stray braces and blank lines across them.
    capture_diff_slices(Algorithm::Patience, a, b)
        .into_iter()
        .map(|op| match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => Op::Equal {
                old: old_index,
                new: new_index,
                len,
            },
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => Op::Replace {
                old: old_index,
                old_len,
                new: new_index,
                new_len: 0,
            },
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => Op::Replace {
                old: old_index,
                old_len: 0,
                new: new_index,
                new_len,
            },
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => Op::Replace {
                old: old_index,
                old_len,
                new: new_index,
                new_len,
            },
        })
        .collect()
}
