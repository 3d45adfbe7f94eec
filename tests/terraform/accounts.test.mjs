// Account administration as code: portcullis_account_user (company roles, license-admin
// tenants, status) and portcullis_primary_contact, through the real terraform CLI: create,
// no-op plan, update in place, drift repaired, import, plan-time matrix validation, destroy.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Workspace, assertDiagnostic, call, email, ok, signUp } from "./lib.mjs";

const workspaces = [];
function workspace(token) {
  const ws = new Workspace(token);
  workspaces.push(ws);
  return ws;
}

/** Accepts the invitation whose code Terraform stored for `address`. */
async function accept(world, address, code) {
  return ok(await call("POST", "/v1/invitations/accept", { body: { account_id: world.account, email: address, code } }));
}

describe("portcullis_account_user and portcullis_primary_contact", () => {
  after(() => workspaces.forEach((ws) => ws.remove()));

  test("create, grant roles once active, swap the primary contact, drift, import, destroy", async () => {
    const world = await signUp("enterprise");
    const staging = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Staging", plan: "enterprise" } }), 201);
    const ws = workspace(world.token);
    const address = email("ops");
    const user = (roles, tenants, status = "active") => `
resource "portcullis_account_user" "ops" {
  email           = "${address}"
  name            = "Ops Person"
  roles           = [${roles.map((r) => `"${r}"`).join(", ")}]
  license_tenants = [${tenants.map((t) => `"${t}"`).join(", ")}]
  status          = "${status}"
}
`;
    // Roles are refused at plan time for a user who is not active yet.
    ws.write(user(["support"], []));
    assertDiagnostic(await ws.plan(), { code: "illegal_transition", address: "portcullis_account_user.ops", attribute: "roles" });

    ws.write(user([], []));
    await ws.apply();
    let state = (await ws.resources())["portcullis_account_user.ops"];
    assert.equal(state.state, "pending");
    assert.match(state.invitation_code, /^pcinv_/);
    await ws.assertNoChanges("after create");
    // Destroying a user who never accepted revokes the invitation: the user is gone, and the
    // code kept in the state (or a backup of it) no longer works.
    const early = await ws.run(["destroy", "-auto-approve", "-input=false"]);
    assert.equal(early.code, 0, early.stderr);
    assert.equal((await call("GET", `/v1/users/${state.id}`, { token: world.token })).status, 404);
    const stale = await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: state.invitation_code },
    });
    assert.equal(stale.status, 403);
    assert.equal(stale.json.code, "invitation_invalid");
    await ws.apply();
    state = (await ws.resources())["portcullis_account_user.ops"];
    assert.equal(state.state, "pending");
    await accept(world, address, state.invitation_code);

    // In place: roles and a license-admin tenant.
    ws.write(user(["support"], [staging.tenant_id]));
    const plan = await ws.plan();
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /portcullis_account_user\.ops will be updated in-place/);
    await ws.apply();
    const viewed = ok(await call("GET", `/v1/users/${state.id}`, { token: world.token }));
    assert.deepEqual(viewed.roles, ["license_admin", "support"]);
    assert.deepEqual(viewed.license_tenants, [staging.tenant_id]);
    await ws.assertNoChanges("after granting roles");

    // The primary contact of Staging, swapped in place.
    ws.write(`${user(["support"], [staging.tenant_id])}
resource "portcullis_primary_contact" "staging" {
  tenant_id = "${staging.tenant_id}"
  user_id   = portcullis_account_user.ops.id
}
`);
    await ws.apply();
    const usage = ok(await call("GET", "/v1/licenses", { token: world.token })).items;
    assert.equal(usage.find((row) => row.tenant_id === staging.tenant_id).primary_contact, state.id);
    await ws.assertNoChanges("after naming the primary contact");

    // Drift: support revoked and the user deactivated outside Terraform.
    ok(await call("PUT", `/v1/users/${state.id}/support`, { token: world.token, body: { support: false } }));
    ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/primary-contact`, { token: world.token, body: { user_id: world.owner } }));
    const drift = await ws.plan();
    assert.equal(drift.code, 2, drift.stderr);
    assert.match(drift.stdout, /portcullis_account_user\.ops will be updated in-place/);
    assert.match(drift.stdout, /portcullis_primary_contact\.staging will be updated in-place/);
    await ws.apply();
    assert.deepEqual(ok(await call("GET", `/v1/users/${state.id}`, { token: world.token })).roles, ["license_admin", "support"]);
    await ws.assertNoChanges("after repair");

    // Import both, then no changes.
    for (const address of ["portcullis_account_user.ops", "portcullis_primary_contact.staging"]) {
      assert.equal((await ws.run(["state", "rm", address])).code, 0);
    }
    assert.equal((await ws.run(["import", "-input=false", "portcullis_account_user.ops", address])).code, 0);
    const imported = await ws.run(["import", "-input=false", "portcullis_primary_contact.staging", staging.tenant_id]);
    assert.equal(imported.code, 0, imported.stderr);
    await ws.assertNoChanges("after import");

    // Destroy: the contact is handed back first (a primary contact cannot be deleted).
    ws.write(`${user(["support"], [staging.tenant_id])}
resource "portcullis_primary_contact" "staging" {
  tenant_id = "${staging.tenant_id}"
  user_id   = "${world.owner}"
}
`);
    await ws.apply();
    ws.write(`
resource "portcullis_primary_contact" "staging" {
  tenant_id = "${staging.tenant_id}"
  user_id   = "${world.owner}"
}
`);
    await ws.apply();
    assert.equal((await call("GET", `/v1/users/${state.id}`, { token: world.token })).status, 404, "the user was deleted");
    state = null;
  });

  test("a license admin creates a user and makes them a license admin of their tenant", async () => {
    const world = await signUp("enterprise");
    const staging = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Staging", plan: "enterprise" } }), 201);
    const licAddress = email("lic-admin");
    const invited = ok(await call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: licAddress, permissions: [] } }), 201);
    const lic = await accept(world, licAddress, invited.invitation.code);
    ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/license-admins/${invited.user_id}`, { token: world.token, body: {} }));
    const ws = workspace(lic.token);
    const address = email("helper");
    const user = (tenants) => `
resource "portcullis_account_user" "helper" {
  email           = "${address}"
  license_tenants = [${tenants.map((t) => `"${t}"`).join(", ")}]
}
`;
    ws.write(user([]));
    await ws.apply();
    const state = (await ws.resources())["portcullis_account_user.helper"];
    await ws.assertNoChanges("a license admin reads the user they created");
    await accept(world, address, state.invitation_code);
    ws.write(user([staging.tenant_id]));
    await ws.apply();
    assert.deepEqual(ok(await call("GET", `/v1/users/${state.id}`, { token: world.token })).license_tenants, [staging.tenant_id]);
    await ws.assertNoChanges("after the license admin assignment");
    // Another tenant is not theirs to assign.
    ws.write(user([staging.tenant_id, world.tenant]));
    assertDiagnostic(await ws.plan(), { code: "role_not_permitted", address: "portcullis_account_user.helper", attribute: "license_tenants" });
  });

  test("plan-time matrix validation: a license admin cannot grant company roles", async () => {
    const world = await signUp("enterprise");
    const address = email("lic");
    const invited = ok(await call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: address, permissions: ["user_and_api_management"] } }), 201);
    const accepted = await accept(world, address, invited.invitation.code);
    ok(await call("PUT", `/v1/tenants/${world.tenant}/license-admins/${invited.user_id}`, { token: world.token, body: {} }));
    const ws = workspace(accepted.token);
    ws.write(`
resource "portcullis_account_user" "target" {
  email = "${email("target")}"
  roles = ["company_admin"]
}
resource "portcullis_primary_contact" "main" {
  tenant_id = "${world.tenant}"
  user_id   = "${invited.user_id}"
}
`);
    const result = await ws.plan();
    assertDiagnostic(result, { code: "role_not_permitted", address: "portcullis_account_user.target", attribute: "roles", text: "assign_company_admin" });
    assertDiagnostic(result, { code: "not_company_admin", address: "portcullis_primary_contact.main", attribute: "user_id" });
  });
});
