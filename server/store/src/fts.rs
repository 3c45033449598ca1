//! Translation of what people type into FTS5 queries.
//!
//! User queries are never handed to FTS5 as they are: its syntax errors on ordinary
//! input (`foo.bar(`, `"unclosed`, `-x`). They are translated instead: words and
//! "quoted phrases" become quoted FTS5 phrases (all must match), `word*` is a prefix,
//! `OR` between two terms makes either enough, and `-word` excludes.
//!
//! The index (`docs_fts`) stems words with Porter's algorithm, so `permission`
//! finds "permissions" and `refreshing` finds "refresh". It has two columns: the
//! text, and `idents`, the words of the camelCase/PascalCase identifiers in it
//! (`identifier_words`), because unicode61 keeps `refreshToken` one token while
//! it splits `refresh_token` in two. A term with internal capitals is searched as
//! itself OR as the phrase of its words, so `refreshToken`, `refresh_token` and
//! `refresh token` find each other.

use crate::{Error, Result};

/// Most terms in one query: each is a doclist to walk, so a query of dozens of
/// common words costs seconds on a large store.
pub const MAX_TERMS: usize = 16;
/// Shortest prefix before `*`: `a*` expands to most of the vocabulary.
pub const MIN_PREFIX: usize = 3;

/// A separator between terms: whitespace, and control characters (a NUL would
/// otherwise reach FTS5 inside a term).
fn separates(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// Longest identifier split into words: longer runs of letters and digits are
/// base64, hashes or minified code, whose "words" nobody searches for.
const MAX_IDENTIFIER: usize = 64;
/// Shortest word a prefix is cut back to when looking for its stem (see `term`):
/// three-letter stems (`run`, `per`) match too many unrelated words.
const MIN_STEM: usize = 4;
/// How many letters a prefix may be cut back by: Porter removes suffixes such as
/// `ation` or `ness`, of which people have typed a few letters when they search.
const MAX_STEM_CUT: usize = 3;

/// Translates a user query into a safe FTS5 expression for the store's index.
pub fn to_fts_query(input: &str) -> Result<String> {
    translate(input, true, false).map(|t| t.query)
}

/// A query translated, with the parts ranking needs to know (`rank`).
#[derive(Debug, Clone)]
pub struct Translation {
    /// The FTS5 expression.
    pub query: String,
    /// The phrases of the terms that are not excluded, in the order they have in
    /// `query`, where the excluded ones come last (FTS5 numbers phrases so).
    pub phrases: Vec<String>,
    /// Whether a document must hold more than one term (they are ANDed).
    pub all_of: bool,
}

/// `to_fts_query`, or `to_fts_query_as_typed` when `typing`, with the query's terms.
pub fn to_fts_translation(input: &str, typing: bool) -> Result<Translation> {
    translate(input, true, typing)
}

/// The translation of a query still being typed (a search box that searches on
/// each keystroke): its last word, unless a space follows it, is also a prefix
/// once it has `MIN_PREFIX` letters, so `pagin` already finds "pagination".
/// Quoted and excluded words stay as typed.
pub fn to_fts_query_as_typed(input: &str) -> Result<String> {
    translate(input, true, true).map(|t| t.query)
}

/// The translation without identifier or stem alternatives: each term is one
/// quoted phrase. For comparing tokenizers (the search benchmark), not for the
/// store's index.
#[doc(hidden)]
pub fn to_plain_fts_query(input: &str) -> Result<String> {
    to_plain_fts_translation(input).map(|t| t.query)
}

/// `to_plain_fts_query` with the query's terms.
#[doc(hidden)]
pub fn to_plain_fts_translation(input: &str) -> Result<Translation> {
    translate(input, false, false)
}

fn translate(input: &str, expand: bool, typing: bool) -> Result<Translation> {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Not,
    }
    let mut terms: Vec<(Op, Vec<String>)> = Vec::new();
    let mut pending = Op::And;
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if separates(c) {
            chars.next();
            continue;
        }
        let mut negate = false;
        if c == '-' {
            chars.next();
            negate = true;
        }
        let (body, quoted) = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            // An unclosed quote runs to the end of the query rather than failing.
            for ch in chars.by_ref() {
                if ch == '"' {
                    break;
                }
                s.push(if ch.is_control() { ' ' } else { ch });
            }
            (s, true)
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if separates(ch) {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            (s, false)
        };
        if !quoted && !negate && body == "OR" {
            if !terms.is_empty() {
                pending = Op::Or;
            }
            continue;
        }
        let being_typed = typing && !quoted && !negate && chars.peek().is_none();
        let (body, prefix) = match body.strip_suffix('*') {
            Some(b) if !quoted => (b.to_owned(), true),
            _ if being_typed && letters(&body) >= MIN_PREFIX => (body, true),
            _ => (body, false),
        };
        // FTS5's tokenizer drops punctuation; a term with no letters or digits would
        // match nothing or be a syntax error, so it is left out.
        if !body.chars().any(char::is_alphanumeric) {
            continue;
        }
        if prefix && letters(&body) < MIN_PREFIX {
            return Err(Error::BadQuery(format!(
                "{body}* is too short a prefix: give at least {MIN_PREFIX} letters before '*'"
            )));
        }
        if terms.len() == MAX_TERMS {
            return Err(Error::BadQuery(format!(
                "too many terms: at most {MAX_TERMS} words or phrases per query"
            )));
        }
        let phrases = if expand {
            term(&body, prefix)
        } else {
            vec![quote(&body, prefix)]
        };
        let op = if negate {
            Op::Not
        } else {
            std::mem::replace(&mut pending, Op::And)
        };
        terms.push((op, phrases));
    }
    let positives = terms.iter().filter(|(op, _)| *op != Op::Not).count();
    if positives == 0 {
        return Err(Error::BadQuery(if terms.is_empty() {
            format!("{input:?} has no words to search for")
        } else {
            "a query needs at least one word that is not excluded with '-'".to_owned()
        }));
    }
    let mut out = String::new();
    let mut nots = Vec::new();
    let mut positive = Vec::new();
    let mut all_of = false;
    for (op, phrases) in terms {
        let expr = if phrases.len() == 1 {
            phrases[0].clone()
        } else {
            format!("({})", phrases.join(" OR "))
        };
        match op {
            Op::Not => nots.push(expr),
            Op::Or if !out.is_empty() => {
                out.push_str(" OR ");
                out.push_str(&expr);
                positive.push(phrases);
            }
            _ => {
                if !out.is_empty() {
                    out.push_str(" AND ");
                    all_of = true;
                }
                out.push_str(&expr);
                positive.push(phrases);
            }
        }
    }
    if !nots.is_empty() {
        out = format!("({out})");
        for n in nots {
            out.push_str(" NOT ");
            out.push_str(&n);
        }
    }
    Ok(Translation {
        query: out,
        phrases: positive.into_iter().flatten().collect(),
        all_of,
    })
}

/// How many letters and digits `s` has.
fn letters(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphanumeric()).count()
}

/// One quoted FTS5 phrase (the tokenizer splits it into words), optionally a prefix.
fn quote(body: &str, prefix: bool) -> String {
    let mut phrase = format!("\"{}\"", body.replace('"', "\"\""));
    if prefix {
        phrase.push('*');
    }
    phrase
}

/// A term's phrases, its alternatives (ORed in the query): as typed; with its
/// camelCase identifiers split into words (matching `refresh_token`, `refresh token`, and the `idents`
/// column of documents that wrote `RefreshToken`); and, for a prefix, the prefix cut
/// back by a few letters as whole words, because the index holds stems and the
/// stem of "configuration" (`configur`) is shorter than `configura*`.
fn term(body: &str, prefix: bool) -> Vec<String> {
    let mut alts = vec![quote(body, prefix)];
    let split = split_identifiers(body);
    if let Some(split) = &split {
        alts.push(quote(split, prefix));
    }
    if prefix {
        let words = split.as_deref().unwrap_or(body);
        if let Some((start, end)) = last_word(words) {
            let last = &words[start..end];
            // Porter only stems ASCII letters; other words are their own stems.
            if last.bytes().all(|b| b.is_ascii_alphabetic()) {
                let shortest = MIN_STEM.max(last.len().saturating_sub(MAX_STEM_CUT));
                for k in (shortest..last.len()).rev() {
                    alts.push(quote(&format!("{}{}", &words[..start], &last[..k]), false));
                }
            }
        }
    }
    alts
}

/// Byte range of the last run of letters and digits.
fn last_word(s: &str) -> Option<(usize, usize)> {
    let (i, c) = s.char_indices().rev().find(|(_, c)| c.is_alphanumeric())?;
    let end = i + c.len_utf8();
    Some((run_start(s, end), end))
}

/// Where the run of letters and digits that ends at byte `end` of `s` starts.
fn run_start(s: &str, end: usize) -> usize {
    s[..end]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric())
        .last()
        .map_or(end, |(i, _)| i)
}

/// The words of one run of letters and digits if it is a camelCase or PascalCase
/// identifier (`refreshToken` → refresh, Token; `HTTPServer` → HTTP, Server;
/// `oauth2Token` → oauth2, Token); `None` for one word (`token`, `HTTP`, `Token`).
fn camel_words(run: &str) -> Option<Vec<&str>> {
    if run.len() > MAX_IDENTIFIER {
        return None;
    }
    // Indexing calls this for every run with a capital in every document: nothing
    // is allocated until a word boundary is found.
    let mut chars = run.char_indices().peekable();
    let mut prev = chars.next()?.1;
    let mut words = Vec::new();
    let mut from = 0;
    while let Some((i, c)) = chars.next() {
        let next_lower = chars.peek().is_some_and(|(_, n)| n.is_lowercase());
        // lower or digit → upper starts a word; so does the last capital of an
        // acronym followed by lower case (`HTTPServer`: the `S`).
        if c.is_uppercase()
            && (prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower))
        {
            words.push(&run[from..i]);
            from = i;
        }
        prev = c;
    }
    if words.is_empty() {
        return None;
    }
    words.push(&run[from..]);
    Some(words)
}

/// `s` with each camelCase identifier replaced by its words separated by spaces;
/// `None` when it has none.
fn split_identifiers(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len() + 8);
    let mut changed = false;
    let mut rest = s;
    while let Some(start) = rest.find(|c: char| c.is_alphanumeric()) {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        match camel_words(run) {
            Some(words) => {
                changed = true;
                out.push_str(&words.join(" "));
            }
            None => out.push_str(run),
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// What a document's `idents` column holds: the words of each distinct camelCase
/// identifier in `text`, one identifier per line; `None` when there is none (most
/// documents, so the index grows little).
#[doc(hidden)] // public for the search benchmark, which builds its own indexes
pub fn identifier_words(text: &str) -> Option<String> {
    // This runs over the text of every document indexed (an eighth of the reading
    // thread, #15), and most text is lower-case ASCII, which holds no identifier to
    // split: only the runs around a capital letter or a non-ASCII character are
    // looked at, found eight bytes at a time.
    let bytes = text.as_bytes();
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    // Always at a character boundary: only ASCII is stepped over.
    let mut at = 0;
    while at < bytes.len() {
        match bytes
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            Some(word) => {
                let mask = notable_bytes(u64::from_le_bytes(word));
                if mask == 0 {
                    at += 8;
                    continue;
                }
                at += (mask.trailing_zeros() / 8) as usize;
            }
            None if bytes[at].is_ascii() && !bytes[at].is_ascii_uppercase() => {
                at += 1;
                continue;
            }
            None => {}
        }
        let (run, end) = run_around(text, at);
        at = end;
        let Some(words) = camel_words(run) else {
            continue;
        };
        // Only identifiers are remembered: hashing every word would cost more
        // than splitting them.
        if seen.insert(run) {
            if !out.is_empty() {
                out.push('\n');
            }
            for (n, word) in words.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Bit 7 of each byte of `word` set where that byte is a capital A-Z or not ASCII.
fn notable_bytes(word: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = word & !HIGH;
    // Per byte, a carry into bit 7 from at least 0x41 ('A') and from at least
    // 0x5b (past 'Z'); no byte carries into the next.
    let from_a = (low + 0x3f3f_3f3f_3f3f_3f3f) & HIGH;
    let past_z = (low + 0x2525_2525_2525_2525) & HIGH;
    (word & HIGH) | (from_a & !past_z)
}

/// The run of letters and digits around the character at byte `at`, and where to
/// go on from: past the run, or past that character when it is neither.
fn run_around(text: &str, at: usize) -> (&str, usize) {
    let rest = &text[at..];
    match rest.chars().next() {
        Some(c) if c.is_alphanumeric() => {
            let start = run_start(text, at);
            let end = rest
                .char_indices()
                .find(|(_, c)| !c.is_alphanumeric())
                .map_or(text.len(), |(i, _)| at + i);
            (&text[start..end], end)
        }
        Some(c) => ("", at + c.len_utf8()),
        None => ("", text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_quotes_everything() {
        assert_eq!(
            to_fts_query("token refresh").unwrap(),
            r#""token" AND "refresh""#
        );
        assert_eq!(
            to_fts_query(r#""token refresh" auth*"#).unwrap(),
            r#""token refresh" AND "auth"*"#
        );
        assert_eq!(to_fts_query("a OR b").unwrap(), r#""a" OR "b""#);
        assert_eq!(to_fts_query("foo -bar").unwrap(), r#"("foo") NOT "bar""#);
        assert_eq!(
            to_fts_query(r#"foo.bar( "unclosed"#).unwrap(),
            r#""foo.bar(" AND "unclosed""#
        );
        assert_eq!(to_fts_query(r#"say "hi"#).unwrap(), r#""say" AND "hi""#);
        assert_eq!(to_fts_query(r#"x""y"#).unwrap(), r#""x""""y""#);
    }

    #[test]
    fn expensive_queries_are_refused_with_a_reason() {
        let many = vec!["word"; MAX_TERMS + 1].join(" ");
        let e = to_fts_query(&many).expect_err("too many terms");
        assert!(e.to_string().contains("too many terms"), "{e}");
        assert!(to_fts_query(&vec!["word"; MAX_TERMS].join(" ")).is_ok());
        let e = to_fts_query("a* b*").expect_err("short prefix");
        assert!(e.to_string().contains("a* is too short"), "{e}");
        assert_eq!(
            to_fts_query("ref*").expect("3 letters is enough"),
            "\"ref\"*"
        );
    }

    #[test]
    fn control_characters_separate_terms() {
        assert_eq!(
            to_fts_query("a\u{0}b").expect("two terms"),
            "\"a\" AND \"b\""
        );
        assert_eq!(to_fts_query("\"a\u{0}b\"").expect("a phrase"), "\"a b\"");
    }

    #[test]
    fn camel_case_terms_also_search_their_words() {
        assert_eq!(
            to_fts_query("refreshToken").unwrap(),
            r#"("refreshToken" OR "refresh Token")"#
        );
        assert_eq!(
            to_fts_query("HTTPServer oauth2Token").unwrap(),
            r#"("HTTPServer" OR "HTTP Server") AND ("oauth2Token" OR "oauth2 Token")"#
        );
        // Words, acronyms, snake_case (FTS5 already splits at `_`) stay one phrase.
        assert_eq!(
            to_fts_query("token HTTP Token refresh_token").unwrap(),
            r#""token" AND "HTTP" AND "Token" AND "refresh_token""#
        );
        assert_eq!(
            to_fts_query(r#""use getRefreshToken here""#).unwrap(),
            r#"("use getRefreshToken here" OR "use get Refresh Token here")"#
        );
        assert_eq!(
            to_fts_query("auth.refreshToken()").unwrap(),
            r#"("auth.refreshToken()" OR "auth.refresh Token()")"#
        );
        assert_eq!(
            to_fts_query("cache -refreshToken").unwrap(),
            r#"("cache") NOT ("refreshToken" OR "refresh Token")"#
        );
        assert_eq!(
            to_fts_query("a OR userId").unwrap(),
            r#""a" OR ("userId" OR "user Id")"#
        );
        // Quotes inside stay escaped in every alternative.
        assert_eq!(
            to_fts_query(r#"aB"cD"#).unwrap(),
            r#"("aB""cD" OR "a B""c D")"#
        );
    }

    #[test]
    fn a_query_being_typed_ends_in_a_prefix() {
        let typed = |q| to_fts_query_as_typed(q).unwrap();
        assert_eq!(typed("token refr"), r#""token" AND "refr"*"#);
        assert_eq!(typed("pagin"), r#"("pagin"* OR "pagi")"#);
        // A space after the last word: the word is finished.
        assert_eq!(
            typed("token refresh "),
            to_fts_query("token refresh").unwrap()
        );
        // Too short for a prefix yet: as typed, and not an error.
        assert_eq!(typed("token re"), r#""token" AND "re""#);
        // Quoted, excluded, already a prefix, or an OR still waiting for its word.
        assert_eq!(typed(r#"say "hel"#), r#""say" AND "hel""#);
        assert_eq!(typed("foo -bar"), r#"("foo") NOT "bar""#);
        assert_eq!(typed("auth*"), r#""auth"*"#);
        assert_eq!(typed("foo OR"), r#""foo""#);
        // Identifiers keep their spellings.
        assert_eq!(typed("refreshTok"), r#"("refreshTok"* OR "refresh Tok"*)"#);
        // Only the last word.
        assert_eq!(typed("conf serv"), r#""conf" AND "serv"*"#);
    }

    #[test]
    fn prefixes_also_match_the_stems_they_outgrew() {
        assert_eq!(
            to_fts_query("configura*").unwrap(),
            r#"("configura"* OR "configur" OR "configu" OR "config")"#
        );
        // Never cut below MIN_STEM letters.
        assert_eq!(to_fts_query("refre*").unwrap(), r#"("refre"* OR "refr")"#);
        assert_eq!(to_fts_query("auth*").unwrap(), r#""auth"*"#);
        // The last word of a camelCase or dotted prefix is the one cut.
        assert_eq!(
            to_fts_query("refreshTok*").unwrap(),
            r#"("refreshTok"* OR "refresh Tok"*)"#
        );
        assert_eq!(
            to_fts_query("db.connecti*").unwrap(),
            r#"("db.connecti"* OR "db.connect" OR "db.connec" OR "db.conne")"#
        );
        // Porter stems only ASCII letters: other words are not cut.
        assert_eq!(to_fts_query("café*").unwrap(), r#""café"*"#);
        assert_eq!(to_fts_query("v1234*").unwrap(), r#""v1234"*"#);
        // A quoted phrase is never a prefix.
        assert_eq!(to_fts_query(r#""configura*""#).unwrap(), r#""configura*""#);
    }

    #[test]
    fn the_plain_translation_has_no_alternatives() {
        assert_eq!(
            to_plain_fts_query("refreshToken configura*").unwrap(),
            r#""refreshToken" AND "configura"*"#
        );
    }

    #[test]
    fn identifier_words_are_the_camel_case_identifiers_split() {
        assert_eq!(
            identifier_words("let refreshToken = getRefreshToken(); refreshToken.x").as_deref(),
            Some("refresh Token\nget Refresh Token")
        );
        assert_eq!(
            identifier_words("XMLHttpRequest parseJSON iOS").as_deref(),
            Some("XML Http Request\nparse JSON\ni OS")
        );
        // Plain words, snake_case, acronyms and capitalised words: nothing to add.
        assert_eq!(
            identifier_words("The HTTP refresh_token Token README"),
            None
        );
        assert_eq!(identifier_words(""), None);
        // Long runs are data (base64, hashes), not identifiers.
        let blob = "aB".repeat(MAX_IDENTIFIER);
        assert_eq!(identifier_words(&blob), None);
        // Non-ASCII letters split too; nothing panics on multi-byte characters.
        assert_eq!(
            identifier_words("größeÄnderung ÉcoleNormale").as_deref(),
            Some("größe Änderung\nÉcole Normale")
        );
    }

    /// The plain definition `Runs` must agree with: every run of letters and
    /// digits that `camel_words` splits.
    fn identifier_words_by_definition(text: &str) -> Option<String> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for run in text.split(|c: char| !c.is_alphanumeric()) {
            if let Some(words) = camel_words(run) {
                if seen.insert(run) {
                    out.push(words.join(" "));
                }
            }
        }
        (!out.is_empty()).then(|| out.join("\n"))
    }

    #[test]
    fn notable_bytes_are_capitals_and_non_ascii_in_any_position() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let want = if b.is_ascii_uppercase() || !b.is_ascii() {
                    0x80 << (8 * at)
                } else {
                    0
                };
                assert_eq!(
                    notable_bytes(u64::from_le_bytes(word)),
                    want,
                    "{b:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn identifier_words_agree_with_their_definition() {
        let samples = [
            "let refreshToken = getRefreshToken(); refreshToken.x",
            "größeÄnderung—ÉcoleNormale…fooBar ΑβΓδ日本Go ǅemalDžx",
            "a\u{1F600}bC x\u{0}yZ 123Abc abc123Def _privateVar__DUNDERx",
            "ß\u{0301}Xy İstanbulCity ﬁleName x\u{2163}Y",
            "",
            "A",
            "aB",
            // Past the 32-byte steps over text with no capital.
            "a long run of lower case words well past thirty-two bytes, then fooBar",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgHij tail",
        ];
        let long = "aB".repeat(MAX_IDENTIFIER / 2) + " " + &"aB".repeat(MAX_IDENTIFIER / 2 + 1);
        for text in samples.iter().copied().chain([long.as_str()]) {
            assert_eq!(
                identifier_words(text),
                identifier_words_by_definition(text),
                "{text:?}"
            );
        }
        // Every character class boundary, from a pseudo-random walk over a mixed
        // alphabet: ASCII, accented, other scripts, digits, punctuation, emoji.
        let alphabet: Vec<char> =
            "abcdefghijklmnopqrstuvwxyz    aZ9_ .éÉßΣσ日١\u{300}\u{1F600}-ǅ\n"
                .chars()
                .collect();
        let mut state = 0x2545_f491_u32;
        for round in 0..2000 {
            let text: String = (0..8 + round % 72)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    alphabet[state as usize % alphabet.len()]
                })
                .collect();
            assert_eq!(
                identifier_words(&text),
                identifier_words_by_definition(&text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn queries_without_words_are_errors() {
        assert!(matches!(to_fts_query("  "), Err(Error::BadQuery(_))));
        assert!(matches!(to_fts_query("() && ||"), Err(Error::BadQuery(_))));
        assert!(matches!(to_fts_query("-only"), Err(Error::BadQuery(_))));
        assert!(matches!(to_fts_query("OR"), Err(Error::BadQuery(_))));
    }
}
