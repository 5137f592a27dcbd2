#!/usr/bin/env bash
# Runs every check and test molts has, on a fresh machine or a warm one.
#
# Installs what it needs when missing (the wasm32 target; a PostgreSQL server from Debian's
# packages; cargo-lambda from PyPI into ~/.cache/molts/cargo-lambda-venv), keeps build output
# outside the clone (CARGO_TARGET_DIR, default ~/.cache/molts/target) so later runs are fast, and
# never skips a database or emulator test silently: with CI=true a missing PostgreSQL,
# cargo-lambda, moto (the local S3 server of scripts/s3-tests.sh, in ~/.cache/molts/venvs/moto)
# or Workers toolchain (worker-build, wasm-bindgen-cli, wrangler; ~/.cache/molts/tools, see
# scripts/lib/workers-tools.sh) is a failure. Ends with the official OpenAI SDKs against the molts
# binary (scripts/sdk-tests.sh; its Python venv and npm packages live in ~/.cache/molts).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export MOLTS_TEST_POSTGRES_URL="${MOLTS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
mkdir -p "$CARGO_TARGET_DIR"

step() { printf '\n==> %s\n' "$*"; }

ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    step "installing the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_up; then return 0; fi
  step "PostgreSQL is not answering on 127.0.0.1:5432; starting or installing it"
  if ! command -v pg_ctlcluster >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "cannot install PostgreSQL (need root and apt-get)"; return 1
    fi
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Tests connect over loopback without a password, as on the CI machines.
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb test"
  pg_up
}

ensure_wasm_target
if ensure_postgres; then
  export MOLTS_REQUIRE_POSTGRES=1
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is required in CI and could not be started"; exit 1
else
  echo "warning: PostgreSQL unavailable; its tests will say they were skipped"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "molts-core (and molts-demo without its native encoder) build for wasm32-unknown-unknown"
cargo build -p molts-core --target wasm32-unknown-unknown --locked
cargo build -p molts-demo --no-default-features --target wasm32-unknown-unknown --locked

step "the Workers crates: clippy for wasm32-unknown-unknown (warnings denied)"
cargo clippy --locked --target wasm32-unknown-unknown --all-features -p molts-d1 -p molts-r2 \
  -p molts-fetch -p molts-durable-limiter -p molts-cloudflare -- -D warnings

step "the demo's pure-Rust video encoder (video-pure, what the Worker uses)"
cargo test --locked -p molts-demo --no-default-features --features video-pure

step "molts-core depends on no runtime crate"
forbidden='^(tokio|mio|hyper|axum|reqwest|sea-orm|sqlx|sqlx-core|worker|lambda_http|lambda_runtime|object_store)$'
found=$(cargo tree -p molts-core -e normal --target all --prefix none --locked | awk '{print $1}' | sort -u | grep -E "$forbidden" || true)
if [ -n "$found" ]; then echo "molts-core pulls in: $found"; exit 1; fi
echo "ok"

step "tests (unit, store contract on memory/SQLite/PostgreSQL, router, conformance vs the molts binary)"
cargo test --workspace --locked

step "the blob store contract and presigned URLs on a real S3 API (moto on loopback)"
./scripts/s3-tests.sh

step "conformance vs molts on AWS Lambda (cargo lambda watch, PostgreSQL)"
./scripts/lambda-conformance.sh

step "conformance vs molts on Cloudflare Workers (wrangler dev: workerd, local D1, R2, Durable Objects)"
./scripts/workers-conformance.sh

step "the official OpenAI SDKs (Python and JavaScript) against the molts binary"
./scripts/sdk-tests.sh
