"""Checks of the Zed extension and settings (editors/check.sh). No Zed here.

- extension.toml parses and registers the `observatory` server for Zed language names;
- settings.json (JSON with comments and trailing commas, as Zed reads it) parses: the
  `lsp.observatory` binary runs `... lsp`, its initialization options and settings are
  valid against the settings schema, and each `languages.<Lang>.language_servers` keeps
  the language's own servers ("...") and adds "observatory", for a language the
  extension registers it for;
- the extension's Rust: `cargo test` on this machine (the command logic), then
  `cargo build --release --target wasm32-wasip2` (as Zed compiles a dev extension), and
  the component's WIT (jco) exports the zed:extension functions Zed calls;
- the command the settings give, with their initialization options and settings,
  answers an LSP session from a client without window/showDocument.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import json5

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import lsp_check as lc  # noqa: E402
from lsp_check import check  # noqa: E402

HERE = Path(__file__).resolve().parent.parent
# Languages Zed ships (crates/languages) by the names its settings use.
ZED_LANGUAGES = {
    "C", "C++", "CSS", "Diff", "Go", "Go Mod", "Go Work", "JavaScript", "JSDoc",
    "JSON", "JSONC", "Markdown", "Markdown-Inline", "Python", "Regex", "Rust",
    "Shell Script", "TSX", "TypeScript", "YAML",
}


def run(what: str, argv: list[str], **kw) -> subprocess.CompletedProcess | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, **kw)
    except FileNotFoundError as e:
        check(what, False, str(e))
        return None
    check(what, out.returncode == 0, (out.stdout + out.stderr)[-3000:])
    return out


def main() -> int:
    print("zed: extension")
    ext = tomllib.loads((HERE / "extension.toml").read_text())
    check("extension.toml: id, name, version, schema_version 1",
          ext.get("id") == "observatory" and ext.get("name") and ext.get("version")
          and ext.get("schema_version") == 1)
    server = ext.get("language_servers", {}).get("observatory", {})
    langs = server.get("languages", [])
    check("extension.toml registers the observatory language server", bool(langs))
    check("its languages are Zed's", set(langs) <= ZED_LANGUAGES, f"{sorted(set(langs) - ZED_LANGUAGES)}")
    for lang in ("Rust", "Python", "TypeScript", "TSX", "JavaScript", "Go"):
        check(f"it covers {lang}", lang in langs)
    cargo = tomllib.loads((HERE / "Cargo.toml").read_text())
    check("Cargo.toml builds a cdylib", "cdylib" in cargo["lib"]["crate-type"])
    check("Cargo.toml depends on zed_extension_api", "zed_extension_api" in cargo["dependencies"])

    print("zed: settings.json")
    settings = json5.loads((HERE / "settings.json").read_text())
    check("settings.json parses as JSON with comments", isinstance(settings, dict))
    lsp = settings.get("lsp", {}).get("observatory", {})
    binary = lsp.get("binary", {})
    check("lsp.observatory.binary runs `<path> lsp`",
          binary.get("arguments") == ["lsp"] and os.path.isabs(binary.get("path", "")), f"{binary}")
    lc.check_settings_schema()
    lc.check_settings_value("lsp.observatory.initialization_options", lsp.get("initialization_options", {}))
    lc.check_settings_value("lsp.observatory.settings", lsp.get("settings", {}))
    for lang, conf in settings.get("languages", {}).items():
        servers = conf.get("language_servers", [])
        check(f"languages.{lang}: keeps its servers (\"...\") and adds observatory after them",
              "..." in servers and "observatory" in servers
              and servers.index("...") < servers.index("observatory"), f"{servers}")
        check(f"languages.{lang}: the extension registers observatory for it", lang in langs)

    print("zed: the extension's Rust")
    env = dict(os.environ, CARGO_TARGET_DIR=str(Path(os.environ.get(
        "CARGO_TARGET_DIR", Path.home() / ".cache/observatory-target")) / "zed-extension"))
    run("cargo fmt --check (the extension)", ["cargo", "fmt", "--check"], cwd=HERE)
    run("cargo test (the extension's command logic, on this machine)",
        ["cargo", "test", "--locked", "--quiet"], cwd=HERE, env=env)
    run("cargo clippy -D warnings (the extension)",
        ["cargo", "clippy", "--locked", "--quiet", "--all-targets", "--", "-D", "warnings"], cwd=HERE, env=env)
    built = run("cargo build --release --target wasm32-wasip2 (as Zed builds it)",
                ["cargo", "build", "--locked", "--quiet", "--release", "--target", "wasm32-wasip2"],
                cwd=HERE, env=env)
    wasm = Path(env["CARGO_TARGET_DIR"]) / "wasm32-wasip2/release/observatory_zed.wasm"
    if built is not None and built.returncode == 0:
        jco = os.environ.get("OBSERVATORY_JCO") or shutil.which("jco") or "jco"
        out = run("jco wit reads the component", [jco, "wit", str(wasm)])
        wit = out.stdout if out else ""
        for fn in ("init-extension", "language-server-command",
                   "language-server-initialization-options",
                   "language-server-workspace-configuration"):
            check(f"the component exports {fn}", f"export {fn}: func" in wit)
        check("the component imports the zed:extension world",
              "import zed:extension/" in wit)

    print("zed: the server as the settings start it")
    # The example's path is a placeholder: the same command with the real binary.
    lc.handshake("zed", [str(lc.find_binary()), *binary.get("arguments", [])],
                 init_options=lsp.get("initialization_options"), settings=lsp.get("settings"),
                 show_document=False, code_lens_refresh=True)
    return lc.summary("zed")


if __name__ == "__main__":
    sys.exit(main())
