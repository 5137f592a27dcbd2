# Sourced by the Workers scripts: makes the Cloudflare Workers toolchain available, installing
# what is missing into a directory outside the clone (MOLTS_TOOLS_DIR, default ~/.cache/molts),
# reused while it holds the pinned versions:
#
#   - worker-build (crates.io), which builds the worker: cargo → wasm-bindgen → wasm-opt → esbuild;
#   - wasm-bindgen-cli (crates.io) of exactly the wasm-bindgen version in Cargo.lock: worker-build
#     would otherwise download it from GitHub, which these machines cannot reach;
#   - wrangler, binaryen (wasm-opt) and esbuild from npm, into one node_modules. workerd ships
#     inside wrangler's npm dependencies as a prebuilt binary, so no install scripts are needed.
#
# `cargo install` of worker-build and wasm-bindgen-cli takes about ten minutes each on two cores;
# their build directories are separate and deleted afterwards, only the binaries are kept.
# Each ensure_* returns non-zero, saying why, when it cannot; the caller decides what that means.
# On success the variables worker-build reads (WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN) and
# WRANGLER are exported.

WORKER_BUILD_VERSION=0.8.7
# The last wrangler that runs on Node 20 (newer ones need Node 22).
WRANGLER_VERSION=4.86.0
# The wasm-opt and esbuild versions worker-build 0.8.7 was made with.
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.28.2
MOLTS_TOOLS_DIR="${MOLTS_TOOLS_DIR:-$HOME/.cache/molts}"
WORKERS_TOOLS="$MOLTS_TOOLS_DIR/tools"
MOLTS_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The wasm-bindgen version Cargo.lock pins: the CLI must match the library byte for byte.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$MOLTS_REPO_ROOT/Cargo.lock"
}

# cargo_install_tool CRATE VERSION BIN: installs CRATE@VERSION into $WORKERS_TOOLS/CRATE-VERSION.
cargo_install_tool() {
  local crate=$1 version=$2 bin=$3
  local root="$WORKERS_TOOLS/$crate-$version"
  if [ -x "$root/bin/$bin" ]; then return 0; fi
  echo "installing $crate $version into $root (about ten minutes on two cores)"
  mkdir -p "$WORKERS_TOOLS"
  local build="$WORKERS_TOOLS/build-$crate-$version"
  # No --locked: a dependency pinned in wasm-bindgen-cli's own lock file has been yanked.
  if ! cargo install --quiet "$crate" --version "=$version" --root "$root" --target-dir "$build"; then
    echo "cargo install $crate $version failed"; return 1
  fi
  rm -rf "$build"
  [ -x "$root/bin/$bin" ]
}

ensure_worker_build() {
  cargo_install_tool worker-build "$WORKER_BUILD_VERSION" worker-build || return 1
  export PATH="$WORKERS_TOOLS/worker-build-$WORKER_BUILD_VERSION/bin:$PATH"
}

ensure_wasm_bindgen() {
  local version
  version=$(locked_wasm_bindgen_version)
  if [ -z "$version" ]; then echo "no wasm-bindgen in Cargo.lock"; return 1; fi
  cargo_install_tool wasm-bindgen-cli "$version" wasm-bindgen || return 1
  export WASM_BINDGEN_BIN="$WORKERS_TOOLS/wasm-bindgen-cli-$version/bin/wasm-bindgen"
}

ensure_node_tools() {
  local dir="$WORKERS_TOOLS/workers-npm-$WRANGLER_VERSION-$BINARYEN_VERSION-$ESBUILD_VERSION"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node and npm are needed for wrangler"; return 1
  fi
  if ! [ -x "$dir/node_modules/.bin/wrangler" ] || ! [ -x "$dir/node_modules/.bin/wasm-opt" ] \
    || ! [ -x "$dir/node_modules/.bin/esbuild" ]; then
    echo "installing wrangler $WRANGLER_VERSION, binaryen $BINARYEN_VERSION, esbuild $ESBUILD_VERSION into $dir"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
    if ! (cd "$dir" && npm install --silent --no-audit --no-fund --save-exact \
      "wrangler@$WRANGLER_VERSION" "binaryen@$BINARYEN_VERSION" "esbuild@$ESBUILD_VERSION"); then
      echo "npm could not install wrangler, binaryen and esbuild"; return 1
    fi
  fi
  export WASM_OPT_BIN="$dir/node_modules/.bin/wasm-opt"
  export ESBUILD_BIN="$dir/node_modules/.bin/esbuild"
  export WRANGLER="$dir/node_modules/.bin/wrangler"
  export WRANGLER_SEND_METRICS=false
}

# Everything a Workers build and `wrangler dev` need.
ensure_workers_tools() {
  ensure_node_tools && ensure_wasm_bindgen && ensure_worker_build
}
