// The provider's whole lifecycle through the real terraform CLI against the real worker:
// create, no-op plan, update in place, replace, a token rolled by its rotation triggers, import
// (command and import blocks), drift repaired, destroy leaving the tenant as it was.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Workspace, call, email, memberByEmail, ok, signUp, tenantSnapshot } from "./lib.mjs";

describe("portcullis provider lifecycle", () => {
  let world;
  let ws;
  let initial;
  const alice = email("alice");
  const bob = email("bob");
  const robert = email("robert");

  const config = ({ aliceName = "Alice", alicePermissions = ['"build_applications"'], keyEnabled = true, rotation = "1", bobEmail = bob } = {}) => `
resource "portcullis_tenant_settings" "this" {
  name = "Production"
}

resource "portcullis_user" "alice" {
  email       = "${alice}"
  name        = "${aliceName}"
  permissions = [${alicePermissions.join(", ")}]
}

resource "portcullis_user" "bob" {
  email = "${bobEmail}"
  role  = "release_engineer"
}

resource "portcullis_api_token" "ci" {
  name        = "ci"
  permissions = ["build_applications"]
${rotation === null ? "" : `  rotation_triggers = { version = "${rotation}" }`}
}

resource "portcullis_automation_key" "builder" {
  name    = "builder"
  enabled = ${keyEnabled}
}

data "portcullis_role" "release" {
  name = "release_engineer"
}

data "portcullis_users" "active" {
  status     = "active"
  depends_on = [portcullis_user.alice, portcullis_user.bob]
}

output "release_permissions" {
  value = data.portcullis_role.release.permissions
}
`;

  before(async () => {
    world = await signUp("enterprise");
    ws = new Workspace(world.token);
    initial = await tenantSnapshot(world);
  });

  after(() => ws?.remove());

  test("create, then a plan shows no changes", async () => {
    ws.write(config());
    await ws.apply();
    const state = await ws.resources();
    const aliceState = state["portcullis_user.alice"];
    assert.match(aliceState.id, /^usr_/);
    assert.equal(aliceState.state, "pending");
    assert.deepEqual(aliceState.granted_permissions, ["build_applications"]);
    assert.match(aliceState.invitation_code, /^pcinv_/);
    assert.deepEqual(state["portcullis_user.bob"].granted_permissions, ["build_applications"]);

    const member = await memberByEmail(world, alice);
    assert.equal(member.name, "Alice");
    assert.deepEqual(member.permissions, ["build_applications"]);

    const token = state["portcullis_api_token.ci"].token;
    assert.match(token, /^pctk_.+:pcts_/);
    const whoami = ok(await call("GET", "/v1/whoami", { token }));
    assert.deepEqual(whoami.permissions, ["build_applications"]);
    const key = state["portcullis_automation_key.builder"].key;
    assert.match(key, /^pcak_/);
    assert.equal(ok(await call("GET", "/v1/whoami", { token: key })).kind, "automation_key");
    assert.equal(state["portcullis_tenant_settings.this"].plan, "enterprise");

    await ws.assertNoChanges("after create");
  });

  test("update in place: permissions, name, key toggle", async () => {
    ws.write(config({ aliceName: "Alice Adams", alicePermissions: ['"build_applications"', '"update_certificates"'], keyEnabled: false }));
    const plan = await ws.plan();
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /0 to add, 2 to change, 0 to destroy/);
    const before = (await ws.resources())["portcullis_automation_key.builder"];
    await ws.apply();
    const member = await memberByEmail(world, alice);
    assert.equal(member.name, "Alice Adams");
    assert.deepEqual([...member.permissions].sort(), ["build_applications", "update_certificates"]);
    const after = (await ws.resources())["portcullis_automation_key.builder"];
    assert.equal(after.key_id, before.key_id, "toggling keeps the key");
    assert.equal(after.enabled, false);
    const refused = await call("GET", "/v1/whoami", { token: before.key });
    assert.equal(refused.status, 401, "a disabled key is refused");
    await ws.assertNoChanges("after update");
  });

  test("replace a member's email change; a token rotation rolls in place", async () => {
    const before = await ws.resources();
    ws.write(config({ aliceName: "Alice Adams", alicePermissions: ['"build_applications"', '"update_certificates"'], keyEnabled: false, rotation: "2", bobEmail: robert }));
    const plan = await ws.plan();
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /portcullis_api_token\.ci will be updated in-place/);
    assert.match(plan.stdout, /portcullis_user\.bob must be replaced/);
    await ws.apply();
    const after = await ws.resources();
    assert.equal(after["portcullis_api_token.ci"].key_id, before["portcullis_api_token.ci"].key_id, "a roll keeps the key id");
    assert.equal((await call("GET", "/v1/whoami", { token: before["portcullis_api_token.ci"].token })).status, 401, "no overlap: the old secret stopped");
    assert.equal(ok(await call("GET", "/v1/whoami", { token: after["portcullis_api_token.ci"].token })).kind, "user");
    assert.equal(await memberByEmail(world, bob), undefined, "the old member left the tenant");
    assert.ok(await memberByEmail(world, robert));
    await ws.assertNoChanges("after replace");
  });

  test("terraform import of every resource, then no changes", async () => {
    // Rotation triggers are not stored by the API, so an imported token has none; a
    // configuration that adds them adopts them in place (see the next assertion).
    const final = { aliceName: "Alice Adams", alicePermissions: ['"build_applications"', '"update_certificates"'], keyEnabled: false, bobEmail: robert };
    ws.write(config({ ...final, rotation: null }));
    await ws.apply();
    const before = await ws.resources();
    for (const address of ["portcullis_user.alice", "portcullis_api_token.ci", "portcullis_automation_key.builder", "portcullis_tenant_settings.this"]) {
      const removed = await ws.run(["state", "rm", address]);
      assert.equal(removed.code, 0, removed.stderr);
    }
    const imports = [
      ["portcullis_user.alice", alice],
      ["portcullis_api_token.ci", before["portcullis_api_token.ci"].key_id],
      ["portcullis_automation_key.builder", before["portcullis_automation_key.builder"].key_id],
      ["portcullis_tenant_settings.this", world.tenant],
    ];
    for (const [address, id] of imports) {
      const imported = await ws.run(["import", "-input=false", address, id]);
      assert.equal(imported.code, 0, `${address}: ${imported.stderr}`);
    }
    const after = await ws.resources();
    assert.equal(after["portcullis_user.alice"].id, before["portcullis_user.alice"].id);
    assert.equal(after["portcullis_api_token.ci"].token, null, "an imported token's secret is unknown");
    await ws.assertNoChanges("after import");
    ws.write(config({ ...final, rotation: "3" }));
    const adopt = await ws.plan();
    assert.equal(adopt.code, 2, adopt.stderr);
    assert.match(adopt.stdout, /portcullis_api_token\.ci will be updated in-place/, "adding triggers does not rotate");
    assert.doesNotMatch(adopt.stdout, /token\s+= \(sensitive value\)/, "nor roll: the secret is not planned anew");
    ws.write(config({ ...final, rotation: null }));
  });

  test("import blocks with -generate-config-out", async () => {
    const gen = new Workspace(world.token);
    try {
      gen.write(`
import {
  to = portcullis_user.alice
  id = "${alice}"
}
import {
  to = portcullis_tenant_settings.this
  id = "${world.tenant}"
}
`);
      const planned = await gen.run(["plan", "-input=false", "-generate-config-out=generated.tf"]);
      assert.equal(planned.code, 0, planned.stderr);
      const generated = gen.read("generated.tf");
      assert.match(generated, new RegExp(`email\\s+=\\s+"${alice.replace(/[.+]/g, "\\$&")}"`));
      assert.match(generated, /name\s+=\s+"Alice Adams"/);
      await gen.apply();
      await gen.assertNoChanges("generated configuration");
      const removed = await gen.run(["state", "rm", "portcullis_user.alice", "portcullis_tenant_settings.this"]);
      assert.equal(removed.code, 0, removed.stderr);
    } finally {
      gen.remove();
    }
  });

  test("drift (deactivated user, deleted token, re-enabled key) shows in the plan and apply repairs it", async () => {
    // Alice accepts her invitation, so she can be deactivated.
    const state = await ws.resources();
    const aliceId = state["portcullis_user.alice"].id;
    const code = (await ws.resources())["portcullis_user.alice"].invitation_code;
    let invitation = code;
    if (!invitation) {
      invitation = ok(await call("POST", `/v1/users/${aliceId}/invitation`, { token: world.token, body: {} })).invitation.code;
    }
    ok(await call("POST", "/v1/invitations/accept", { body: { account_id: world.account, email: alice, code: invitation } }));
    await ws.apply(); // pending -> active is not drift, only a refreshed state

    ok(await call("POST", `/v1/users/${aliceId}/deactivate`, { token: world.token, body: {} }));
    ok(await call("DELETE", `/v1/tokens/${state["portcullis_api_token.ci"].key_id}`, { token: world.token }));
    ok(await call("PATCH", `/v1/automation-keys/${state["portcullis_automation_key.builder"].key_id}`, { token: world.token, body: { enabled: true } }));

    const plan = await ws.plan();
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /portcullis_user\.alice will be updated in-place/);
    assert.match(plan.stdout, /"inactive" -> "active"/);
    assert.match(plan.stdout, /portcullis_api_token\.ci will be created/);
    assert.match(plan.stdout, /portcullis_automation_key\.builder will be updated in-place/);
    await ws.apply();
    assert.equal((await memberByEmail(world, alice)).status, "active");
    const repaired = await ws.resources();
    assert.equal(ok(await call("GET", "/v1/whoami", { token: repaired["portcullis_api_token.ci"].token })).kind, "user");
    assert.equal(repaired["portcullis_automation_key.builder"].enabled, false);
    await ws.assertNoChanges("after repair");
  });

  test("destroy leaves the tenant as it was", async () => {
    await ws.destroy();
    const now = await tenantSnapshot(world);
    assert.deepEqual(now.tokens, initial.tokens);
    assert.deepEqual(now.keys, initial.keys);
    assert.deepEqual(now.members, initial.members);
  });
});
