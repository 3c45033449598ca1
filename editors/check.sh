#!/usr/bin/env bash
# Checks of the JetBrains (LSP4IJ), Helix and Zed configurations, which have no editor
# on this machine to run in: their files against schemas and parsers, and the command
# each editor would run started for an LSP session against the real `observatory lsp`
# (editors/lsp_check.py). Fails, never skips, when a tool is missing.
#   editors/check.sh [jetbrains] [helix] [zed]     (default: all three)
#   OBSERVATORY_BIN        the binary (default $CARGO_TARGET_DIR/debug/observatory,
#                          built when missing)
#   OBSERVATORY_TOOLS_DIR  where the Python venv and jco go (default ~/.cache/observatory-tools)
# Zed: the wasm32-wasip2 Rust target (rustup) and jco (npm) are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${OBSERVATORY_TOOLS_DIR:-$HOME/.cache/observatory-tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/observatory-target}"
export OBSERVATORY_BIN="${OBSERVATORY_BIN:-$CARGO_TARGET_DIR/debug/observatory}"

command -v python3 >/dev/null || { echo "error: python3 not found" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "error: python3 >= 3.11 needed (tomllib)" >&2; exit 1; }
venv="$tools/editors-venv"
if ! "$venv/bin/python" -c 'import jsonschema, json5' 2>/dev/null; then
  echo "installing jsonschema and json5 into $venv"
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check jsonschema==4.23.0 json5==0.9.28
fi
if [ ! -x "$OBSERVATORY_BIN" ]; then
  echo "building $OBSERVATORY_BIN"
  cargo build --locked -p observatory-cli
fi
[ -d ../shared/fixtures/transcripts/ai-blame ] \
  || { echo "error: the ai-blame fixture is expected at ../shared/fixtures/transcripts/ai-blame" >&2; exit 1; }

editors=("$@")
((${#editors[@]})) || editors=(jetbrains helix zed)

# Zed builds an extension for wasm32-wasip2; jco prints the built component's WIT.
if [[ " ${editors[*]} " == *" zed "* ]]; then
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "rustup target add wasm32-wasip2"
    rustup target add wasm32-wasip2
  fi
  jco="$tools/jco/node_modules/.bin/jco"
  if [ ! -x "$jco" ]; then
    command -v npm >/dev/null || { echo "error: npm not found (needed for jco)" >&2; exit 1; }
    echo "installing jco into $tools/jco"
    npm install --prefix "$tools/jco" --no-audit --no-fund --loglevel=error @bytecodealliance/jco@1.35.0 >/dev/null
  fi
  export OBSERVATORY_JCO="$jco"
fi
status=0
for e in "${editors[@]}"; do
  case "$e" in
    jetbrains|helix|zed) ;;
    *) echo "error: unknown editor $e (jetbrains, helix, zed)" >&2; exit 2 ;;
  esac
  echo "== editors/$e"
  "$venv/bin/python" "editors/$e/test/check.py" || status=1
done
exit "$status"
