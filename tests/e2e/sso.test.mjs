// Signing in through a real OpenID Connect provider (issue 12): `oidc-provider`, started by
// scripts/test-worker on loopback (tests/idp/oidc-provider.mjs), with PKCE, state and nonce, the
// ID token verified against the provider's key set by the worker. The browser is played by
// tests/idp/oidc-agent.mjs (it follows the provider's redirects keeping its cookies); the
// worker's own state cookie is carried from the start to the callback as a browser would.
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { describe, test } from "node:test";
import { authorize as followProvider } from "../idp/oidc-agent.mjs";
import { assertProblem, call, endpoint, invite, ok, remember, signUp } from "./lib.mjs";

const issuer = process.env.PORTCULLIS_OIDC_ISSUER;
const clientId = process.env.PORTCULLIS_OIDC_CLIENT_ID;
const clientSecret = process.env.PORTCULLIS_OIDC_CLIENT_SECRET;
remember(clientSecret);

let counter = 0;
/** A unique address the provider knows (`*@sso.test` are verified accounts there). */
function ssoEmail(name, domain = "sso.test") {
  counter += 1;
  return `${name}.${process.pid}.${counter}.${randomInt(1e9)}@${domain}`;
}

async function connection(world, extra = {}) {
  const created = ok(
    await call("POST", "/v1/account/sso-connections", {
      token: world.token,
      body: {
        name: "Company IdP",
        protocol: { type: "oidc", issuer, client_id: clientId, client_secret: clientSecret },
        ...extra,
      },
    }),
    201,
  );
  assert.equal(created.connection.protocol.client_secret_set, true);
  assert.ok(!JSON.stringify(created).includes(clientSecret), "the client secret is never shown");
  return created.connection.connection_id;
}

/** The whole browser flow for `address`; returns the callback's answer (and the session cookie). */
async function signInWithProvider(world, connectionId, address, { tamperState = false, accept } = {}) {
  const query = new URLSearchParams({ account_id: world.account, connection_id: connectionId, login_hint: address });
  const start = await fetch(`${endpoint}/v1/sso/start?${query}`, { redirect: "manual" });
  assert.equal(start.status, 302, await start.text());
  const location = start.headers.get("location");
  assert.ok(location.startsWith(`${issuer}/`), location);
  const authorization = new URL(location);
  assert.equal(authorization.searchParams.get("code_challenge_method"), "S256");
  assert.ok(authorization.searchParams.get("nonce"));
  const stateCookie = /__Host-portcullis_sso_state=([^;]+)/.exec(start.headers.get("set-cookie") ?? "")?.[1];
  assert.equal(stateCookie, authorization.searchParams.get("state"));
  const back = await followProvider(location, `${endpoint}/v1/sso/callback`);
  const cookie = `__Host-portcullis_sso_state=${tamperState ? `${stateCookie}x` : stateCookie}`;
  const headers = accept ? { cookie, accept } : { cookie };
  const answer = await call("GET", new URL(back).pathname + new URL(back).search, { headers, redirect: "manual" });
  const session = /__Host-portcullis_session=([^;]+)/.exec(answer.headers.get("set-cookie") ?? "")?.[1];
  return { answer, session, back };
}

describe("SSO sign-in with a real OpenID Connect provider", () => {
  test("an existing user signs in through the provider; the session acts with their permissions", async () => {
    assert.ok(issuer, "PORTCULLIS_OIDC_ISSUER is not set (run the suite through scripts/test-worker)");
    const world = await signUp("enterprise");
    const id = await connection(world);
    const address = ssoEmail("ada");
    const invited = ok(await invite(world, address, ["build_applications"]), 201);
    // A pending user cannot use SSO instead of accepting the invitation.
    const pending = await signInWithProvider(world, id, address);
    assertProblem(pending.answer, 401, "sso_user_unknown");
    ok(
      await call("POST", "/v1/invitations/accept", {
        body: { account_id: world.account, email: address, code: invited.invitation.code },
      }),
    );
    const { answer, session } = await signInWithProvider(world, id, address);
    const body = ok(answer, 200, "callback");
    assert.equal(body.user_id, invited.user_id);
    assert.equal(body.session, undefined, "the session is only in the cookie");
    assert.match(session ?? "", /^pcss_/);
    const me = ok(await call("GET", "/v1/whoami", { token: session }));
    assert.deepEqual(me.tenants.map((t) => t.permissions), [["build_applications"]]);
    const sessions = ok(await call("GET", "/v1/sessions", { token: session }));
    assert.ok(JSON.stringify(sessions.items[0].method).includes(id), JSON.stringify(sessions.items[0]));
    const decision = ok(
      await call("POST", "/v1/authorize", { token: session, headers: { "portcullis-tenant": world.tenant }, body: { operation: "run_build" } }),
    );
    assert.equal(decision.allow, true);
    const audit = ok(await call("GET", "/v1/account/audit?limit=200", { token: world.token }));
    assert.ok(audit.items.some((e) => e.action === "session.signed_in" && e.detail.includes(`connection=${id}`)));
    assert.ok(audit.items.some((e) => e.action === "sso.connection_created"));
    assert.ok(!JSON.stringify(audit).includes(clientSecret));
  });

  test("unknown and unverified identities, a forged state and a replayed callback are refused", async () => {
    const world = await signUp("enterprise");
    const id = await connection(world);
    // No such user, and the connection does not provision: refused, nothing created.
    const stranger = await signInWithProvider(world, id, ssoEmail("stranger"));
    assertProblem(stranger.answer, 401, "sso_user_unknown");
    // The provider vouches for the address but not that it is verified.
    const address = ssoEmail("unverified", "unverified.test");
    const invited = ok(await invite(world, address, []), 201);
    ok(await call("POST", "/v1/invitations/accept", { body: { account_id: world.account, email: address, code: invited.invitation.code } }));
    const unverified = await signInWithProvider(world, id, address);
    assertProblem(unverified.answer, 401, "sso_token_invalid");
    // The state must come back in the cookie that started the sign-in.
    const forged = await signInWithProvider(world, id, ssoEmail("forged"), { tamperState: true });
    assertProblem(forged.answer, 401, "sso_state_invalid");
    // A completed callback cannot be replayed.
    const member = ssoEmail("replay");
    const again = ok(await invite(world, member, []), 201);
    ok(await call("POST", "/v1/invitations/accept", { body: { account_id: world.account, email: member, code: again.invitation.code } }));
    const first = await signInWithProvider(world, id, member);
    ok(first.answer);
    const state = new URL(first.back).searchParams.get("state");
    const replay = await call("GET", new URL(first.back).pathname + new URL(first.back).search, {
      headers: { cookie: `__Host-portcullis_sso_state=${state}` },
    });
    assert.ok([401].includes(replay.status), replay.text);
    // Unknown connections and accounts answer alike.
    const unknown = await fetch(`${endpoint}/v1/sso/start?account_id=acc_00000000000000ff&connection_id=${id}`, { redirect: "manual" });
    assert.equal(unknown.status, 404);
    const missing = await call("GET", "/v1/sso/start?account_id=nope");
    assertProblem(missing, 400, "invalid_query");
  });

  test("a browser's page navigation that signs in is sent on to the console with the session cookie", async () => {
    const world = await signUp("enterprise");
    const id = await connection(world);
    const address = ssoEmail("navigator");
    const invited = ok(await invite(world, address, ["build_applications"]), 201);
    ok(await call("POST", "/v1/invitations/accept", { body: { account_id: world.account, email: address, code: invited.invitation.code } }));
    const accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const { answer, session } = await signInWithProvider(world, id, address, { accept });
    assert.equal(answer.status, 303, answer.text);
    assert.equal(answer.headers.get("location"), "/console/");
    assert.match(answer.headers.get("set-cookie") ?? "", /__Host-portcullis_sso_state=;/, "the state cookie is removed");
    const me = ok(await call("GET", "/v1/whoami", { token: session }));
    assert.equal(me.user_id, invited.user_id);
    // A refusal is the same problem for a page navigation.
    const stranger = await signInWithProvider(world, id, ssoEmail("stranger"), { accept });
    assertProblem(stranger.answer, 401, "sso_user_unknown");
  });

  test("just-in-time provisioning, when the connection allows it, creates an active user with no permission", async () => {
    const world = await signUp("enterprise");
    const id = await connection(world, { allow_jit_provisioning: true });
    const address = ssoEmail("newcomer");
    const { answer, session } = await signInWithProvider(world, id, address);
    const body = ok(answer);
    const user = ok(await call("GET", `/v1/users/${body.user_id}`, { token: world.token }));
    assert.equal(user.email, address);
    assert.equal(user.status, "active");
    const me = ok(await call("GET", "/v1/whoami", { token: session }));
    assert.deepEqual(me.tenants, [], "no tenant, no permission");
    // Connections are managed by company admins only, and never show their secret.
    const listed = ok(await call("GET", "/v1/account/sso-connections", { token: world.token }));
    assert.equal(listed.items.length, 1);
    assert.ok(!JSON.stringify(listed).includes(clientSecret));
    assertProblem(await call("GET", "/v1/account/sso-connections", { token: session }), 403, "not_company_admin");
    ok(await call("PATCH", `/v1/account/sso-connections/${id}`, { token: world.token, body: { allow_jit_provisioning: false } }));
    const later = await signInWithProvider(world, id, ssoEmail("latecomer"));
    assertProblem(later.answer, 401, "sso_user_unknown");
  });

  test("enforcement: only sessions of the tenant's connection act there, except the breakglass user's; older tokens are suspended", async () => {
    const world = await signUp("enterprise");
    const id = await connection(world);
    const PASSWORD = "enforcement-password-1";
    remember(PASSWORD);
    const join = async (name, permissions) => {
      const address = ssoEmail(name);
      const invited = ok(await invite(world, address, permissions), 201);
      const accepted = ok(
        await call("POST", "/v1/invitations/accept", {
          body: { account_id: world.account, email: address, code: invited.invitation.code, password: PASSWORD },
        }),
      );
      return { id: invited.user_id, email: address, session: accepted.session };
    };
    const guard = await join("guard", [
      "modify_configuration",
      "update_certificates",
      "build_applications",
      "manage_custom_messages",
      "user_and_api_management",
      "modify_tenant_settings",
    ]);
    const dev = await join("dev", ["build_applications"]);
    // A token minted from dev's password session, before enforcement.
    const old = ok(
      await call("POST", `/v1/tenants/${world.tenant}/tokens`, { token: dev.session, body: { name: "old", permissions: ["build_applications"] } }),
      201,
    );
    const build = (credential, headers = { "portcullis-tenant": world.tenant }) =>
      call("POST", "/v1/authorize", { token: credential, headers, body: { operation: "run_build" } });
    assert.equal(ok(await build(old.token, {})).allow, true);
    ok(
      await call("PATCH", `/v1/tenants/${world.tenant}`, {
        token: world.token,
        body: { sso: { enforced: true, breakglass: guard.id, connection: id } },
      }),
    );
    // Password sessions and the tokens they minted stop acting there...
    assertProblem(await build(dev.session), 403, "sso_required");
    assertProblem(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: dev.session }), 403, "sso_required");
    assertProblem(await build(old.token, {}), 403, "sso_required");
    // ...the breakglass user's password session still does...
    assert.equal(ok(await build(guard.session)).allow, true);
    // ...and an SSO session of the connection does, and so do the tokens it mints.
    const { answer, session } = await signInWithProvider(world, id, dev.email);
    ok(answer);
    assert.equal(ok(await build(session)).allow, true);
    const fresh = ok(
      await call("POST", `/v1/tenants/${world.tenant}/tokens`, { token: session, body: { name: "sso", permissions: ["build_applications"] } }),
      201,
    );
    assert.equal(ok(await build(fresh.token, {})).allow, true);
    // The owner's sign-up token was not minted through SSO either: it is suspended there too,
    // and the breakglass user is who turns enforcement off, which lets the old token act again.
    assertProblem(await call("GET", `/v1/tenants/${world.tenant}`, { token: world.token }), 403, "sso_required");
    ok(await call("PATCH", `/v1/tenants/${world.tenant}`, { token: guard.session, body: { sso: { enforced: false, breakglass: null } } }));
    assert.equal(ok(await build(old.token, {})).allow, true);
    assert.equal(ok(await build(dev.session)).allow, true);
  });
});
