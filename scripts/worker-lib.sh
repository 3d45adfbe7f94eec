# Sourced by scripts/dev, scripts/test-worker and scripts/bench-worker: starts and stops the
# edge worker under `wrangler dev` (workerd) on 127.0.0.1, in its own process group so that
# stopping it leaves no wrangler or workerd process behind.

# ensure_dev_vars: writes .dev.vars (git-ignored) with a fresh HMAC key and sign-up key when it
# does not exist yet. These are the Worker secrets for local development only.
ensure_dev_vars() {
  if [[ ! -f .dev.vars ]]; then
    umask 077
    {
      printf 'PORTCULLIS_HASHING_KEY=%s\n' "$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
      printf 'PORTCULLIS_SIGNUP_KEY=pcsu_%s\n' "$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    } > .dev.vars
  fi
}

# signup_key: the local sign-up key from .dev.vars.
signup_key() {
  sed -n 's/^PORTCULLIS_SIGNUP_KEY=//p' .dev.vars
}

# build_worker: the release build wrangler would run, once, up front (so start-up is fast).
build_worker() {
  WASM_BINDGEN_BIN=wasm-bindgen WASM_OPT_BIN=./node_modules/.bin/wasm-opt \
    ESBUILD_BIN=./node_modules/.bin/esbuild worker-build --release crates/worker
}

# start_worker PORT PERSIST_DIR LOG: starts wrangler dev in the background; sets WORKER_PGID.
# WORKER_VARS may hold space-separated NAME:VALUE Worker variables for this run (e.g. test-only
# settings), passed as `--var`.
start_worker() {
  local port="$1" persist="$2" log="$3" vars=() pair
  for pair in ${WORKER_VARS:-}; do vars+=(--var "$pair"); done
  mkdir -p "$persist"
  setsid npx --no-install wrangler dev --local --ip 127.0.0.1 --port "$port" \
    --inspector-port 0 --persist-to "$persist" --show-interactive-dev-session=false \
    --log-level warn "${vars[@]}" >"$log" 2>&1 < /dev/null &
  WORKER_PGID=$!
}

# wait_worker PORT [SECONDS]: waits until the health route answers.
wait_worker() {
  local port="$1" limit="${2:-90}" waited=0
  until curl -fsS -o /dev/null "http://127.0.0.1:${port}/v1/health" 2>/dev/null; do
    if ! kill -0 "$WORKER_PGID" 2>/dev/null; then
      echo "wrangler dev exited during start-up" >&2
      return 1
    fi
    if (( waited >= limit * 2 )); then
      echo "wrangler dev did not answer on port ${port} within ${limit} s" >&2
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
}

# stop_worker: stops the whole process group (npx, wrangler, workerd).
stop_worker() {
  if [[ -n "${WORKER_PGID:-}" ]]; then
    kill -TERM -- "-$WORKER_PGID" 2>/dev/null || true
    for _ in $(seq 1 20); do
      kill -0 -- "-$WORKER_PGID" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL -- "-$WORKER_PGID" 2>/dev/null || true
    WORKER_PGID=
  fi
}

# free_port: a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
