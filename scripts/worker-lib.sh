# Sourced by scripts/dev, scripts/test, scripts/test-worker, scripts/test-provider and the bench
# scripts: builds the edge worker, and starts and stops it under `wrangler dev` (workerd) on
# 127.0.0.1, in its own process group so that stopping it leaves no wrangler or workerd process
# behind.

# new_key_secret: a fresh value for PORTCULLIS_HASHING_KEY or PORTCULLIS_GATEWAY_KEY, base64 of
# 32 random bytes.
new_key_secret() {
  head -c 32 /dev/urandom | base64 | tr -d '\n'
}

# new_signup_key: a fresh PORTCULLIS_SIGNUP_KEY, pcsu_ and base64url of 24 random bytes.
new_signup_key() {
  printf 'pcsu_%s' "$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
}

# ensure_dev_vars: writes .dev.vars (git-ignored) with a fresh HMAC key, sign-up key and
# gateway signing key, adding whichever is missing. These are the Worker secrets for local
# development only (scripts/deploy makes the production ones).
ensure_dev_vars() {
  (
    umask 077
    touch .dev.vars
    if ! grep -q '^PORTCULLIS_HASHING_KEY=' .dev.vars; then
      printf 'PORTCULLIS_HASHING_KEY=%s\n' "$(new_key_secret)" >> .dev.vars
    fi
    if ! grep -q '^PORTCULLIS_SIGNUP_KEY=' .dev.vars; then
      printf 'PORTCULLIS_SIGNUP_KEY=%s\n' "$(new_signup_key)" >> .dev.vars
    fi
    if ! grep -q '^PORTCULLIS_GATEWAY_KEY=' .dev.vars; then
      printf 'PORTCULLIS_GATEWAY_KEY=%s\n' "$(new_key_secret)" >> .dev.vars
    fi
  )
}

# signup_key: the local sign-up key from .dev.vars.
signup_key() {
  sed -n 's/^PORTCULLIS_SIGNUP_KEY=//p' .dev.vars
}

# gateway_key: the local gateway signing key (base64) from .dev.vars.
gateway_key() {
  sed -n 's/^PORTCULLIS_GATEWAY_KEY=//p' .dev.vars
}

# build_worker: the release builds wrangler would run, once, up front (so start-up is fast): the
# Management API script (crates/worker with its default features, into crates/worker/build) and
# the edge script (without them, into crates/worker/build-edge, from its own cargo target
# directory: both are the same cdylib, and one target directory would let either build pass the
# other's wasm off as its own).
# wasm-opt runs through scripts/wasm-opt-cached: when cargo and wasm-bindgen give the same wasm
# as a build before (nothing changed since), its optimised output is reused instead of
# re-optimised (about two minutes), so a restart of scripts/dev costs seconds; any change to the
# sources gives another input hash and so a fresh wasm-opt run.
# Within one scripts/test run the worker is built once: scripts/test builds it with
# build_worker_stamped and exports PORTCULLIS_WORKER_BUILD_ID, and build_worker then reuses that
# build as long as crates/worker/build still carries the same id (any other build removes it).
# The id is new for every scripts/test run, so a build left by an earlier run is never reused.
worker_build_stamp=crates/worker/build/.portcullis-build-id
build_worker() {
  if [[ -n "${PORTCULLIS_WORKER_BUILD_ID:-}" && -f crates/worker/build/worker/shim.mjs &&
    -f crates/worker/build-edge/worker/shim.mjs ]] &&
    [[ "$(cat "$worker_build_stamp" 2>/dev/null)" == "$PORTCULLIS_WORKER_BUILD_ID" ]]; then
    echo "reusing the worker built earlier in this run (build ${PORTCULLIS_WORKER_BUILD_ID})"
    WORKER_BUILT=1
    return 0
  fi
  rm -f "$worker_build_stamp"
  local edge_target="${CARGO_TARGET_DIR:-target}/edge"
  [[ "$edge_target" == /* ]] || edge_target="$PWD/$edge_target"
  WASM_BINDGEN_BIN=wasm-bindgen WASM_OPT_BIN=./scripts/wasm-opt-cached \
    ESBUILD_BIN=./node_modules/.bin/esbuild worker-build --release crates/worker &&
    WASM_BINDGEN_BIN=wasm-bindgen WASM_OPT_BIN=./scripts/wasm-opt-cached \
      ESBUILD_BIN=./node_modules/.bin/esbuild worker-build --release crates/worker \
      --out-dir build-edge -- --no-default-features --target-dir "$edge_target" &&
    WORKER_BUILT=1
}

# build_worker_logged LOG: build_worker with its output in LOG, printed only when it fails; says
# so when it reused the build of this scripts/test run.
build_worker_logged() {
  if ! build_worker >"$1" 2>&1; then
    cat "$1" >&2
    return 1
  fi
  grep -h '^reusing the worker' "$1" >&2 || true
}

# build_worker_stamped ID: a fresh build_worker (never a reused one), then records ID in the
# build directory for build_worker to recognise.
build_worker_stamped() {
  PORTCULLIS_WORKER_BUILD_ID= build_worker && printf '%s\n' "$1" >"$worker_build_stamp"
}

# write_dev_configs DIR ORIGIN: the two scripts' configurations for one local run, in DIR
# (edge.json, api.json): wrangler.edge.toml and wrangler.toml with absolute paths, the gateway's
# origin, and DIR/.dev.vars, the secrets of .dev.vars with WORKER_VARS (space-separated
# NAME:VALUE) laid over them. A second `-c` of `wrangler dev` takes no `--var`, so every value a
# run sets goes through these files, and both scripts see the same ones. PORTCULLIS_EDGE_MAIN, when
# set, is the edge script's entry instead of wrangler.edge.toml's (scripts/bench-worker's
# bench-only edge build).
write_dev_configs() {
  local dir="$1" origin="$2"
  mkdir -p "$dir"
  (
    umask 077
    python3 - "$dir" "$origin" "${WORKER_VARS:-}" "${PORTCULLIS_EDGE_MAIN:-}" <<'PY'
import json, os, sys, tomllib

out, origin, overrides, edge_main = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
root = os.getcwd()
for source, target in (("wrangler.edge.toml", "edge.json"), ("wrangler.toml", "api.json")):
    with open(source, "rb") as f:
        config = tomllib.load(f)
    config["main"] = os.path.join(root, config["main"])
    if edge_main and target == "edge.json":
        config["main"] = os.path.join(root, edge_main)
    config.setdefault("build", {})["cwd"] = root
    if "assets" in config:
        config["assets"]["directory"] = os.path.join(root, config["assets"]["directory"])
    config.setdefault("vars", {})["PORTCULLIS_ORIGIN"] = origin
    with open(os.path.join(out, target), "w") as f:
        json.dump(config, f, indent=2)
values = {}
if os.path.exists(".dev.vars"):
    for line in open(".dev.vars").read().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name] = value
for pair in overrides:
    name, sep, value = pair.partition(":")
    if not sep:
        sys.exit(f"WORKER_VARS: `{pair}` is not NAME:VALUE")
    values[name] = value
with open(os.path.join(out, ".dev.vars"), "w") as f:
    f.writelines(f"{name}={value}\n" for name, value in values.items())
PY
  )
}

# start_worker PORT PERSIST_DIR LOG [ORIGIN]: starts wrangler dev in the background with both
# scripts, the edge script serving PORT (write_dev_configs, next to PERSIST_DIR); sets
# WORKER_PGID. With ORIGIN, the gateway forwards to it. WORKER_VARS may hold space-separated
# NAME:VALUE Worker variables for this run (e.g. test-only settings).
start_worker() {
  local port="$1" persist="$2" log="$3" origin="${4:-}" configs
  mkdir -p "$persist"
  configs="$(dirname "$persist")/config.$(basename "$persist")"
  write_dev_configs "$configs" "$origin" || return 1
  # wrangler refuses to start without the console's assets directory (wrangler.edge.toml
  # `[assets]`); scripts/setup builds it, this covers a checkout where only the worker was built.
  [[ -f console/dist/console/index.html ]] || scripts/build-console >&2 || return 1
  # After build_worker, wrangler's own build steps (the configurations' `build.command`) reuse
  # that build.
  PORTCULLIS_PREBUILT="${WORKER_BUILT:-}" setsid npx --no-install wrangler dev \
    -c "$configs/edge.json" -c "$configs/api.json" --local --ip 127.0.0.1 --port "$port" \
    --inspector-port 0 --persist-to "$persist" --show-interactive-dev-session=false \
    --log-level warn >"$log" 2>&1 < /dev/null &
  WORKER_PGID=$!
}

# start_origin PORT LOG: starts the echo origin (tests/e2e/origin.mjs) in the background, checking
# identity signatures with the local gateway key; sets ORIGIN_PGID and waits until it answers.
start_origin() {
  local port="$1" log="$2"
  PORTCULLIS_GATEWAY_KEY="$(gateway_key)" ORIGIN_PORT="$port" \
    setsid node tests/e2e/origin.mjs >"$log" 2>&1 < /dev/null &
  ORIGIN_PGID=$!
  if ! wait_http "http://127.0.0.1:${port}/__origin/health" "$ORIGIN_PGID" 10 "the echo origin"; then
    cat "$log" >&2
    return 1
  fi
}

# start_idp PORT WORKER_PORT LOG: starts the OpenID Connect identity provider of the tests
# (tests/idp/oidc-provider.mjs, the `oidc-provider` package) on 127.0.0.1:PORT, with one client
# whose redirect URI is the worker's callback, any address @sso.test a verified account and any
# @unverified.test an unverified one; sets IDP_PGID and exports PORTCULLIS_OIDC_ISSUER,
# PORTCULLIS_OIDC_CLIENT_ID and PORTCULLIS_OIDC_CLIENT_SECRET for the suite.
start_idp() {
  local port="$1" worker_port="$2" log="$3"
  export PORTCULLIS_OIDC_ISSUER="http://127.0.0.1:${port}"
  export PORTCULLIS_OIDC_CLIENT_ID="portcullis-e2e"
  PORTCULLIS_OIDC_CLIENT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
  export PORTCULLIS_OIDC_CLIENT_SECRET
  OIDC_CLIENT_ID="$PORTCULLIS_OIDC_CLIENT_ID" OIDC_CLIENT_SECRET="$PORTCULLIS_OIDC_CLIENT_SECRET" \
    OIDC_REDIRECT_URI="http://127.0.0.1:${worker_port}/v1/sso/callback" \
    OIDC_ACCOUNTS='{"*@sso.test": true, "*@unverified.test": false}' \
    setsid node tests/idp/oidc-provider.mjs "$port" >"$log" 2>&1 < /dev/null &
  IDP_PGID=$!
  if ! wait_http "${PORTCULLIS_OIDC_ISSUER}/.well-known/openid-configuration" "$IDP_PGID" 20 "the OIDC provider"; then
    cat "$log" >&2
    return 1
  fi
}

# start_saml_idp PORT LOG: starts the SAML 2.0 identity provider of the tests
# (tests/idp/saml-idp.mjs, built on `samlify`) on 127.0.0.1:PORT, signing in whichever email a
# request's login_hint names; sets SAML_IDP_PGID and exports PORTCULLIS_SAML_IDP (its base URL).
# The service provider it trusts is set by the tests (PUT /sp) once they know the connection.
start_saml_idp() {
  local port="$1" log="$2"
  export PORTCULLIS_SAML_IDP="http://127.0.0.1:${port}"
  SAML_IDP_PORT="$port" setsid node tests/idp/saml-idp.mjs >"$log" 2>&1 < /dev/null &
  SAML_IDP_PGID=$!
  if ! wait_http "${PORTCULLIS_SAML_IDP}/health" "$SAML_IDP_PGID" 30 "the SAML identity provider"; then
    cat "$log" >&2
    return 1
  fi
}

# stop_idp: stops the identity providers.
stop_idp() {
  if [[ -n "${IDP_PGID:-}" ]]; then
    stop_group "$IDP_PGID"
    IDP_PGID=
  fi
  if [[ -n "${SAML_IDP_PGID:-}" ]]; then
    stop_group "$SAML_IDP_PGID"
    SAML_IDP_PGID=
  fi
}

# stop_origin: stops the echo origin.
stop_origin() {
  if [[ -n "${ORIGIN_PGID:-}" ]]; then
    stop_group "$ORIGIN_PGID"
    ORIGIN_PGID=
  fi
}

# wait_http URL PGID SECONDS WHAT: waits until URL answers, failing if the process group PGID
# exits first or SECONDS pass.
wait_http() {
  local url="$1" pgid="$2" limit="$3" what="$4" waited=0
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if ! kill -0 "$pgid" 2>/dev/null; then
      echo "${what} exited during start-up" >&2
      return 1
    fi
    if (( waited >= limit * 2 )); then
      echo "${what} did not answer at ${url} within ${limit} s" >&2
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
}

# wait_worker PORT [SECONDS]: waits until the health route answers.
wait_worker() {
  wait_http "http://127.0.0.1:${1}/v1/health" "$WORKER_PGID" "${2:-90}" "wrangler dev"
}

# stop_group PGID: TERM to a process group, KILL after 5 s if anything is left.
stop_group() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 20); do
    kill -0 -- "-$1" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL -- "-$1" 2>/dev/null || true
}

# stop_worker: stops the whole process group (npx, wrangler, workerd).
stop_worker() {
  if [[ -n "${WORKER_PGID:-}" ]]; then
    stop_group "$WORKER_PGID"
    WORKER_PGID=
  fi
}

# free_port: a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
