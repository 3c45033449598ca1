#!/usr/bin/env bash
# The Sublime Text package's tests (Sublime itself is not run): plugin logic against
# stubbed `sublime`, `sublime_plugin` and `LSP.plugin` modules, the resource files, and
# the plugin's settings and commands against the real `observatory lsp` on the ai-blame
# fixture. A venv with the test dependency (jsonschema, pinned) lives in
# ${OBSERVATORY_TOOLS_DIR:-~/.cache/observatory-tools}/sublime-tests.
#   OBSERVATORY_BIN  the binary (default: $CARGO_TARGET_DIR/debug/observatory,
#                    CARGO_TARGET_DIR defaulting to ~/.cache/observatory-target)
# Anything missing (python3, the binary, the fixture) fails the run: nothing is skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="${OBSERVATORY_TOOLS_DIR:-$HOME/.cache/observatory-tools}"
export OBSERVATORY_BIN="${OBSERVATORY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/observatory-target}/debug/observatory}"

command -v python3 >/dev/null || { echo "error: python3 not found" >&2; exit 1; }
[ -x "$OBSERVATORY_BIN" ] || { echo "error: no observatory binary at $OBSERVATORY_BIN (cargo build -p observatory-cli)" >&2; exit 1; }

venv="$tools/sublime-tests"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import jsonschema' 2>/dev/null; then
  echo "installing the Sublime package's test dependencies into $venv"
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check jsonschema==4.17.3
fi
cd "$here"
exec "$venv/bin/python" -m unittest discover -s "$here" -p 'test_*.py' -v
