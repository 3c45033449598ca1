#!/usr/bin/env bash
# Byte-compiles observatory.el with warnings as errors, runs checkdoc and package-lint
# on it, and runs the ERT tests in `emacs -Q --batch` against the real `observatory lsp`
# and the ai-blame fixture. Fails when Emacs is missing (scripts/test.sh installs it).
#   OBSERVATORY_BIN  the binary (default: $CARGO_TARGET_DIR/debug/observatory,
#                    CARGO_TARGET_DIR defaulting to ~/.cache/observatory-target)
#   EMACS            the Emacs to run (default: emacs)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
emacs="${EMACS:-emacs}"
export OBSERVATORY_BIN="${OBSERVATORY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/observatory-target}/debug/observatory}"

command -v "$emacs" >/dev/null || { echo "error: $emacs not found (apt-get install emacs-nox elpa-eglot elpa-markdown-mode elpa-package-lint)" >&2; exit 1; }
[ -x "$OBSERVATORY_BIN" ] || { echo "error: no observatory binary at $OBSERVATORY_BIN" >&2; exit 1; }

# Debian's elpa-* packages (eglot, markdown-mode, package-lint) for the tests; none is
# needed by the package.
site=(); for d in /usr/share/emacs/site-lisp/elpa/*/; do site+=(-L "$d"); done

build="$(mktemp -d)"; trap 'rm -rf "$build"' EXIT
cp "$here/observatory.el" "$build/"
echo "emacs: byte-compile (warnings are errors)"
"$emacs" -Q --batch --eval '(setq byte-compile-error-on-warn t)' -f batch-byte-compile "$build/observatory.el"
echo "emacs: checkdoc"
notes="$("$emacs" -Q --batch --eval "(checkdoc-file \"$build/observatory.el\")" 2>&1)"
if [ -n "$notes" ]; then echo "$notes" >&2; exit 1; fi
echo "emacs: package-lint"
# Debian's package-lint 0.16 predates Emacs 28 and calls a dependency on it uninstallable.
notes="$("$emacs" -Q --batch "${site[@]}" --eval "(require 'package-lint)" \
  -f package-lint-batch-and-exit "$build/observatory.el" 2>&1 \
  | grep -v -e '^Entering directory' -e 'uninstallable in all released Emacs versions' || true)"
if [ -n "$notes" ]; then echo "$notes" >&2; exit 1; fi
echo "emacs: ERT against $OBSERVATORY_BIN"
"$emacs" -Q --batch "${site[@]}" -L "$build" -l "$here/test/observatory-test.el" \
  --eval '(let ((stats (ert-run-tests-batch (getenv "OBSERVATORY_EMACS_TESTS"))))
            (observatory-test--teardown)
            (kill-emacs (if (zerop (ert-stats-completed-unexpected stats)) 0 1)))'
