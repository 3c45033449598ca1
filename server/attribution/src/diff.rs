//! Line diffs over normalised lines.

use rustc_hash::FxHashMap;
use similar::{capture_diff_slices, Algorithm, DiffOp};

/// A line as compared: whitespace runs collapsed to one space, ends trimmed, so
/// re-indentation and re-spacing are not changes.
pub fn normalize(line: &str) -> String {
    // Most lines need only their indentation dropped: copy them in one go and take
    // the slow path only for lines with inner runs of whitespace or tabs.
    let trimmed = line.trim();
    if is_plain(trimmed) {
        return trimmed.to_owned();
    }
    let mut out = String::with_capacity(trimmed.len());
    for word in trimmed.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether `trimmed` (a line without whitespace at either end) is its own
/// [`normalize`]d form: no runs of whitespace, no tabs, ASCII.
pub(crate) fn is_plain(trimmed: &str) -> bool {
    let b = trimmed.as_bytes();
    !b.windows(2)
        .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
        && !b.iter().any(|&c| c != b' ' && c.is_ascii_whitespace())
        && trimmed.is_ascii()
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

pub(crate) fn ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op> {
    // Most diffs here are between two versions of one file that differ in a few
    // places: trim the common ends first so the diff algorithm sees only the middle.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    // The diff hashes and compares lines many times over; numbering the distinct lines
    // once makes each of those a hash and a compare of one integer.
    let mut ids: FxHashMap<&'a str, u32> = FxHashMap::default();
    let mut number = |s: &[&'a str]| -> Vec<u32> {
        s.iter()
            .map(|l| {
                let next = ids.len() as u32;
                *ids.entry(*l).or_insert(next)
            })
            .collect()
    };
    let (a_ids, b_ids) = (number(a_mid), number(b_mid));
    let mut out = Vec::new();
    if prefix > 0 {
        out.push(Op::Equal {
            old: 0,
            new: 0,
            len: prefix,
        });
    }
    // Patience anchors on unique lines, which keeps code blocks together where Myers
    // would match stray braces and blank lines across them.
    for op in capture_diff_slices(Algorithm::Patience, &a_ids, &b_ids) {
        out.push(match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => Op::Equal {
                old: prefix + old_index,
                new: prefix + new_index,
                len,
            },
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => Op::Replace {
                old: prefix + old_index,
                old_len,
                new: prefix + new_index,
                new_len: 0,
            },
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => Op::Replace {
                old: prefix + old_index,
                old_len: 0,
                new: prefix + new_index,
                new_len,
            },
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => Op::Replace {
                old: prefix + old_index,
                old_len,
                new: prefix + new_index,
                new_len,
            },
        });
    }
    if suffix > 0 {
        out.push(Op::Equal {
            old: a.len() - suffix,
            new: b.len() - suffix,
            len: suffix,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_collapses_whitespace() {
        assert_eq!(normalize("    let x = 1;  "), "let x = 1;");
        assert_eq!(normalize("a  b\tc"), "a b c");
        assert_eq!(normalize("\tcafé  au lait"), "café au lait");
        assert_eq!(normalize("   "), "");
    }

    #[test]
    fn common_ends_are_trimmed_and_offsets_kept() {
        let a = ["p", "q", "x", "y", "s"];
        let b = ["p", "q", "z", "y", "s"];
        assert_eq!(
            ops(&a, &b),
            vec![
                Op::Equal {
                    old: 0,
                    new: 0,
                    len: 2
                },
                Op::Replace {
                    old: 2,
                    old_len: 1,
                    new: 2,
                    new_len: 1
                },
                Op::Equal {
                    old: 3,
                    new: 3,
                    len: 2
                },
            ]
        );
        assert_eq!(
            ops(&a, &a),
            vec![Op::Equal {
                old: 0,
                new: 0,
                len: 5
            }]
        );
        assert_eq!(
            ops(&[], &["n"]),
            vec![Op::Replace {
                old: 0,
                old_len: 0,
                new: 0,
                new_len: 1
            }]
        );
    }
}
