#!/usr/bin/env bash
# Prints the Lambda figures recorded in docs/BENCHMARKS.md: the release `bootstrap` binary's size
# (as built, stripped, and zipped as Lambda takes it) and its cold start under the local Lambda
# emulator: from process start to the first HTTP response, with the emulator's Runtime API
# (`cargo lambda watch --only-lambda-apis`) handing it a function-URL event. A cold start here is
# everything Lambda's Init phase runs: read the environment, connect, migrate, bootstrap, then
# poll for the event and answer it.
#
# Measured on SQLite (a file, as on EFS) and, when reachable, on PostgreSQL: once on an empty
# database (the very first start runs every migration) and RUNS times on the migrated database
# (every later cold start). Usage: scripts/lambda-bench.sh [RUNS]  (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/molts/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
PG_ADMIN_URL="${MOLTS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
# shellcheck source=lib/cargo-lambda.sh
. scripts/lib/cargo-lambda.sh
ensure_cargo_lambda

echo "==> building the release bootstrap"
cargo build --release --locked -p molts-lambda --bin bootstrap
BIN="$CARGO_TARGET_DIR/release/bootstrap"

# The artifact a deployment uploads: `cargo lambda build`'s zip, for arm64 when its Rust target is
# installed (what the template deploys), for x86-64 otherwise.
ARCH=x86-64
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then ARCH=arm64; fi
echo "==> cargo lambda build --release --$ARCH --output-format zip"
( cd runtimes/lambda && cargo lambda build --release --locked "--$ARCH" --output-format zip )
ZIP="$CARGO_TARGET_DIR/lambda/bootstrap/bootstrap.zip"

WORK=$(mktemp -d)
WATCH_PID=""
PG_DB=""
cleanup() {
  if [ -n "$WATCH_PID" ]; then kill "$WATCH_PID" 2>/dev/null || true; wait "$WATCH_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(free_port)
( cd runtimes/lambda && exec cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$PORT" ) \
  >"$WORK/watch.log" 2>&1 &
WATCH_PID=$!
# Wait for the port only: any request to it would be an invocation, held until a function polls.
python3 - "$PORT" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("cargo lambda watch did not open its port")
PY

DATABASES="sqlite://$WORK/molts.db?mode=rwc"
if command -v psql >/dev/null && psql "$PG_ADMIN_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  PG_DB="molts_lambda_bench_$$"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $PG_DB"
  DATABASES="$DATABASES ${PG_ADMIN_URL%/*}/$PG_DB"
else
  echo "(PostgreSQL not reachable at $PG_ADMIN_URL: measuring SQLite only)"
fi

python3 - "$BIN" "$PORT" "$RUNS" "$WORK" "$ZIP" "$ARCH" $DATABASES <<'PY'
import os, statistics, subprocess, sys, time, urllib.request, zipfile

binary, port, runs, work, lambda_zip, arch = sys.argv[1:7]
runs, databases = int(runs), sys.argv[7:]

def mb(n):
    return f"{n / 1_000_000:.1f} MB"

size = os.path.getsize(binary)
stripped = os.path.join(work, "bootstrap")
subprocess.run(["strip", "-o", stripped, binary], check=True)
archive = os.path.join(work, "bootstrap.zip")
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(stripped, "bootstrap")

# The variables the emulator asks a function started by hand to have.
env = dict(os.environ)
for name in list(env):
    if name.startswith(("MOLTS_", "AWS_LAMBDA_")):
        del env[name]
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt",
    "AWS_LAMBDA_FUNCTION_NAME": "_",
    "AWS_LAMBDA_FUNCTION_VERSION": "1",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "MOLTS_ADMIN_TOKEN": "bench-operator-token-0123456789abcdef",
    "RUST_LOG": "warn",
})
url = f"http://127.0.0.1:{port}/lambda-url/_/v1/health"

def cold_start(database):
    env["MOLTS_DATABASE_URL"] = database
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            if response.status != 200:
                raise SystemExit(f"health answered {response.status}")
        first = (time.perf_counter() - started) * 1000
        warm = []
        for _ in range(20):
            t = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
            warm.append((time.perf_counter() - t) * 1000)
        return first, statistics.median(warm)
    finally:
        process.terminate()
        process.wait()

print()
print("molts on Lambda: figures")
print(f"  host                      {os.uname().machine}, {os.cpu_count()} cores")
print(f"  release bootstrap         {mb(size)} ({size} bytes, symbols kept by the release profile)")
print(f"  stripped                  {mb(os.path.getsize(stripped))}")
print(f"  stripped, zipped          {mb(os.path.getsize(archive))}")
with zipfile.ZipFile(lambda_zip) as z:
    inside = z.getinfo("bootstrap").file_size
print(f"  cargo lambda build --{arch} zip  {mb(os.path.getsize(lambda_zip))} (bootstrap inside: {mb(inside)})")
for database in databases:
    kind = "SQLite" if database.startswith("sqlite") else "PostgreSQL"
    first, _ = cold_start(database)
    results = [cold_start(database) for _ in range(runs)]
    cold = sorted(r[0] for r in results)
    warm = statistics.median(r[1] for r in results)
    print(f"  {kind}: first start, empty database (all migrations)   {first:.1f} ms")
    print(f"  {kind}: cold start, migrated database, median of {runs}  "
          f"{statistics.median(cold):.1f} ms (min {cold[0]:.1f}, max {cold[-1]:.1f})")
    print(f"  {kind}: warm GET /v1/health through the emulator, median  {warm:.2f} ms")
PY
