// Terraform's default parallelism (10) against the worker: 30 members created, planned and
// destroyed at once, with the tenant's invariants intact.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Workspace, call, ok, signUp } from "./lib.mjs";

describe("parallel apply", () => {
  let ws;
  after(() => ws?.remove());

  test("30 members at the default parallelism", async () => {
    const world = await signUp("enterprise");
    ws = new Workspace(world.token);
    ws.write(`
resource "portcullis_user" "crew" {
  count       = 30
  email       = "crew-\${count.index}.${process.pid}.${Date.now()}@acme.test"
  permissions = count.index % 2 == 0 ? ["build_applications"] : ["update_certificates", "modify_configuration"]
}
resource "portcullis_api_token" "ci" {
  count       = 5
  name        = "ci-\${count.index}"
  permissions = ["build_applications"]
}
`);
    const applied = await ws.apply();
    assert.match(applied.stdout, /35 added, 0 changed, 0 destroyed/);
    const members = ok(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: world.token }));
    assert.equal(members.items.length, 31);
    const crew = members.items.filter((m) => m.email.startsWith("crew-"));
    assert.equal(crew.filter((m) => m.permissions.join() === "build_applications").length, 15);
    await ws.assertNoChanges("after a parallel apply");
    await ws.destroy();
    const left = ok(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: world.token }));
    assert.equal(left.items.length, 1, "only the owner is left");
  });
});
