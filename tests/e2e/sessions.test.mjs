// People sign in (issue 12) against the real worker: passwords set on acceptance, sessions that
// act with the user's current permissions in any of their tenants, tokens minted from a session,
// sign-outs and lifecycle changes visible on the next request, enumeration-safe failures,
// per-email throttling, the browser cookie with its CSRF token, and sessions at the gateway.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertProblem, call, email, invite, ok, remember, signUp } from "./lib.mjs";

const PASSWORD = "correct-horse-battery-staple"; // no spaces: the secret scan reads one secret per word
remember(PASSWORD);

/** Invites `address` with `permissions` and accepts with PASSWORD: { id, email, session, body }. */
async function signedUpMember(world, permissions = [], name = "person", headers = {}) {
  const address = email(name);
  const invited = ok(await invite(world, address, permissions), 201, "invite");
  const body = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: invited.invitation.code, password: PASSWORD },
      headers,
    }),
    200,
    "accept with a password",
  );
  return { id: invited.user_id, email: address, session: body.session, body };
}

function signIn(world, address, password = PASSWORD, extra = {}) {
  return call("POST", "/v1/sessions", {
    body: { account_id: world.account, email: address, password, ...extra.body },
    headers: extra.headers ?? {},
  });
}

function authorize(session, tenant, operation) {
  const headers = tenant === undefined ? {} : { "portcullis-tenant": tenant };
  return call("POST", "/v1/authorize", { token: session, body: { operation }, headers });
}

describe("sessions", () => {
  test("accepting with a password signs in; the session acts with current permissions, promotion included", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, ["build_applications"], "dev", { "user-agent": "Firefox/140 e2e" });
    assert.match(dev.session, /^pcss_[A-Za-z0-9_-]{68}$/);
    assert.equal(dev.body.outcome, "invitation_accepted");
    assert.equal(dev.body.tenant_id, world.tenant);
    assert.equal(dev.body.token, undefined, "a password acceptance mints no token");
    assert.equal(typeof dev.body.csrf_token, "string");
    const me = ok(await call("GET", "/v1/whoami", { token: dev.session }));
    assert.equal(me.kind, "session");
    assert.equal(me.user_id, dev.id);
    assert.deepEqual(me.tenants.map((t) => [t.tenant_id, t.permissions]), [[world.tenant, ["build_applications"]]]);
    // A session names its tenant where the path does not.
    assertProblem(await authorize(dev.session, undefined, "run_build"), 400, "tenant_required");
    assertProblem(await authorize(dev.session, "ten_00000000000000ff", "run_build"), 404, "tenant_not_found");
    assertProblem(await authorize(dev.session, "nonsense", "run_build"), 404, "tenant_not_found");
    assert.equal(ok(await authorize(dev.session, world.tenant, "run_build")).allow, true);
    assert.equal(ok(await authorize(dev.session, world.tenant, "write_certificates")).allow, false);
    // Promotion reaches the session on the very next request, and so does a demotion.
    ok(
      await call("PATCH", `/v1/tenants/${world.tenant}/members/${dev.id}`, {
        token: world.token,
        body: { permissions: ["build_applications", "update_certificates"] },
      }),
    );
    const promoted = ok(await authorize(dev.session, world.tenant, "write_certificates"));
    assert.equal(promoted.allow, true, JSON.stringify(promoted));
    assert.equal(promoted.principal.kind, "session");
    // ...and a token minted from the session may carry the new permission.
    const minted = ok(
      await call("POST", `/v1/tenants/${world.tenant}/tokens`, {
        token: dev.session,
        body: { name: "certs", permissions: ["update_certificates"] },
      }),
      201,
      "mint from a session",
    );
    const viaToken = ok(await call("POST", "/v1/authorize", { token: minted.token, body: { operation: "write_certificates" } }));
    assert.equal(viaToken.allow, true);
    assertProblem(
      await call("POST", `/v1/tenants/${world.tenant}/tokens`, {
        token: dev.session,
        body: { name: "too much", permissions: ["modify_tenant_settings"] },
      }),
      403,
      "privilege_escalation",
    );
    ok(await call("PATCH", `/v1/tenants/${world.tenant}/members/${dev.id}`, { token: world.token, body: { permissions: [] } }));
    assert.equal(ok(await authorize(dev.session, world.tenant, "run_build")).allow, false);
  });

  test("one session works in every tenant of the user, and stops in a tenant they leave", async () => {
    const world = await signUp("enterprise");
    const staging = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Staging", plan: "team" } }), 201);
    const dev = await signedUpMember(world, ["build_applications"], "multi");
    const added = ok(
      await call("POST", `/v1/tenants/${staging.tenant_id}/members`, {
        token: staging.token,
        body: { email: dev.email, permissions: ["build_applications"] },
      }),
      201,
    );
    assert.equal(added.status, "active");
    const me = ok(await call("GET", "/v1/whoami", { token: dev.session }));
    assert.deepEqual(me.tenants.map((t) => t.tenant_id).sort(), [world.tenant, staging.tenant_id].sort());
    assert.equal(ok(await authorize(dev.session, staging.tenant_id, "run_build")).allow, true);
    // Tokens of their own in the second tenant, minted and listed through the session.
    const minted = ok(
      await call("POST", `/v1/tenants/${staging.tenant_id}/tokens`, {
        token: dev.session,
        body: { name: "staging ci", permissions: ["build_applications"] },
      }),
      201,
    );
    const listed = ok(await call("GET", `/v1/tenants/${staging.tenant_id}/tokens`, { token: dev.session }));
    assert.ok(listed.items.some((t) => t.key_id === minted.key_id));
    // Removed from staging: refused there on the next request, still fine at home.
    ok(await call("DELETE", `/v1/tenants/${staging.tenant_id}/members/${dev.id}`, { token: staging.token }));
    assertProblem(await authorize(dev.session, staging.tenant_id, "run_build"), 404, "tenant_not_found");
    assertProblem(await call("GET", `/v1/tenants/${staging.tenant_id}/tokens`, { token: dev.session }), 404, "tenant_not_found");
    assert.equal(ok(await authorize(dev.session, world.tenant, "run_build")).allow, true);
  });

  test("password sign-in: unknown email, wrong password, pending, inactive and unknown account answer alike", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, [], "signin");
    const pending = email("pending");
    ok(await invite(world, pending, []), 201);
    const inactive = await signedUpMember(world, [], "inactive");
    ok(await call("POST", `/v1/users/${inactive.id}/deactivate`, { token: world.token }));
    const signedIn = ok(await signIn(world, dev.email, PASSWORD, { headers: { "user-agent": "Safari/18 e2e" } }), 201);
    assert.match(signedIn.session, /^pcss_/);
    assert.equal(signedIn.user_id, dev.id);
    const answers = [
      await signIn(world, dev.email, "not the password at all"),
      await signIn(world, email("nobody"), PASSWORD),
      await signIn(world, "not an email", PASSWORD),
      await signIn(world, pending, PASSWORD),
      await signIn(world, inactive.email, PASSWORD),
      await signIn({ account: "acc_00000000000000ff" }, dev.email, PASSWORD),
    ];
    for (const answer of answers) {
      assertProblem(answer, 401, "sign_in_failed");
      assert.equal(answer.text, answers[0].text, "every failure has the same body");
    }
    assertProblem(await call("POST", "/v1/sessions", { body: { account_id: world.account, email: dev.email } }), 400, "invalid_body");
    // The session list shows both sessions with their user agents, never a secret.
    const list = ok(await call("GET", "/v1/sessions", { token: signedIn.session }));
    assert.equal(list.items.length, 2);
    assert.deepEqual(list.items.filter((s) => s.current).map((s) => s.session_id), [signedIn.session_id]);
    assert.ok(list.items.some((s) => s.user_agent === "Safari/18 e2e"));
    assert.ok(!JSON.stringify(list).includes(signedIn.session.slice(25)));
  });

  test("failed sign-ins are throttled per email across clients", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, [], "throttled");
    let refused;
    for (let attempt = 0; attempt < 20 && !refused; attempt += 1) {
      const answer = await signIn(world, dev.email, `wrong password ${attempt}`, {
        headers: { "cf-connecting-ip": `192.0.2.${attempt + 1}` },
      });
      if (answer.status === 429) refused = { attempt, answer };
      else assertProblem(answer, 401, "sign_in_failed");
    }
    assert.ok(refused, "no 429 after 20 failed sign-ins for one email");
    assert.ok(refused.attempt >= 5, `blocked after only ${refused.attempt} failures`);
    assertProblem(refused.answer, 429, "too_many_failed_attempts");
    // Blocked means blocked, even with the right password from a fresh client.
    assertProblem(await signIn(world, dev.email, PASSWORD, { headers: { "cf-connecting-ip": "192.0.2.200" } }), 429, "too_many_failed_attempts");
    // The company admins see the limit trip in the account audit log: the user, the limit and
    // the client, never the typed email.
    const audit = ok(await call("GET", "/v1/account/audit?limit=200", { token: world.token }));
    const throttled = audit.items.filter((event) => event.action === "session.sign_in_throttled");
    assert.equal(throttled.length, 1, JSON.stringify(throttled));
    assert.equal(throttled[0].target, dev.id);
    assert.match(throttled[0].detail, /^limits=(client,)?email client=192\.0\.2\.\d+$/);
    assert.ok(!JSON.stringify(audit).includes(dev.email));
    assert.equal(audit.chain.valid, true);
  });

  test("sign-out, sign-out everywhere, password change and deactivation end sessions on the next request", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, [], "signout");
    const second = ok(await signIn(world, dev.email), 201).session;
    const third = ok(await signIn(world, dev.email), 201).session;
    // One by one: the first session ends the second.
    const secondId = second.slice(0, 25);
    const out = await call("DELETE", `/v1/sessions/${secondId}`, { token: dev.session });
    ok(out);
    assertProblem(await call("GET", "/v1/whoami", { token: second }), 401, "invalid_credentials");
    assertProblem(await call("DELETE", `/v1/sessions/${secondId}`, { token: dev.session }), 404, "session_not_found");
    // A password change needs the current password and ends every other session.
    assertProblem(
      await call("PUT", "/v1/password", { token: dev.session, body: { current_password: "wrong wrong wrong", new_password: "a brand new passphrase" } }),
      403,
      "password_incorrect",
    );
    assertProblem(
      await call("PUT", "/v1/password", { token: dev.session, body: { current_password: PASSWORD, new_password: "short" } }),
      400,
      "password_policy",
    );
    const next = "a-brand-new-passphrase";
    remember(next);
    ok(await call("PUT", "/v1/password", { token: dev.session, body: { current_password: PASSWORD, new_password: next } }));
    assertProblem(await call("GET", "/v1/whoami", { token: third }), 401, "invalid_credentials");
    ok(await call("GET", "/v1/whoami", { token: dev.session }));
    assertProblem(await signIn(world, dev.email, PASSWORD), 401, "sign_in_failed");
    const fourth = ok(await signIn(world, dev.email, next), 201).session;
    // Everywhere: every session ends, the caller's included.
    const everywhere = ok(await call("DELETE", "/v1/sessions", { token: fourth }));
    assert.equal(everywhere.sessions_ended, 2);
    for (const session of [dev.session, fourth]) {
      assertProblem(await call("GET", "/v1/whoami", { token: session }), 401, "invalid_credentials");
    }
    // Deactivation ends sessions; reactivation does not bring them back.
    const fifth = ok(await signIn(world, dev.email, next), 201).session;
    ok(await call("POST", `/v1/users/${dev.id}/deactivate`, { token: world.token }));
    assertProblem(await call("GET", "/v1/whoami", { token: fifth }), 401, "invalid_credentials");
    ok(await call("POST", `/v1/users/${dev.id}/activate`, { token: world.token }));
    assertProblem(await call("GET", "/v1/whoami", { token: fifth }), 401, "invalid_credentials");
    ok(await signIn(world, dev.email, next), 201);
  });

  test("the browser cookie: HttpOnly and Secure, not in the body, and state changes need the CSRF token", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, ["build_applications"], "browser");
    const answer = await signIn(world, dev.email, PASSWORD, { body: { cookie: true } });
    const body = ok(answer, 201);
    assert.equal(body.session, undefined, "the session is only in the cookie");
    assert.equal(body.cookie, true);
    const setCookie = answer.headers.get("set-cookie") ?? "";
    for (const attribute of ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"]) assert.ok(setCookie.includes(attribute), setCookie);
    const value = /^__Host-portcullis_session=([^;]+)/.exec(setCookie)?.[1];
    assert.match(value ?? "", /^pcss_/);
    const cookie = { cookie: `theme=dark; __Host-portcullis_session=${value}` };
    const me = ok(await call("GET", "/v1/whoami", { headers: cookie }));
    assert.equal(me.csrf_token, body.csrf_token);
    const mint = (headers) =>
      call("POST", `/v1/tenants/${world.tenant}/tokens`, { headers, body: { name: "from the browser", permissions: [] } });
    assertProblem(await mint(cookie), 403, "csrf_token_invalid");
    assertProblem(await mint({ ...cookie, "portcullis-csrf": me.csrf_token.slice(1) }), 403, "csrf_token_invalid");
    ok(await mint({ ...cookie, "portcullis-csrf": me.csrf_token }), 201, "with the CSRF token");
    // Another session's token is not this session's.
    const other = ok(await signIn(world, dev.email), 201);
    assertProblem(await mint({ ...cookie, "portcullis-csrf": other.csrf_token }), 403, "csrf_token_invalid");
    // A bearer session needs no CSRF token; a header beats the cookie.
    ok(await mint({ authorization: `Bearer ${other.session}`, ...cookie }), 201);
    // Signing out the cookie's session clears the cookie.
    const out = await call("DELETE", `/v1/sessions/${value.slice(0, 25)}`, {
      headers: { ...cookie, "portcullis-csrf": me.csrf_token },
    });
    ok(out);
    assert.match(out.headers.get("set-cookie") ?? "", /__Host-portcullis_session=;.*Max-Age=0/);
    assertProblem(await call("GET", "/v1/whoami", { headers: cookie }), 401, "invalid_credentials");
  });

  test("company admins set session lifetimes within bounds", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, [], "lifetimes");
    const owner = ok(await call("GET", "/v1/whoami", { token: world.token }));
    assert.equal(owner.kind, "user");
    assertProblem(
      await call("PUT", "/v1/account/sessions", { token: dev.session, body: { idle_minutes: 30, absolute_hours: 24 } }),
      403,
      "not_company_admin",
    );
    assertProblem(
      await call("PUT", "/v1/account/sessions", { token: world.token, body: { idle_minutes: 1, absolute_hours: 24 } }),
      400,
      "out_of_range",
    );
    const set = ok(await call("PUT", "/v1/account/sessions", { token: world.token, body: { idle_minutes: 30, absolute_hours: 24 } }));
    assert.deepEqual(set, { idle_minutes: 30, absolute_hours: 24 });
    const me = ok(await call("GET", "/v1/sessions", { token: dev.session }));
    const ends = me.items[0].absolute_expires_at - me.items[0].created_at;
    assert.equal(ends, 24 * 3600, "the new absolute lifetime applies to open sessions (Unix seconds)");
  });

  test("the gateway accepts a session acting in the tenant it names", async () => {
    const world = await signUp("team");
    const dev = await signedUpMember(world, ["build_applications"], "gateway");
    const through = (headers) =>
      call("POST", "/api/builds", { token: dev.session, headers, body: { target: "ios" } });
    const answer = await through({ "portcullis-tenant": world.tenant });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers.get("x-origin"), "echo");
    const seen = answer.json.headers;
    assert.equal(seen["portcullis-tenant"], world.tenant);
    assert.equal(seen["portcullis-principal-kind"], "user");
    assert.equal(seen["portcullis-principal-id"], dev.id);
    assert.equal(seen["portcullis-key-id"], dev.session.slice(0, 25));
    assert.equal(answer.json.identity.valid, true, answer.json.identity.error);
    assert.equal(seen.authorization, undefined, "the session never reaches the origin");
    assertProblem(await through({}), 400, "tenant_required");
  });

  test("password reset: the owner sets a first password; an admin's code resets a member and ends their sessions", async () => {
    const world = await signUp("team");
    const me = ok(await call("GET", `/v1/users/${world.owner}`, { token: world.token }));
    assertProblem(await signIn(world, me.email), 401, "sign_in_failed");
    const issued = ok(await call("POST", `/v1/users/${world.owner}/password-reset`, { token: world.token }));
    assert.equal(issued.outcome, "password_reset_issued");
    assert.match(issued.reset.code, /^pcrst_/);
    remember(issued.reset.code);
    const redeem = (address, code, password, extra = {}) =>
      call("POST", "/v1/password-reset", {
        body: { account_id: world.account, email: address, code, new_password: password, ...extra },
      });
    const owner = ok(await redeem(me.email, issued.reset.code, PASSWORD), 200, "first password");
    assert.match(owner.session, /^pcss_/);
    ok(await signIn(world, me.email), 201);
    assertProblem(await redeem(me.email, issued.reset.code, "another-long-password"), 403, "password_reset_invalid");
    assertProblem(await call("POST", `/v1/users/${world.owner}/password-reset`, { token: world.token }), 409, "password_reset_self");
    // An admin resets a member: every session of the member ends.
    const dev = await signedUpMember(world, [], "reset");
    const code = ok(await call("POST", `/v1/users/${dev.id}/password-reset`, { token: owner.session })).reset.code;
    remember(code);
    const wrong = [
      await redeem(dev.email, code.slice(0, -2) + (code.endsWith("AA") ? "BB" : "AA"), "a-new-password-1"),
      await redeem(email("nobody"), code, "a-new-password-1"),
      await call("POST", "/v1/password-reset", {
        body: { account_id: "acc_00000000000000ff", email: dev.email, code, new_password: "a-new-password-1" },
      }),
    ];
    for (const answer of wrong) {
      assertProblem(answer, 403, "password_reset_invalid");
      assert.equal(answer.text, wrong[0].text);
    }
    assertProblem(await redeem(dev.email, code, "short"), 400, "password_policy");
    ok(await call("GET", "/v1/whoami", { token: dev.session }), 200, "still signed in before the reset");
    const next = "a-new-password-1";
    remember(next);
    const reset = await redeem(dev.email, code, next, { cookie: true });
    assert.equal(ok(reset).session, undefined);
    assert.match(reset.headers.get("set-cookie") ?? "", /^__Host-portcullis_session=pcss_/);
    assertProblem(await call("GET", "/v1/whoami", { token: dev.session }), 401, "invalid_credentials");
    ok(await signIn(world, dev.email, next), 201);
    const notices = ok(await call("GET", "/v1/notifications", { token: world.token }));
    assert.ok(
      notices.items.some((n) => n.kind === "password_changed" && n.user_id === dev.id && n.data.via === "reset"),
      "password_changed is notified",
    );
    assert.ok(!JSON.stringify(notices).includes(code), "no notification carries the code");
  });
});
