#!/usr/bin/env bash
# Installs code-server (VS Code 1.100) and playwright-core into e2e/node_modules for the
# end-to-end tests, following /work/shared/EDITORS.md. Idempotent: each step is skipped
# when its result is already there. Needs apt-get (root) and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/../e2e"

../../../scripts/apt-install-missing.sh libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev ripgrep chromium

# code-server and playwright-core, as pinned in e2e/package-lock.json.
if [[ ! -f node_modules/code-server/out/node/entry.js || ! -d node_modules/playwright-core ]]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi

vscode=node_modules/code-server/lib/vscode
if [[ ! -f $vscode/.observatory-installed ]]; then
  (cd "$vscode" && npm install --omit=dev --ignore-scripts --no-audit --no-fund)
  mkdir -p "$vscode/node_modules/@vscode/ripgrep/bin"
  cp /usr/bin/rg "$vscode/node_modules/@vscode/ripgrep/bin/rg"
  for m in node-pty @vscode/spdlog kerberos @parcel/watcher native-watchdog @vscode/deviceid; do
    if [[ -d $vscode/node_modules/$m ]]; then
      (cd "$vscode/node_modules/$m" && npx --yes node-gyp rebuild >/dev/null)
    fi
  done
  [[ -e $vscode/node_modules.asar ]] || ln -s node_modules "$vscode/node_modules.asar"
  (cd "$vscode/extensions" && npm install --omit=dev --no-audit --no-fund)
  touch "$vscode/.observatory-installed"
fi

if [[ -d node_modules/argon2 && ! -f node_modules/argon2/.observatory-installed ]]; then
  (cd node_modules/argon2 && npx --yes node-pre-gyp rebuild --build-from-source >/dev/null)
  touch node_modules/argon2/.observatory-installed
fi
echo "code-server $(node -p "require('./node_modules/code-server/package.json').version") ready in $PWD/node_modules"
