// A matrix of malformed requests: every one gets a 4xx problem+json and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertProblem, call, email, member, ok, signUp, stateJson, token } from "./lib.mjs";

async function snapshot(world) {
  const read = async (path) => ok(await call("GET", path, { token: world.token }), 200, path);
  return stateJson([
    await read(`/v1/tenants/${world.tenant}`),
    await read(`/v1/tenants/${world.tenant}/members`),
    await read(`/v1/tenants/${world.tenant}/tokens`),
    await read("/v1/users"),
  ]);
}

test("malformed requests are 4xx problems and change nothing", async () => {
  const world = await signUp("team");
  const other = await signUp("team");
  const deleted = ok(await token(world, world.token, []), 201);
  ok(await call("DELETE", `/v1/tokens/${deleted.key_id}`, { token: world.token }));
  const members = `/v1/tenants/${world.tenant}/members`;
  const auth = { token: world.token };
  const [id, secret] = world.token.split(":");
  const flipped = `${id}:${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
  const cases = [
    // bodies
    ["bad JSON", "POST", members, { ...auth, raw: "{\"email\":" }, 400, "invalid_body"],
    ["not an object", "POST", members, { ...auth, raw: "[1,2,3]" }, 400, "invalid_body"],
    ["wrong type", "POST", members, { ...auth, body: { email: 42 } }, 400, "invalid_body"],
    ["unknown field", "POST", members, { ...auth, body: { email: email("u"), role: "admin" } }, 400, "invalid_body"],
    ["unknown permission", "POST", members, { ...auth, body: { email: email("u"), permissions: ["root"] } }, 400, "invalid_body"],
    ["bad email", "POST", members, { ...auth, body: { email: "not-an-email" } }, 400, "invalid_body"],
    ["non-ascii email", "POST", members, { ...auth, body: { email: "jörg@acme.test" } }, 400, "invalid_body"],
    ["id smuggled in body", "POST", members, { ...auth, body: { email: email("u"), tenant_id: other.tenant } }, 400, "invalid_body"],
    ["command smuggled in body", "POST", members, { ...auth, body: { command: "delete_user" } }, 400, "invalid_body"],
    ["huge body", "POST", members, { ...auth, raw: JSON.stringify({ email: "x".repeat(64 * 1024) }) }, 413, "body_too_large"],
    ["very huge body", "POST", members, { ...auth, raw: " ".repeat(2 * 1024 * 1024) }, 413, "body_too_large"],
    ["text body", "POST", members, { ...auth, raw: "email=a", headers: { "content-type": "text/plain" } }, 415, "unsupported_media_type"],
    ["out of range", "PATCH", "/v1/account", { ...auth, body: { invitation_ttl_hours: 100000 } }, 400, "out_of_range"],
    ["expiry beyond 2^53", "POST", `/v1/tenants/${world.tenant}/tokens`, { ...auth, body: { name: "far", expires_at: 2 ** 53 } }, 400, "invalid_body"],
    ["expiry after 9999-12-31", "POST", `/v1/tenants/${world.tenant}/tokens`, { ...auth, body: { name: "far", expires_at: 253402300800 } }, 400, "invalid_body"],
    ["bidi override in a member name", "POST", members, { ...auth, body: { email: email("u"), name: "Ana\u202Elleb" } }, 400, "invalid_body"],
    ["zero-width space in a user name", "PATCH", `/v1/users/${world.owner}`, { ...auth, body: { name: "Olive\u200BOwner" } }, 400, "invalid_body"],
    ["line separator in a token name", "POST", `/v1/tenants/${world.tenant}/tokens`, { ...auth, body: { name: "ci\u2028prod" } }, 400, "invalid_body"],
    ["byte-order mark in a tenant name", "PATCH", `/v1/tenants/${world.tenant}`, { ...auth, body: { name: "\uFEFFProd" } }, 400, "invalid_body"],
    ["unknown field removing the webhook", "DELETE", "/v1/account/webhook", { ...auth, body: { url: "https://example.test/hook" } }, 400, "invalid_body"],
    ["unknown operation", "POST", "/v1/authorize", { ...auth, body: { operation: "launch_missiles" } }, 400, "unknown_operation"],
    // credentials
    ["no credentials", "GET", members, {}, 401, "missing_credentials"],
    ["basic auth", "GET", members, { headers: { authorization: "Basic dXNlcjpwYXNz" } }, 401, "malformed_credential"],
    ["empty bearer", "GET", members, { headers: { authorization: "Bearer " } }, 401, "malformed_credential"],
    ["garbage bearer", "GET", members, { token: "hello" }, 401, "malformed_credential"],
    ["checksum broken", "GET", members, { token: flipped }, 401, "malformed_credential"],
    ["deleted token", "GET", members, { token: deleted.token }, 401, "invalid_credentials"],
    ["bad sign-up key", "POST", "/v1/signup", { token: "nope", body: {} }, 401, "invalid_signup_key"],
    ["bad invitation", "POST", "/v1/invitations/accept", { body: { account_id: world.account, email: email("n"), code: "pcinv_x" } }, 403, "invitation_invalid"],
    ["malformed acceptance", "POST", "/v1/invitations/accept", { body: { account_id: "acc_zz", email: "a@b.test", code: "x" } }, 400, "invalid_body"],
    // paths and methods
    ["unknown version", "GET", "/v2/whoami", auth, 404, "not_found"],
    ["root", "GET", "/", auth, 404, "not_found"],
    ["malformed tenant id", "GET", "/v1/tenants/../../etc/members", auth, 404, "not_found"],
    ["unknown sub-resource", "GET", `/v1/tenants/${world.tenant}/secrets`, auth, 404, "not_found"],
    ["other account's tenant", "GET", `/v1/tenants/${other.tenant}/members`, auth, 404, "tenant_not_found"],
    ["other account's tenant write", "POST", `/v1/tenants/${other.tenant}/members`, { ...auth, body: { email: email("x") } }, 404, "tenant_not_found"],
    ["other account's user", "POST", `/v1/users/${other.owner}/deactivate`, auth, 404, "user_not_found"],
    ["wrong method", "PUT", "/v1/whoami", auth, 405, "method_not_allowed"],
    ["wrong method on collection", "DELETE", members, auth, 405, "method_not_allowed"],
  ];
  for (const [name, method, path, options, status, code] of cases) {
    const before = await snapshot(world);
    const response = await call(method, path, options);
    assertProblem(response, status, code, name);
    assert.ok(!/panicked|RuntimeError|at .*\.rs/.test(response.text), `${name}: internal detail leaked`);
    assert.equal(await snapshot(world), before, `${name} changed state`);
  }
  const wrong = await call("PUT", "/v1/whoami", auth);
  assert.equal(wrong.headers.get("allow"), "GET");
});

test("timestamps: an expiry after 9999-12-31 is refused at parse, the latest accepted one works", async () => {
  const world = await signUp("team");
  const late = await token(world, world.token, [], { expires_at: 2 ** 53 });
  assertProblem(late, 400, "invalid_body");
  assert.match(late.json.detail, /9999-12-31T23:59:59Z/);
  const latest = ok(await token(world, world.token, ["build_applications"], { expires_at: 253402300799 }), 201);
  assert.equal(latest.expires_at, 253402300799);
  // The KV record holds it exactly and the edge reads it without a 503.
  const verified = ok(await call("GET", "/v1/whoami", { token: latest.token }));
  assert.deepEqual(verified.permissions, ["build_applications"]);
  const listed = ok(await call("GET", `/v1/tokens/${latest.key_id}`, { token: world.token }));
  assert.equal(listed.expires_at, 253402300799);
});

test("display names: bidi overrides, zero-width characters and line separators are refused, naming the character", async () => {
  const world = await signUp("team");
  for (const [character, code] of [
    ["\u202E", "U+202E"],
    ["\u200B", "U+200B"],
    ["\u2029", "U+2029"],
    ["\u2066", "U+2066"],
    ["\u2060", "U+2060"],
  ]) {
    const refused = await call("PATCH", `/v1/users/${world.owner}`, { token: world.token, body: { name: `Olive${character}Owner` } });
    assertProblem(refused, 400, "invalid_body", code);
    assert.ok(refused.json.detail.includes(code), `${code}: ${refused.json.detail}`);
  }
  const owner = ok(await call("GET", `/v1/users/${world.owner}`, { token: world.token }));
  assert.equal(owner.name, "Olive Owner");
  ok(await call("PATCH", `/v1/users/${world.owner}`, { token: world.token, body: { name: "Zoë Ångström" } }));
  const renamed = ok(await call("GET", `/v1/users/${world.owner}`, { token: world.token }));
  assert.equal(renamed.name, "Zoë Ångström");
});

test("DELETE /v1/account/webhook refuses unknown body fields like every other command", async () => {
  const world = await signUp("team");
  ok(await call("PUT", "/v1/account/webhook", { token: world.token, body: { url: "http://127.0.0.1:9/hook" } }));
  const refused = await call("DELETE", "/v1/account/webhook", { token: world.token, body: { force: true } });
  assertProblem(refused, 400, "invalid_body");
  assert.match(refused.json.detail, /unknown field `force`/);
  // Still configured: the plain removal succeeds once, then there is nothing to remove.
  ok(await call("DELETE", "/v1/account/webhook", { token: world.token }));
  assertProblem(await call("DELETE", "/v1/account/webhook", { token: world.token }), 404, "webhook_not_found");
});

/** A problem response as an outsider compares it: status, body and challenge, with `id` (an id from the path) written as `{id}`. */
function answer(response, id = "") {
  const hide = (text) => (id ? text.split(id).join("{id}") : text);
  return {
    status: response.status,
    body: hide(response.text),
    challenge: response.headers.get("www-authenticate"),
  };
}

test("existence oracles: an unknown key id, a wrong secret and every refused state answer alike", async () => {
  const world = await signUp("team");
  const live = ok(await token(world, world.token, []), 201);
  const other = ok(await token(world, world.token, []), 201);
  const deleted = ok(await token(world, world.token, []), 201);
  ok(await call("DELETE", `/v1/tokens/${deleted.key_id}`, { token: world.token }));
  const wrongSecret = `${live.key_id}:${other.token.split(":")[1]}`;
  const bo = await member(world, [], "bo");
  ok(await call("POST", `/v1/users/${bo.id}/deactivate`, { token: world.token }));
  const key = ok(await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "ci" } }), 201);
  ok(await call("PATCH", `/v1/automation-keys/${key.key_id}`, { token: world.token, body: { enabled: false } }));

  const unknown = await call("GET", "/v1/whoami", { token: deleted.token });
  assertProblem(unknown, 401, "invalid_credentials", "unknown key id");
  assert.equal(unknown.json.type, "https://portcullis.dev/problems/invalid_credentials");
  assert.match(unknown.headers.get("www-authenticate"), /error_description="invalid_credentials"/);
  for (const [what, presented] of [
    ["wrong secret of a live key id", wrongSecret],
    ["deactivated owner", bo.token],
    ["disabled automation key", key.key],
  ]) {
    const refused = await call("GET", "/v1/whoami", { token: presented });
    assert.deepEqual(answer(refused), answer(unknown), what);
  }
  // Every authenticated route answers the same way.
  const read = await call("GET", `/v1/tenants/${world.tenant}`, { token: wrongSecret });
  assert.deepEqual(answer(read), answer(unknown), "tenant read");
});

test("existence oracles: a tenant the caller is not in, and its credentials, answer like ones that do not exist", async () => {
  const world = await signUp("team");
  const outsider = await member(world, ["user_and_api_management", "build_applications"], "outsider");
  const launched = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Second", plan: "team" } }), 201);
  const second = launched.tenant_id;
  const elsewhere = { ...world, tenant: second };
  const secondToken = ok(await token(elsewhere, launched.token, []), 201);
  const secondKey = ok(await call("POST", `/v1/tenants/${second}/automation-keys`, { token: launched.token, body: { name: "ci" } }), 201);
  // Ids that exist nowhere: another account's tenant, a deleted token and automation key.
  const stranger = await signUp("team");
  const gone = ok(await token(world, world.token, []), 201);
  ok(await call("DELETE", `/v1/tokens/${gone.key_id}`, { token: world.token }));
  const goneKey = ok(await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "gone" } }), 201);
  ok(await call("DELETE", `/v1/automation-keys/${goneKey.key_id}`, { token: world.token }));

  const as = { token: outsider.token };
  for (const [method, suffix, body] of [
    ["GET", "", undefined],
    ["GET", "/members", undefined],
    ["GET", "/tokens", undefined],
    ["POST", "/tokens", { name: "mine" }],
    ["GET", "/automation-keys", undefined],
    ["PATCH", "", { name: "Mine" }],
  ]) {
    const hidden = await call(method, `/v1/tenants/${second}${suffix}`, { ...as, body });
    const missing = await call(method, `/v1/tenants/${stranger.tenant}${suffix}`, { ...as, body });
    assertProblem(missing, 404, "tenant_not_found", `${method} ${suffix}`);
    assert.deepEqual(answer(hidden, second), answer(missing, stranger.tenant), `${method} ${suffix}`);
  }
  for (const [method, path, hiddenId, missingId, body] of [
    ["GET", "/v1/tokens/", secondToken.key_id, gone.key_id],
    ["DELETE", "/v1/tokens/", secondToken.key_id, gone.key_id],
    ["GET", "/v1/automation-keys/", secondKey.key_id, goneKey.key_id],
    ["PATCH", "/v1/automation-keys/", secondKey.key_id, goneKey.key_id, { enabled: false }],
    ["DELETE", "/v1/automation-keys/", secondKey.key_id, goneKey.key_id],
  ]) {
    const hidden = await call(method, `${path}${hiddenId}`, { ...as, body });
    const missing = await call(method, `${path}${missingId}`, { ...as, body });
    assertProblem(missing, 404, "credential_not_found", `${method} ${path}`);
    assert.deepEqual(answer(hidden, hiddenId), answer(missing, missingId), `${method} ${path}`);
    assert.ok(!hidden.text.includes(second), `${method} ${path} named the tenant`);
  }
  // Nothing changed in the second tenant.
  ok(await call("GET", `/v1/tokens/${secondToken.key_id}`, { token: launched.token }));
  const keyNow = ok(await call("GET", `/v1/automation-keys/${secondKey.key_id}`, { token: launched.token }));
  assert.equal(keyNow.enabled, true);
});
