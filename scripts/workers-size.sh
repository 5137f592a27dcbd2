#!/usr/bin/env bash
# Builds the production Cloudflare Worker (`worker-build --profile workers`, no test features)
# and reports its .wasm size, raw and gzipped (gzip -9, as Cloudflare measures the upload). Fails
# above Cloudflare's free-plan limit of 3 MiB gzipped; says so when above the 1 MiB aim.
# Also fails if the test-only routes leaked into it. Figures go in docs/BENCHMARKS.md. Tools
# come from scripts/lib/workers-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# shellcheck source=lib/workers-tools.sh
. scripts/lib/workers-tools.sh
ensure_workers_tools || { echo "workers-size: the Workers toolchain is missing"; exit 1; }

echo "workers-size: building the production worker (worker-build --profile workers)"
(cd runtimes/cloudflare && worker-build --profile workers)
wasm=runtimes/cloudflare/build/index_bg.wasm
# The test-only routes (cargo feature contract-tests) must not be in what gets deployed.
if grep -aq "/_molts_test/" "$wasm"; then
  echo "workers-size: FAILED: the production build contains the test-only /_molts_test/ routes"; exit 1
fi
raw=$(wc -c <"$wasm")
gz=$(gzip -9c "$wasm" | wc -c)
kib() { awk -v b="$1" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }
echo "workers-size: $wasm: raw $raw bytes ($(kib "$raw")), gzipped $gz bytes ($(kib "$gz"))"
if [ "$gz" -gt $((3 * 1024 * 1024)) ]; then
  echo "workers-size: FAILED: above Cloudflare's 3 MiB gzipped limit"; exit 1
elif [ "$gz" -gt $((1024 * 1024)) ]; then
  echo "workers-size: note: above the 1 MiB gzipped aim"
fi
