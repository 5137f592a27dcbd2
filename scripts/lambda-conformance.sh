#!/usr/bin/env bash
# The black-box conformance suite against molts on AWS Lambda's runtime, under a local Lambda
# emulator (`cargo lambda watch`), on a fresh PostgreSQL database.
#
# The `bootstrap` binary runs in the real `lambda_runtime` loop: the emulator serves the Lambda
# Runtime API, starts the function, and turns each HTTP request into a function-URL event. The
# suite talks to http://127.0.0.1:PORT/lambda-url/bootstrap, exactly as it talks to the standalone
# binary, through scripts/lib/invoke-gate.py, which queues concurrent requests in front of the
# emulator (the emulator stops dispatching when a hundred or so queue inside it; see that file).
# Then an EventBridge `Scheduled Event` and an SQS event are invoked through the emulator to
# prove the non-HTTP dispatch.
#
# cargo-lambda comes from PyPI (a prebuilt wheel; `cargo install` would take most of an hour) into
# a virtual environment outside the clone, reused when present. With CI=true a missing tool or
# database is a failure; elsewhere the script says what is missing and skips.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/molts/target), MOLTS_TOOLS_DIR (default
# ~/.cache/molts), MOLTS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_TOKEN="lambda-conformance-operator-token-0123456789"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
PG_ADMIN_URL="${MOLTS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

say() { printf '%s\n' "lambda-conformance: $*"; }
missing() {
  if [ "${CI:-}" = "true" ]; then
    say "FAILED: $*"; exit 1
  fi
  say "skipped: $*"; exit 0
}

# shellcheck source=lib/cargo-lambda.sh
. scripts/lib/cargo-lambda.sh
ensure_cargo_lambda || missing "cargo-lambda is not available (see above)"
cargo lambda --version

command -v psql >/dev/null || missing "psql (PostgreSQL client) is not installed"
command -v curl >/dev/null || missing "curl is not installed"
psql "$PG_ADMIN_URL" -qAtc 'SELECT 1' >/dev/null 2>&1 \
  || missing "PostgreSQL is not reachable at $PG_ADMIN_URL"

# A database of its own, dropped at the end whatever happens.
DB="molts_lambda_conformance_$$_$(date +%s)"
DB_URL="${PG_ADMIN_URL%/*}/$DB"
WORK=$(mktemp -d)
WATCH_PID=""
GATE_PID=""
TICKER_PID=""
cleanup() {
  if [ -n "$TICKER_PID" ]; then kill "$TICKER_PID" 2>/dev/null || true; fi
  if [ -n "$GATE_PID" ]; then kill "$GATE_PID" 2>/dev/null || true; fi
  if [ -n "$WATCH_PID" ] && kill -0 "$WATCH_PID" 2>/dev/null; then
    kill "$WATCH_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$WATCH_PID" 2>/dev/null || true
  fi
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $DB"

# Built first so the emulator's own `cargo run` finds everything fresh and starts at once.
say "building bootstrap and molts-conformance"
cargo build --locked -p molts-lambda --bin bootstrap
cargo build --locked -p molts-conformance --bin molts-conformance

PORT=$(free_port)
GATE_PORT=$(free_port)
while [ "$GATE_PORT" = "$PORT" ]; do GATE_PORT=$(free_port); done
BASE="http://127.0.0.1:$GATE_PORT/lambda-url/bootstrap"
cat >"$WORK/env" <<EOF
MOLTS_DATABASE_URL=$DB_URL
MOLTS_ADMIN_TOKEN=$ADMIN_TOKEN
MOLTS_SECRET_KEY=$(printf '7f%.0s' $(seq 1 32))
MOLTS_WEBHOOK_ALLOW_HOSTS=127.0.0.1
RUST_LOG=warn
EOF

say "starting cargo lambda watch on 127.0.0.1:$PORT"
(
  cd runtimes/lambda
  # No CORS layer: the suite should see molts' headers, not the emulator's.
  exec cargo lambda watch --ignore-changes --disable-cors --quiet \
    -A 127.0.0.1 -P "$PORT" --env-file "$WORK/env"
) >"$WORK/watch.log" 2>&1 &
WATCH_PID=$!
python3 scripts/lib/invoke-gate.py "$GATE_PORT" "$PORT" >"$WORK/gate.log" 2>&1 &
GATE_PID=$!

# The first request starts the function (cold start: migrations, bootstrap).
ready=""
for _ in $(seq 1 300); do
  if ! kill -0 "$WATCH_PID" 2>/dev/null; then break; fi
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/health" 2>/dev/null)" = 200 ]; then
    ready=1; break
  fi
  sleep 1
done
if [ -z "$ready" ]; then
  say "the function did not answer under the emulator; its log:"
  cat "$WORK/watch.log"
  exit 1
fi

# The EventBridge rule of a deployment, every 3 s instead of every minute: the scheduled work
# delivers the suite's webhooks. Through the emulator's Invoke API, as `cargo lambda invoke` does.
(
  while sleep 3; do
    curl -s -o /dev/null --max-time 60 -X POST \
      "http://127.0.0.1:$PORT/2015-03-31/functions/bootstrap/invocations" \
      --data-binary @runtimes/lambda/tests/fixtures/eventbridge-scheduled.json || true
  done
) &
TICKER_PID=$!

status=0
"$CARGO_TARGET_DIR/debug/molts-conformance" --base-url "$BASE" --admin-token "$ADMIN_TOKEN" \
  | tee "$WORK/suite.out" || status=1
kill "$TICKER_PID" 2>/dev/null || true
TICKER_PID=""
passed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$WORK/suite.out" | tail -n 1)
failed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$WORK/suite.out" | tail -n 1)
passed=${passed:-0}
failed=${failed:-1}

# Non-HTTP events through the same emulator and the same running function.
say "invoking an EventBridge Scheduled Event"
if out=$(timeout 120 cargo lambda invoke bootstrap -A 127.0.0.1 -P "$PORT" \
  --data-file runtimes/lambda/tests/fixtures/eventbridge-scheduled.json 2>&1) \
  && grep -q '"jobs_advanced"' <<<"$out"; then
  say "scheduled work ran: $out"; passed=$((passed + 1))
else
  say "FAILED: the scheduled event was not handled: $out"; status=1; failed=$((failed + 1))
fi
say "invoking an SQS event (must fail the invocation)"
if out=$(timeout 120 cargo lambda invoke bootstrap -A 127.0.0.1 -P "$PORT" \
  --data-file runtimes/lambda/tests/fixtures/sqs-message.json 2>&1); then
  say "FAILED: an SQS event was answered: $out"; status=1; failed=$((failed + 1))
elif grep -q "aws:sqs" <<<"$out"; then
  say "refused as expected"; passed=$((passed + 1))
else
  say "FAILED: unexpected error for the SQS event: $out"; status=1; failed=$((failed + 1))
fi

if [ "$status" != 0 ]; then
  say "emulator log:"
  tail -n 100 "$WORK/watch.log"
fi
# The suite's cases plus the two event checks, in the plain closing-line form.
echo "lambda: $passed passed, $failed failed"
exit "$status"
