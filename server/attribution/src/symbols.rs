//! The functions, methods, classes and modules that attributed lines belong to, with
//! tree-sitter, so callers can ask "which conversations changed `refresh_token`?".
//!
//! Supported: Rust, Python, TypeScript/TSX, JavaScript and Go. Other languages get no
//! symbols; callers fall back to line ranges.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tree_sitter::{Node, Parser};

use crate::Origin;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    TypeScript,
    Tsx,
    JavaScript,
    Go,
}

impl Language {
    pub fn for_path(path: &Path) -> Option<Self> {
        Some(match path.extension()?.to_str()? {
            "rs" => Self::Rust,
            "py" | "pyi" => Self::Python,
            "ts" | "mts" | "cts" => Self::TypeScript,
            "tsx" => Self::Tsx,
            "js" | "jsx" | "mjs" | "cjs" => Self::JavaScript,
            "go" => Self::Go,
            _ => return None,
        })
    }

    fn grammar(self) -> tree_sitter::Language {
        match self {
            Self::Rust => tree_sitter_rust::LANGUAGE.into(),
            Self::Python => tree_sitter_python::LANGUAGE.into(),
            Self::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Self::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Self::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }

    /// The symbol kind a syntax node declares, if it declares one.
    fn kind_of(self, node: &str) -> Option<SymbolKind> {
        use SymbolKind::*;
        Some(match (self, node) {
            (Self::Rust, "function_item" | "function_signature_item") => Function,
            (Self::Rust, "impl_item") => Impl,
            (Self::Rust, "struct_item" | "union_item") => Struct,
            (Self::Rust, "enum_item") => Enum,
            (Self::Rust, "trait_item") => Trait,
            (Self::Rust, "mod_item") => Module,
            (Self::Rust, "macro_definition") => Macro,
            (Self::Python, "function_definition") => Function,
            (Self::Python, "class_definition") => Class,
            (Self::TypeScript | Self::Tsx | Self::JavaScript, n) => match n {
                "function_declaration" | "generator_function_declaration" => Function,
                "method_definition" | "method_signature" => Method,
                "class_declaration" | "abstract_class_declaration" => Class,
                "interface_declaration" => Interface,
                "enum_declaration" => Enum,
                "internal_module" | "module" => Module,
                // `const f = () => ...` and `const f = function () ...`
                "variable_declarator" => Function,
                _ => return None,
            },
            (Self::Go, "function_declaration") => Function,
            (Self::Go, "method_declaration") => Method,
            (Self::Go, "type_spec") => Struct,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    Function,
    Method,
    Class,
    Struct,
    Enum,
    Trait,
    Interface,
    Impl,
    Module,
    Macro,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    pub name: String,
    /// Enclosing symbols and this one, joined: `Parser::parse`, `Auth.refresh_token`.
    pub qualified_name: String,
    pub kind: SymbolKind,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
}

/// The symbols declared in `content`, outermost first; `None` for a language without
/// support.
pub fn symbols(path: &Path, content: &str) -> Option<Vec<Symbol>> {
    let lang = Language::for_path(path)?;
    let mut parser = Parser::new();
    parser.set_language(&lang.grammar()).ok()?;
    let tree = parser.parse(content, None)?;
    let mut out = Vec::new();
    collect(
        lang,
        tree.root_node(),
        content.as_bytes(),
        &mut Vec::new(),
        &mut out,
    );
    Some(out)
}

fn name_of(lang: Language, node: Node<'_>, src: &[u8]) -> Option<String> {
    let text = |n: Node<'_>| n.utf8_text(src).ok().map(str::to_owned);
    if node.kind() == "impl_item" {
        let ty = node.child_by_field_name("type").and_then(text)?;
        return Some(match node.child_by_field_name("trait").and_then(text) {
            Some(tr) => format!("impl {tr} for {ty}"),
            None => ty,
        });
    }
    if node.kind() == "variable_declarator" {
        // Only a declarator whose value is a function declares a symbol.
        let value = node.child_by_field_name("value")?;
        if !matches!(
            value.kind(),
            "arrow_function" | "function_expression" | "function"
        ) {
            return None;
        }
    }
    let _ = lang;
    node.child_by_field_name("name").and_then(text)
}

fn collect(
    lang: Language,
    node: Node<'_>,
    src: &[u8],
    stack: &mut Vec<String>,
    out: &mut Vec<Symbol>,
) {
    let declared = lang
        .kind_of(node.kind())
        .and_then(|kind| Some((kind, name_of(lang, node, src)?)));
    if let Some((kind, name)) = &declared {
        stack.push(name.clone());
        let sep = if lang == Language::Rust { "::" } else { "." };
        out.push(Symbol {
            name: name.clone(),
            qualified_name: stack.join(sep),
            kind: *kind,
            start_line: node.start_position().row + 1,
            end_line: node.end_position().row + 1,
        });
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect(lang, child, src, stack, out);
    }
    if declared.is_some() {
        stack.pop();
    }
}

/// A symbol with the changes that wrote lines inside it (innermost symbol only, so a
/// method's lines are not counted again for its class).
#[derive(Debug, Clone, Serialize)]
pub struct SymbolAttribution {
    pub symbol: Symbol,
    /// Change → number of its lines in the symbol.
    pub lines_by_change: BTreeMap<Origin, usize>,
}

/// Groups attributed lines by the innermost symbol enclosing them. Lines outside any
/// symbol are left out (callers show them as line ranges).
pub fn attribute(symbols: &[Symbol], lines: &[Option<Origin>]) -> Vec<SymbolAttribution> {
    let mut by_symbol: BTreeMap<usize, BTreeMap<Origin, usize>> = BTreeMap::new();
    for (i, origin) in lines.iter().enumerate() {
        let Some(o) = origin else { continue };
        let line = i + 1;
        // Symbols are outermost first, so the last one containing the line is the
        // innermost.
        let inner = symbols
            .iter()
            .rposition(|s| s.start_line <= line && line <= s.end_line);
        if let Some(s) = inner {
            *by_symbol.entry(s).or_default().entry(*o).or_default() += 1;
        }
    }
    by_symbol
        .into_iter()
        .map(|(s, lines_by_change)| SymbolAttribution {
            symbol: symbols[s].clone(),
            lines_by_change,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &str, src: &str) -> Vec<(String, usize, usize)> {
        symbols(Path::new(path), src)
            .expect("supported")
            .into_iter()
            .map(|s| (s.qualified_name, s.start_line, s.end_line))
            .collect()
    }

    #[test]
    fn rust_items_and_impls() {
        let src = "struct Auth;\nimpl Auth {\n    fn refresh_token(&self) {\n        todo!()\n    }\n}\nmod m { fn f() {} }\n";
        assert_eq!(
            names("a.rs", src),
            vec![
                ("Auth".into(), 1, 1),
                ("Auth".into(), 2, 6),
                ("Auth::refresh_token".into(), 3, 5),
                ("m".into(), 7, 7),
                ("m::f".into(), 7, 7)
            ]
        );
    }

    #[test]
    fn python_typescript_javascript_go() {
        assert_eq!(
            names(
                "a.py",
                "class A:\n    def run(self):\n        pass\n\ndef main():\n    A().run()\n"
            ),
            vec![
                ("A".into(), 1, 3),
                ("A.run".into(), 2, 3),
                ("main".into(), 5, 6)
            ]
        );
        assert_eq!(
            names("a.ts", "export class Api {\n  get(id: string) { return id; }\n}\nconst helper = (x: number) => x * 2;\ninterface I { a: number }\n"),
            vec![("Api".into(), 1, 3), ("Api.get".into(), 2, 2), ("helper".into(), 4, 4), ("I".into(), 5, 5)]
        );
        assert_eq!(
            names("a.tsx", "function App() {\n  return <div/>;\n}\n"),
            vec![("App".into(), 1, 3)]
        );
        assert_eq!(
            names("a.js", "function f() {}\nconst n = 3;\n"),
            vec![("f".into(), 1, 1)]
        );
        assert_eq!(
            names(
                "a.go",
                "package p\ntype S struct{}\nfunc (s S) M() {}\nfunc F() {}\n"
            ),
            vec![("S".into(), 2, 2), ("M".into(), 3, 3), ("F".into(), 4, 4)]
        );
        assert!(symbols(Path::new("a.md"), "# x").is_none());
    }

    #[test]
    fn lines_go_to_the_innermost_symbol() {
        let syms = symbols(
            Path::new("a.py"),
            "class A:\n    def run(self):\n        pass\n    x = 1\n",
        )
        .expect("python");
        let got = attribute(&syms, &[None, Some(0), Some(0), Some(1)]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].symbol.qualified_name, "A");
        assert_eq!(got[0].lines_by_change.get(&1), Some(&1));
        assert_eq!(got[1].symbol.qualified_name, "A.run");
        assert_eq!(got[1].lines_by_change.get(&0), Some(&2));
    }

    #[test]
    fn a_hunk_numbered_past_any_file_writes_no_line_of_it() {
        // `newStart` is whatever the transcript says, up to u64::MAX.
        let change = observatory_transcript::FileChange {
            tool: "Write".into(),
            path: "/p/a.py".into(),
            content: Some("def a():\n    return 1\n".into()),
            created: Some(false),
            hunks: vec![observatory_transcript::Hunk {
                old_start: u64::MAX,
                old_lines: 1,
                new_start: u64::MAX,
                new_lines: 2,
                lines: vec![" def a():".into(), "+    return 1".into(), " ".into()],
            }],
            ..Default::default()
        };
        let (after, written) = after_change(&change).expect("a write");
        assert_eq!(after, "def a():\n    return 1\n");
        assert!(written.iter().all(|&l| l > 2), "{written:?}");
    }

    #[test]
    fn replace_all_cannot_grow_the_rebuilt_file_past_what_the_change_records() {
        // Each edit doubles every line: 24 of them would rebuild a file of 16 million
        // lines out of a hundred bytes of transcript.
        let doubling = observatory_transcript::TextEdit {
            old_string: "x".into(),
            new_string: "x\nx".into(),
            replace_all: true,
        };
        let change = observatory_transcript::FileChange {
            tool: "MultiEdit".into(),
            path: "/p/a.py".into(),
            original: Some("x\n".into()),
            edits: vec![doubling; 24],
            hunks: vec![observatory_transcript::Hunk {
                old_start: 1,
                old_lines: 1,
                new_start: 1,
                new_lines: 2,
                lines: vec![" x".into(), "+x".into()],
            }],
            ..Default::default()
        };
        let recorded = 2 + 24 * 4 + 4;
        let rebuilt = after_change(&change).map_or(0, |(after, _)| after.len());
        assert!(rebuilt <= 2 * recorded, "{rebuilt} bytes");
    }
}

/// One recorded change to a symbol: "which conversations changed `refresh_token`?".
#[derive(Debug, Clone, Serialize)]
pub struct ChangeToSymbol {
    /// `Parser::parse`, `Auth.refresh_token`.
    pub symbol: String,
    pub kind: SymbolKind,
    /// The file as the agent named it.
    pub path: String,
    /// Lines of the symbol the change wrote (1-based, in the file after the change).
    pub lines: Vec<usize>,
    pub session_id: String,
    pub conversation_title: String,
    pub tool: String,
    pub tool_use_id: String,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub prompt: Option<String>,
}

/// Every recorded change that wrote lines inside a function, method, class or module
/// named `name` (its own name or its qualified name), newest first.
///
/// Candidates are the changes whose recorded text mentions the name; each is
/// rebuilt into the file as it was right after the change (`originalFile` with the
/// edit applied, or the Write's content), parsed, and kept when a symbol of that
/// name encloses a line the change wrote. A change recorded without the file around
/// it (old versions) is parsed from its new text alone.
pub fn changes_to_symbol(
    catalog: &dyn observatory_store::Catalog,
    name: &str,
    limit: usize,
) -> observatory_store::Result<Vec<ChangeToSymbol>> {
    let name = name.trim();
    let mut out = Vec::new();
    // Mentions are a superset: scan more candidates than results wanted.
    for w in catalog.writes_mentioning(name, limit.saturating_mul(20).max(200))? {
        let Some((after, written)) = after_change(&w.change) else {
            continue;
        };
        let path = if w.change.path.is_empty() {
            &w.path
        } else {
            &w.change.path
        };
        let Some(symbols) = symbols(Path::new(path), &after) else {
            continue;
        };
        for s in symbols
            .iter()
            .filter(|s| s.name == name || s.qualified_name == name)
        {
            let lines: Vec<usize> = written
                .iter()
                .copied()
                .filter(|l| (s.start_line..=s.end_line).contains(l))
                .collect();
            if lines.is_empty() {
                continue;
            }
            out.push(ChangeToSymbol {
                symbol: s.qualified_name.clone(),
                kind: s.kind,
                path: path.clone(),
                lines,
                session_id: w.session_id.clone(),
                conversation_title: w.conversation_title.clone(),
                tool: w.tool.clone(),
                tool_use_id: w.tool_use_id.clone(),
                at: w.at,
                prompt: w.prompt.clone(),
            });
        }
        if out.len() >= limit {
            out.truncate(limit);
            break;
        }
    }
    Ok(out)
}

/// The file right after `change`, and the lines (1-based) the change wrote in it.
///
/// Public only for the fuzz harness (`observatory-fuzzing`).
#[doc(hidden)]
pub fn after_change(change: &observatory_transcript::FileChange) -> Option<(String, Vec<usize>)> {
    let from_hunks = || -> Vec<usize> {
        let mut out = Vec::new();
        for h in &change.hunks {
            // `newStart` is whatever the transcript says: a line past `usize` is past
            // the file, and counting on from it must not overflow.
            let mut line = usize::try_from(h.new_start).unwrap_or(usize::MAX);
            for l in &h.lines {
                match l.as_bytes().first() {
                    Some(b'+') => {
                        out.push(line);
                        line = line.saturating_add(1);
                    }
                    Some(b'-') => {}
                    _ => line = line.saturating_add(1),
                }
            }
        }
        out
    };
    match change.tool.as_str() {
        "Write" => {
            let content = change.content.clone()?;
            let written = if change.created != Some(true) && !change.hunks.is_empty() {
                from_hunks()
            } else {
                (1..=content.lines().count()).collect()
            };
            Some((content, written))
        }
        "Edit" | "MultiEdit" => match &change.original {
            Some(original) if !change.hunks.is_empty() => {
                let mut after = original.clone();
                // replace_alls compound: their growth is bounded as in the replay.
                let mut growth = crate::recorded_bytes(change);
                for e in &change.edits {
                    let found = if e.replace_all {
                        after.matches(e.old_string.as_str()).count()
                    } else {
                        usize::from(after.contains(&e.old_string))
                    };
                    let grows =
                        found.saturating_mul(e.new_string.len().saturating_sub(e.old_string.len()));
                    if found == 0 || grows > growth {
                        return None;
                    }
                    growth -= grows;
                    after = if e.replace_all {
                        after.replace(&e.old_string, &e.new_string)
                    } else {
                        after.replacen(&e.old_string, &e.new_string, 1)
                    };
                }
                Some((after, from_hunks()))
            }
            _ => {
                let text: Vec<&str> = change.edits.iter().map(|e| e.new_string.as_str()).collect();
                let text = text.join("\n");
                let n = text.lines().count();
                Some((text, (1..=n).collect()))
            }
        },
        _ => None,
    }
}
