//! Ordered JSON for transcript records. Real transcripts have a fixed key order
//! per record type, and serde_json's `Map` sorts keys (unless the workspace-wide
//! `preserve_order` feature is on), so records are built as [`J`] values whose
//! objects keep insertion order and serialize straight into the line buffer.

use crate::patch::Hunk;
use serde::{Serialize, Serializer};

pub type Fields<'a> = Vec<(&'a str, J<'a>)>;

pub enum J<'a> {
    Null,
    Bool(bool),
    Num(u64),
    Str(&'a str),
    String(String),
    Arr(Vec<J<'a>>),
    Obj(Fields<'a>),
    Ref(&'a J<'a>),
}

/// `fields!{"key": value, ...}`: object entries in the order written.
macro_rules! fields {
    ($($k:literal : $v:expr),* $(,)?) => { vec![$(($k, $crate::json::J::from($v))),*] };
}
/// `obj!{"key": value, ...}`: a JSON object with keys in the order written.
macro_rules! obj {
    ($($t:tt)*) => { $crate::json::J::Obj($crate::json::fields!($($t)*)) };
}
pub(crate) use {fields, obj};

impl Serialize for J<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_unit(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Num(n) => s.serialize_u64(*n),
            J::Str(v) => s.serialize_str(v),
            J::String(v) => s.serialize_str(v),
            J::Arr(v) => s.collect_seq(v),
            J::Obj(v) => s.collect_map(v.iter().map(|(k, v)| (k, v))),
            J::Ref(v) => v.serialize(s),
        }
    }
}

impl<'a> From<&'a str> for J<'a> {
    fn from(v: &'a str) -> Self {
        J::Str(v)
    }
}
impl<'a> From<&'a String> for J<'a> {
    fn from(v: &'a String) -> Self {
        J::Str(v)
    }
}
impl From<String> for J<'_> {
    fn from(v: String) -> Self {
        J::String(v)
    }
}
impl From<bool> for J<'_> {
    fn from(v: bool) -> Self {
        J::Bool(v)
    }
}
impl From<u64> for J<'_> {
    fn from(v: u64) -> Self {
        J::Num(v)
    }
}
impl From<usize> for J<'_> {
    fn from(v: usize) -> Self {
        J::Num(v as u64)
    }
}
impl<'a> From<&'a J<'a>> for J<'a> {
    fn from(v: &'a J<'a>) -> Self {
        J::Ref(v)
    }
}
impl<'a, T: Into<J<'a>>> From<Option<T>> for J<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(J::Null, Into::into)
    }
}
impl<'a, T: Into<J<'a>>> From<Vec<T>> for J<'a> {
    fn from(v: Vec<T>) -> Self {
        J::Arr(v.into_iter().map(Into::into).collect())
    }
}
impl From<Hunk> for J<'_> {
    fn from(h: Hunk) -> Self {
        let (os, ol, ns, nl) = (h.old_start, h.old_lines, h.new_start, h.new_lines);
        obj! {"oldStart": os, "oldLines": ol, "newStart": ns, "newLines": nl, "lines": h.lines}
    }
}
