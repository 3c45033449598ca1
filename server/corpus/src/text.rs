//! Word lists and the small template engine that turns them into prompts, prose,
//! source code and ids. Everything draws from the caller's seeded RNG so output is
//! reproducible; templates keep generation cheap (one RNG draw per word).

use rand::rngs::StdRng;
use rand::Rng;
use std::fmt::Write as _;
use std::ops::Range;

pub type Rng64 = StdRng;

pub fn pick<T: Copy>(rng: &mut Rng64, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

const NOUNS: &[&str] = &[
    "user", "session", "token", "account", "invoice", "order", "payment", "cache", "request", "response", "config",
    "record", "event", "queue", "batch", "index", "query", "schema", "tenant", "profile", "report", "job", "worker",
    "metric", "span", "handler", "router", "client", "store", "shard", "retry", "webhook", "cursor", "page", "limit",
    "header",
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
    "index",
];
const ADJS: &[&str] = &[
    "pending", "active", "cached", "stale", "raw", "next", "last", "default", "max", "expired", "empty", "partial",
    "primary", "local", "remote", "dirty",
];
const PLACES: &[&str] = &[
    "auth middleware",
    "the users endpoint",
    "the billing service",
    "the CLI parser",
    "the websocket handler",
    "the config loader",
    "the search index",
    "the job scheduler",
    "the payment webhook",
    "the session store",
    "the rate limiter",
    "the export pipeline",
    "the admin dashboard",
    "the migration runner",
    "the metrics exporter",
];
const TASKS: &[&str] = &[
    "Fix the token refresh bug in",
    "Add pagination to",
    "Refactor",
    "Add rate limiting to",
    "Write tests for",
    "Improve error handling in",
    "Add structured logging to",
    "Fix the race condition in",
    "Remove the dead code in",
    "Optimize the slow query in",
    "Add retries with backoff to",
    "Document",
    "Fix the flaky test for",
    "Add caching to",
    "Investigate the memory leak in",
    "Add input validation to",
    "Clean up",
];
const SUFFIXES: &[&str] = &[
    "",
    "",
    ". Keep the public API unchanged.",
    " and make sure the tests pass.",
    " — it fails when the session expires.",
    ". Users report 500s since yesterday's deploy.",
    ", following the pattern we use elsewhere.",
    ". Don't touch the database schema.",
    " and update the docs.",
    ". Run clippy/lint when done.",
];
const FOLLOW_UPS: &[&str] = &[
    "yes, go ahead",
    "continue",
    "looks good, now run the tests",
    "can you also handle the empty case?",
    "that broke the build, please fix it",
    "ok, commit this with a good message",
    "why did you change that file?",
    "revert the last change and try a simpler approach",
    "now update the README",
    "what about the error path?",
    "great, thanks. Next: add a test for the edge case",
];
const PROSE: &[&str] = &[
    "I need to {b} the {w} in {p} before {g} the {a} {w}.",
    "Let me look at how `{m}` handles the {a} {w} case.",
    "The {w} check fails because `{m}` returns early when the {w} is {a}.",
    "This should {b} the {w} without changing the public API.",
    "Now I'll update `{p}` to {b} the {a} {w}.",
    "Looking at the call sites, `{m}` is only used by the {w} {b} path.",
    "The test expects the {a} {w} to be {g}, but we skip it when the {w} is {a}.",
    "I'll keep the change small: {b} the {w} once and reuse it in `{m}`.",
    "There is already a helper for {g} {w}s, so I'll use that instead of duplicating it.",
    "The root cause is that the {w} is cached before {g} the {a} {w}.",
];

/// A project's language: decides file extensions, code templates and commands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
    fn indent(self) -> &'static str {
        match self {
            Lang::Python => "    ",
            Lang::Rust => "    ",
            Lang::Ts => "  ",
        }
    }
    /// Statement templates; '\t' is one extra indentation level, '\n' a new line.
    fn stmts(self) -> &'static [&'static str] {
        match self {
            Lang::Rust => &[
                "let {v} = self.{m}(&{v})?;",
                "if {v}.{f} > {n} {\n\treturn Err(Error::{T}({v}.{f}));\n}",
                "tracing::debug!(?{v}, \"{b} {w}\");",
                "{v}.{f} = {v}.{f}.saturating_sub({n});",
                "let {v}: Vec<{T}> = {v}.iter().filter(|x| x.{f} > {n}).cloned().collect();",
                "// {s}",
                "let {v} = {T}::new({n}, &self.{f});",
                "self.{f}.insert({v}.id, {v}.clone());",
            ],
            Lang::Python => &[
                "{v} = self.{m}({v})",
                "if {v}.{f} > {n}:\n\traise {T}Error(f\"{w} {{v}.{f}} over limit\")",
                "logger.debug(\"{b} %s\", {v})",
                "{v}.{f} = max(0, {v}.{f} - {n})",
                "{v} = [x for x in {v} if x.{f} > {n}]",
                "# {s}",
                "{v} = {T}({f}={n}, {w}=self.{f})",
                "self.{f}[{v}.id] = {v}",
            ],
            Lang::Ts => &[
                "const {v} = await this.{m}({v});",
                "if ({v}.{f} > {n}) {\n\tthrow new {T}Error(`{w} ${{v}.{f}} over limit`);\n}",
                "logger.debug(\"{b} {w}\", { {v} });",
                "{v}.{f} = Math.max(0, {v}.{f} - {n});",
                "const {v}: {T}[] = {v}.filter((x) => x.{f} > {n});",
                "// {s}",
                "const {v} = new {T}({n}, this.{f});",
                "this.{f}.set({v}.id, {v});",
            ],
        }
    }
    fn fn_head(self) -> (&'static str, &'static str, &'static str) {
        // (doc + signature, return line, closing line)
        match self {
            Lang::Rust => {
                ("/// {S}\npub fn {m}(&mut self, {v}: &{T}) -> Result<{T}, Error> {", "Ok({v}.clone())", "}\n")
            }
            Lang::Python => ("def {m}(self, {v}):\n\t\"\"\"{S}\"\"\"", "return {v}", "\n"),
            Lang::Ts => ("/** {S} */\nexport async function {m}({v}: {T}): Promise<{T}> {", "return {v};", "}\n"),
        }
    }
    fn file_head(self) -> &'static str {
        match self {
            Lang::Rust => "use crate::error::Error;\nuse crate::model::{{T}, {T}};\nuse std::collections::HashMap;\n",
            Lang::Python => "\"\"\"{S}\"\"\"\n\nimport logging\nfrom dataclasses import dataclass\n\nfrom .models import {T}, {T}\n\nlogger = logging.getLogger(__name__)\n\n",
            Lang::Ts => "import { {T}, {T} } from \"../models\";\nimport { logger } from \"../logger\";\n\n",
        }
    }
}

fn camel(out: &mut String, first: &str, second: &str, upper_first: bool) {
    for (i, w) in [first, second].iter().enumerate() {
        let mut cs = w.chars();
        if let Some(c) = cs.next() {
            if i > 0 || upper_first {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            out.push_str(cs.as_str());
        }
    }
}

/// Expands `{x}` placeholders in `tpl` into `out`:
/// v var, f field, m method, T type, n number, w noun, a adjective, b verb, g gerund,
/// s sentence, S capitalised sentence, p path (from `path`).
pub fn expand(rng: &mut Rng64, lang: Lang, path: &str, tpl: &str, out: &mut String) {
    let mut rest = tpl;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let key = rest[i + 1..].chars().next().unwrap_or('{');
        if rest[i + 1..].chars().nth(1) != Some('}') {
            // Not a placeholder (a literal brace in code): copy it through.
            out.push('{');
            rest = &rest[i + 1..];
            continue;
        }
        rest = &rest[i + 3..];
        let (n, a) = (pick(rng, NOUNS), pick(rng, ADJS));
        let snake = lang != Lang::Ts;
        match key {
            'v' | 'f' if snake => {
                let _ = write!(out, "{a}_{n}");
            }
            'v' | 'f' => camel(out, a, n, false),
            'm' if snake => {
                let _ = write!(out, "{}_{n}", pick(rng, VERBS));
            }
            'm' => camel(out, pick(rng, VERBS), n, false),
            'T' => camel(out, a, n, true),
            'n' => {
                let _ = write!(out, "{}", rng.random_range(1..5000));
            }
            'w' => out.push_str(n),
            'a' => out.push_str(a),
            'b' => out.push_str(pick(rng, VERBS)),
            'g' => out.push_str(&gerund(pick(rng, VERBS))),
            'p' if path.is_empty() => {
                let _ = write!(out, "{n}.{}", lang.ext());
            }
            'p' => out.push_str(path),
            's' | 'S' => {
                let start = out.len();
                let t = pick(rng, PROSE);
                expand(rng, lang, path, t, out);
                if key == 's' {
                    let lower = out[start..start + 1].to_lowercase();
                    out.replace_range(start..start + 1, &lower);
                }
            }
            _ => out.push_str(n),
        }
    }
    out.push_str(rest);
}

/// Pushes `tpl` as source lines at `indent`, turning '\t' into one more level.
fn push_code(rng: &mut Rng64, lang: Lang, indent: &str, tpl: &str, out: &mut Vec<String>) {
    let mut s = String::new();
    expand(rng, lang, "", tpl, &mut s);
    for l in s.split('\n') {
        let (tabs, body) = (l.len() - l.trim_start_matches('\t').len(), l.trim_start_matches('\t'));
        let mut line = String::from(indent);
        (0..tabs).for_each(|_| line.push_str(lang.indent()));
        line.push_str(body);
        out.push(if body.is_empty() { String::new() } else { line });
    }
}

/// One or two statements at `indent`, used by edits to insert or replace lines.
pub fn statement(rng: &mut Rng64, lang: Lang, indent: &str) -> Vec<String> {
    let mut v = Vec::new();
    let t = pick(rng, lang.stmts());
    push_code(rng, lang, indent, t, &mut v);
    v
}

/// A whole function: doc comment, signature, 3-14 statements, return, close.
pub fn function(rng: &mut Rng64, lang: Lang, out: &mut Vec<String>) {
    let (head, ret, close) = lang.fn_head();
    push_code(rng, lang, "", head, out);
    for _ in 0..rng.random_range(3..15) {
        let t = pick(rng, lang.stmts());
        push_code(rng, lang, lang.indent(), t, out);
    }
    push_code(rng, lang, lang.indent(), ret, out);
    push_code(rng, lang, "", close, out);
}

/// A source file of at least `min_lines` lines, always ending in a newline.
pub fn source_file(rng: &mut Rng64, lang: Lang, min_lines: Range<usize>) -> String {
    let min_lines = rng.random_range(min_lines);
    let mut lines = Vec::new();
    push_code(rng, lang, "", lang.file_head(), &mut lines);
    while lines.len() < min_lines {
        function(rng, lang, &mut lines);
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

pub fn prose(rng: &mut Rng64, lang: Lang, path: &str, sentences: Range<usize>) -> String {
    let sentences = rng.random_range(sentences);
    let mut s = String::new();
    for i in 0..sentences {
        if i > 0 {
            s.push(if rng.random_bool(0.25) { '\n' } else { ' ' });
        }
        let t = pick(rng, PROSE);
        expand(rng, lang, path, t, &mut s);
    }
    s
}

pub fn prompt(rng: &mut Rng64, first: bool, path: &str) -> String {
    if !first && rng.random_bool(0.35) {
        return pick(rng, FOLLOW_UPS).to_string();
    }
    let mut s = format!("{} {}", pick(rng, TASKS), pick(rng, PLACES));
    if rng.random_bool(0.3) {
        let _ = write!(s, " (see @{path})");
    }
    let t = pick(rng, SUFFIXES);
    s.push_str(t);
    s
}

/// (content, activeForm) pairs for TodoWrite.
pub fn todo(rng: &mut Rng64, path: &str) -> (String, String) {
    let b = pick(rng, VERBS);
    let g = gerund(b);
    let n = pick(rng, NOUNS);
    let cap = |s: &str| s[..1].to_uppercase() + &s[1..];
    (format!("{} the {n} in {path}", cap(b)), format!("{} the {n} in {path}", cap(&g)))
}

pub fn noun(rng: &mut Rng64) -> &'static str {
    pick(rng, NOUNS)
}
pub fn verb(rng: &mut Rng64) -> &'static str {
    pick(rng, VERBS)
}

/// Every verb in [`VERBS`] forms its -ing form regularly.
fn gerund(verb: &str) -> String {
    format!("{}ing", verb.strip_suffix('e').unwrap_or(verb))
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `prefix` followed by `n` random characters from `alphabet`.
pub fn rand_id(rng: &mut Rng64, prefix: &str, n: usize, alphabet: &[u8]) -> String {
    let mut s = String::with_capacity(prefix.len() + n);
    s.push_str(prefix);
    s.extend((0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char));
    s
}
pub fn b62(rng: &mut Rng64, prefix: &str, n: usize) -> String {
    rand_id(rng, prefix, n, B62)
}
pub fn hex(rng: &mut Rng64, n: usize) -> String {
    rand_id(rng, "", n, b"0123456789abcdef")
}
/// Thinking-block signatures are opaque base64 blobs of a few hundred bytes.
pub fn signature(rng: &mut Rng64) -> String {
    let n = rng.random_range(50..300) * 4;
    rand_id(rng, "Eq", n, B64)
}

pub fn uuid(rng: &mut Rng64) -> String {
    let v: u128 = rng.random();
    let v = (v & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// ISO 8601 UTC with milliseconds, the format of every `timestamp` field.
pub fn iso(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil-from-days (Howard Hinnant), exact for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// A one-line comment in the project's language.
pub fn comment(rng: &mut Rng64, lang: Lang, indent: &str) -> String {
    let mut s = String::from(indent);
    s.push_str(if lang == Lang::Python { "# " } else { "// " });
    expand(rng, lang, "", "{s}", &mut s);
    s
}

/// Session slugs look like "melodic-wobbling-narwhal".
pub fn slug(rng: &mut Rng64) -> String {
    const A: &[&str] =
        &["melodic", "goofy", "modular", "imperative", "quiet", "brisk", "lucid", "velvet", "cosmic", "tidy"];
    const G: &[&str] = &["wobbling", "whistling", "sparking", "tickling", "dancing", "humming", "drifting", "juggling"];
    const N: &[&str] = &["narwhal", "axolotl", "salamander", "otter", "heron", "lynx", "forest", "umbrella", "comet"];
    format!("{}-{}-{}", pick(rng, A), pick(rng, G), pick(rng, N))
}
