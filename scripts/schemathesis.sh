#!/usr/bin/env bash
# Property-based tests of the REST API against its own OpenAPI document: schemathesis
# generates requests from /api/v1/openapi.json (valid and invalid ones) and checks every
# answer (`--checks all`): no 5xx, only documented statuses, content types and
# headers, bodies matching their schemas, invalid input rejected, valid input accepted,
# authentication enforced.
#
# It runs against a real `observatory serve` with the fixture transcripts indexed into
# a temporary data directory, and exits with schemathesis' status.
#
# Environment: OBSERVATORY_TOOLS_DIR (where the venv goes), CARGO_TARGET_DIR,
# SCHEMATHESIS_MAX_EXAMPLES (per operation and phase; default 100),
# SCHEMATHESIS_SEED (default fixed, so a failure reproduces; set another to explore),
# SCHEMATHESIS_ARGS (more `schemathesis run` arguments, e.g. `--phases fuzzing`).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
tools="${OBSERVATORY_TOOLS_DIR:-$HOME/.cache/observatory-tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/observatory-target}"
fixtures=../shared/fixtures/transcripts
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
seed="${SCHEMATHESIS_SEED:-20251228}"

# The venv's directory names the version, so changing the pin installs afresh.
venv="$tools/schemathesis-$version"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis $version into $venv"
  mkdir -p "$tools"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

if [ ! -d "$fixtures" ]; then
  echo "error: the fixture transcripts are expected at $fixtures" >&2
  exit 1
fi
cargo build --locked --quiet -p observatory-cli --bin observatory
observatory="$CARGO_TARGET_DIR/debug/observatory"
fixtures="$(cd "$fixtures" && pwd)"

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
# Its own configuration file, so the user's does not apply: the rate limit is raised
# because schemathesis sends thousands of requests with one token and every one of
# them should reach a handler; the fixtures are a workspace root so that
# GET /files/blame and /files/symbols read files rather than refuse every path.
# Webhooks: schemathesis subscribes whatever URLs it makes up, so this platform sends
# nothing (subscriptions, test events and redeliveries are queued, never delivered).
cat >"$work/config.toml" <<EOF
rate_per_second = 100000
rate_burst = 100000
workspace_roots = ["$fixtures"]

[webhooks]
deliver = false
EOF
export OBSERVATORY_CONFIG="$work/config.toml"
# `--claude-dir` for both commands: without it the platform would also index the
# user's own transcripts into the temporary store.
"$observatory" --data-dir "$data" --claude-dir "$fixtures" index >/dev/null
# Real session ids, which schemathesis mixes into the ids it makes up (see
# schemathesis.toml): made-up ids only ever reach the 404 and 400 paths.
{
  # The token from the environment rather than the command line, where other users'
  # `ps` would show it.
  # shellcheck disable=SC2016
  echo 'headers = { Authorization = "Bearer ${OBSERVATORY_SCHEMATHESIS_TOKEN}" }'
  cat scripts/schemathesis.toml
  printf '\n[dictionaries.sessions]\nvalues = '
  "$observatory" --data-dir "$data" conversations --json --limit 1000 |
    python3 -c 'import json, sys; print(json.dumps([c["session_id"] for c in json.load(sys.stdin)]))'
} >"$work/schemathesis.toml"
export SCHEMATHESIS_HOOKS="$PWD/scripts/schemathesis_hooks.py"
"$observatory" --data-dir "$data" --claude-dir "$fixtures" serve --bind 127.0.0.1:0 \
  2>"$work/serve.log" &
server=$!

url=""
for _ in $(seq 1 300); do
  if [ -s "$data/serve.json" ]; then
    url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$data/serve.json" 2>/dev/null || true)"
    [ -n "$url" ] && break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "error: observatory serve exited:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "error: observatory serve did not publish its address in $data/serve.json" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
OBSERVATORY_SCHEMATHESIS_TOKEN="$(cat "$data/token")"
export OBSERVATORY_SCHEMATHESIS_TOKEN

st=(
  "$venv/bin/schemathesis" --no-color --config-file "$work/schemathesis.toml"
  run "$url/api/v1/openapi.json"
  --checks all
  --max-examples "$max_examples"
  --seed "$seed"
  # One worker: with two, Python 3.11's `ast.parse` (which Hypothesis calls to
  # describe its strategies) fails now and then with "AST constructor recursion depth
  # mismatch" when both threads parse at once, an error in the tool, not the API. The
  # platform's own concurrency is tested in tests/hardening.rs.
  --workers 1
  --generation-database none
  --request-timeout 30
)
# Word splitting is what is wanted: several arguments in one variable.
# shellcheck disable=SC2206
st+=(${SCHEMATHESIS_ARGS:-})

status=0
# DELETE /conversations/{id} removes a conversation (a prefix of a session id is
# enough), so it runs last, on its own: run earlier, the operations that read
# conversations would see the fixture data disappear under them.
echo "schemathesis: every operation but DELETE /api/v1/conversations/{id}"
"${st[@]}" --exclude-operation-id delete_conversation || status=$?
echo "schemathesis: DELETE /api/v1/conversations/{id}"
"${st[@]}" --include-operation-id delete_conversation || status=$?
if [ "$status" -ne 0 ] && grep -qE "ERROR|panicked" "$work/serve.log"; then
  echo "the platform's log says:" >&2
  grep -E "ERROR|panicked" "$work/serve.log" | tail -n 20 >&2
fi
exit "$status"
