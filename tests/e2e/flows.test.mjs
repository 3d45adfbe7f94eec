// End-to-end flows against the real worker under wrangler dev: sign-up, invitations,
// permissions, tokens, automation keys and the audit log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ALL, assertProblem, call, email, invite, member, ok, signUp, ssoConnection, token } from "./lib.mjs";

test("sign-up returns a working owner token with every permission", async () => {
  const world = await signUp("team");
  const me = ok(await call("GET", "/v1/whoami", { token: world.token }));
  assert.equal(me.account_id, world.account);
  assert.equal(me.tenant_id, world.tenant);
  assert.equal(me.kind, "user");
  assert.equal(me.user_id, world.owner);
  assert.deepEqual(me.permissions, ALL);
  assert.equal(me.plan, "team");
  const tenant = ok(await call("GET", `/v1/tenants/${world.tenant}`, { token: world.token }));
  assert.equal(tenant.member_count, 1);
  assert.equal(tenant.member_limit, 20);
});

test("invite, accept, change permissions: each takes effect on the next request", async () => {
  const world = await signUp("team");
  const address = email("bo");
  const invited = ok(await invite(world, address, ["build_applications"]), 201);
  assert.equal(invited.status, "pending");
  assert.match(invited.invitation.code, /^pcinv_/);
  const pending = ok(await call("GET", `/v1/tenants/${world.tenant}/members/${invited.user_id}`, { token: world.token }));
  assert.equal(pending.status, "pending");
  assert.deepEqual(pending.effective_permissions, []);

  const wrongCode = await call("POST", "/v1/invitations/accept", {
    body: { account_id: world.account, email: address, code: `pcinv_${"A".repeat(48)}` },
  });
  assertProblem(wrongCode, 403, "invitation_invalid");

  const accepted = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: invited.invitation.code },
    }),
  );
  assert.deepEqual(accepted.permissions, ["build_applications"]);
  const reused = await call("POST", "/v1/invitations/accept", {
    body: { account_id: world.account, email: address, code: invited.invitation.code },
  });
  assertProblem(reused, 403, "invitation_invalid", "single use");

  const asBo = (operation) => call("POST", "/v1/authorize", { token: accepted.token, body: { operation } });
  assert.equal(ok(await asBo("run_build")).allow, true);
  assert.equal(ok(await asBo("write_certificates")).allow, false);

  ok(
    await call("PATCH", `/v1/tenants/${world.tenant}/members/${invited.user_id}`, {
      token: world.token,
      body: { permissions: ["update_certificates"] },
    }),
  );
  const after = ok(await asBo("write_certificates"));
  assert.equal(after.allow, false, "token scope stays bounded by what it was created with");
  assert.equal(ok(await asBo("run_build")).allow, false, "revoked permission is gone at once");
  const me = ok(await call("GET", "/v1/whoami", { token: accepted.token }));
  assert.deepEqual(me.permissions, []);
});

test("tokens: created with a secret shown once, listed without it, refused right after deletion", async () => {
  const world = await signUp("team");
  const created = ok(await token(world, world.token, ["build_applications"]), 201);
  assert.match(created.token, /^pctk_[A-Za-z0-9_-]+:pcts_[A-Za-z0-9_-]+$/);
  assert.equal(created.token.split(":")[0], created.key_id);

  const listed = ok(await call("GET", `/v1/tenants/${world.tenant}/tokens`, { token: world.token }));
  assert.ok(listed.items.some((t) => t.key_id === created.key_id));
  assert.ok(!JSON.stringify(listed).includes(created.token.split(":")[1]), "no secret in listings");
  const read = ok(await call("GET", `/v1/tokens/${created.key_id}`, { token: world.token }));
  assert.deepEqual(read.permissions, ["build_applications"]);
  assert.equal(read.token, undefined);

  const verified = ok(await call("GET", "/v1/whoami", { token: created.token }));
  assert.deepEqual(verified.permissions, ["build_applications"]);

  ok(await call("DELETE", `/v1/tokens/${created.key_id}`, { token: world.token }));
  assertProblem(await call("GET", "/v1/whoami", { token: created.token }), 401, "invalid_credentials", "deleted token");
  assertProblem(await call("GET", `/v1/tokens/${created.key_id}`, { token: world.token }), 404, "credential_not_found");

  const wrongSecret = `${created.key_id.replace(/.$/, "A")}:${world.token.split(":")[1]}`;
  const refused = await call("GET", "/v1/whoami", { token: wrongSecret });
  assert.equal(refused.status, 401);
});

test("expiring tokens stop working and past expiries are refused", async () => {
  const world = await signUp("team");
  const past = await token(world, world.token, [], { expires_at: Math.floor(Date.now() / 1000) - 10 });
  assertProblem(past, 400, "expiry_in_past");
  // Four seconds of margin for a loaded machine; then wait until the expiry is surely past.
  const expiresAt = Math.floor(Date.now() / 1000) + 4;
  const soon = ok(await token(world, world.token, [], { expires_at: expiresAt }), 201);
  ok(await call("GET", "/v1/whoami", { token: soon.token }));
  const wait = (expiresAt + 1) * 1000 - Date.now();
  await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 0)));
  assertProblem(await call("GET", "/v1/whoami", { token: soon.token }), 401, "invalid_credentials");
});

test("automation keys: build-only, toggled off and on, deleted", async () => {
  const world = await signUp("team");
  const created = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "nightly" } }),
    201,
  );
  assert.match(created.key, /^pcak_/);
  const decide = async (operation) =>
    ok(await call("POST", "/v1/authorize", { token: created.key, body: { operation } }));
  assert.equal((await decide("run_build")).allow, true);
  for (const operation of ["write_configuration", "manage_users", "read_users", "write_tenant_settings"]) {
    const decision = await decide(operation);
    assert.equal(decision.allow, false, operation);
    assert.equal(decision.reason, "automation_key_scope", operation);
  }
  assertProblem(
    await call("GET", `/v1/tenants/${world.tenant}/members`, { token: created.key }),
    403,
    "automation_key_scope",
    "management API with an automation key",
  );

  ok(await call("PATCH", `/v1/automation-keys/${created.key_id}`, { token: world.token, body: { enabled: false } }));
  assertProblem(await call("POST", "/v1/authorize", { token: created.key, body: { operation: "run_build" } }), 401, "invalid_credentials");
  const listed = ok(await call("GET", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token }));
  assert.equal(listed.items.find((k) => k.key_id === created.key_id).enabled, false);
  ok(await call("PATCH", `/v1/automation-keys/${created.key_id}`, { token: world.token, body: { enabled: true } }));
  assert.equal((await decide("run_build")).allow, true);

  ok(await call("DELETE", `/v1/automation-keys/${created.key_id}`, { token: world.token }));
  assertProblem(await call("POST", "/v1/authorize", { token: created.key, body: { operation: "run_build" } }), 401, "invalid_credentials");
});

test("deactivation blocks every credential at once; activation restores them", async () => {
  const world = await signUp("team");
  const bo = await member(world, ["build_applications"], "bo");
  ok(await call("POST", `/v1/users/${bo.id}/deactivate`, { token: world.token }));
  assertProblem(await call("GET", "/v1/whoami", { token: bo.token }), 401, "invalid_credentials");
  ok(await call("POST", `/v1/users/${bo.id}/activate`, { token: world.token }));
  ok(await call("GET", "/v1/whoami", { token: bo.token }));
  ok(await call("POST", `/v1/users/${bo.id}/deactivate`, { token: world.token }));
  ok(await call("DELETE", `/v1/users/${bo.id}`, { token: world.token }));
  assertProblem(await call("GET", "/v1/whoami", { token: bo.token }), 401, "invalid_credentials");
  assertProblem(await call("GET", `/v1/users/${bo.id}`, { token: world.token }), 404, "user_not_found");
});

test("plan changes rewrite credentials and the audit log records a valid chain", async () => {
  const world = await signUp("team");
  const bo = await member(world, ["build_applications"], "bo");
  ok(
    await call("PATCH", `/v1/tenants/${world.tenant}`, {
      token: world.token,
      body: { plan: "enterprise", name: "Prod EU" },
    }),
  );
  assert.equal(ok(await call("GET", "/v1/whoami", { token: bo.token })).plan, "enterprise");
  assertProblem(await call("GET", `/v1/tenants/${world.tenant}/audit`, { token: bo.token }), 403, "missing_permission");
  ok(
    await call("PATCH", `/v1/tenants/${world.tenant}`, {
      token: world.token,
      body: { sso: { enforced: true, breakglass: world.owner, connection: await ssoConnection(world) } },
    }),
  );
  const audit = ok(await call("GET", `/v1/tenants/${world.tenant}/audit?limit=200`, { token: world.token }));
  assert.equal(audit.chain.valid, true);
  assert.ok(audit.chain.length >= 6, `chain length ${audit.chain.length}`);
  const actions = audit.items.map((event) => event.action);
  for (const action of ["member.invited", "api_token.created", "tenant.settings_changed"]) {
    assert.ok(actions.includes(action), `${action} in ${actions}`);
  }
  for (const [i, event] of audit.items.entries()) {
    assert.equal(event.tenant, world.tenant);
    assert.match(event.hash, /^[A-Za-z0-9_-]{43}$/);
    if (i > 0 && audit.items[i - 1].sequence + 1 === event.sequence) {
      assert.equal(event.previous_hash, audit.items[i - 1].hash, "consecutive events link");
    }
  }
  assert.ok(!JSON.stringify(audit).includes(bo.token.split(":")[1]), "no secret in the audit log");
  const page = ok(await call("GET", `/v1/tenants/${world.tenant}/audit?limit=2`, { token: world.token }));
  assert.equal(page.items.length, 2);
  const next = ok(await call("GET", `/v1/tenants/${world.tenant}/audit?from=${page.next_from}&limit=2`, { token: world.token }));
  assert.ok(next.items[0].sequence >= page.next_from);
  // With SSO enforced, bo's token (not minted through SSO, bo is not the breakglass user) is
  // suspended there; the owner's still acts as the breakglass user's.
  assertProblem(await call("GET", `/v1/tenants/${world.tenant}/audit`, { token: bo.token }), 403, "sso_required");
});
