#!/usr/bin/env bash
# molts on Cloudflare Workers, tested on the real runtime: workerd under `wrangler dev` (local
# mode, no Cloudflare account), with local D1, R2 and Durable Objects.
#
#  1. the release .wasm size, raw and gzipped, of the production build (scripts/workers-size.sh);
#  2. the test build (`contract-tests` feature), D1 migrations applied with
#     `wrangler d1 migrations apply --local` from runtimes/cloudflare/migrations;
#  3. the fake providers (molts-fakes) on loopback, every provider's base URL pointed at them;
#  4. `wrangler dev` on a free loopback port, then:
#     - the black-box conformance suite (molts-conformance), as against the standalone binary,
#       with the cron trigger fired every 3 s (webhook deliveries) and the suite's own receiver
#       and fakes on loopback allowed;
#     - the store contract suite (molts_core::testkit) against D1, an R2 round trip and the
#       Durable Object limiter's exactness, inside workerd (the test-only /_molts_test/ routes);
#     - generation through the fetch HttpClient against the fakes (plain, streamed, a fault);
#     - a cron trigger (`/__scheduled`, wrangler's --test-scheduled) running the scheduled work.
#
# Tools (worker-build, wasm-bindgen-cli, wrangler, binaryen, esbuild) are installed outside the
# clone by scripts/lib/workers-tools.sh and reused. With CI=true anything missing is a failure;
# elsewhere the script says what is missing and skips. Ends with `workers: N passed, M failed`.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/molts/target), MOLTS_TOOLS_DIR (default
# ~/.cache/molts).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_TOKEN="workers-conformance-operator-token-0123456789"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
ROOT=$(pwd)
WORKER_DIR="$ROOT/runtimes/cloudflare"

say() { printf '%s\n' "workers-conformance: $*"; }
missing() {
  if [ "${CI:-}" = "true" ]; then
    say "FAILED: $*"; exit 1
  fi
  say "skipped: $*"; exit 0
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

command -v curl >/dev/null || missing "curl is not installed"
command -v python3 >/dev/null || missing "python3 is not installed"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown || missing "the wasm32-unknown-unknown target"
# shellcheck source=lib/workers-tools.sh
. scripts/lib/workers-tools.sh
ensure_workers_tools || missing "the Workers toolchain could not be installed (see above)"

WORK=$(mktemp -d)
WRANGLER_PID=""
FAKES_PID=""
TICKER_PID=""
cleanup() {
  if [ -n "$TICKER_PID" ]; then kill "$TICKER_PID" 2>/dev/null || true; fi
  # wrangler runs in its own process group (setsid): end the group, workerd included.
  if [ -n "$WRANGLER_PID" ] && kill -0 "$WRANGLER_PID" 2>/dev/null; then
    kill -TERM -- "-$WRANGLER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$WRANGLER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$WRANGLER_PID" 2>/dev/null || true
  fi
  if [ -n "$FAKES_PID" ]; then kill "$FAKES_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { say "ok   $*"; passed=$((passed + 1)); }
fail() { say "FAIL $*"; failed=$((failed + 1)); }

# 1. The production build and its size (fails above Cloudflare's limit).
./scripts/workers-size.sh

# 2. The test build: the same worker plus the /_molts_test/ routes.
say "building the worker with the contract-tests feature"
(cd "$WORKER_DIR" && worker-build --profile workers --features contract-tests)
say "building molts-conformance and molts-fakes"
cargo build --locked -q -p molts-conformance --bin molts-conformance -p molts-fakes --bin molts-fakes

# Local D1/R2/Durable Object state lives in a fresh directory, removed at the end.
STATE="$WORK/state"
say "applying the D1 migrations (wrangler d1 migrations apply --local)"
(cd "$WORKER_DIR" && MOLTS_WORKER_BUILD=true "$WRANGLER" d1 migrations apply DB --local \
  --persist-to "$STATE") >"$WORK/migrations.log" 2>&1 \
  || { cat "$WORK/migrations.log"; say "FAILED: D1 migrations"; exit 1; }
grep -q "0001_m20261124_000001_initial.sql" "$WORK/migrations.log" && pass "d1 migrations applied" \
  || fail "d1 migrations: the initial migration was not listed"

# 3. The fake providers; their keys and base URLs become the worker's vars.
"$CARGO_TARGET_DIR/debug/molts-fakes" --listen 127.0.0.1:0 --print-env >"$WORK/fakes.out" 2>&1 &
FAKES_PID=$!
for _ in $(seq 1 100); do grep -q '^OPENAI_BASE_URL=' "$WORK/fakes.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^OPENAI_BASE_URL=' "$WORK/fakes.out" || { cat "$WORK/fakes.out"; say "FAILED: molts-fakes"; exit 1; }
# OPENAI_TIMEOUT_SECONDS=2 lets the timeout check below see fetch give up on a stalled provider.
# MOLTS_WEBHOOK_ALLOW_HOSTS lets the suite's webhook receiver on loopback be reached.
vars=(--var "MOLTS_ADMIN_TOKEN:$ADMIN_TOKEN" --var "MOLTS_SECRET_KEY:$(printf '7f%.0s' $(seq 1 32))"
  --var "OPENAI_TIMEOUT_SECONDS:2" --var "MOLTS_WEBHOOK_ALLOW_HOSTS:127.0.0.1")
while IFS= read -r line; do
  vars+=(--var "${line%%=*}:${line#*=}")
done < <(grep -E '^[A-Z_]+=' "$WORK/fakes.out")

# 4. wrangler dev, local mode, on a free loopback port.
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
say "starting wrangler dev on $BASE"
(
  cd "$WORKER_DIR"
  export MOLTS_WORKER_BUILD=true
  # A dev registry of its own: wrangler reloads the Worker whenever the shared registry
  # (~/.config/.wrangler/registry) changes, e.g. when an earlier wrangler's entry goes away, and a
  # non-GET request caught by that reload gets wrangler's own 503 ("restarted mid-request").
  export WRANGLER_REGISTRY_PATH="$WORK/registry"
  exec setsid "$WRANGLER" dev --local --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" \
    --test-scheduled --show-interactive-dev-session=false "${vars[@]}"
) >"$WORK/wrangler.log" 2>&1 &
WRANGLER_PID=$!
# Ready means: answering, and past the rebuild wrangler always runs once its file watcher is up
# (it logs "The file src changed, restarting build..." and then reloads the Worker; a request
# during that reload gets wrangler's own 503). So wait for that line and for a "Ready on" or
# "updated and ready" after it.
settled() {
  awk '/restarting build/ { r = NR } /Ready on|updated and ready/ { if (r && NR > r) ok = 1 }
       END { exit ok ? 0 : 1 }' "$WORK/wrangler.log"
}
ready=""
started=$(date +%s%N)
for _ in $(seq 1 600); do
  kill -0 "$WRANGLER_PID" 2>/dev/null || break
  if settled && [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/health" 2>/dev/null)" = 200 ]; then
    ready=1; break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  say "wrangler dev did not answer; its log:"; cat "$WORK/wrangler.log"; exit 1
fi
say "ready in $(( ($(date +%s%N) - started) / 1000000 )) ms (wrangler start and reload, first request, bootstrap)"
# The isolate's first request includes instantiating the Worker and bootstrapping the gateway
# against D1; figures for docs/BENCHMARKS.md.
say "first request in the isolate: $(grep -m1 -o 'GET /v1/health 200 OK ([0-9.]*m\?s)' "$WORK/wrangler.log" | grep -o '([^)]*)' || echo '?')"
warm=$(for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{time_total}\n' "$BASE/v1/health"; done | sort -n | sed -n 10p)
say "warm GET /v1/health through wrangler dev, median of 20: $(awk -v t="$warm" 'BEGIN { printf "%.1f ms", t * 1000 }')"

# The conformance suite, exactly as against the standalone binary. Meanwhile the cron trigger
# fires every 3 s instead of every minute (wrangler's /__scheduled): the scheduled work delivers
# the suite's webhooks.
(
  while sleep 3; do
    curl -s -o /dev/null --max-time 60 "$BASE/__scheduled?cron=*+*+*+*+*" || true
  done
) &
TICKER_PID=$!
suite=0
"$CARGO_TARGET_DIR/debug/molts-conformance" --base-url "$BASE" --admin-token "$ADMIN_TOKEN" \
  | tee "$WORK/suite.out" || suite=1
kill "$TICKER_PID" 2>/dev/null || true
TICKER_PID=""
s_passed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$WORK/suite.out" | tail -n 1)
s_failed=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$WORK/suite.out" | tail -n 1)
passed=$((passed + ${s_passed:-0}))
failed=$((failed + ${s_failed:-1}))
if [ "$suite" != 0 ] && [ "${s_failed:-1}" = 0 ]; then fail "the conformance suite exited non-zero"; fi

# The store contract suite on D1, R2 and the limiter, inside workerd.
checks=$(curl -sf "$BASE/_molts_test/list" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["checks"]))') \
  || { fail "the contract-tests routes are missing"; checks=""; }
for check in $checks; do
  out=$(curl -s --max-time 300 "$BASE/_molts_test/$check" || true)
  if python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]).get("ok") is True else 1)' "$out" 2>/dev/null; then
    pass "contract.$check"
  else
    fail "contract.$check: ${out:0:500}"
  fi
done

# Providers over the fetch HttpClient, against the fakes.
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
key=$(curl -s "$BASE/v1/agents/register" -H 'content-type: application/json' \
  -d '{"name":"Fetch","email":"fetch@example.com","soul_md":"# Fetch"}' | json 'd["api_key"]' 2>/dev/null || true)
if [ -z "$key" ]; then
  fail "fetch: could not register an agent"
else
  chat() {
    curl -s -w '\n%{http_code}' "$BASE/v1/chat/completions" -H "authorization: Bearer $key" \
      -H 'content-type: application/json' -d "$1"
  }
  out=$(chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello over fetch"}]}')
  body=$(sed '$d' <<<"$out"); code=$(tail -n 1 <<<"$out")
  if [ "$code" = 200 ] && [ -n "$(json 'd["choices"][0]["message"]["content"]' <<<"$body" 2>/dev/null)" ]; then
    pass "fetch.chat_through_openai_fake"
  else
    fail "fetch.chat_through_openai_fake: $code ${body:0:300}"
  fi
  out=$(chat '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Stream it"}]}')
  body=$(sed '$d' <<<"$out"); code=$(tail -n 1 <<<"$out")
  if [ "$code" = 200 ] && grep -q '^data: \[DONE\]' <<<"$body" && [ "$(grep -c '^data: {' <<<"$body")" -ge 2 ]; then
    pass "fetch.streamed_chat"
  else
    fail "fetch.streamed_chat: $code ${body:0:300}"
  fi
  out=$(chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"[[fake-fault:status=401]]"}]}')
  body=$(sed '$d' <<<"$out"); code=$(tail -n 1 <<<"$out")
  if [ "${code:0:1}" = 5 ] && [ -n "$(json 'd["error"]["type"]' <<<"$body" 2>/dev/null)" ]; then
    pass "fetch.provider_error_in_the_one_format ($code)"
  else
    fail "fetch.provider_error_in_the_one_format: $code ${body:0:300}"
  fi
  # A provider that answers after 20 s: fetch is aborted at the 2 s timeout (retries included,
  # well under 20 s) and the client gets a 5xx in the one format.
  t0=$(date +%s)
  out=$(chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"[[fake-fault:delay-ms=20000]]"}]}')
  took=$(( $(date +%s) - t0 ))
  body=$(sed '$d' <<<"$out"); code=$(tail -n 1 <<<"$out")
  if [ "${code:0:1}" = 5 ] && [ "$took" -lt 15 ] && [ -n "$(json 'd["error"]["message"]' <<<"$body" 2>/dev/null)" ]; then
    pass "fetch.timeout ($code after ${took}s)"
  else
    fail "fetch.timeout: $code after ${took}s: ${body:0:300}"
  fi
fi

# A cron trigger runs the scheduled work hook.
if [ "$(curl -s "$BASE/__scheduled?cron=*+*+*+*+*")" = "Ran scheduled event" ]; then
  for _ in $(seq 1 50); do grep -q 'molts scheduled work (\* \* \* \* \*): {' "$WORK/wrangler.log" && break; sleep 0.1; done
fi
if grep -q 'molts scheduled work (\* \* \* \* \*): {"jobs_advanced"' "$WORK/wrangler.log"; then
  pass "cron.scheduled_work ($(grep -o 'molts scheduled work (\* \* \* \* \*): {.*}' "$WORK/wrangler.log" | tail -n 1 | sed 's/.*: //'))"
else
  fail "cron.scheduled_work: no report in the worker's log"
fi

if [ "$failed" != 0 ]; then
  say "wrangler log (first 40 lines, then the last 80):"
  head -n 40 "$WORK/wrangler.log"
  echo "…"
  tail -n 80 "$WORK/wrangler.log"
  # The whole log stays for a closer look (the work directory is removed on exit).
  cp "$WORK/wrangler.log" "$CARGO_TARGET_DIR/workers-conformance-wrangler.log"
  say "the whole wrangler log: $CARGO_TARGET_DIR/workers-conformance-wrangler.log"
fi
echo "workers: $passed passed, $failed failed"
[ "$failed" = 0 ]
