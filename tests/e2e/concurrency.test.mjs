// Many simultaneous conflicting requests: the account's Durable Object applies them one at a
// time, so the rules hold however they interleave.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ALL, call, email, member, ok, signUp } from "./lib.mjs";

test("30 invites racing for the 19 free seats of a team tenant: exactly 19 win", async () => {
  const world = await signUp("team");
  const responses = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: email(`racer${i}`) } }),
    ),
  );
  const statuses = responses.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 201).length, 19, `statuses ${statuses}`);
  const refused = responses.filter((r) => r.status !== 201);
  assert.equal(refused.length, 11);
  for (const r of refused) assert.equal(r.json.code, "plan_limit", r.text);
  const tenant = ok(await call("GET", `/v1/tenants/${world.tenant}`, { token: world.token }));
  assert.equal(tenant.member_count, 20);
  const members = ok(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: world.token }));
  assert.equal(members.items.length, 20);
});

test("company admins all deactivating each other at once never lock a tenant out", async () => {
  const world = await signUp("team");
  const admins = [];
  for (let i = 0; i < 5; i += 1) {
    const admin = await member(world, ALL, `admin${i}`);
    ok(await call("PUT", `/v1/users/${admin.id}/company-admin`, { token: world.token, body: { company_admin: true } }));
    admins.push(admin);
  }
  // The first admin launches a tenant (owning it) and makes the others its managers.
  const [carol, ...others] = admins;
  const launched = ok(await call("POST", "/v1/tenants", { token: carol.token, body: { name: "Side", plan: "team" } }), 201);
  const side = launched.tenant_id;
  assert.match(launched.token, /^pctk_/, "the launcher gets a first token in the new tenant");
  for (const other of others) {
    ok(
      await call("POST", `/v1/tenants/${side}/members`, {
        token: launched.token,
        body: { email: other.email, permissions: ["user_and_api_management"] },
      }),
      201,
      "add a manager to the side tenant",
    );
  }
  const attempts = [];
  for (const actor of admins) {
    for (const target of admins) {
      if (actor !== target) attempts.push(call("POST", `/v1/users/${target.id}/deactivate`, { token: actor.token }));
    }
  }
  // The account owner (never deactivatable, not a member of the side tenant) tries them all
  // too: without the lockout rule every admin would end up inactive.
  for (const target of admins) {
    attempts.push(call("POST", `/v1/users/${target.id}/deactivate`, { token: world.token }));
  }
  const responses = await Promise.all(attempts);
  for (const r of responses) {
    assert.ok([200, 401, 403, 409].includes(r.status), `unexpected ${r.status} ${r.text}`);
  }
  assert.ok(responses.some((r) => r.status === 200), "some deactivations succeed");
  assert.ok(
    responses.some((r) => r.json?.code === "lockout"),
    `the last manager is protected: ${responses.map((r) => r.json?.code)}`,
  );
  const users = ok(await call("GET", "/v1/users", { token: world.token }));
  const active = new Set(users.items.filter((u) => u.status === "active").map((u) => u.user_id));
  const sideMembers = admins.filter((a) => active.has(a.id));
  assert.ok(sideMembers.length >= 1, "the side tenant keeps an active manager");
  assert.ok(active.has(world.owner), "the account owner stays active");
});

