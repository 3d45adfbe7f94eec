// The provider against a worker built with the second example model
// (policy/examples/documents/model.json; scripts/test-provider builds it with PORTCULLIS_MODEL
// and PORTCULLIS_POLICY and runs this directory on its own): every name, seat limit and plan
// feature is that model's, none of the compiled-in default's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Workspace, assertDiagnostic, call, email, memberByEmail, ok, signUp, tenantSnapshot } from "../lib.mjs";

const documents = JSON.parse(readFileSync(new URL("../../../policy/examples/documents/model.json", import.meta.url), "utf8"));

const workspaces = [];
function workspace(token) {
  const ws = new Workspace(token);
  workspaces.push(ws);
  return ws;
}

describe("a worker serving the documents model", () => {
  before(async () => {
    const served = ok(await call("GET", "/v1/model"), 200, "the served model");
    assert.equal(served.product, documents.product, "scripts/test-provider runs this against the documents build");
  });
  after(() => workspaces.forEach((ws) => ws.remove()));

  test("its names, presets and plans are the provider's", async () => {
    const world = await signUp("corporate");
    const ws = workspace(world.token);
    const writer = email("writer");
    ws.write(`
data "portcullis_plans" "all" {}
data "portcullis_permissions" "all" {}
data "portcullis_role" "editor" {
  name = "editor"
}
resource "portcullis_user" "writer" {
  email       = "${writer}"
  permissions = ["export_archive"]
  role        = "editor"
}
resource "portcullis_api_token" "imports" {
  name        = "imports"
  permissions = ["run_imports", "edit_documents"]
}
resource "portcullis_automation_key" "importer" {
  name = "importer"
}
output "plans" {
  value = data.portcullis_plans.all.plans
}
output "permissions" {
  value = data.portcullis_permissions.all.ordered
}
output "editor" {
  value = data.portcullis_role.editor.permissions
}
output "granted" {
  value = portcullis_user.writer.granted_permissions
}
`);
    await ws.apply();
    const out = await ws.outputs();
    assert.deepEqual(out.plans.map((p) => [p.name, p.seats]), [
      ["starter", 3],
      ["business", 50],
      ["corporate", 500],
    ]);
    assert.deepEqual(out.plans[1].features, ["audit_log", "version_history"]);
    assert.deepEqual(out.permissions, [
      "edit_documents",
      "publish_documents",
      "manage_templates",
      "export_archive",
      "modify_tenant_settings",
      "user_and_api_management",
      "run_imports",
    ]);
    assert.deepEqual(out.editor, ["edit_documents", "publish_documents"]);
    assert.deepEqual(out.granted, ["edit_documents", "export_archive", "publish_documents"]);
    const member = await memberByEmail(world, writer);
    assert.deepEqual([...member.permissions].sort(), ["edit_documents", "export_archive", "publish_documents"]);
    await ws.assertNoChanges("after apply");
    await ws.destroy();
  });

  test("the default model's names are refused, listing this model's", async () => {
    const world = await signUp("corporate");
    const before = await tenantSnapshot(world);
    const ws = workspace(world.token);
    ws.write(`
resource "portcullis_user" "x" {
  email       = "${email("x")}"
  permissions = ["build_applications"]
}
resource "portcullis_user" "y" {
  email = "${email("y")}"
  role  = "release_engineer"
}
resource "portcullis_api_token" "t" {
  name        = "t"
  permissions = ["update_certificates"]
}
resource "portcullis_tenant_settings" "this" {
  plan = "enterprise"
}
`);
    const result = await ws.plan();
    const permissions = documents.permissions.map((p) => p.name).join(", ");
    assertDiagnostic(result, {
      code: "unknown_permission",
      address: "portcullis_user.x",
      attribute: "permissions",
      text: `unknown permission \`build_applications\`; expected one of ${permissions}`,
    });
    assertDiagnostic(result, {
      code: "unknown_role",
      address: "portcullis_user.y",
      attribute: "role",
      text: "unknown role `release_engineer`; expected one of writer, editor, workspace_admin, reader",
    });
    assertDiagnostic(result, {
      code: "unknown_permission",
      address: "portcullis_api_token.t",
      text: `unknown permission \`update_certificates\`; expected one of ${permissions}`,
    });
    assertDiagnostic(result, {
      code: "unknown_plan",
      address: "portcullis_tenant_settings.this",
      attribute: "plan",
      text: "unknown plan `enterprise`; expected one of starter, business, corporate",
    });
    assert.deepEqual(await tenantSnapshot(world), before, "nothing was written");
  });

  test("seats and plan features are this model's", async () => {
    const world = await signUp("starter");
    const ws = workspace(world.token);
    ws.write(`
resource "portcullis_user" "many" {
  count = 3
  email = "many-\${count.index}.${process.pid}@acme.test"
}
`);
    assertDiagnostic(await ws.plan(), {
      code: "plan_limit",
      address: "portcullis_user.many",
      attribute: "email",
      text: "the starter plan allows 3 members",
    });
    // `business` has no automation keys (the starter plan has).
    ws.write(`
resource "portcullis_tenant_settings" "this" {
  plan = "business"
}
resource "portcullis_automation_key" "importer" {
  name       = "importer"
  depends_on = [portcullis_tenant_settings.this]
}
`);
    assertDiagnostic(await ws.plan(), {
      code: "plan_feature_unavailable",
      address: "portcullis_automation_key.importer",
      text: "the business plan does not include `automation_keys`",
    });
  });
});
