# Sourced by the Lambda scripts: puts cargo-lambda on PATH, installing it from PyPI (a prebuilt
# wheel, seconds; `cargo install cargo-lambda` would take most of an hour) into a virtual
# environment outside the clone, reused while it holds the pinned version.
# Returns non-zero, saying why, when it cannot; the caller decides whether that is a failure.

CARGO_LAMBDA_VERSION=1.9.2
MOLTS_TOOLS_DIR="${MOLTS_TOOLS_DIR:-$HOME/.cache/molts}"
CARGO_LAMBDA_VENV="$MOLTS_TOOLS_DIR/cargo-lambda-venv"

ensure_cargo_lambda() {
  local venv="$CARGO_LAMBDA_VENV"
  if ! { [ -x "$venv/bin/cargo-lambda" ] \
    && "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; }; then
    if ! command -v python3 >/dev/null; then
      echo "python3 is needed to install cargo-lambda"; return 1
    fi
    echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into $venv"
    mkdir -p "$MOLTS_TOOLS_DIR"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      # Debian's python3 ships venv separately.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      fi
      python3 -m venv "$venv" || { echo "cannot create a Python virtual environment"; return 1; }
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION" \
      || { echo "pip could not install cargo-lambda $CARGO_LAMBDA_VERSION"; return 1; }
  fi
  export PATH="$venv/bin:$PATH"
}

# A free TCP port on the loopback interface.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
