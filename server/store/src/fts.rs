//! Translation of what people type into FTS5 queries.
//!
//! User queries are never handed to FTS5 as they are: its syntax errors on ordinary
//! input (`foo.bar(`, `"unclosed`, `-x`). They are translated instead: words and
//! "quoted phrases" become quoted FTS5 phrases (all must match), `word*` is a prefix,
//! `OR` between two terms makes either enough, and `-word` excludes.

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

/// Translates a user query into a safe FTS5 expression.
pub fn to_fts_query(input: &str) -> Result<String> {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Not,
    }
    let mut terms: Vec<(Op, String)> = Vec::new();
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
        let (body, prefix) = match body.strip_suffix('*') {
            Some(b) if !quoted => (b.to_owned(), true),
            _ => (body, false),
        };
        // FTS5's tokenizer drops punctuation; a term with no letters or digits would
        // match nothing or be a syntax error, so it is left out.
        if !body.chars().any(char::is_alphanumeric) {
            continue;
        }
        if prefix && body.chars().filter(|c| c.is_alphanumeric()).count() < MIN_PREFIX {
            return Err(Error::BadQuery(format!(
                "{body}* is too short a prefix: give at least {MIN_PREFIX} letters before '*'"
            )));
        }
        if terms.len() == MAX_TERMS {
            return Err(Error::BadQuery(format!(
                "too many terms: at most {MAX_TERMS} words or phrases per query"
            )));
        }
        let mut phrase = format!("\"{}\"", body.replace('"', "\"\""));
        if prefix {
            phrase.push('*');
        }
        let op = if negate {
            Op::Not
        } else {
            std::mem::replace(&mut pending, Op::And)
        };
        terms.push((op, phrase));
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
    for (op, phrase) in terms {
        match op {
            Op::Not => nots.push(phrase),
            Op::Or if !out.is_empty() => {
                out.push_str(" OR ");
                out.push_str(&phrase);
            }
            _ => {
                if !out.is_empty() {
                    out.push_str(" AND ");
                }
                out.push_str(&phrase);
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
    Ok(out)
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
    fn queries_without_words_are_errors() {
        assert!(matches!(to_fts_query("  "), Err(Error::BadQuery(_))));
        assert!(matches!(to_fts_query("() && ||"), Err(Error::BadQuery(_))));
        assert!(matches!(to_fts_query("-only"), Err(Error::BadQuery(_))));
        assert!(matches!(to_fts_query("OR"), Err(Error::BadQuery(_))));
    }
}
