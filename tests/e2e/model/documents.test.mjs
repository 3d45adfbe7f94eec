// The worker built for a second product (policy/examples/documents: PORTCULLIS_MODEL and
// PORTCULLIS_POLICY at build time, scripts/test-worker-model): its own permissions, plans of
// 3 / 50 / 500 seats, no automation keys on the middle plan, an operation that needs two
// permissions. Run by scripts/test-worker-model, not by the default suite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { assertProblem, call, email, invite, member, ok, signUp, token } from "../lib.mjs";

const served = JSON.parse(readFileSync(new URL("../../../policy/examples/documents/model.json", import.meta.url), "utf8"));
const ALL = served.permissions.map((permission) => permission.name);

let clients = 0;
/** A request through the gateway, from a client address of its own. */
async function gw(method, path, credential, body) {
  clients += 1;
  const response = await call(method, path, {
    token: credential,
    headers: { "cf-connecting-ip": `203.0.113.${clients}` },
    ...(body === undefined ? {} : { body }),
  });
  const echo = response.headers.get("x-origin") === "echo" ? response.json : undefined;
  return { ...response, echo };
}

function forwarded(response, what) {
  assert.equal(response.status, 200, `${what}: expected the origin's 200, got ${response.status} ${response.text}`);
  assert.ok(response.echo, `${what}: answered by the origin`);
  assert.equal(response.echo.identity.valid, true, `${what}: ${response.echo.identity.error}`);
  return response.echo;
}

test("GET /v1/model serves the model the worker was built with, without a credential", async () => {
  const model = ok(await call("GET", "/v1/model"));
  assert.equal(model.product, served.product);
  assert.deepEqual(
    model.permissions.map((permission) => permission.name),
    ALL,
    "catalogue order as the document lists it",
  );
  assert.deepEqual(
    model.plans.map((plan) => [plan.name, plan.seats]),
    [["starter", 3], ["business", 50], ["corporate", 500]],
  );
  assert.equal(model.plans[1].features.includes("automation_keys"), false);
  assert.deepEqual(model.operations.find((op) => op.name === "publish_document").requires, [
    "edit_documents",
    "publish_documents",
  ]);
  assert.equal(model.automation_keys.managed_with, "run_imports");
});

test("a route of the second product is authorized by its own permissions", async () => {
  const world = await signUp("corporate");
  const owner = ok(await call("GET", `/v1/tenants/${world.tenant}/members/${world.owner}`, { token: world.token }));
  assert.deepEqual(owner.permissions, ALL, "the owner holds every permission of this model");
  const writer = await member(world, ["edit_documents"], "writer");
  const editor = await member(world, ["edit_documents", "publish_documents"], "editor");
  const reader = await member(world, [], "reader");

  forwarded(await gw("GET", "/api/documents/d1", reader.token), "read_documents is open to members");
  forwarded(await gw("PUT", "/api/documents/d1", writer.token, { text: "draft" }), "edit_document");
  assertProblem(await gw("PUT", "/api/documents/d1", reader.token, {}), 403, "missing_permission", "reader edits");
  const denied = await gw("POST", "/api/documents/d1/publish", writer.token, {});
  assertProblem(denied, 403, "missing_permission", "publish needs publish_documents too");
  assert.match(denied.json.detail, /publish_documents/);
  const echo = forwarded(await gw("POST", "/api/documents/d1/publish", editor.token, {}), "publish_document");
  assert.equal(echo.headers["portcullis-operation"], "publish_document");
  assert.equal(echo.headers["portcullis-permissions"], "edit_documents,publish_documents");
  assert.equal(echo.headers["portcullis-plan"], "corporate");
  // The default product's routes do not exist here.
  assertProblem(await gw("POST", "/api/builds", world.token, {}), 404, "not_found", "a default-model route");

  const decision = ok(
    await call("POST", "/v1/authorize", { token: editor.token, body: { operation: "publish_document" } }),
  );
  assert.equal(decision.allow, true);
  assertProblem(
    await call("POST", "/v1/authorize", { token: editor.token, body: { operation: "run_build" } }),
    400,
    "unknown_operation",
  );
});

test("names of the default model are refused, and nothing changes", async () => {
  const world = await signUp("corporate");
  const refused = await invite(world, email("builder"), ["build_applications"]);
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /build_applications/);
  const team = await call("POST", "/v1/signup", { body: {} });
  assert.ok(team.status >= 400 && team.status < 500);
  const members = ok(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: world.token }));
  assert.equal(members.items.length, 1, "no one was invited");
  assertProblem(await token(world, world.token, ["modify_configuration"]), 400, "invalid_body");
});

test("seat limits, plan features and automation keys follow the model's plans", async () => {
  const starter = await signUp("starter");
  ok(await invite(starter, email("second"), []), 201);
  ok(await invite(starter, email("third"), []), 201);
  assertProblem(await invite(starter, email("fourth"), []), 409, "plan_limit", "3 seats, owner included");
  assertProblem(await gw("GET", "/api/documents/d1/history", starter.token), 403, "plan_excludes", "version history");

  // Automation keys: on the smallest plan here, not on the middle one.
  const key = ok(
    await call("POST", `/v1/tenants/${starter.tenant}/automation-keys`, { token: starter.token, body: { name: "importer" } }),
    201,
  );
  forwarded(await gw("POST", "/api/imports", key.key, {}), "run_import with an automation key");
  assertProblem(await gw("PUT", "/api/documents/d1", key.key, {}), 403, "automation_key_scope");

  const business = await signUp("business");
  assertProblem(
    await call("POST", `/v1/tenants/${business.tenant}/automation-keys`, { token: business.token, body: { name: "x" } }),
    409,
    "plan_feature_unavailable",
    "no automation keys on business",
  );
  forwarded(await gw("GET", "/api/documents/d1/history", business.token), "version history on business");
  ok(await call("GET", `/v1/tenants/${business.tenant}/audit`, { token: business.token }), 200, "audit log on business");
  assertProblem(
    await call("GET", `/v1/tenants/${starter.tenant}/audit`, { token: starter.token }),
    409,
    "plan_feature_unavailable",
    "no audit log on starter",
  );
  // Moving a tenant with an automation key to a plan without them is refused with the blocker.
  const change = await call("PATCH", `/v1/tenants/${starter.tenant}`, { token: starter.token, body: { plan: "business" } });
  assertProblem(change, 409, "plan_change_blocked");
});
