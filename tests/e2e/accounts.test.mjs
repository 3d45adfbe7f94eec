// Account administration on the real worker: every row of the company-role permissions matrix
// (docs/ACCOUNT_ROLES.md), allowed and refused, through the real endpoints; license admins
// scoped to their tenants; primary contacts swapped, never removed; trial accounts.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { assertProblem, call, email, member, ok, signUp } from "./lib.mjs";

// The matrix (docs/ACCOUNT_ROLES.md): operation -> roles allowed.
const MATRIX = {
  add_user: ["company_admin", "license_admin"],
  edit_user_name: ["company_admin", "license_admin"],
  edit_user_status: ["company_admin"],
  delete_user: ["company_admin"],
  assign_company_admin: ["company_admin"],
  assign_license_admin: ["company_admin", "license_admin"],
  assign_support: ["company_admin"],
  view_license_usage: ["company_admin", "license_admin"],
  assign_licenses: ["company_admin", "license_admin"],
  launch_tenant: ["company_admin"],
  log_in_to_assigned_tenant: ["company_admin", "license_admin", "support", "tenant_user"],
  view_support_tickets: ["company_admin", "license_admin", "support"],
  create_support_tickets: ["company_admin", "license_admin", "support"],
  view_account_details: ["company_admin", "license_admin", "support"],
  manage_own_profile: ["company_admin", "license_admin", "support", "tenant_user"],
};

describe("company roles and the account permissions matrix", () => {
  let world;
  let staging; // a second tenant, launched by the owner
  const actors = {}; // role -> { id, email, token }

  before(async () => {
    world = await signUp("enterprise");
    staging = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Staging", plan: "enterprise" } }), 201);
    actors.company_admin = { id: world.owner, token: world.token };
    actors.license_admin = await member(world, [], "license");
    actors.support = await member(world, [], "support");
    actors.tenant_user = await member(world, [], "plain");
    ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/license-admins/${actors.license_admin.id}`, { token: world.token, body: {} }));
    ok(await call("PUT", `/v1/users/${actors.support.id}/support`, { token: world.token, body: { support: true } }));
  });

  test("each role's roles and matrix row, as the API reports them", async () => {
    for (const [role, actor] of Object.entries(actors)) {
      const rows = ok(await call("GET", "/v1/account/operations", { token: actor.token }), 200, role).items;
      assert.equal(rows.length, Object.keys(MATRIX).length);
      for (const row of rows) {
        assert.equal(row.allowed, MATRIX[row.operation].includes(role), `${role} ${row.operation}`);
      }
    }
    const user = ok(await call("GET", `/v1/users/${actors.license_admin.id}`, { token: world.token }));
    assert.deepEqual(user.roles, ["license_admin", "tenant_user"]);
    assert.deepEqual(user.license_tenants, [staging.tenant_id]);
    const plain = ok(await call("GET", `/v1/users/${actors.tenant_user.id}`, { token: world.token }));
    assert.deepEqual(plain.roles, ["tenant_user"], "a new user has no company role");
  });

  test("add_user: company and license admins only", async () => {
    for (const role of ["company_admin", "license_admin"]) {
      const created = ok(await call("POST", "/v1/users", { token: actors[role].token, body: { email: email(`by-${role}`) } }), 201, role);
      assert.equal(created.outcome, "user_created");
      assert.match(created.invitation.code, /^pcinv_/);
      // Holding no seat yet, the new user is readable by whoever may add users.
      const read = ok(await call("GET", `/v1/users/${created.user_id}`, { token: actors[role].token }), 200, role);
      assert.deepEqual(read.tenants, [], role);
    }
    for (const role of ["support", "tenant_user"]) {
      assertProblem(await call("POST", "/v1/users", { token: actors[role].token, body: { email: email("nope") } }), 403, "role_not_permitted", role);
    }
    // Inviting a new email into a tenant creates a user: the same rule.
    const manager = await member(world, ["user_and_api_management"], "manager");
    assertProblem(
      await call("POST", `/v1/tenants/${world.tenant}/members`, { token: manager.token, body: { email: email("new") } }),
      403,
      "role_not_permitted",
    );
    const existing = await call("POST", "/v1/users", { token: world.token, body: { email: actors.support.email } });
    assertProblem(existing, 409, "user_exists");
  });

  test("assign_licenses and edit_user_name: license admins on their own tenants only", async () => {
    const seat = await member(world, [], "seat");
    const lic = actors.license_admin.token;
    const given = ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/seats/${seat.id}`, { token: lic, body: {} }), 201);
    assert.equal(given.outcome, "member_added");
    const membership = ok(await call("GET", `/v1/tenants/${staging.tenant_id}/members/${seat.id}`, { token: staging.token }));
    assert.deepEqual(membership.permissions, [], "a seat carries no tenant permission");
    assertProblem(await call("PUT", `/v1/tenants/${world.tenant}/seats/${actors.support.id}`, { token: lic, body: {} }), 403, "role_not_permitted");
    // License admins read and rename the users all of whose tenants they administer: not this
    // seat holder, who is also a member of Production...
    assertProblem(await call("GET", `/v1/users/${seat.id}`, { token: lic }), 403, "not_company_admin");
    assertProblem(await call("PATCH", `/v1/users/${seat.id}`, { token: lic, body: { name: "Nope" } }), 403, "user_out_of_reach");
    // ...but a user with a seat in Staging only.
    const created = ok(await call("POST", "/v1/users", { token: lic, body: { email: email("staging-only") } }), 201);
    const admitted = ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/seats/${created.user_id}`, { token: lic, body: {} }), 201);
    assert.match(admitted.invitation.code, /^pcinv_/, "a pending user's seat re-issues their code to the license admin");
    const read = ok(await call("GET", `/v1/users/${created.user_id}`, { token: lic }), 200, "read a seat holder");
    assert.deepEqual(read.tenants, [staging.tenant_id]);
    assertProblem(await call("GET", `/v1/users/${actors.support.id}`, { token: lic }), 403, "not_company_admin");
    for (const role of ["support", "tenant_user"]) {
      assertProblem(await call("DELETE", `/v1/tenants/${staging.tenant_id}/seats/${seat.id}`, { token: actors[role].token }), 403, "role_not_permitted", role);
    }
    ok(await call("PATCH", `/v1/users/${created.user_id}`, { token: lic, body: { name: "Renamed By License" } }));
    for (const role of ["support", "tenant_user"]) {
      assertProblem(await call("PATCH", `/v1/users/${created.user_id}`, { token: actors[role].token, body: { name: "Nope" } }), 403, "user_out_of_reach", role);
    }
    // manage_own_profile: everyone renames themselves.
    ok(await call("PATCH", `/v1/users/${actors.tenant_user.id}`, { token: actors.tenant_user.token, body: { name: "Plain Me" } }));
    ok(await call("DELETE", `/v1/tenants/${staging.tenant_id}/seats/${seat.id}`, { token: lic }));
    assertProblem(await call("GET", `/v1/tenants/${staging.tenant_id}/members/${seat.id}`, { token: staging.token }), 404, "member_not_found");
  });

  test("edit_user_status, delete_user, assign_company_admin, assign_support, launch_tenant: company admins only", async () => {
    const target = await member(world, [], "target");
    for (const role of ["license_admin", "support", "tenant_user"]) {
      const token = actors[role].token;
      assertProblem(await call("POST", `/v1/users/${target.id}/deactivate`, { token, body: {} }), 403, "not_company_admin", role);
      assertProblem(await call("PUT", `/v1/users/${target.id}/company-admin`, { token, body: { company_admin: true } }), 403, "not_company_admin", role);
      assertProblem(await call("PUT", `/v1/users/${target.id}/support`, { token, body: { support: true } }), 403, "role_not_permitted", role);
      assertProblem(await call("POST", "/v1/tenants", { token, body: { name: "Mine", plan: "free" } }), 403, "not_company_admin", role);
    }
    ok(await call("PUT", `/v1/users/${target.id}/support`, { token: world.token, body: { support: true } }));
    ok(await call("POST", `/v1/users/${target.id}/deactivate`, { token: world.token, body: {} }));
    for (const role of ["license_admin", "support", "tenant_user"]) {
      assertProblem(await call("DELETE", `/v1/users/${target.id}`, { token: actors[role].token }), 403, "not_company_admin", role);
    }
    ok(await call("DELETE", `/v1/users/${target.id}`, { token: world.token }));
  });

  test("assign_license_admin and view_license_usage", async () => {
    const helper = await member(world, [], "helper");
    const lic = actors.license_admin.token;
    const granted = ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/license-admins/${helper.id}`, { token: lic, body: {} }));
    assert.deepEqual(granted.roles, ["license_admin", "tenant_user"]);
    assertProblem(await call("PUT", `/v1/tenants/${world.tenant}/license-admins/${helper.id}`, { token: lic, body: {} }), 403, "role_not_permitted");
    for (const role of ["support", "tenant_user"]) {
      assertProblem(await call("DELETE", `/v1/tenants/${staging.tenant_id}/license-admins/${helper.id}`, { token: actors[role].token }), 403, "role_not_permitted", role);
    }
    ok(await call("DELETE", `/v1/tenants/${staging.tenant_id}/license-admins/${helper.id}`, { token: lic }));

    const usage = ok(await call("GET", "/v1/licenses", { token: lic })).items;
    assert.equal(usage.length, 2, "license admins see every tenant's usage");
    for (const row of usage) {
      assert.equal(row.administered_by_caller, row.tenant_id === staging.tenant_id);
      assert.ok(row.seats_used >= 1 && row.seat_limit === 100);
    }
    assert.equal(ok(await call("GET", "/v1/licenses", { token: world.token })).items.every((row) => row.administered_by_caller), true);
    for (const role of ["support", "tenant_user"]) {
      assertProblem(await call("GET", "/v1/licenses", { token: actors[role].token }), 403, "role_not_permitted", role);
    }
  });

  test("view_account_details and log_in_to_assigned_tenant", async () => {
    for (const role of ["company_admin", "license_admin", "support"]) {
      ok(await call("GET", "/v1/account", { token: actors[role].token }), 200, role);
    }
    assertProblem(await call("GET", "/v1/account", { token: actors.tenant_user.token }), 403, "role_not_permitted");
    for (const [role, actor] of Object.entries(actors)) {
      assert.equal(ok(await call("GET", "/v1/whoami", { token: actor.token }), 200, role).tenant_id, world.tenant);
    }
  });

  test("the primary contact is swapped by a company admin, never removed", async () => {
    const tenant = ok(await call("GET", `/v1/tenants/${staging.tenant_id}`, { token: staging.token }));
    assert.equal(tenant.primary_contact, world.owner, "the launcher is the first primary contact");
    assertProblem(
      await call("DELETE", `/v1/tenants/${staging.tenant_id}/license-admins/${world.owner}`, { token: world.token }),
      409,
      "primary_contact_protected",
    );
    const next = await member(world, [], "contact");
    assertProblem(
      await call("PUT", `/v1/tenants/${staging.tenant_id}/primary-contact`, { token: actors.license_admin.token, body: { user_id: next.id } }),
      403,
      "not_company_admin",
    );
    const swapped = ok(await call("PUT", `/v1/tenants/${staging.tenant_id}/primary-contact`, { token: world.token, body: { user_id: next.id } }));
    assert.equal(swapped.previous, world.owner);
    assert.equal(ok(await call("GET", `/v1/tenants/${staging.tenant_id}`, { token: staging.token })).primary_contact, next.id);
    // Both contacts are told: the new one that they now get the tenant's notices, the old one
    // that they no longer do.
    const notices = ok(await call("GET", "/v1/notifications?limit=200", { token: world.token })).items
      .filter((n) => n.kind === "primary_contact_changed" && n.tenant_id === staging.tenant_id)
      .map((n) => [n.user_id, n.data.contact, n.data.tenant_name]);
    assert.deepEqual(notices, [
      [next.id, "new", "Staging"],
      [world.owner, "previous", "Staging"],
    ]);
    ok(await call("DELETE", `/v1/tenants/${staging.tenant_id}/license-admins/${world.owner}`, { token: world.token }));
    ok(await call("POST", `/v1/users/${next.id}/deactivate`, { token: world.token, body: {} }));
    assertProblem(await call("DELETE", `/v1/users/${next.id}`, { token: world.token }), 409, "primary_contact_protected");
  });
});

describe("trial accounts", () => {
  test("have no company admin but the owner", async () => {
    const world = await signUp("team", { trial: true });
    const user = await member(world, [], "trial");
    assertProblem(
      await call("PUT", `/v1/users/${user.id}/company-admin`, { token: world.token, body: { company_admin: true } }),
      409,
      "trial_account",
    );
    assert.equal(ok(await call("GET", "/v1/account", { token: world.token })).trial, true);
  });
});
