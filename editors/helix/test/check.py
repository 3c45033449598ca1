"""Checks of the Helix configuration (editors/check.sh): no Helix build is available on
this machine (Debian has no `helix` package for this release, PyPI none), so the
file is checked as Helix reads it and its server is run as Helix would run it.

- languages.toml parses (tomllib, TOML 1.0 as Helix's `toml` crate);
- `[language-server.observatory]` runs `observatory lsp`, its `config` is valid against
  the settings schema (editors/jetbrains/template/settings.schema.json, held to
  docs/lsp.md);
- every `[[language]]` keeps at least one server of its own before observatory, names
  only servers Helix defines by default (or this file does), and uses only Helix's
  feature names in `only-features` / `except-features`;
- `observatory lsp`, found on PATH, answers an LSP session with that `config` as
  initializationOptions and as didChangeConfiguration, with a client that supports
  window/showDocument (Helix does) and not workspace/codeLens/refresh.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import lsp_check as lc  # noqa: E402
from lsp_check import check  # noqa: E402

HERE = Path(__file__).resolve().parent.parent

# Servers Helix's own languages.toml defines (its [language-server] table) that this
# file names.
HELIX_SERVERS = {
    "rust-analyzer", "ty", "ruff", "jedi", "pylsp", "pyright", "basedpyright", "gopls",
    "golangci-lint-lsp", "typescript-language-server", "clangd", "jdtls",
}
# Helix's LanguageServerFeature names (helix-core syntax config).
HELIX_FEATURES = {
    "format", "goto-definition", "goto-declaration", "goto-type-definition",
    "goto-reference", "goto-implementation", "signature-help", "hover",
    "document-highlight", "completion", "code-action", "workspace-command",
    "document-symbols", "workspace-symbols", "diagnostics", "rename-symbol",
    "inlay-hints", "document-colors",
}


def name_of(entry) -> str:
    return entry if isinstance(entry, str) else entry.get("name", "")


def main() -> int:
    print("helix: languages.toml")
    text = (HERE / "languages.toml").read_text()
    try:
        conf = tomllib.loads(text)
        check("languages.toml parses as TOML", True)
    except tomllib.TOMLDecodeError as e:
        check("languages.toml parses as TOML", False, str(e))
        return lc.summary("helix")
    server = conf.get("language-server", {}).get("observatory", {})
    check("[language-server.observatory] command is `observatory`", server.get("command") == "observatory")
    check("[language-server.observatory] args are [\"lsp\"]", server.get("args") == ["lsp"])
    check("no keys Helix's language-server table does not have",
          set(server) <= {"command", "args", "config", "environment", "timeout", "required-root-patterns"},
          f"{sorted(server)}")
    lc.check_settings_schema()
    lc.check_settings_value("[language-server.observatory] config", server.get("config", {}))
    defined = HELIX_SERVERS | set(conf.get("language-server", {}))
    languages = conf.get("language", [])
    check("languages are configured", len(languages) >= 8, f"{len(languages)}")
    names = [lang.get("name") for lang in languages]
    check("each language appears once", len(names) == len(set(names)), f"{names}")
    for ext in ("rust", "python", "go", "typescript", "tsx", "javascript", "jsx"):
        check(f"{ext} is configured (a language whose functions the server names)", ext in names)
    for lang in languages:
        servers = lang.get("language-servers", [])
        listed = [name_of(s) for s in servers]
        where = listed.index("observatory") if "observatory" in listed else -1
        check(f"{lang['name']}: observatory is listed after the language's own server(s)",
              where >= 1 and all(n != "observatory" for n in listed[:where]), f"{listed}")
        unknown = [n for n in listed if n not in defined]
        check(f"{lang['name']}: every server is Helix's or this file's", not unknown, f"{unknown}")
        for s in servers:
            if isinstance(s, dict):
                feats = set(s.get("only-features", [])) | set(s.get("except-features", []))
                check(f"{lang['name']}: {name_of(s)}'s features are Helix's",
                      feats <= HELIX_FEATURES, f"{sorted(feats - HELIX_FEATURES)}")
    hx = shutil.which("hx") or shutil.which("helix")
    if hx:
        out = subprocess.run([hx, "--health", "python"], capture_output=True, text=True)
        check("hx --health python runs", out.returncode == 0, out.stderr)
    else:
        print("  note hx is not installed here (no Debian or PyPI build): Helix itself not run")
    lc.handshake("helix", [server["command"], *server["args"]],
                 init_options=server.get("config"), settings=server.get("config"),
                 show_document=True, code_lens_refresh=False)
    return lc.summary("helix")


if __name__ == "__main__":
    sys.exit(main())
