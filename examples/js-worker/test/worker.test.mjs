// The example worker's fetch handler, called with real Request objects under Node 22. KV is a
// Map behind the same `get` the Workers binding offers; records and secrets are issued by the
// package itself (Web Crypto randomness), exactly as an admin tool would.
import assert from "node:assert/strict";
import { test } from "node:test";
import worker from "../src/index.js";
import {
  Model,
  generateHashingKey,
  issueCredential,
} from "../../../crates/wasm/pkg/portcullis_wasm.js";

const HASHING_KEY = generateHashingKey();
const model = Model.default();
const store = new Map();
const env = {
  HASHING_KEY,
  CREDENTIALS: { get: async (key) => store.get(key) ?? null },
};
const place = {
  account_id: "acc_0123456789abcdef",
  tenant_id: "ten_0123456789abcdef",
  plan: "team",
};

function issue(request, under = model) {
  const issued = issueCredential(under, { ...place, ...request }, HASHING_KEY);
  assert.equal(issued.ok, true, JSON.stringify(issued));
  store.set(issued.storage_key, JSON.stringify(issued.record));
  return issued;
}

const token = issue({
  kind: "api_token",
  name: "laptop",
  owner: "usr_0123456789abcdef",
  permissions: ["build_applications", "update_certificates"],
});
const other = issue({
  kind: "api_token",
  name: "other",
  owner: "usr_0123456789abcdef",
  permissions: [],
});
const automation = issue({ kind: "automation_key", name: "ci" });
const expired = issue({
  kind: "api_token",
  name: "old",
  owner: "usr_0123456789abcdef",
  permissions: ["build_applications"],
  expires_at: Math.floor(Date.now() / 1000) - 60,
});

async function call(authorization, path = "/whoami", environment = env) {
  const headers = authorization === undefined ? {} : { Authorization: authorization };
  const response = await worker.fetch(
    new Request(`https://worker.example${path}`, { headers }),
    environment,
  );
  return { status: response.status, headers: response.headers, body: await response.json() };
}

function codes(body) {
  return body.errors.map((error) => error.code);
}

test("a valid token gets 200 with its principal and effective permissions", async () => {
  const { status, body } = await call(`Bearer ${token.secret}`);
  assert.equal(status, 200);
  assert.equal(body.principal.kind, "user");
  assert.equal(body.principal.key_id, token.record.key_id);
  assert.equal(body.principal.tenant_id, place.tenant_id);
  assert.deepEqual(body.principal.permissions, ["update_certificates", "build_applications"]);
});

test("the Bearer scheme is case-insensitive", async () => {
  assert.equal((await call(`bearer ${token.secret}`)).status, 200);
});

test("a wrong secret is 401 invalid_credentials, as an unknown key id", async () => {
  const forged = `${token.record.key_id}:${other.secret.split(":")[1]}`;
  const { status, headers, body } = await call(`Bearer ${forged}`);
  assert.equal(status, 401);
  assert.match(headers.get("www-authenticate"), /^Bearer/);
  assert.equal(headers.get("content-type"), "application/problem+json");
  assert.deepEqual(codes(body), ["invalid_credentials"]);
  const unknown = issueCredential(model, { ...place, kind: "api_token", name: "never stored", owner: "usr_0123456789abcdef", permissions: [] }, HASHING_KEY);
  assert.deepEqual((await call(`Bearer ${unknown.secret}`)).body, body);
});

test("malformed credentials are 401 malformed_credential", async () => {
  const last = token.secret.at(-5) === "A" ? "B" : "A";
  const mistyped = token.secret.slice(0, -5) + last + token.secret.slice(-4);
  for (const header of [`Bearer ${mistyped}`, `Basic ${token.secret}`, "Bearer", "Bearer pctk_nope"]) {
    const { status, body } = await call(header);
    assert.equal(status, 401, header);
    assert.deepEqual(codes(body), ["malformed_credential"], header);
  }
});

test("a missing header is 401 missing_credentials", async () => {
  const { status, body } = await call(undefined);
  assert.equal(status, 401);
  assert.deepEqual(codes(body), ["missing_credentials"]);
});

test("a deleted credential and an expired one are 401 invalid_credentials", async () => {
  const deleted = issueCredential(model, { ...place, kind: "automation_key", name: "gone" }, HASHING_KEY);
  assert.deepEqual(codes((await call(`Bearer ${deleted.secret}`)).body), ["invalid_credentials"]);
  assert.deepEqual(codes((await call(`Bearer ${expired.secret}`)).body), ["invalid_credentials"]);
});

test("an automation key may run builds and nothing else", async () => {
  const build = await call(`Bearer ${automation.secret}`, "/whoami?operation=run_build");
  assert.equal(build.status, 200);
  assert.equal(build.body.principal.kind, "automation_key");
  const manage = await call(`Bearer ${automation.secret}`, "/whoami?operation=manage_users");
  assert.equal(manage.status, 403);
  assert.deepEqual(codes(manage.body), ["automation_key_scope"]);
  const unknown = await call(`Bearer ${automation.secret}`, "/whoami?operation=drop_tables");
  assert.equal(unknown.status, 400);
  assert.deepEqual(codes(unknown.body), ["unknown_operation"]);
});

// Another product's model, as a PRODUCT_MODEL var would hold it: its own permissions, plans and
// operations, nothing of the default model's but the engine's built-in names.
const DOCUMENTS_MODEL = JSON.stringify({
  version: 1,
  product: "Documents",
  permissions: [{ name: "edit_documents" }, { name: "publish_documents" }],
  operations: [
    { name: "read_documents", area: "documents", automation_keys: true },
    { name: "publish_document", area: "publishing", requires: ["publish_documents"] },
  ],
  plans: [
    { name: "starter", seats: 3 },
    { name: "business", seats: 50 },
    { name: "corporate", seats: 500, features: ["automation_keys"] },
  ],
});

test("under the product's own model, its names decide and the default model's are refused", async () => {
  const loaded = Model.load(DOCUMENTS_MODEL);
  assert.equal(loaded.ok, true, JSON.stringify(loaded));
  const documents = loaded.model;
  const productEnv = { ...env, PRODUCT_MODEL: DOCUMENTS_MODEL };
  const onBusiness = { plan: "business", kind: "api_token", owner: "usr_0123456789abcdef" };
  const publisher = issue({ ...onBusiness, name: "cms", permissions: ["publish_documents"] }, documents);
  const editor = issue({ ...onBusiness, name: "desk", permissions: ["edit_documents"] }, documents);

  const published = await call(`Bearer ${publisher.secret}`, "/whoami?operation=publish_document", productEnv);
  assert.equal(published.status, 200);
  assert.deepEqual(published.body.principal.permissions, ["publish_documents"]);
  assert.deepEqual(published.body.reason, { code: "granted", permission: "publish_documents" });
  const denied = await call(`Bearer ${editor.secret}`, "/whoami?operation=publish_document", productEnv);
  assert.equal(denied.status, 403);
  assert.deepEqual(codes(denied.body), ["missing_permission"]);
  const elsewhere = await call(`Bearer ${publisher.secret}`, "/whoami?operation=run_build", productEnv);
  assert.equal(elsewhere.status, 400);
  assert.deepEqual(codes(elsewhere.body), ["unknown_operation"]);
  // A default model's name is not one of this model's.
  const refused = issueCredential(documents, { ...place, plan: "business", kind: "api_token", name: "x", owner: "usr_0123456789abcdef", permissions: ["build_applications"] }, HASHING_KEY);
  assert.equal(refused.ok, false);
  assert.equal(refused.errors[0].code, "invalid_input");
  assert.match(refused.errors[0].message, /unknown permission `build_applications`/);
});

test("a broken PRODUCT_MODEL is 500 with every problem of the document", async () => {
  const broken = JSON.stringify({
    version: 1,
    permissions: [{ name: "Edit" }],
    operations: [{ name: "publish", requires: ["publish_documents"] }],
    plans: [],
  });
  const { status, body } = await call(`Bearer ${token.secret}`, "/whoami", { ...env, PRODUCT_MODEL: broken });
  assert.equal(status, 500);
  assert.deepEqual(
    body.errors.map(({ code, path }) => [code, path]),
    [
      ["invalid_name", "permissions[0].name"],
      ["no_plans", "plans"],
      ["unknown_permission", "operations[0].requires[0]"],
    ],
  );
});
