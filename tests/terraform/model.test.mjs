// The product model the worker serves (GET /v1/model) is the provider's: its data sources show
// it, plan-time checks refuse names it lacks and list its own, and a worker whose model cannot
// be read or is invalid fails the plan with a clear diagnostic (no compiled-in fallback).
// tests/terraform/documents/ runs the same provider against a worker built with a second model.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { Workspace, assertDiagnostic, call, email, flat, ok, signUp, tenantSnapshot } from "./lib.mjs";

const workspaces = [];
function workspace(token, env) {
  const ws = new Workspace(token, env);
  workspaces.push(ws);
  return ws;
}

/** A loopback server answering GET /v1/model with `body` (and 404 otherwise); resolves its URL. */
function modelServer(body) {
  const server = createServer((request, response) => {
    if (request.url === "/v1/model") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(body);
    } else {
      response.writeHead(404, { "content-type": "application/problem+json" });
      response.end(JSON.stringify({ code: "not_found", title: "Not Found", status: 404 }));
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}`, server }));
  });
}

describe("the served product model", () => {
  let served;
  const servers = [];
  before(async () => {
    served = ok(await call("GET", "/v1/model"), 200, "the served model");
  });
  after(() => {
    workspaces.forEach((ws) => ws.remove());
    servers.forEach((server) => server.close());
  });

  test("data sources show it: permissions, a role, plans in upgrade order, operations", async () => {
    const world = await signUp("enterprise");
    const ws = workspace(world.token);
    const preset = served.presets[0];
    ws.write(`
data "portcullis_permissions" "all" {}
data "portcullis_plans" "all" {}
data "portcullis_operations" "all" {}
data "portcullis_role" "first" {
  name = "${preset.name}"
}
output "ordered" {
  value = data.portcullis_permissions.all.ordered
}
output "names" {
  value = data.portcullis_permissions.all.names
}
output "descriptions" {
  value = data.portcullis_permissions.all.descriptions
}
output "built_in" {
  value = data.portcullis_permissions.all.built_in
}
output "plan_names" {
  value = data.portcullis_plans.all.names
}
output "plans" {
  value = data.portcullis_plans.all.plans
}
output "operations" {
  value = data.portcullis_operations.all.operations
}
output "role" {
  value = data.portcullis_role.first
}
`);
    await ws.apply();
    const out = await ws.outputs();
    const names = served.permissions.map((p) => p.name);
    assert.deepEqual(out.ordered, names);
    assert.deepEqual(out.names, [...names].sort());
    assert.deepEqual(out.descriptions, Object.fromEntries(served.permissions.map((p) => [p.name, p.description])));
    assert.deepEqual(out.built_in, served.permissions.filter((p) => p.built_in).map((p) => p.name).sort());
    assert.deepEqual(out.plan_names, served.plans.map((p) => p.name));
    assert.deepEqual(
      out.plans,
      served.plans.map(({ name, description, seats, features }) => ({ name, description, seats, features })),
    );
    for (let i = 1; i < out.plans.length; i++) assert.ok(out.plans[i].seats >= out.plans[i - 1].seats, "upgrade order");
    assert.deepEqual(
      out.operations,
      served.operations.map(({ name, area, description, requires, feature, automation_keys }) => ({
        name,
        area,
        description,
        requires,
        feature: feature ?? null,
        automation_keys,
      })),
    );
    assert.deepEqual(out.role, { name: preset.name, description: preset.description, permissions: [...preset.permissions].sort() });
    await ws.assertNoChanges("data sources only");
  });

  test("a name the served model lacks is refused at plan time, listing the model's names", async () => {
    const world = await signUp("enterprise");
    const before = await tenantSnapshot(world);
    const ws = workspace(world.token);
    ws.write(`
resource "portcullis_user" "x" {
  email       = "${email("x")}"
  permissions = ["${served.permissions[0].name}", "sudo"]
}
resource "portcullis_user" "y" {
  email = "${email("y")}"
  role  = "god"
}
resource "portcullis_api_token" "t" {
  name        = "t"
  permissions = ["root"]
}
resource "portcullis_tenant_settings" "this" {
  plan = "platinum"
}
`);
    // Names are not the compiled-in model's business: validate (before the provider is
    // configured) lets them through; the plan, with the served model, refuses them.
    const validated = await ws.run(["validate"]);
    assert.equal(validated.code, 0, `${validated.stderr}\n${validated.stdout}`);
    const result = await ws.plan();
    const permissions = served.permissions.map((p) => p.name).join(", ");
    assertDiagnostic(result, {
      code: "unknown_permission",
      address: "portcullis_user.x",
      attribute: "permissions",
      text: `unknown permission \`sudo\`; expected one of ${permissions}`,
    });
    assertDiagnostic(result, {
      code: "unknown_role",
      address: "portcullis_user.y",
      attribute: "role",
      text: `unknown role \`god\`; expected one of ${served.presets.map((p) => p.name).join(", ")}`,
    });
    assertDiagnostic(result, {
      code: "unknown_permission",
      address: "portcullis_api_token.t",
      attribute: "permissions",
      text: `unknown permission \`root\`; expected one of ${permissions}`,
    });
    assertDiagnostic(result, {
      code: "unknown_plan",
      address: "portcullis_tenant_settings.this",
      attribute: "plan",
      text: `unknown plan \`platinum\`; expected one of ${served.plans.map((p) => p.name).join(", ")}`,
    });
    // One diagnostic per bad name, not one at validate time and another at plan time.
    assert.equal(flat(result.stderr).match(/unknown permission `sudo`/g)?.length, 1, result.stderr);
    ws.write(`
data "portcullis_role" "nope" {
  name = "god"
}
`);
    const role = await ws.plan();
    assert.equal(role.code, 1);
    assert.ok(flat(role.stderr).includes("Unknown role"), role.stderr);
    assert.ok(flat(role.stderr).includes(`expected one of ${served.presets.map((p) => p.name).join(", ")}`), role.stderr);
    assert.deepEqual(await tenantSnapshot(world), before, "nothing was written");
  });

  test("an unreachable worker or an invalid served model fails the plan, with no fallback", async () => {
    const world = await signUp("team");
    const config = `
data "portcullis_plans" "all" {}
output "plans" {
  value = data.portcullis_plans.all.names
}
`;
    // A port nothing listens on.
    const closed = await modelServer("{}");
    await new Promise((resolve) => closed.server.close(resolve));
    const unreachable = workspace(world.token, { PORTCULLIS_ENDPOINT: closed.url });
    unreachable.write(config);
    const down = await unreachable.plan();
    assert.equal(down.code, 1, `${down.stderr}\n${down.stdout}`);
    assert.ok(
      flat(down.stderr).includes("Could not read the product model from the worker: the API is unreachable"),
      down.stderr,
    );

    const invalid = await modelServer(JSON.stringify({ version: 1, product: "Broken", permissions: [], operations: [], plans: [] }));
    servers.push(invalid.server);
    const broken = workspace(world.token, { PORTCULLIS_ENDPOINT: invalid.url });
    broken.write(config);
    const refused = await broken.plan();
    assert.equal(refused.code, 1, `${refused.stderr}\n${refused.stdout}`);
    const text = flat(refused.stderr);
    assert.ok(text.includes("Could not read the product model from the worker: the served product model is invalid"), refused.stderr);
    assert.ok(text.includes(`the product model served at \`${invalid.url}/v1/model\` is invalid`), refused.stderr);
    assert.ok(text.includes("(no_plans)") && text.includes("(no_operations)"), `every problem at once:\n${refused.stderr}`);
  });
});
