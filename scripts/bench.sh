#!/usr/bin/env bash
# The latency molts adds over calling a provider directly: starts the fake providers and a
# release `molts serve` on SQLite pointed at them, then runs `molts-bench` (auth, rate limit and
# quota accounting all on). Prints figures and ratios; changes nothing. Loopback only.
# RUNS measurements per concurrency (default 5), then their medians: a shared machine's runs
# differ by tens of percent. Measured twice, with the request log on and off, and the two
# compared (BENCH_LOG=on|off for one only).
#
# `./scripts/bench.sh soak` instead holds molts under saturated load and prints, minute by
# minute, throughput, p50/p99/p99.9, molts' RSS and the SQLite log's and database's sizes:
# SOAK_MINUTES (default 10) at SOAK_CONCURRENCY (default 32), molts pinned to one core
# (SOAK_CORE, default 0) with `taskset`, the fake and the load generator on the others;
# SOAK_LATENCIES=file.csv also writes every request's start and latency.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
REQUESTS="${REQUESTS:-2000}"
RUNS="${RUNS:-5}"
# BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test measures PostgreSQL instead of SQLite.
# MOLTS_WORKER_THREADS=1 measures molts on one worker thread (only molts reads it).
# BENCH_RUST_LOG sets molts' RUST_LOG (default warn); its log is kept as $BENCH_KEEP_LOG if set.
DATABASE_URL="${BENCH_DATABASE_URL:-}"
MODE="${1:-latency}"
case "$MODE" in latency|soak) ;; *) echo "usage: $0 [latency|soak]" >&2; exit 2 ;; esac
SOAK_MINUTES="${SOAK_MINUTES:-10}"
SOAK_CONCURRENCY="${SOAK_CONCURRENCY:-32}"
SOAK_CORE="${SOAK_CORE:-0}"
# In a soak, molts gets one core and everything else the rest.
pin_molts=() pin_rest=()
if [ "$MODE" = soak ]; then
  others=$(seq 0 $(($(nproc) - 1)) | grep -vx "$SOAK_CORE" | paste -sd, -)
  pin_molts=(taskset -c "$SOAK_CORE")
  [ -n "$others" ] && pin_rest=(taskset -c "$others")
fi

# BENCH_BIN=dir runs the binaries in dir as they are (say, a copy of an earlier build, to
# compare two builds alternately) instead of building this checkout's.
if [ -n "${BENCH_BIN:-}" ]; then
  bin="$BENCH_BIN"
else
  cargo build --release -q -p molts -p molts-fakes -p molts-bench
  bin="$CARGO_TARGET_DIR/release"
fi
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  if [ -n "${BENCH_KEEP_LOG:-}" ]; then cp "$work/molts.err" "$BENCH_KEEP_LOG"; fi
  rm -rf "$work"
}
trap cleanup EXIT

"${pin_rest[@]}" "$bin/molts-fakes" --listen 127.0.0.1:0 --print-env > "$work/fakes.out" &
for _ in $(seq 1 100); do grep -q '^OPENAI_BASE_URL=' "$work/fakes.out" 2>/dev/null && break; sleep 0.1; done
set -a; . <(grep '_' "$work/fakes.out" | grep '=') ; set +a

token="bench-operator-token-0123456789abcdef"
# Starts molts (the request log on or off, as $1 says) and sets molts_pid and molts_url.
start_molts() {
  rm -f "$work/molts.db" "$work/molts.db-wal" "$work/molts.db-shm" "$work/molts.out"
  MOLTS_REQUEST_LOG="$1" MOLTS_ADMIN_TOKEN="$token" RUST_LOG="${BENCH_RUST_LOG:-warn}" "${pin_molts[@]}" "$bin/molts" serve --listen 127.0.0.1:0 \
    --database-url "${DATABASE_URL:-sqlite://$work/molts.db?mode=rwc}" > "$work/molts.out" 2> "$work/molts.err" &
  molts_pid=$!
  for _ in $(seq 1 100); do grep -q 'listening on' "$work/molts.out" 2>/dev/null && break; sleep 0.1; done
  molts_url=$(sed -n 's/^molts listening on //p' "$work/molts.out")
}

if [ "$MODE" = soak ]; then
  start_molts "${MOLTS_REQUEST_LOG:-true}"
  echo "machine: $(nproc) cores, $(uname -m); molts on core $SOAK_CORE ($([ -n "$DATABASE_URL" ] && echo PostgreSQL || echo SQLite)), the rest on ${others:-the same core}"
  "${pin_rest[@]}" "$bin/molts-bench" --molts "$molts_url" --admin-token "$token" \
    --direct "$OPENAI_BASE_URL" --direct-key "$OPENAI_API_KEY" \
    --soak-minutes "$SOAK_MINUTES" --concurrency "$SOAK_CONCURRENCY" --pid "$molts_pid" \
    $([ -z "$DATABASE_URL" ] && echo --database "$work/molts.db") \
    $([ -n "${SOAK_LATENCIES:-}" ] && echo --latencies "$SOAK_LATENCIES")
  exit
fi
# The same measurement with the request log on (the default) and off (MOLTS_REQUEST_LOG=false),
# each against a fresh database, then the added latency of one over the other. BENCH_LOG=on or
# off measures only that one.
modes="on off"
case "${BENCH_LOG:-both}" in on) modes=on ;; off) modes=off ;; esac
for mode in $modes; do
  start_molts "$([ "$mode" = on ] && echo true || echo false)"
  echo
  echo "== request log $mode"
  echo "machine: $(nproc) cores, $(uname -m); fake at $OPENAI_BASE_URL, molts at $molts_url ($([ -n "$DATABASE_URL" ] && echo PostgreSQL || echo SQLite))"
  "$bin/molts-bench" --molts "$molts_url" --admin-token "$token" \
    --direct "$OPENAI_BASE_URL" --direct-key "$OPENAI_API_KEY" --requests "$REQUESTS" --runs "$RUNS" \
    | tee "$work/bench-$mode.out"
  kill "$molts_pid" 2>/dev/null || true
  wait "$molts_pid" 2>/dev/null || true
done
if [ "$modes" = "on off" ]; then
  echo
  echo "== the request log's cost: added latency (median over runs), log on / log off"
  # A "<c> median" row's last two columns are the added p50 and p99 (with RUNS=1, the "<c>" row).
  added() {
    awk -v c="$2" '$1 == c && ($2 == "median" || ($2 == "|" && p50 == "")) {p50 = $(NF - 1); p99 = $NF}
      END {gsub("ms", "", p50); gsub("ms", "", p99); print p50, p99}' "$work/bench-$1.out"
  }
  for c in $(awk '$1 ~ /^[0-9]+$/ && ($2 == "median" || $2 == "|") {print $1}' "$work/bench-on.out" | sort -un); do
    read -r on50 on99 < <(added on "$c")
    read -r off50 off99 < <(added off "$c")
    awk -v c="$c" -v a="$on50" -v b="$off50" -v x="$on99" -v y="$off99" 'BEGIN {
      printf "concurrency %s: added p50 %.3f ms on, %.3f ms off (%.2fx); added p99 %.3f ms on, %.3f ms off (%.2fx)\n",
        c, a, b, (b > 0 ? a / b : 0), x, y, (y > 0 ? x / y : 0) }'
  done
fi
