// Invitations and reach over users against the real worker: the regression cases of the
// security review (issue 11: invitation takeover, unauthenticated object creation, pending
// users that could not be removed, unbounded users, the unreadable account audit trail, tenant
// managers editing users elsewhere, license admins taking managers' seats).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { ALL, assertProblem, call, email, member, ok, signUp, stateJson } from "./lib.mjs";
import { assertMatchesDocument } from "./openapi.mjs";
import { objectFiles } from "./storage.mjs";

/** Accepts `code` for `address`, optionally naming a tenant. */
function accept(world, address, code, tenantId) {
  const body = { account_id: world.account, email: address, code };
  if (tenantId !== undefined) body.tenant_id = tenantId;
  return call("POST", "/v1/invitations/accept", { body });
}

/** A second tenant launched by the owner: { tenant, token } (the owner's token there). */
async function launch(world, plan = "enterprise") {
  const created = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Staging", plan } }), 201);
  return { tenant: created.tenant_id, token: created.token };
}

describe("invitations and reach over users (security review)", () => {
  test("cross-tenant takeover through invitation re-send is refused", async () => {
    const world = await signUp("team");
    const t2 = await launch(world);
    const m1 = await member(world, ["user_and_api_management"], "m1");
    const victim = email("victim");
    const invited = ok(
      await call("POST", `/v1/tenants/${t2.tenant}/members`, { token: t2.token, body: { email: victim, permissions: ALL } }),
      201,
    );
    const before = stateJson(ok(await call("GET", `/v1/users/${invited.user_id}`, { token: world.token })));
    // (1) Pulling the other tenant's pending user into one's own tenant is refused...
    assertProblem(
      await call("POST", `/v1/tenants/${world.tenant}/members`, { token: m1.token, body: { email: victim, permissions: [] } }),
      403,
      "user_out_of_reach",
    );
    // (2) ...and so is re-sending their invitation, whose code would reach the caller.
    assertProblem(await call("POST", `/v1/users/${invited.user_id}/invitation`, { token: m1.token }), 403, "user_out_of_reach");
    // (3) The acceptor cannot choose a tenant the invitation is not for.
    assertProblem(await accept(world, victim, invited.invitation.code, world.tenant), 403, "invitation_invalid");
    const after = stateJson(ok(await call("GET", `/v1/users/${invited.user_id}`, { token: world.token })));
    assert.equal(after, before, "nothing changed");
    // The real invitee's code still works, in the tenant it is for.
    const accepted = ok(await accept(world, victim, invited.invitation.code));
    assert.equal(accepted.tenant_id, t2.tenant);
    assert.deepEqual([...accepted.permissions].sort(), [...ALL].sort());
  });

  test("admitting a pending user into another tenant re-issues the code to the admitter", async () => {
    const world = await signUp("team");
    const t2 = await launch(world);
    const address = email("twice");
    const first = ok(await call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: address } }), 201);
    const again = ok(
      await call("POST", `/v1/tenants/${t2.tenant}/members`, { token: t2.token, body: { email: address, permissions: ["build_applications"] } }),
      201,
    );
    assert.equal(again.user_id, first.user_id);
    assert.match(again.invitation.code, /^pcinv_/);
    assertProblem(await accept(world, address, first.invitation.code), 403, "invitation_invalid");
    const accepted = ok(await accept(world, address, again.invitation.code));
    assert.equal(accepted.tenant_id, t2.tenant, "the first token goes where the live invitation is for");
  });

  test("unauthenticated acceptances for accounts never issued touch no Durable Object", async () => {
    const world = await signUp("team");
    const files = objectFiles();
    assert.ok(files.length > 0, "the scan sees the signed-up account's object");
    for (let index = 0; index < 10; index += 1) {
      const account = `acc_${randomBytes(8).toString("hex")}`;
      const answer = await call("POST", "/v1/invitations/accept", {
        body: { account_id: account, email: email("nobody"), code: `pcinv_${"A".repeat(48)}` },
      });
      assertProblem(answer, 403, "invitation_invalid", `unknown account ${account}`);
    }
    assert.deepEqual(objectFiles().sort(), files.sort(), "no new object was created");
    // A wrong code for a real account answers exactly the same.
    const wrong = await accept(world, email("nobody"), `pcinv_${"A".repeat(48)}`);
    assertProblem(wrong, 403, "invitation_invalid");
  });

  test("failed acceptances are throttled per client", async () => {
    const world = await signUp("team");
    // A client address of this test alone (suites run side by side, and a blocked address
    // would refuse another suite's requests from it): an IPv6 documentation address per run.
    const headers = { "cf-connecting-ip": `2001:db8:acce:${(process.pid % 65536).toString(16)}::1` };
    let blocked;
    for (let attempt = 0; attempt < 80 && !blocked; attempt += 1) {
      const answer = await call("POST", "/v1/invitations/accept", {
        headers,
        body: { account_id: world.account, email: email("guess"), code: `pcinv_${"B".repeat(48)}` },
      });
      if (answer.status === 429) blocked = answer;
      else assertProblem(answer, 403, "invitation_invalid");
    }
    assert.ok(blocked, "the client was blocked after repeated failures");
    assertProblem(blocked, 429, "too_many_failed_attempts");
    assert.ok(Number(blocked.headers.get("retry-after")) > 0);
  });

  test("pending users are revoked, and removing a never-accepted member revokes its code", async () => {
    const world = await signUp("team");
    const address = email("pending");
    const invited = ok(await call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: address } }), 201);
    assertProblem(await call("DELETE", `/v1/users/${invited.user_id}`, { token: world.token }), 409, "illegal_transition");
    const revoked = ok(await call("DELETE", `/v1/users/${invited.user_id}/invitation`, { token: world.token }));
    assert.equal(revoked.outcome, "invitation_revoked");
    assert.equal((await call("GET", `/v1/users/${invited.user_id}`, { token: world.token })).status, 404);
    assertProblem(await accept(world, address, invited.invitation.code), 403, "invitation_invalid");
    // Only a pending user's invitation is revoked.
    const active = await member(world, [], "active");
    assertProblem(await call("DELETE", `/v1/users/${active.id}/invitation`, { token: world.token }), 409, "illegal_transition");
    // Removing a member who never accepted (what `terraform destroy` does) kills the code.
    const removed = email("removed");
    const second = ok(await call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: removed } }), 201);
    ok(await call("DELETE", `/v1/tenants/${world.tenant}/members/${second.user_id}`, { token: world.token }));
    assertProblem(await accept(world, removed, second.invitation.code), 403, "invitation_invalid");
    assert.equal((await call("GET", `/v1/users/${second.user_id}`, { token: world.token })).status, 404);
  });

  test("an account holds no more users than its tenants have seats", async () => {
    const world = await signUp("team");
    // The owner plus 19 more fill the team tenant's 20 seats' worth of users.
    for (let index = 0; index < 19; index += 1) {
      ok(await call("POST", "/v1/users", { token: world.token, body: { email: email(`u${index}`) } }), 201);
    }
    assertProblem(await call("POST", "/v1/users", { token: world.token, body: { email: email("late") } }), 409, "user_limit");
  });

  test("every acceptance answer matches its schema in openapi.json, with or without a tenant", async () => {
    const world = await signUp("team");
    // Invited at account level (`POST /v1/users`): active, with no tenant and no token, so
    // every token field is there and null (the answer once left out `permissions` and
    // `expires_at`, which the schema requires).
    const address = email("account-level");
    const created = ok(await call("POST", "/v1/users", { token: world.token, body: { email: address } }), 201);
    const bare = await accept(world, address, created.invitation.code);
    assertMatchesDocument(bare, "POST", "/v1/invitations/accept");
    assert.equal(bare.status, 200);
    for (const field of ["tenant_id", "key_id", "token", "permissions", "expires_at"]) {
      assert.equal(bare.json[field], null, field);
    }
    assert.equal(bare.json.user_id, created.user_id);
    // Invited into a tenant: the first token, in that tenant.
    const tenantAddress = email("in-tenant");
    const invited = ok(
      await call("POST", `/v1/tenants/${world.tenant}/members`, {
        token: world.token,
        body: { email: tenantAddress, permissions: ["build_applications"] },
      }),
      201,
    );
    const withToken = await accept(world, tenantAddress, invited.invitation.code);
    assertMatchesDocument(withToken, "POST", "/v1/invitations/accept");
    assert.equal(withToken.json.tenant_id, world.tenant);
    assert.deepEqual(withToken.json.permissions, ["build_applications"]);
    // With a password: a session instead of a token, without a tenant too.
    const sessionAddress = email("with-password");
    const withPassword = ok(await call("POST", "/v1/users", { token: world.token, body: { email: sessionAddress } }), 201);
    const signedIn = await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: sessionAddress, code: withPassword.invitation.code, password: "a long enough password" },
    });
    assertMatchesDocument(signedIn, "POST", "/v1/invitations/accept");
    assert.equal(signedIn.json.tenant_id, null);
    assert.match(signedIn.json.session, /^pcss_/);
    // A refusal is one of the documented problems.
    assertMatchesDocument(await accept(world, address, created.invitation.code), "POST", "/v1/invitations/accept");
  });

  test("the account audit log shows account-level events to company admins", async () => {
    const world = await signUp("team");
    const manager = await member(world, ["user_and_api_management"], "manager");
    const pending = ok(await call("POST", `/v1/tenants/${world.tenant}/members`, { token: world.token, body: { email: email("p") } }), 201);
    ok(await call("POST", `/v1/users/${pending.user_id}/invitation`, { token: world.token }));
    const page = ok(await call("GET", "/v1/account/audit?limit=100", { token: world.token }));
    const actions = page.items.map((event) => event.action);
    assert.deepEqual(actions, ["account.signed_up", "user.invitation_accepted", "user.invitation_resent"]);
    assert.ok(page.items.every((event) => event.tenant === null));
    assert.equal(page.chain.valid, true);
    const resent = page.items[2];
    assert.equal(resent.target, pending.user_id);
    assert.equal(resent.actor, world.owner);
    const rest = ok(await call("GET", `/v1/account/audit?from=${page.next_from}`, { token: world.token }));
    assert.deepEqual(rest.items, []);
    assertProblem(await call("GET", "/v1/account/audit", { token: manager.token }), 403, "not_company_admin");
  });

  test("tenant managers read and rename only users they wholly administer", async () => {
    const world = await signUp("team");
    const manager = await member(world, ["user_and_api_management"], "manager");
    // The account owner and company admins are out of a tenant manager's reach.
    assertProblem(await call("GET", `/v1/users/${world.owner}`, { token: manager.token }), 403, "not_company_admin");
    assertProblem(
      await call("PATCH", `/v1/users/${world.owner}`, { token: manager.token, body: { name: "Mallory" } }),
      403,
      "user_out_of_reach",
    );
    // A plain member of the manager's tenant only is theirs to read and rename...
    const plain = await member(world, [], "plain");
    ok(await call("GET", `/v1/users/${plain.id}`, { token: manager.token }));
    ok(await call("PATCH", `/v1/users/${plain.id}`, { token: manager.token, body: { name: "Pat Plain" } }));
    // ...until they hold a seat elsewhere.
    const t2 = await launch(world, "team");
    ok(await call("PUT", `/v1/tenants/${t2.tenant}/seats/${plain.id}`, { token: world.token }), 201);
    assertProblem(await call("GET", `/v1/users/${plain.id}`, { token: manager.token }), 403, "not_company_admin");
    assertProblem(
      await call("PATCH", `/v1/users/${plain.id}`, { token: manager.token, body: { name: "Mallory" } }),
      403,
      "user_out_of_reach",
    );
    // The member view of their own tenant stays readable.
    ok(await call("GET", `/v1/tenants/${world.tenant}/members/${plain.id}`, { token: manager.token }));
  });

  test("license admins take bare seats only", async () => {
    const world = await signUp("team");
    const licenseAdmin = await member(world, [], "license-admin");
    ok(await call("PUT", `/v1/tenants/${world.tenant}/license-admins/${licenseAdmin.id}`, { token: world.token }));
    const manager = await member(world, ["user_and_api_management"], "manager");
    const seat = await member(world, [], "seat");
    assertProblem(
      await call("DELETE", `/v1/tenants/${world.tenant}/seats/${manager.id}`, { token: licenseAdmin.token }),
      403,
      "seat_holds_permissions",
    );
    ok(await call("GET", `/v1/tenants/${world.tenant}/members/${manager.id}`, { token: world.token }));
    ok(await call("DELETE", `/v1/tenants/${world.tenant}/seats/${seat.id}`, { token: licenseAdmin.token }));
  });
});
