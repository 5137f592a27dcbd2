#!/usr/bin/env bash
# The blob store contract and presigned URLs on a real S3 API: a local moto server (PyPI's
# `moto[server]`, pinned below) on a free loopback port, and molts-object-store's S3 tests
# (adapters/object-store/tests/s3.rs, `#[ignore]`d in plain `cargo test`) run against it with
# the usual AWS variables pointing there.
#
# moto lives in a Python venv outside the clone (~/.cache/molts/venvs/moto), reused while the
# pin and python3 stay the same. With CI=true a failure to install or start moto is a failure;
# elsewhere the script says the S3 tests were not run and exits 0. Test failures always fail.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/molts/target).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_PIN="moto[server]==5.2.5"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
venv="$HOME/.cache/molts/venvs/moto"
started=$(date +%s)

say() { printf '%s\n' "s3-tests: $*"; }
unavailable() {
  if [ "${CI:-}" = "true" ]; then
    say "FAILED: $* (required in CI)"; exit 1
  fi
  say "NOT RUN: $*; the S3 tests were skipped"; exit 0
}

# --- moto, installed once into its own venv.
command -v python3 >/dev/null || unavailable "python3 is not installed"
want="$MOTO_PIN $(python3 --version 2>&1)"
if ! { [ -x "$venv/bin/moto_server" ] && [ "$(cat "$venv/.molts-stamp" 2>/dev/null)" = "$want" ]; }; then
  say "installing $MOTO_PIN into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" || unavailable "cannot create a Python venv at $venv"
  "$venv/bin/python" -m pip install --require-virtualenv -q "$MOTO_PIN" \
    || unavailable "pip could not install $MOTO_PIN"
  echo "$want" >"$venv/.molts-stamp"
fi
moto_version=$("$venv/bin/python" -c 'import moto; print(moto.__version__)')

# --- the server, on a port the kernel picks free.
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    cat "$log"; unavailable "moto_server exited at start"
  fi
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { cat "$log"; unavailable "moto_server is not listening on $port"; }
say "moto $moto_version listening on 127.0.0.1:$port"

# --- the tests, with AWS settings for the local server only (nothing from the caller's shell).
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_ENDPOINT AWS_ENDPOINT_URL_S3 \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
  AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ALLOW_HTTP=true
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=molts-test-key
export AWS_SECRET_ACCESS_KEY="molts-test-secret-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
export MOLTS_TEST_S3_ENDPOINT="$AWS_ENDPOINT_URL"
status=0
cargo test -p molts-object-store --test s3 --locked -- --ignored || status=$?
if [ "$status" -ne 0 ]; then
  say "FAILED; moto log (last 40 lines):"
  tail -n 40 "$log"
  exit "$status"
fi
say "passed against moto $moto_version in $(($(date +%s) - started)) s"
