//! Rust, Python and TypeScript source from templates: whole files, the functions and
//! statements an agent writes, and the small changes a person makes by hand.
//!
//! Templates use `@` placeholders (`@x` a local, `@f` a field, `@m` a function, `@N`
//! a type, `@i` a number, ...) so identifiers vary from line to line the way real code
//! does, while the shapes (`}`, `return x`, blank lines) repeat the way they do too.

use rand::rngs::StdRng;
use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Ts,
}

impl Lang {
    pub fn ext(self) -> &'static str {
        match self {
            Lang::Rust => "rs",
            Lang::Python => "py",
            Lang::Ts => "ts",
        }
    }

    pub fn indent(self) -> &'static str {
        match self {
            Lang::Rust | Lang::Python => "    ",
            Lang::Ts => "  ",
        }
    }

    pub fn comment(self) -> &'static str {
        match self {
            Lang::Python => "#",
            Lang::Rust | Lang::Ts => "//",
        }
    }

    fn snake(self) -> bool {
        self != Lang::Ts
    }
}

pub fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

const NOUNS: &[&str] = &[
    "user", "session", "token", "account", "invoice", "order", "payment", "cache", "request",
    "response", "config", "record", "event", "queue", "batch", "index", "query", "schema",
    "tenant", "profile", "report", "job", "worker", "metric", "span", "handler", "route", "client",
    "store", "shard", "retry", "webhook", "cursor", "page", "limit", "header", "ledger", "bucket",
    "lease", "snapshot", "manifest", "channel", "window", "budget", "policy", "quota",
];
const VERBS: &[&str] = &[
    "load",
    "fetch",
    "parse",
    "validate",
    "build",
    "resolve",
    "refresh",
    "update",
    "create",
    "delete",
    "merge",
    "encode",
    "decode",
    "flush",
    "compute",
    "normalize",
    "render",
    "sync",
    "schedule",
    "apply",
    "collect",
    "prune",
    "verify",
    "restore",
];
const ADJS: &[&str] = &[
    "pending", "active", "cached", "stale", "raw", "next", "last", "default", "max", "expired",
    "empty", "partial", "primary", "local", "remote", "dirty", "total", "current", "new", "old",
];
const PEOPLE: &[&str] = &["sam", "lee", "ana", "kim", "jo", "max"];

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn ident(lang: Lang, a: &str, b: &str) -> String {
    if lang.snake() {
        format!("{a}_{b}")
    } else {
        format!("{a}{}", cap(b))
    }
}

/// Expands the `@` placeholders of one template line.
pub fn fill(rng: &mut StdRng, lang: Lang, tpl: &str) -> String {
    let mut out = String::with_capacity(tpl.len() + 16);
    let mut chars = tpl.chars();
    while let Some(c) = chars.next() {
        if c != '@' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else { break };
        match k {
            'x' | 'y' => {
                let (a, n) = (pick(rng, ADJS), pick(rng, NOUNS));
                out.push_str(&ident(lang, a, n));
            }
            'f' => out.push_str(&ident(
                lang,
                pick(rng, NOUNS),
                pick(rng, &["id", "count", "map", "name", "limit", "at"]),
            )),
            'm' => {
                let (v, n) = (pick(rng, VERBS), pick(rng, NOUNS));
                out.push_str(&ident(lang, v, n));
            }
            'n' => out.push_str(pick(rng, NOUNS)),
            'v' => out.push_str(pick(rng, VERBS)),
            'a' => out.push_str(pick(rng, ADJS)),
            'N' => {
                out.push_str(&cap(pick(rng, NOUNS)));
                out.push_str(pick(
                    rng,
                    &["", "", "Info", "State", "Entry", "Error", "Key"],
                ));
            }
            'U' => out.push_str(&pick(rng, NOUNS).to_ascii_uppercase()),
            'i' => out.push_str(
                &pick(rng, &[2, 3, 8, 10, 16, 30, 64, 100, 128, 500, 1000, 4096]).to_string(),
            ),
            'p' => out.push_str(pick(rng, PEOPLE)),
            'T' => out.push_str(match lang {
                Lang::Rust => pick(
                    rng,
                    &[
                        "String",
                        "u64",
                        "usize",
                        "Vec<String>",
                        "Option<u32>",
                        "bool",
                    ],
                ),
                Lang::Python => pick(rng, &["str", "int", "list[str]", "dict[str, int]", "bool"]),
                Lang::Ts => pick(rng, &["string", "number", "string[]", "boolean", "Date"]),
            }),
            other => out.push(other),
        }
    }
    out
}

fn line(rng: &mut StdRng, lang: Lang, indent: &str, tpl: &str) -> String {
    format!("{indent}{}", fill(rng, lang, tpl))
}

fn simple_stmts(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Rust => &[
            "let @x = @m(&@y)?;",
            "let mut @x = Vec::with_capacity(@i);",
            "let @x = self.@f.get(&@y).copied().unwrap_or_default();",
            "@x.push(@y.clone());",
            "self.@f = @x.len();",
            "tracing::debug!(@f = %@x, \"@v @n\");",
            "let @x = @y.iter().filter(|e| e.@f > @i).count();",
            "total += @x.@f as u64;",
            "let @x = @N::new(@y, @i);",
            "@x.insert(@y.@f.clone(), @y);",
            "let @x = @y.@m().await?;",
            "self.@f.retain(|_, v| v.@f < @i);",
        ],
        Lang::Python => &[
            "@x = self.@f.get(@y)",
            "@x = @m(@y, timeout=@i)",
            "logger.info(\"@v %s\", @x)",
            "@x.append(@y)",
            "self.@f = len(@x)",
            "@x = [e for e in @y if e.@f > @i]",
            "total += @x.@f",
            "@x = @N(@y, limit=@i)",
            "@x[@y.@f] = @y",
            "@x = await self.@m(@y)",
            "@x = {k: v for k, v in @y.items() if v}",
        ],
        Lang::Ts => &[
            "const @x = await @m(@y);",
            "let @x = this.@f.get(@y) ?? @i;",
            "logger.info(\"@v @n\", { @x });",
            "@x.push(@y);",
            "this.@f = @x.length;",
            "const @x = @y.filter((e) => e.@f > @i).length;",
            "total += @x.@f;",
            "const @x = new @N(@y, @i);",
            "@x.set(@y.@f, @y);",
            "const @x = await this.@m(@y);",
        ],
    }
}

/// One statement: a line, or a small `if` / `for` block.
pub fn statement(rng: &mut StdRng, lang: Lang, indent: &str, depth: usize) -> Vec<String> {
    let inner = format!("{indent}{}", lang.indent());
    let roll = rng.random_range(0..10);
    if depth > 1 || roll < 7 {
        let tpl = pick(rng, simple_stmts(lang));
        return vec![line(rng, lang, indent, tpl)];
    }
    let (head, tail) = match (lang, roll) {
        (Lang::Rust, 7) => ("if @x.is_empty() {", Some("}")),
        (Lang::Rust, 8) => ("for @x in &@y {", Some("}")),
        (Lang::Rust, _) => ("if let Some(@x) = self.@f.get(&@y) {", Some("}")),
        (Lang::Python, 7) => ("if @x is None:", None),
        (Lang::Python, 8) => ("for @x in @y:", None),
        (Lang::Python, _) => ("if @x.@f > @i:", None),
        (Lang::Ts, 7) => ("if (!@x) {", Some("}")),
        (Lang::Ts, 8) => ("for (const @x of @y) {", Some("}")),
        (Lang::Ts, _) => ("if (@x.@f > @i) {", Some("}")),
    };
    let mut out = vec![line(rng, lang, indent, head)];
    for _ in 0..rng.random_range(1..4) {
        out.extend(statement(rng, lang, &inner, depth + 1));
    }
    if rng.random_bool(0.3) {
        let early = match lang {
            Lang::Rust => "return Err(Error::@N);",
            Lang::Python => "raise ValueError(\"@a @n\")",
            Lang::Ts => "return undefined;",
        };
        out.push(line(rng, lang, &inner, early));
    }
    if let Some(t) = tail {
        out.push(format!("{indent}{t}"));
    }
    out
}

/// A function or method at `indent`, with its doc line.
pub fn function(rng: &mut StdRng, lang: Lang, indent: &str) -> Vec<String> {
    let body = format!("{indent}{}", lang.indent());
    let method = !indent.is_empty();
    let (doc, head, ret, close) = match lang {
        Lang::Rust => (
            "/// @v the @a @n.",
            if method {
                "pub fn @m(&mut self, @y: &@N) -> Result<@T, Error> {"
            } else {
                "pub fn @m(@y: &@N, @x: @T) -> Result<@T, Error> {"
            },
            "Ok(@x)",
            Some("}"),
        ),
        Lang::Python => (
            "",
            if method {
                "def @m(self, @y, @x=None):"
            } else {
                "def @m(@y, @x=@i):"
            },
            "return @x",
            None,
        ),
        Lang::Ts => (
            "/** @v the @a @n. */",
            if method {
                "async @m(@y: @N): Promise<@T> {"
            } else {
                "export function @m(@y: @N, @x: @T): @T {"
            },
            "return @x;",
            Some("}"),
        ),
    };
    let mut out = Vec::new();
    if !doc.is_empty() && rng.random_bool(0.6) {
        out.push(line(rng, lang, indent, doc));
    }
    out.push(line(rng, lang, indent, head));
    if lang == Lang::Python && rng.random_bool(0.5) {
        out.push(line(rng, lang, &body, "\"\"\"@v the @a @n.\"\"\""));
    }
    for _ in 0..rng.random_range(2..9) {
        out.extend(statement(rng, lang, &body, 0));
    }
    out.push(line(rng, lang, &body, ret));
    if let Some(c) = close {
        out.push(format!("{indent}{c}"));
    }
    out
}

fn header(rng: &mut StdRng, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    match lang {
        Lang::Rust => {
            out.push(line(rng, lang, "", "//! @v and @v @a @n records."));
            out.push(String::new());
            out.push("use std::collections::HashMap;".into());
            for _ in 0..rng.random_range(1..4) {
                out.push(line(rng, lang, "", "use crate::@n::{@N, @N};"));
            }
            out.push(String::new());
            out.push(line(rng, lang, "", "const MAX_@U: usize = @i;"));
        }
        Lang::Python => {
            out.push(line(rng, lang, "", "\"\"\"@v and @v @a @n records.\"\"\""));
            out.push(String::new());
            out.push("import logging".into());
            out.push("from typing import Optional".into());
            out.push(String::new());
            for _ in 0..rng.random_range(1..4) {
                out.push(line(rng, lang, "", "from .@n import @N"));
            }
            out.push(String::new());
            out.push("logger = logging.getLogger(__name__)".into());
            out.push(line(rng, lang, "", "MAX_@U = @i"));
        }
        Lang::Ts => {
            for _ in 0..rng.random_range(1..4) {
                out.push(line(rng, lang, "", "import { @N } from \"./@n\";"));
            }
            out.push("import { logger } from \"../logger\";".into());
            out.push(String::new());
            out.push(line(rng, lang, "", "const MAX_@U = @i;"));
        }
    }
    out
}

fn type_block(rng: &mut StdRng, lang: Lang, methods: usize) -> Vec<String> {
    let ind = lang.indent();
    let mut out = Vec::new();
    match lang {
        Lang::Rust => {
            out.push("#[derive(Debug, Clone, Default)]".into());
            let name = fill(rng, lang, "@N");
            out.push(format!("pub struct {name} {{"));
            for _ in 0..rng.random_range(2..6) {
                out.push(line(rng, lang, ind, "pub @f: @T,"));
            }
            out.push("}".into());
            if methods > 0 {
                out.push(String::new());
                out.push(format!("impl {name} {{"));
                for k in 0..methods {
                    if k > 0 {
                        out.push(String::new());
                    }
                    out.extend(function(rng, lang, ind));
                }
                out.push("}".into());
            }
        }
        Lang::Python => {
            out.push(line(rng, lang, "", "class @N:"));
            out.push(line(rng, lang, ind, "\"\"\"@a @n state.\"\"\""));
            out.push(String::new());
            out.push(format!(
                "{ind}def __init__(self, client, limit={}):",
                rng.random_range(1..100)
            ));
            for _ in 0..rng.random_range(2..5) {
                out.push(line(rng, lang, &format!("{ind}{ind}"), "self.@f = @y"));
            }
            for _ in 0..methods {
                out.push(String::new());
                out.extend(function(rng, lang, ind));
            }
        }
        Lang::Ts => {
            let name = fill(rng, lang, "@N");
            out.push(format!("export class {name}Service {{"));
            for _ in 0..rng.random_range(1..4) {
                out.push(line(rng, lang, ind, "private @f = new Map<string, @N>();"));
            }
            for _ in 0..methods {
                out.push(String::new());
                out.extend(function(rng, lang, ind));
            }
            out.push("}".into());
        }
    }
    out
}

fn tests_block(rng: &mut StdRng, lang: Lang) -> Vec<String> {
    let ind = lang.indent();
    let mut out = Vec::new();
    match lang {
        Lang::Rust => {
            out.push("#[cfg(test)]".into());
            out.push("mod tests {".into());
            out.push(format!("{ind}use super::*;"));
            for _ in 0..rng.random_range(1..4) {
                out.push(String::new());
                out.push(format!("{ind}#[test]"));
                out.push(line(rng, lang, ind, "fn @m_@a() {"));
                let body = format!("{ind}{ind}");
                for _ in 0..rng.random_range(1..4) {
                    out.extend(statement(rng, lang, &body, 1));
                }
                out.push(line(rng, lang, &body, "assert_eq!(@x.@f, @i);"));
                out.push(format!("{ind}}}"));
            }
            out.push("}".into());
        }
        Lang::Python | Lang::Ts => {
            out.extend(function(rng, lang, ""));
        }
    }
    out
}

/// A whole source file of about `target` lines (newline-terminated lines, no `\n`).
pub fn source_file(rng: &mut StdRng, lang: Lang, target: usize) -> Vec<String> {
    let gap = if lang == Lang::Python { 2 } else { 1 };
    let mut out = header(rng, lang);
    let mut typed = false;
    while out.len() + 8 < target {
        out.extend(std::iter::repeat_n(String::new(), gap));
        if !typed || rng.random_bool(0.15) {
            let methods = rng.random_range(1..4).min((target - out.len()) / 10);
            out.extend(type_block(rng, lang, methods));
            typed = true;
        } else {
            out.extend(function(rng, lang, ""));
        }
    }
    if lang == Lang::Rust && rng.random_bool(0.5) {
        out.push(String::new());
        out.extend(tests_block(rng, lang));
    }
    out
}

/// Lines a person types: debugging output, notes, a guard.
pub fn human_lines(rng: &mut StdRng, lang: Lang, indent: &str) -> Vec<String> {
    let c = lang.comment();
    let tpls: &[&str] = match lang {
        Lang::Rust => &[
            "eprintln!(\"@p: @n = {:?}\", @x);",
            "dbg!(&@x);",
            "let _ = @x; // @p: keep until the @n migration lands",
            "assert!(@x.@f <= MAX_@U, \"@a @n\");",
        ],
        Lang::Python => &[
            "print(\"@p: @n\", @x)",
            "assert @x.@f <= @i, \"@a @n\"",
            "logger.warning(\"@p: @v %r\", @x)",
        ],
        Lang::Ts => &[
            "console.log(\"@p: @n\", @x);",
            "// eslint-disable-next-line @typescript-eslint/no-explicit-any",
            "if (@x === undefined) throw new Error(\"@a @n\");",
        ],
    };
    let mut out = Vec::new();
    if rng.random_bool(0.4) {
        out.push(line(
            rng,
            lang,
            indent,
            &format!("{c} TODO(@p): @v the @a @n before release"),
        ));
    }
    for _ in 0..rng.random_range(1..4) {
        let t = pick(rng, tpls);
        out.push(line(rng, lang, indent, t));
    }
    out
}

/// A person's change to one line that changes its words, not just its spacing.
pub fn tweak_line(rng: &mut StdRng, lang: Lang, text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.len() < 3 || trimmed.chars().all(|c| !c.is_alphanumeric()) {
        return None;
    }
    match rng.random_range(0..4) {
        // A number changed.
        0 if text.chars().any(|c| c.is_ascii_digit()) => {
            let at = text.find(|c: char| c.is_ascii_digit())?;
            let end = text[at..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |e| at + e);
            let n: u64 = text[at..end].parse().ok()?;
            Some(format!("{}{}{}", &text[..at], n * 2 + 1, &text[end..]))
        }
        // A word renamed.
        1 => {
            let word = NOUNS.iter().find(|w| text.contains(*w))?;
            let other = pick(rng, NOUNS);
            (other != *word).then(|| text.replacen(word, other, 1))
        }
        // A note at the end of the line.
        2 => Some(format!(
            "{text} {} {}",
            lang.comment(),
            fill(rng, lang, "@p: @a on purpose")
        )),
        _ => {
            let word = VERBS.iter().find(|w| text.contains(*w))?;
            let other = pick(rng, VERBS);
            (other != *word).then(|| text.replacen(word, other, 1))
        }
    }
}

/// A line re-spaced without changing its words: indentation, alignment, trailing
/// blanks.
pub fn respace(rng: &mut StdRng, lang: Lang, text: &str) -> String {
    if text.trim().is_empty() {
        return text.to_owned();
    }
    let unit = lang.indent();
    match rng.random_range(0..4) {
        0 => format!("{unit}{text}"),
        1 => text.strip_prefix(unit).unwrap_or(text).to_owned(),
        2 => format!("{text}  "),
        _ => {
            let body = text.trim_start();
            let indent = &text[..text.len() - body.len()];
            format!(
                "{}{}",
                indent.replace(unit, "\t"),
                body.replacen(" = ", "  =  ", 1)
            )
        }
    }
}

/// A fresh identifier to rename another to.
pub fn new_name(rng: &mut StdRng, lang: Lang) -> String {
    fill(rng, lang, "@x")
}

pub fn sentence(rng: &mut StdRng, lang: Lang) -> String {
    let tpl = pick(
        rng,
        &[
            "Can you @v the @a @n handling in this file?",
            "The @n @v step is slow, please refactor it.",
            "Add a helper to @v @n records and use it.",
            "Fix the bug where @a @n entries are not handled.",
            "Clean up the @n module and add tests.",
        ],
    );
    fill(rng, lang, tpl)
}
