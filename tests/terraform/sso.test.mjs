// portcullis_sso_connection and SSO enforcement in portcullis_tenant_settings, through the real
// terraform CLI against the real worker: create, no-op plan, drift (changed or deleted outside
// Terraform) planned back, secret rotation, import, enforcement referencing the connection,
// destroy ordering, a connection still in use, and plan-time validation by the core's parsers.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Workspace, call, ok, signUp } from "./lib.mjs";

const workspaces = [];
function workspace(token) {
  const ws = new Workspace(token);
  workspaces.push(ws);
  return ws;
}

function connectionConfig({ name = "Okta", issuer = "https://idp.example.com", clientId = "portcullis", secret = "first-secret", jit = false } = {}) {
  return `
resource "portcullis_sso_connection" "okta" {
  name                   = "${name}"
  allow_jit_provisioning = ${jit}
  oidc {
    issuer        = "${issuer}"
    client_id     = "${clientId}"
    client_secret = "${secret}"
  }
}
`;
}

function enforcement(world) {
  return `
resource "portcullis_tenant_settings" "this" {
  sso_enforced            = true
  saml_breakglass_user_id = "${world.owner}"
  sso_connection_id       = portcullis_sso_connection.okta.id
}
`;
}

const connectionPath = (id) => `/v1/account/sso-connections/${id}`;

/** A fresh self-signed certificate, as an identity provider's signing certificate. */
function certificate(name) {
  const dir = mkdtempSync(join(tmpdir(), "tf-saml-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"),
      "-out", join(dir, "cert.pem"), "-days", "1", "-subj", `/CN=${name}`,
    ], { stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(join(dir, "cert.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function samlConfig(certificates, ssoUrl = "https://idp.example.com/sso") {
  const list = certificates.map((pem) => JSON.stringify(pem)).join(", ");
  return `
resource "portcullis_sso_connection" "corp" {
  name = "Corporate SAML"
  saml {
    idp_entity_id    = "https://idp.example.com/metadata"
    idp_sso_url      = "${ssoUrl}"
    idp_certificates = [${list}]
  }
}
`;
}

/** The account audit events about connection `id`. */
async function connectionEvents(world, id) {
  const audit = ok(await call("GET", "/v1/account/audit?limit=200", { token: world.token }));
  return audit.items.filter((event) => event.target === id || JSON.stringify(event).includes(id));
}

function output(result) {
  return `${result.stderr}\n${result.stdout}`;
}

describe("portcullis_sso_connection", () => {
  after(() => workspaces.forEach((ws) => ws.remove()));

  test("create, no-op plan, drift planned back, secret rotation, deletion outside Terraform", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    ws.write(connectionConfig());
    await ws.apply();
    const state = (await ws.resources())["portcullis_sso_connection.okta"];
    assert.match(state.id, /^sso_[0-9a-f]{16}$/);
    assert.equal(state.allow_jit_provisioning, false);
    assert.equal(state.oidc[0].client_secret, "first-secret", "the state keeps the configured secret");
    const view = ok(await call("GET", connectionPath(state.id), { token: world.token }));
    assert.equal(view.name, "Okta");
    assert.deepEqual(view.protocol, { type: "oidc", issuer: "https://idp.example.com", client_id: "portcullis", client_secret_set: true });
    assert.equal(view.allow_jit_provisioning, false);
    assert.equal(new Date(state.created_at).getTime() / 1000, view.created_at);
    await ws.assertNoChanges("after create");

    // Changed outside Terraform: the plan shows it and apply puts it back.
    ok(
      await call("PATCH", connectionPath(state.id), {
        token: world.token,
        body: { name: "Renamed", oidc: { issuer: "https://other.example.com" }, allow_jit_provisioning: true },
      }),
    );
    const drift = await ws.plan();
    assert.equal(drift.code, 2, output(drift));
    assert.match(drift.stdout, /1 to change/);
    assert.match(drift.stdout, /"Renamed" -> "Okta"/);
    assert.match(drift.stdout, /"https:\/\/other\.example\.com" -> "https:\/\/idp\.example\.com"/);
    assert.match(drift.stdout, /allow_jit_provisioning\s+= true -> false/);
    await ws.apply();
    const restored = ok(await call("GET", connectionPath(state.id), { token: world.token }));
    assert.equal(restored.name, "Okta");
    assert.equal(restored.protocol.issuer, "https://idp.example.com");
    assert.equal(restored.allow_jit_provisioning, false);
    await ws.assertNoChanges("after drift repaired");

    // Rotation: only the secret changes, in place, and the API records it.
    const before = (await ws.resources())["portcullis_sso_connection.okta"];
    ws.write(connectionConfig({ secret: "second-secret" }));
    const rotation = await ws.plan();
    assert.equal(rotation.code, 2, output(rotation));
    assert.match(rotation.stdout, /0 to add, 1 to change, 0 to destroy/);
    assert.doesNotMatch(rotation.stdout, /second-secret/, "the secret stays hidden in the plan");
    const eventsBefore = (await connectionEvents(world, state.id)).length;
    await ws.apply();
    const rotated = (await ws.resources())["portcullis_sso_connection.okta"];
    assert.equal(rotated.id, before.id, "rotated in place");
    assert.equal(rotated.oidc[0].client_secret, "second-secret");
    const events = await connectionEvents(world, state.id);
    assert.equal(events.length, eventsBefore + 1, JSON.stringify(events));
    assert.ok(
      events.some((event) => event.action === "sso.connection_updated" && event.detail === "client_secret=rotated"),
      JSON.stringify(events),
    );
    assert.ok(!JSON.stringify(events).includes("second-secret"), "the audit never shows the secret");
    const afterRotation = ok(await call("GET", connectionPath(state.id), { token: world.token }));
    assert.ok(afterRotation.updated_at >= restored.updated_at);
    assert.equal(new Date(rotated.updated_at).getTime() / 1000, afterRotation.updated_at);
    await ws.assertNoChanges("after rotation");

    // Deleted outside Terraform: gone from the state, planned again.
    ok(await call("DELETE", connectionPath(state.id), { token: world.token }));
    const gone = await ws.plan();
    assert.equal(gone.code, 2, output(gone));
    assert.match(gone.stdout, /1 to add, 0 to change, 0 to destroy/);
    await ws.apply();
    const recreated = (await ws.resources())["portcullis_sso_connection.okta"];
    assert.notEqual(recreated.id, state.id);
    await ws.destroy();
    assert.equal((await call("GET", connectionPath(recreated.id), { token: world.token })).status, 404);
  });

  test("a SAML connection: the SP endpoints computed, the certificate's spelling kept, a rollover and a URL change in place, import", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    const first = certificate("IdP key 1");
    // CRLF line ends: the API normalises the PEM; the plan must not show a difference for it.
    const crlf = first.replaceAll("\n", "\r\n");
    ws.write(samlConfig([crlf]));
    await ws.apply();
    const state = (await ws.resources())["portcullis_sso_connection.corp"];
    const saml = state.saml[0];
    assert.equal(saml.sp_entity_id, `${process.env.PORTCULLIS_ENDPOINT}/v1/sso/saml/${world.account}/${state.id}`);
    assert.equal(saml.acs_url, `${process.env.PORTCULLIS_ENDPOINT}/v1/sso/saml/acs`);
    assert.deepEqual(saml.idp_certificates, [crlf]);
    assert.deepEqual(state.oidc, []);
    await ws.assertNoChanges("after create");
    // A key rollover (two certificates) and a new URL: one in-place change.
    const second = certificate("IdP key 2");
    ws.write(samlConfig([crlf, second], "https://idp.example.com/sso/v2"));
    const plan = await ws.plan();
    assert.equal(plan.code, 2, output(plan));
    assert.match(plan.stdout, /0 to add, 1 to change, 0 to destroy/);
    await ws.apply();
    const view = ok(await call("GET", connectionPath(state.id), { token: world.token }));
    assert.equal(view.protocol.idp_sso_url, "https://idp.example.com/sso/v2");
    assert.equal(view.protocol.idp_certificates.length, 2);
    await ws.assertNoChanges("after the rollover");
    // A certificate that is not one fails at plan, naming the attribute.
    ws.write(samlConfig(["not a certificate"]));
    const bad = await ws.plan();
    assert.notEqual(bad.code, 0);
    assert.match(output(bad), /one X\.509 certificate in PEM/);
    // Import into a fresh workspace: nothing to change.
    const again = workspace(world.token);
    again.write(samlConfig([crlf, second], "https://idp.example.com/sso/v2"));
    const imported = await again.run(["import", "-input=false", "portcullis_sso_connection.corp", state.id]);
    assert.equal(imported.code, 0, output(imported));
    // The API shows normalised PEM, so the first plan records the configured spelling (the
    // same certificates: nothing is sent to the API for them), and then there is nothing to do.
    const importedPlan = await again.plan();
    assert.equal(importedPlan.code, 2, output(importedPlan));
    assert.match(importedPlan.stdout, /0 to add, 1 to change, 0 to destroy/);
    const before = ok(await call("GET", connectionPath(state.id), { token: world.token }));
    await again.apply();
    const untouched = ok(await call("GET", connectionPath(state.id), { token: world.token }));
    assert.equal(untouched.updated_at, before.updated_at, "no write for a new spelling");
    await again.assertNoChanges("after import and the spelling's apply");
  });

  test("import by id: the next apply rotates the secret to the configured one, and nothing else", async () => {
    const world = await signUp("enterprise");
    const created = ok(
      await call("POST", "/v1/account/sso-connections", {
        token: world.token,
        body: {
          name: "Okta",
          protocol: { type: "oidc", issuer: "https://idp.example.com", client_id: "portcullis", client_secret: "set-by-hand" },
        },
      }),
      201,
    );
    const id = created.connection.connection_id;
    const ws = workspace(world.token);
    ws.write(connectionConfig({ secret: "from-terraform" }));
    const badId = await ws.run(["import", "-input=false", "portcullis_sso_connection.okta", "ten_0123456789abcdef"]);
    assert.notEqual(badId.code, 0);
    assert.match(output(badId), /is not an SSO connection id/);
    const imported = await ws.run(["import", "-input=false", "portcullis_sso_connection.okta", id]);
    assert.equal(imported.code, 0, output(imported));
    const state = (await ws.resources())["portcullis_sso_connection.okta"];
    assert.equal(state.name, "Okta");
    assert.equal(state.oidc[0].issuer, "https://idp.example.com");
    assert.equal(state.oidc[0].client_secret, null, "the API never shows the secret");
    const plan = await ws.plan();
    assert.equal(plan.code, 2, output(plan));
    assert.match(plan.stdout, /0 to add, 1 to change, 0 to destroy/);
    assert.match(plan.stdout, /client_secret\s+= \(sensitive value\)/);
    assert.doesNotMatch(plan.stdout, /name\s+= ".*" ->/, "only the secret changes");
    assert.doesNotMatch(plan.stdout, /issuer\s+= ".*" ->/, "only the secret changes");
    await ws.apply();
    const events = await connectionEvents(world, id);
    assert.ok(events.some((event) => event.action === "sso.connection_updated" && event.detail === "client_secret=rotated"), JSON.stringify(events));
    await ws.assertNoChanges("after the import's rotation");
  });

  test("enforcement names the connection by reference; destroy releases it before deleting it", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    ws.write(connectionConfig() + enforcement(world));
    await ws.apply();
    const state = await ws.resources();
    const id = state["portcullis_sso_connection.okta"].id;
    assert.equal(state["portcullis_tenant_settings.this"].sso_connection_id, id);
    const tenant = ok(await call("GET", `/v1/tenants/${world.tenant}`, { token: world.token }));
    assert.equal(tenant.sso_enforced, true);
    assert.equal(tenant.sso_connection_id, id);
    assert.equal(tenant.saml_breakglass_user_id, world.owner);
    await ws.assertNoChanges("after enforcing SSO");

    // Destroy orders by the reference: the settings first (releasing the connection), then
    // the connection, which could not be deleted while the tenant named it.
    const destroyed = await ws.run(["destroy", "-auto-approve", "-input=false"]);
    assert.equal(destroyed.code, 0, output(destroyed));
    const settingsAt = destroyed.stdout.indexOf("portcullis_tenant_settings.this: Destroying");
    const connectionAt = destroyed.stdout.indexOf("portcullis_sso_connection.okta: Destroying");
    assert.ok(settingsAt >= 0 && settingsAt < connectionAt, destroyed.stdout);
    const released = ok(await call("GET", `/v1/tenants/${world.tenant}`, { token: world.token }));
    assert.equal(released.sso_connection_id, null);
    assert.equal(released.sso_enforced, false);
    assert.equal(released.saml_breakglass_user_id, world.owner, "the breakglass user stays");
    assert.equal((await call("GET", connectionPath(id), { token: world.token })).status, 404);
  });

  test("deleting a connection a tenant still names fails, naming the tenant, and keeps the state", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    ws.write(connectionConfig());
    await ws.apply();
    const id = (await ws.resources())["portcullis_sso_connection.okta"].id;
    // The tenant names it outside this configuration.
    ok(await call("PATCH", `/v1/tenants/${world.tenant}`, { token: world.token, body: { sso: { enforced: true, breakglass: world.owner, connection: id } } }));
    const refused = await ws.run(["destroy", "-auto-approve", "-input=false"]);
    assert.notEqual(refused.code, 0, output(refused));
    assert.match(output(refused), /Portcullis refused to delete the SSO connection \(409 sso_connection_in_use\)/);
    assert.ok(output(refused).includes(world.tenant), `the diagnostic names the tenant:\n${output(refused)}`);
    assert.equal((await ws.resources())["portcullis_sso_connection.okta"]?.id, id, "the state keeps the connection");
    ok(await call("GET", connectionPath(id), { token: world.token }));
    // Once the tenant lets go, destroy goes through.
    ok(await call("PATCH", `/v1/tenants/${world.tenant}`, { token: world.token, body: { sso: { enforced: false, breakglass: null, connection: null } } }));
    await ws.destroy();
    assert.equal((await call("GET", connectionPath(id), { token: world.token })).status, 404);
  });

  test("invalid settings fail at plan with the core's message, before any write", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    ws.write(connectionConfig({ issuer: "http://example.com", clientId: "has space" }));
    const invalid = await ws.plan();
    assert.equal(invalid.code, 1, output(invalid));
    assert.match(output(invalid), /Invalid issuer/);
    assert.ok(output(invalid).includes("issuer must use https (http only for 127.0.0.1, [::1] or localhost)"), output(invalid));
    assert.match(output(invalid), /Invalid client id/);
    assert.ok(output(invalid).includes("client id must be 1 to 255 visible ASCII characters"), output(invalid));
    ws.write(`
resource "portcullis_sso_connection" "none" {
  name = "No protocol"
}
`);
    const missing = await ws.plan();
    assert.equal(missing.code, 1, output(missing));
    assert.match(output(missing), /Missing protocol/);
    assert.match(output(missing), /set exactly one of `oidc`/);
    const listed = ok(await call("GET", "/v1/account/sso-connections", { token: world.token }));
    assert.deepEqual(listed.items, [], "nothing was written");
  });
});
