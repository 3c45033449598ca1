//! The functions, methods, classes and modules of a source file, with tree-sitter,
//! and which of them attributed lines belong to, so callers can ask "which
//! conversations changed `refresh_token`?". No storage and no I/O: the language
//! server links this without the database.
//!
//! Supported: Rust, Python, TypeScript/TSX, JavaScript and Go. Other languages get no
//! symbols; callers fall back to line ranges.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tree_sitter::{Node, Parser};

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

impl SymbolKind {
    /// The name it serializes as: `function`, `method`, `class`…
    pub fn name(self) -> &'static str {
        match self {
            SymbolKind::Function => "function",
            SymbolKind::Method => "method",
            SymbolKind::Class => "class",
            SymbolKind::Struct => "struct",
            SymbolKind::Enum => "enum",
            SymbolKind::Trait => "trait",
            SymbolKind::Interface => "interface",
            SymbolKind::Impl => "impl",
            SymbolKind::Module => "module",
            SymbolKind::Macro => "macro",
        }
    }
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
/// method's lines are not counted again for its class). `O` identifies a change.
#[derive(Debug, Clone, Serialize)]
pub struct SymbolAttribution<O> {
    pub symbol: Symbol,
    /// Change → number of its lines in the symbol.
    pub lines_by_change: BTreeMap<O, usize>,
}

/// Groups attributed lines by the innermost symbol enclosing them. Lines outside any
/// symbol are left out (callers show them as line ranges).
pub fn attribute<O: Copy + Ord>(
    symbols: &[Symbol],
    lines: &[Option<O>],
) -> Vec<SymbolAttribution<O>> {
    let mut by_symbol: BTreeMap<usize, BTreeMap<O, usize>> = BTreeMap::new();
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
    fn kind_names_are_their_serialized_form() {
        for k in [SymbolKind::Function, SymbolKind::Impl, SymbolKind::Macro] {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(serde_json::json!(k.name()))
            );
        }
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
}
