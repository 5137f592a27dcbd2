#!/usr/bin/env bash
# Runs the official OpenAI SDKs, unmodified, against the molts binary: the Python suite
# (tests/sdk/python, pytest) and the JavaScript ones (tests/sdk/js, node --test: the OpenAI SDK
# and the Vercel AI SDK's OpenAI provider).
#
# Keeps everything it installs outside the clone, so later runs are fast and offline: a Python
# venv with tests/sdk/python/requirements.txt in ~/.cache/molts/sdk-venv, the npm packages of
# tests/sdk/js/package-lock.json in ~/.cache/molts/sdk-js, and build output in CARGO_TARGET_DIR
# (default ~/.cache/molts/target). Each is reinstalled only when its pin file changes, so two
# clones with different pins on one machine should each set MOLTS_SDK_CACHE (default
# ~/.cache/molts) to a directory of their own, or each run reinstalls the other's. Starts
# `molts serve` on a free loopback port with a throwaway SQLite database and stops it at the end.
# With CI=true a missing python3, node or npm is a failure; otherwise that suite is skipped
# with a warning. Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cache="${MOLTS_SDK_CACHE:-$HOME/.cache/molts}"
venv="$cache/sdk-venv"
jsdir="$cache/sdk-js"
mkdir -p "$cache" "$CARGO_TARGET_DIR"

step() { printf '\n==> %s\n' "$*"; }

failed=()
# A tool this run cannot do without: in CI that is a failure, elsewhere the suite is skipped.
missing() {
  if [ "${CI:-}" = "true" ]; then
    echo "error: $1 is required in CI"
    failed+=("$2 (missing $1)")
  else
    echo "warning: $1 not found; skipping the $2 suite"
  fi
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- Python: a venv outside the clone, reinstalled when requirements.txt or python3 changes.
python_ready=false
if ! command -v python3 >/dev/null; then
  missing python3 python
elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))'; then
  echo "error: python3 is $(python3 --version 2>&1); the SDK needs 3.8 or newer"
  failed+=("python (python3 too old)")
else
  want="$(hash_of tests/sdk/python/requirements.txt) $(python3 --version 2>&1)"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c '' 2>/dev/null \
    && [ "$(cat "$venv/.molts-stamp" 2>/dev/null)" = "$want" ]; then
    python_ready=true
  else
    step "Python SDK venv ($venv)"
    rm -rf "$venv"
    if python3 -m venv "$venv" \
      && "$venv/bin/python" -m pip install --require-virtualenv -q -r tests/sdk/python/requirements.txt; then
      echo "$want" >"$venv/.molts-stamp"
      python_ready=true
    else
      failed+=("python (installing the SDK)")
    fi
  fi
fi

# --- JavaScript: npm ci into a directory outside the clone, again when the lock file changes.
js_ready=false
if ! command -v node >/dev/null; then
  missing node javascript
elif ! command -v npm >/dev/null; then
  missing npm javascript
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "error: node is $(node --version); the suite needs 20 or newer"
  failed+=("javascript (node too old)")
else
  want="$(hash_of tests/sdk/js/package.json tests/sdk/js/package-lock.json)"
  if [ -d "$jsdir/node_modules/openai" ] && [ "$(cat "$jsdir/.molts-stamp" 2>/dev/null)" = "$want" ]; then
    js_ready=true
  else
    step "JavaScript SDK packages ($jsdir)"
    rm -rf "$jsdir"
    mkdir -p "$jsdir"
    cp tests/sdk/js/package.json tests/sdk/js/package-lock.json "$jsdir/"
    if npm ci --prefix "$jsdir" --no-audit --no-fund --ignore-scripts; then
      echo "$want" >"$jsdir/.molts-stamp"
      js_ready=true
    else
      failed+=("javascript (npm ci)")
    fi
  fi
fi

# --- The server.
step "building molts"
cargo build -p molts --locked

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

step "starting molts serve (SQLite in $tmp)"
MOLTS_ADMIN_TOKEN="sdk-operator-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export MOLTS_ADMIN_TOKEN
RUST_LOG="${RUST_LOG:-warn}" "$CARGO_TARGET_DIR/debug/molts" serve --listen 127.0.0.1:0 \
  --database-url "sqlite://$tmp/molts.db?mode=rwc" >"$tmp/stdout" 2>"$tmp/stderr" &
server_pid=$!
MOLTS_BASE_URL=""
for _ in $(seq 1 600); do
  MOLTS_BASE_URL=$(sed -n 's/^molts listening on //p' "$tmp/stdout" | head -n 1)
  [ -n "$MOLTS_BASE_URL" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$MOLTS_BASE_URL" ]; then
  echo "molts did not start listening; its output:"
  cat "$tmp/stdout" "$tmp/stderr"
  exit 1
fi
export MOLTS_BASE_URL
echo "molts is at $MOLTS_BASE_URL"

# --- The suites. Both run even if the first fails.
if $python_ready; then
  step "OpenAI Python SDK $("$venv/bin/python" -c 'import openai; print(openai.__version__)') (pytest)"
  # No .pytest_cache or __pycache__ left in the clone.
  if ! (cd tests/sdk/python && PYTHONDONTWRITEBYTECODE=1 timeout 600 \
    "$venv/bin/python" -m pytest -v -p no:cacheprovider test_openai_sdk.py); then
    failed+=("python")
  fi
fi

if $js_ready; then
  # The suites (and their shared molts.mjs) run from the install directory, so that
  # `import 'openai'` resolves there.
  cp tests/sdk/js/*.mjs "$jsdir/"
  version() { node -p "require('$jsdir/node_modules/$1/package.json').version"; }
  step "OpenAI JavaScript SDK $(version openai), AI SDK $(version ai) with @ai-sdk/openai $(version @ai-sdk/openai) (node --test)"
  if ! (cd "$jsdir" && timeout 600 node --test --test-reporter=tap ./*.test.mjs); then
    failed+=("javascript")
  fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo
  echo "SDK tests failed: ${failed[*]}"
  echo "molts log (last 50 lines):"
  tail -n 50 "$tmp/stderr"
  exit 1
fi
