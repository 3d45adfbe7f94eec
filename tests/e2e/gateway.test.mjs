// The gateway end to end: requests outside /v1 go through the route policy (policy/gateway.json),
// verification and authorization, then to the echo origin (tests/e2e/origin.mjs, started by
// scripts/test-worker), which reports what it received and whether the identity signature holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { ALL, assertProblem, call, endpoint, member, ok, signUp, token } from "./lib.mjs";
import { SIGNED_HEADERS, verifyIdentity } from "./origin.mjs";

const gatewayKey = process.env.PORTCULLIS_GATEWAY_KEY;

let clients = 0;
/** A client address of its own, so failures one test provokes are not charged to another. */
function client() {
  clients += 1;
  return `198.51.100.${clients}`;
}

/** A request through the gateway from `ip`; returns the response and, when the origin answered, its echo. */
async function gw(method, path, { token: credential, ip = client(), headers = {}, body } = {}) {
  const response = await call(method, path, {
    token: credential,
    headers: { "cf-connecting-ip": ip, ...headers },
    ...(body === undefined ? {} : { body }),
  });
  const echo = response.headers.get("x-origin") === "echo" ? response.json : undefined;
  return { ...response, echo };
}

/** Asserts the origin answered and saw a valid signature; returns the echo. */
function forwarded(response, what = "") {
  assert.equal(response.status, 200, `${what} expected the origin's 200, got ${response.status} ${response.text}`);
  assert.ok(response.echo, `${what} answered by the origin`);
  assert.equal(response.echo.identity.valid, true, `${what} signature: ${response.echo.identity.error}`);
  return response.echo;
}

test("the identity signature matches the documented algorithm's shared vector", () => {
  const vector = JSON.parse(readFileSync(new URL("./identity-vector.json", import.meta.url), "utf8"));
  const now = Number(vector.headers["portcullis-timestamp"]);
  const checked = verifyIdentity(vector.headers, vector.method, vector.target, vector.key, now);
  assert.equal(checked.ok, true, checked.error);
  const tampered = { ...vector.headers, "portcullis-permissions": ALL.join(",") };
  assert.equal(verifyIdentity(tampered, vector.method, vector.target, vector.key, now).ok, false);
  assert.equal(verifyIdentity(vector.headers, "GET", vector.target, vector.key, now).ok, false);
  assert.equal(verifyIdentity(vector.headers, vector.method, vector.target, vector.key, now + 301).ok, false);
});

test("allowed: forwarded with signed identity headers, the credential stripped, spoofed headers replaced", async () => {
  const world = await signUp("team");
  const response = await gw("POST", "/api/builds?branch=main", {
    token: world.token,
    headers: { "portcullis-tenant": "ten_0000000000000bad", "portcullis-signature": "v1=forged", "x-trace": "t1" },
    body: { target: "android" },
  });
  const echo = forwarded(response, "run_build");
  assert.equal(echo.method, "POST");
  assert.equal(echo.target, "/api/builds?branch=main");
  assert.deepEqual(JSON.parse(echo.body), { target: "android" }, "the body reaches the origin");
  assert.equal(echo.headers["x-trace"], "t1", "other headers pass through");
  assert.equal(echo.headers.authorization, undefined, "the credential never reaches the origin");
  assert.ok(!JSON.stringify(echo).includes(world.token.split(":")[1]), "no secret anywhere in what the origin saw");
  const h = echo.headers;
  assert.equal(h["portcullis-account"], world.account);
  assert.equal(h["portcullis-tenant"], world.tenant, "the caller's tenant header is replaced");
  assert.equal(h["portcullis-principal-kind"], "user");
  assert.equal(h["portcullis-principal-id"], world.owner);
  assert.equal(h["portcullis-key-id"], world.token.split(":")[0]);
  assert.equal(h["portcullis-permissions"], ALL.join(","));
  assert.equal(h["portcullis-plan"], "team");
  assert.equal(h["portcullis-operation"], "run_build");
  assert.match(h["portcullis-request-id"], /^req_[0-9a-f]{32}$/);
  assert.ok(Math.abs(Number(h["portcullis-timestamp"]) - Date.now() / 1000) < 30);
  // The origin's check is real: the same headers fail for another request or another key.
  const now = Math.floor(Date.now() / 1000);
  assert.equal(verifyIdentity(h, "POST", "/api/builds?branch=main", gatewayKey, now).ok, true);
  assert.equal(verifyIdentity(h, "POST", "/api/builds?branch=dev", gatewayKey, now).ok, false);
  assert.equal(verifyIdentity({ ...h, "portcullis-plan": "enterprise" }, "POST", "/api/builds?branch=main", gatewayKey, now).ok, false);
  assert.equal(verifyIdentity(h, "POST", "/api/builds?branch=main", Buffer.alloc(32, 7).toString("base64"), now).ok, false);

  const again = forwarded(await gw("GET", "/api/configuration", { token: world.token }));
  assert.notEqual(again.headers["portcullis-request-id"], h["portcullis-request-id"], "a request id per request");
  assert.equal(again.headers["portcullis-operation"], "read_configuration");
});

test("public routes pass without a credential and unknown routes never reach the origin", async () => {
  const status = await gw("GET", "/api/status", { headers: { "portcullis-principal-id": "usr_00000000000000aa" } });
  assert.equal(status.status, 200);
  assert.ok(status.echo, "forwarded");
  assert.equal(status.echo.identity.signed, false, "public requests carry no identity");
  for (const name of SIGNED_HEADERS.filter((n) => n !== "portcullis-request-id")) {
    assert.equal(status.echo.headers[name], undefined, `${name} is dropped`);
  }
  assert.match(status.echo.headers["portcullis-request-id"], /^req_/);

  const world = await signUp("team");
  for (const [method, path] of [
    ["GET", "/api/secrets"],
    ["GET", "/"],
    ["GET", "/api/builds/b1/binaries/app/extra"],
    ["GET", "/api/builds/%2e%2e/logs"],
  ]) {
    const refused = await gw(method, path, { token: world.token });
    assertProblem(refused, 404, "not_found", `${method} ${path}`);
    assert.equal(refused.echo, undefined, `${method} ${path} reached the origin`);
  }
  const wrongMethod = await gw("DELETE", "/api/configuration", { token: world.token });
  assertProblem(wrongMethod, 405, "method_not_allowed");
  assert.equal(wrongMethod.headers.get("allow"), "GET, HEAD, PUT, PATCH");
  assert.equal(wrongMethod.echo, undefined);
});

test("inbound portcullis_* headers (underscore spelling, any case) never reach the origin", async () => {
  // CGI, WSGI and Rack origins read `portcullis_tenant` as `portcullis-tenant` (HTTP_PORTCULLIS_TENANT).
  const spoofed = {
    portcullis_tenant: "ten_0000000000000bad",
    Portcullis_Permissions: ALL.join(","),
    PORTCULLIS_PLAN: "enterprise",
    "portcullis_principal-id": "usr_00000000000000aa",
    portcullis_signature: "v1=forged",
    portcullis_anything: "x",
    "Portcullis-Operation": "read_audit_log",
    Proxy: "http://attacker.test:3128",
    x_trace: "t2",
  };
  const reserved = (name) => name.toLowerCase().replaceAll("_", "-").startsWith("portcullis-");
  const gatewaySet = new Set([...SIGNED_HEADERS, "portcullis-signature"]);
  const world = await signUp("team");
  const reader = await member(world, [], "reader");
  const echo = forwarded(await gw("GET", "/api/configuration", { token: reader.token, headers: spoofed }));
  assert.equal(echo.headers.x_trace, "t2", "underscore headers do reach the origin");
  assert.equal(echo.headers.proxy, undefined, "no `Proxy` header (httpoxy) reaches the origin");
  const names = Object.keys(echo.headers).filter(reserved);
  assert.deepEqual(names.filter((name) => !gatewaySet.has(name)), [], "only the gateway's own portcullis-* headers");
  assert.equal(echo.headers["portcullis-tenant"], world.tenant);
  assert.equal(echo.headers["portcullis-principal-id"], reader.id);
  assert.equal(echo.headers["portcullis-permissions"], "", "a read-only member stays read-only");
  assert.equal(echo.headers["portcullis-plan"], "team");
  assert.equal(echo.headers["portcullis-operation"], "read_configuration");

  const status = await gw("GET", "/api/status", { headers: spoofed });
  assert.ok(status.echo, "public route forwarded");
  assert.deepEqual(Object.keys(status.echo.headers).filter(reserved), ["portcullis-request-id"]);
});

test("encoded separators in a path parameter are refused with 400, never forwarded", async () => {
  const world = await signUp("team");
  // With the owner's token (every permission) each of these used to reach the origin as read_builds.
  for (const path of [
    "/api/builds/x%2F..%2F..%2Fsettings",
    "/api/builds/x%2fsettings",
    "/api/builds/x%5C..%5Csettings/logs",
    "/api/builds/b1;jsessionid=x",
    "/api/builds/b1%3Bx/logs",
    "/api/builds/%252e%252e/logs",
    "/api/builds/x%252F..%252Fsettings",
    "/api/builds/b1%00.apk",
    "/api/builds/b1/binaries/app%2F..%2F..%2F..%2Fsettings",
    "/api/configuration/ios%2F..%2F..%2Fsettings",
    "/api/configuration/%252E%252E",
    "/api/configuration/key%00",
  ]) {
    const refused = await gw("GET", path, { token: world.token });
    assertProblem(refused, 400, "unsafe_path_parameter", path);
    assert.match(refused.json.detail, /^path parameter `(build|binary|key)` /, path);
    assert.equal(refused.echo, undefined, `${path} reached the origin`);
    assertProblem(await gw("GET", path), 400, "unsafe_path_parameter", `${path} without a credential`);
  }
  // Ordinary values pass, and a route that allows encoded separators for a parameter
  // (`/api/configuration/{key}`) forwards them still encoded.
  forwarded(await gw("GET", "/api/builds/b1.2%20rc/logs", { token: world.token }));
  const opaque = forwarded(await gw("GET", "/api/configuration/ios%2Fbundle_id", { token: world.token }));
  assert.equal(opaque.target, "/api/configuration/ios%2Fbundle_id");
  assert.equal(opaque.headers["portcullis-operation"], "read_configuration");
});

/** One request sent with node:http, for methods fetch refuses to send (TRACE). */
function rawRequest(method, path, headers = {}) {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: { "cf-connecting-ip": client(), ...headers } },
      (incoming) => {
        const chunks = [];
        incoming.on("data", (chunk) => chunks.push(chunk));
        incoming.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) responseHeaders.set(name, String(value));
          const echo = incoming.headers["x-origin"] === "echo" ? json : undefined;
          resolve({ status: incoming.statusCode, headers: responseHeaders, json, text, echo });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end();
  });
}

test("unknown HTTP methods are refused with 501, never forwarded as GET; known ones outside the policy get 405", async () => {
  const world = await signUp("team");
  for (const method of ["PROPFIND", "MKCOL", "PURGE", "SEARCH"]) {
    for (const path of ["/api/configuration", "/api/status", "/api/secrets"]) {
      const refused = await gw(method, path, { token: world.token });
      assertProblem(refused, 501, "method_not_implemented", `${method} ${path}`);
      assert.equal(refused.echo, undefined, `${method} ${path} reached the origin`);
      assert.equal(refused.headers.get("allow"), null);
    }
  }
  const trace = await rawRequest("TRACE", "/api/configuration", { authorization: `Bearer ${world.token}` });
  assertProblem(trace, 501, "method_not_implemented", "TRACE");
  assert.equal(trace.echo, undefined);
  const options = await gw("OPTIONS", "/api/configuration", { token: world.token });
  assertProblem(options, 405, "method_not_allowed", "OPTIONS");
  assert.equal(options.headers.get("allow"), "GET, HEAD, PUT, PATCH");
  assert.equal(options.echo, undefined);
  const head = await gw("HEAD", "/api/configuration", { token: world.token });
  assert.equal(head.status, 200, "HEAD still uses the GET route");
});

test("the Management API serves no unknown method as a read (PROPFIND /v1/users is 405)", async () => {
  const world = await signUp("team");
  for (const method of ["PROPFIND", "SEARCH"]) {
    const refused = await call(method, "/v1/users", { token: world.token });
    assertProblem(refused, 405, "method_not_allowed", method);
    assert.equal(refused.headers.get("allow"), "GET, POST");
    assert.equal(refused.json.items, undefined, "no user list in the answer");
  }
});

test("401 without a valid credential, 403 without the permission", async () => {
  const world = await signUp("team");
  assertProblem(await gw("GET", "/api/configuration"), 401, "missing_credentials");
  assertProblem(await gw("GET", "/api/configuration", { token: "hello" }), 401, "malformed_credential");
  const [id, secret] = world.token.split(":");
  const other = await signUp("team");
  const wrongSecret = await gw("GET", "/api/configuration", { token: `${id}:${other.token.split(":")[1]}` });
  assertProblem(wrongSecret, 401, "invalid_credentials");
  assert.equal(wrongSecret.echo, undefined);
  assert.ok(secret);

  const reader = await member(world, [], "reader");
  forwarded(await gw("GET", "/api/configuration", { token: reader.token }), "read-only member reads");
  const denied = await gw("PUT", "/api/configuration", { token: reader.token, body: { theme: "dark" } });
  assertProblem(denied, 403, "missing_permission");
  assert.equal(denied.echo, undefined, "a denied request never reaches the origin");
  assertProblem(await gw("GET", "/api/audit", { token: world.token }), 403, "plan_excludes", "audit log on team");

  const builder = await member(world, ["build_applications"], "builder");
  forwarded(await gw("GET", "/api/builds/b7/binaries/app.apk", { token: builder.token }));
  assertProblem(await gw("PATCH", "/api/settings", { token: builder.token, body: {} }), 403, "missing_permission");
});

test("automation keys reach build routes only", async () => {
  const world = await signUp("team");
  const key = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "ci" } }),
    201,
  );
  for (const [method, path] of [
    ["POST", "/api/builds"],
    ["GET", "/api/builds/b1/logs"],
    ["GET", "/api/builds/latest/binaries/app.apk"],
  ]) {
    const echo = forwarded(await gw(method, path, { token: key.key }), `${method} ${path}`);
    assert.equal(echo.headers["portcullis-principal-kind"], "automation_key");
    assert.equal(echo.headers["portcullis-principal-id"], key.key_id);
    assert.equal(echo.headers["portcullis-permissions"], "build_applications");
  }
  for (const [method, path] of [
    ["GET", "/api/configuration"],
    ["GET", "/api/users"],
    ["POST", "/api/tokens"],
    ["GET", "/api/messages"],
    ["GET", "/api/settings"],
  ]) {
    const refused = await gw(method, path, { token: key.key });
    assertProblem(refused, 403, "automation_key_scope", `${method} ${path}`);
    assert.equal(refused.echo, undefined);
  }
});

test("a revoked token is refused on the next request; a deactivated user's at once", async () => {
  const world = await signUp("team");
  const created = ok(await token(world, world.token, ["modify_configuration"]), 201);
  forwarded(await gw("PUT", "/api/configuration", { token: created.token, body: {} }));
  ok(await call("DELETE", `/v1/tokens/${created.key_id}`, { token: world.token }));
  assertProblem(await gw("PUT", "/api/configuration", { token: created.token, body: {} }), 401, "invalid_credentials");

  const bo = await member(world, ["modify_configuration"], "bo");
  forwarded(await gw("GET", "/api/configuration", { token: bo.token }));
  ok(await call("POST", `/v1/users/${bo.id}/deactivate`, { token: world.token }));
  assertProblem(await gw("GET", "/api/configuration", { token: bo.token }), 401, "invalid_credentials");
});

test("last-used times are recorded after the response", async () => {
  const world = await signUp("team");
  const created = ok(await token(world, world.token, []), 201);
  const before = ok(await call("GET", `/v1/tokens/${created.key_id}`, { token: world.token }));
  assert.equal(before.last_used_at, null);
  const start = Math.floor(Date.now() / 1000);
  forwarded(await gw("GET", "/api/configuration", { token: created.token }));
  let seen = null;
  for (let attempt = 0; attempt < 40 && seen === null; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = ok(await call("GET", `/v1/tokens/${created.key_id}`, { token: world.token })).last_used_at;
  }
  assert.ok(seen !== null, "last_used_at was recorded");
  assert.ok(seen >= start - 1 && seen <= Math.floor(Date.now() / 1000) + 1, `last_used_at ${seen}`);
});

/** Sends failing requests until one is refused with 429; returns how many 401s came first. */
async function failUntilLimited(send, budget) {
  for (let sent = 0; sent < budget; sent += 1) {
    const response = await send();
    if (response.status === 429) {
      assertProblem(response, 429, "too_many_failed_attempts");
      const retry = Number(response.headers.get("retry-after"));
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${retry}`);
      return sent;
    }
    assert.equal(response.status, 401, response.text);
  }
  assert.fail(`no 429 after ${budget} failed verifications`);
}

test("failed verifications are rate limited per key id", async () => {
  const world = await signUp("team");
  const target = ok(await token(world, world.token, []), 201);
  const other = ok(await token(world, world.token, []), 201);
  const guess = `${target.key_id}:${other.token.split(":")[1]}`;
  // Each guess from a different client: only the key id's limit (10 a minute) can trip. The
  // limiter's window is aligned to the minute, so allow for one roll-over.
  const failures = await failUntilLimited(() => gw("GET", "/api/configuration", { token: guess }), 22);
  assert.ok(failures >= 10 && failures <= 21, `${failures} failures before the limit`);
  // Blocked now, even with the right secret and from a fresh client, on the gateway and the API.
  const right = await gw("GET", "/api/configuration", { token: target.token });
  assertProblem(right, 429, "too_many_failed_attempts");
  assert.equal(right.echo, undefined);
  assertProblem(await call("GET", "/v1/whoami", { token: target.token, headers: { "cf-connecting-ip": client() } }), 429, "too_many_failed_attempts");
  // Other keys are unaffected.
  forwarded(await gw("GET", "/api/configuration", { token: other.token }));
});

test("failed verifications are rate limited per client", async () => {
  const world = await signUp("team");
  const ip = client();
  const failures = await failUntilLimited(() => gw("GET", "/api/configuration", { token: "garbage", ip }), 122);
  assert.ok(failures >= 60 && failures <= 121, `${failures} failures before the limit`);
  assertProblem(await gw("GET", "/api/configuration", { token: world.token, ip }), 429, "too_many_failed_attempts");
  forwarded(await gw("GET", "/api/configuration", { token: world.token }), "another client is served");
  const status = await gw("GET", "/api/status", { ip });
  assert.equal(status.status, 200, "public routes verify nothing, so they are not limited");
});
