// Plan-time validation: each rule refused by `terraform plan` (before any write) with its code,
// on the attribute at fault; unknown values never fail a plan.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Workspace, assertDiagnostic, call, email, ok, signUp, tenantSnapshot } from "./lib.mjs";

const workspaces = [];
function workspace(token) {
  const ws = new Workspace(token);
  workspaces.push(ws);
  return ws;
}

/** Invites and accepts `address` with `permissions`; returns { id, token }. */
async function activeMember(world, address, permissions, token = world.token, tenant = world.tenant) {
  const invited = ok(await call("POST", `/v1/tenants/${tenant}/members`, { token, body: { email: address, permissions } }), 201);
  if (!invited.invitation) return { id: invited.user_id };
  const accepted = ok(
    await call("POST", "/v1/invitations/accept", { body: { account_id: world.account, email: address, code: invited.invitation.code } }),
  );
  return { id: invited.user_id, token: accepted.token };
}

describe("plan-time validation", () => {
  after(() => workspaces.forEach((ws) => ws.remove()));

  test("unknown permissions and roles point at their attribute", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    ws.write(`
resource "portcullis_user" "x" {
  email       = "${email("x")}"
  permissions = ["build_applications", "sudo"]
}
resource "portcullis_user" "y" {
  email = "${email("y")}"
  role  = "god"
}
resource "portcullis_api_token" "t" {
  name        = "t"
  permissions = ["root"]
}
`);
    const result = await ws.plan();
    assertDiagnostic(result, { code: "unknown_permission", address: "portcullis_user.x", attribute: "permissions", text: "unknown permission `sudo`" });
    assertDiagnostic(result, { code: "unknown_role", address: "portcullis_user.y", attribute: "role" });
    assertDiagnostic(result, { code: "unknown_permission", address: "portcullis_api_token.t", text: "unknown permission `root`" });
  });

  test("no escalation beyond the provider token's permissions", async () => {
    const world = await signUp("enterprise");
    const manager = await activeMember(world, email("manager"), ["user_and_api_management", "build_applications"]);
    const before = await tenantSnapshot(world);
    const ws = workspace(manager.token);
    ws.write(`
resource "portcullis_user" "x" {
  email       = "${email("x")}"
  permissions = ["build_applications", "modify_tenant_settings"]
}
resource "portcullis_api_token" "t" {
  name        = "t"
  permissions = ["modify_configuration"]
}
`);
    const result = await ws.plan();
    assertDiagnostic(result, { code: "privilege_escalation", address: "portcullis_user.x", attribute: "permissions", text: "modify_tenant_settings" });
    assertDiagnostic(result, {
      code: "privilege_escalation",
      address: "portcullis_api_token.t",
      attribute: "permissions",
      text: "the provider's token lacks modify_configuration",
    });
    assert.doesNotMatch(result.stderr, /its owner lacks/);
    // What a role grants beyond the provider's token is the role's doing: reported on `role`.
    const roles = workspace(manager.token);
    roles.write(`
resource "portcullis_user" "r" {
  email       = "${email("r")}"
  permissions = ["build_applications"]
  role        = "platform_admin"
}
`);
    const byRole = await roles.plan();
    assertDiagnostic(byRole, { code: "privilege_escalation", address: "portcullis_user.r", attribute: "role", text: "modify_tenant_settings" });
    // The diagnostic's source line is the `role` line, not the resource's first.
    assert.match(`${byRole.stderr}\n${byRole.stdout}`, /in resource "portcullis_user" "r":[│\s]*\d+:\s*role\s*=/);
    assert.deepEqual(await tenantSnapshot(world), before, "nothing was written");
  });

  test("more members than the plan allows", async () => {
    const world = await signUp("team");
    const ws = workspace(world.token);
    ws.write(`
resource "portcullis_user" "many" {
  count = 20
  email = "many-\${count.index}.${process.pid}@acme.test"
}
`);
    const result = await ws.plan();
    // The full count (the owner included), once, with the fix.
    assertDiagnostic(result, {
      code: "plan_limit",
      address: "portcullis_user.many",
      attribute: "email",
      text: "the team plan allows 20 members and the configuration has 21 (the owner and pending invitations included); remove 1 member or move the tenant to the `enterprise` plan (100 seats)",
    });
    const output = `${result.stderr}\n${result.stdout}`;
    assert.equal(output.match(/Invalid configuration \(plan_limit\)/g)?.length, 1, output);
    const ok19 = workspace(world.token);
    ok19.write(`
resource "portcullis_user" "many" {
  count = 19
  email = "many-\${count.index}.${process.pid}@acme.test"
}
`);
    const fits = await ok19.plan();
    assert.equal(fits.code, 2, `19 + the owner fit the team plan:\n${fits.stderr}`);
  });

  test("SSO needs a valid breakglass user and a connection", async () => {
    const world = await signUp("enterprise");
    const reader = await activeMember(world, email("reader"), []);
    const ws = workspace(world.token);
    ws.write(`
resource "portcullis_tenant_settings" "this" {
  sso_enforced = true
}
`);
    assertDiagnostic(await ws.plan(), { code: "breakglass_required", address: "portcullis_tenant_settings.this", text: "needs a breakglass user" });
    ws.write(`
resource "portcullis_tenant_settings" "this" {
  sso_enforced            = true
  saml_breakglass_user_id = "${reader.id}"
}
`);
    assertDiagnostic(await ws.plan(), { code: "invalid_breakglass", address: "portcullis_tenant_settings.this", attribute: "saml_breakglass_user_id" });
    ws.write(`
resource "portcullis_tenant_settings" "this" {
  sso_enforced            = true
  saml_breakglass_user_id = "${world.owner}"
}
`);
    assertDiagnostic(await ws.plan(), {
      code: "sso_connection_required",
      address: "portcullis_tenant_settings.this",
      text: "enforcing SSO needs an SSO connection",
    });
    const connection = ok(
      await call("POST", "/v1/account/sso-connections", {
        token: world.token,
        body: { name: "Okta", protocol: { type: "oidc", issuer: "https://idp.example.com", client_id: "c", client_secret: "s" } },
      }),
      201,
    ).connection.connection_id;
    ws.write(`
resource "portcullis_tenant_settings" "this" {
  sso_enforced            = true
  saml_breakglass_user_id = "${world.owner}"
  sso_connection_id       = "${connection}"
}
`);
    const valid = await ws.plan();
    assert.equal(valid.code, 2, valid.stderr);
    // Applying it now works (it used to fail: the settings could not name a connection).
    await ws.apply();
    const tenant = ok(await call("GET", `/v1/tenants/${world.tenant}`, { token: world.token }));
    assert.equal(tenant.sso_enforced, true);
    assert.equal(tenant.sso_connection_id, connection);
    await ws.assertNoChanges("after enforcing SSO");
    await ws.destroy();
  });

  test("a change that would leave the tenant without a manager", async () => {
    // Tenant "Launch" is owned by a company admin who is then deactivated; its only other
    // manager runs Terraform and tries to drop their own user_and_api_management.
    const world = await signUp("enterprise");
    const adminAddress = email("admin");
    const admin = await activeMember(world, adminAddress, ["user_and_api_management"]);
    ok(await call("PUT", `/v1/users/${admin.id}/company-admin`, { token: world.token, body: { company_admin: true } }));
    const launched = ok(await call("POST", "/v1/tenants", { token: admin.token, body: { name: "Launch", plan: "enterprise" } }), 201);
    const launch = { ...world, tenant: launched.tenant_id };
    const managerAddress = email("manager");
    const manager = await activeMember(launch, managerAddress, ["user_and_api_management", "build_applications"], launched.token, launched.tenant_id);
    ok(await call("POST", `/v1/users/${admin.id}/deactivate`, { token: world.token, body: {} }));

    const ws = workspace(manager.token);
    ws.write(`
resource "portcullis_user" "me" {
  email       = "${managerAddress}"
  permissions = ["user_and_api_management", "build_applications"]
}
`);
    const imported = await ws.run(["import", "-input=false", "portcullis_user.me", managerAddress]);
    assert.equal(imported.code, 0, imported.stderr);
    await ws.assertNoChanges("imported manager");
    ws.write(`
resource "portcullis_user" "me" {
  email       = "${managerAddress}"
  permissions = ["build_applications"]
}
`);
    assertDiagnostic(await ws.plan(), { code: "lockout", address: "portcullis_user.me", attribute: "permissions", text: "the tenant would be locked" });
  });

  test("unknown values during plan never fail it", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    ws.write(`
resource "terraform_data" "later" {
  input = "build_applications"
}
resource "portcullis_user" "x" {
  email       = "${email("x")}"
  permissions = [terraform_data.later.output]
}
resource "portcullis_api_token" "t" {
  name        = "t"
  permissions = [terraform_data.later.output]
}
resource "portcullis_tenant_settings" "this" {
  sso_enforced            = true
  saml_breakglass_user_id = portcullis_user.x.id
}
`);
    const result = await ws.plan();
    assert.equal(result.code, 2, `${result.stderr}\n${result.stdout}`);
    assert.match(result.stdout, /4 to add/);
  });
});
