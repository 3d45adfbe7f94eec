// A matrix of malformed requests: every one gets a 4xx problem+json and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertProblem, call, email, ok, signUp, stateJson, token } from "./lib.mjs";

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
    ["unknown operation", "POST", "/v1/authorize", { ...auth, body: { operation: "launch_missiles" } }, 400, "unknown_operation"],
    // credentials
    ["no credentials", "GET", members, {}, 401, "missing_credentials"],
    ["basic auth", "GET", members, { headers: { authorization: "Basic dXNlcjpwYXNz" } }, 401, "malformed_credential"],
    ["empty bearer", "GET", members, { headers: { authorization: "Bearer " } }, 401, "malformed_credential"],
    ["garbage bearer", "GET", members, { token: "hello" }, 401, "malformed_credential"],
    ["checksum broken", "GET", members, { token: flipped }, 401, "malformed_credential"],
    ["deleted token", "GET", members, { token: deleted.token }, 401, "unknown_key"],
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
