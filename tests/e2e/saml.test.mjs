// Signing in through a real SAML 2.0 identity provider (issue 12): tests/idp/saml-idp.mjs, built
// on npm `samlify`, started by scripts/test-worker on loopback with a fresh RSA key and
// certificate. The worker sends the browser there with an AuthnRequest (HTTP-Redirect binding);
// the IdP answers the auto-submitting form a browser would post back (HTTP-POST binding), which
// these tests post to the worker's ACS with the worker's SAML state cookie, as a browser would.
// The IdP trusts one service provider at a time (PUT /sp), so these tests run one after another.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertProblem, call, endpoint, invite, ok, remember, signUp } from "./lib.mjs";

const idp = process.env.PORTCULLIS_SAML_IDP;

let counter = 0;
function samlEmail(name) {
  counter += 1;
  return `${name}.${process.pid}.${counter}.${randomInt(1e9)}@saml.test`;
}

/** A real certificate of another key (made with openssl, as the test IdP makes its own). */
function otherCertificate() {
  const dir = mkdtempSync(join(tmpdir(), "saml-other-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"),
      "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=Another IdP",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(join(dir, "cert.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function idpCertificate() {
  const answer = await fetch(`${idp}/cert`);
  assert.equal(answer.status, 200);
  return answer.text();
}

/** A SAML connection to the test IdP, which is told to trust the service provider it names. */
async function connection(world, extra = {}) {
  const created = ok(
    await call("POST", "/v1/account/sso-connections", {
      token: world.token,
      body: {
        name: "Company SAML IdP",
        protocol: {
          type: "saml",
          idp_entity_id: `${idp}/metadata`,
          idp_sso_url: `${idp}/sso`,
          idp_certificates: [await idpCertificate()],
        },
        ...extra,
      },
    }),
    201,
  );
  const protocol = created.connection.protocol;
  const id = created.connection.connection_id;
  assert.equal(protocol.type, "saml");
  assert.equal(protocol.sp_entity_id, `${endpoint}/v1/sso/saml/${world.account}/${id}`);
  assert.equal(protocol.acs_url, `${endpoint}/v1/sso/saml/acs`);
  const trusted = await fetch(`${idp}/sp`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ entityId: protocol.sp_entity_id, acsUrl: protocol.acs_url }),
  });
  assert.equal(trusted.status, 200, await trusted.text());
  return id;
}

/** Starts a sign-in and has the IdP answer it for `address` (with test hooks in `hooks`). */
async function fromProvider(world, connectionId, address, hooks = {}) {
  const query = new URLSearchParams({ account_id: world.account, connection_id: connectionId });
  const start = await fetch(`${endpoint}/v1/sso/start?${query}`, { redirect: "manual" });
  assert.equal(start.status, 302, await start.text());
  const location = new URL(start.headers.get("location"));
  assert.equal(`${location.origin}${location.pathname}`, `${idp}/sso`);
  assert.ok(location.searchParams.get("SAMLRequest"));
  const setCookie = start.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /SameSite=None/);
  const stateCookie = /__Host-portcullis_saml_state=([^;]+)/.exec(setCookie)?.[1];
  assert.equal(stateCookie, location.searchParams.get("RelayState"));
  location.searchParams.set("login_hint", address);
  for (const [name, value] of Object.entries(hooks)) location.searchParams.set(name, value);
  const page = await fetch(location);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  const field = (name) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  return { samlResponse: field("SAMLResponse"), relayState: field("RelayState"), stateCookie };
}

/** Posts the IdP's form to the ACS as the browser would. */
function post(form, { cookie = form.stateCookie, samlResponse = form.samlResponse } = {}) {
  return call("POST", "/v1/sso/saml/acs", {
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: `__Host-portcullis_saml_state=${cookie}`,
    },
    raw: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: form.relayState }).toString(),
  });
}

function sessionOf(answer) {
  return /__Host-portcullis_session=([^;]+)/.exec(answer.headers.get("set-cookie") ?? "")?.[1];
}

async function member(world, permissions, password) {
  const address = samlEmail("member");
  const invited = ok(await invite(world, address, permissions), 201);
  const body = { account_id: world.account, email: address, code: invited.invitation.code };
  if (password) body.password = password;
  const accepted = ok(await call("POST", "/v1/invitations/accept", { body }));
  return { id: invited.user_id, email: address, session: accepted.session };
}

describe("SSO sign-in with a real SAML identity provider", { concurrency: false }, () => {
  test("a SAML connection shows what the IdP needs; a bad certificate or setting is refused and creates nothing", async () => {
    assert.ok(idp, "PORTCULLIS_SAML_IDP is not set (run the suite through scripts/test-worker)");
    const world = await signUp("enterprise");
    const id = await connection(world);
    const view = ok(await call("GET", `/v1/account/sso-connections/${id}`, { token: world.token }));
    assert.equal(view.protocol.idp_certificates.length, 1);
    assert.match(view.protocol.idp_certificate_fingerprints[0], /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const refused = async (protocol, code, status = 400) =>
      assertProblem(
        await call("POST", "/v1/account/sso-connections", { token: world.token, body: { name: "Bad", protocol } }),
        status,
        code,
      );
    const good = { type: "saml", idp_entity_id: `${idp}/metadata`, idp_sso_url: `${idp}/sso`, idp_certificates: [await idpCertificate()] };
    const garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    await refused({ ...good, idp_certificates: [garbage] }, "invalid_body");
    await refused({ ...good, idp_certificates: [] }, "out_of_range");
    await refused({ ...good, idp_sso_url: "http://idp.example.com/sso" }, "invalid_body");
    await refused({ ...good, idp_entity_id: "has space" }, "invalid_body");
    // An OIDC change to a SAML connection is refused too.
    assertProblem(
      await call("PATCH", `/v1/account/sso-connections/${id}`, { token: world.token, body: { oidc: { client_id: "x" } } }),
      400,
      "out_of_range",
    );
    const list = ok(await call("GET", "/v1/account/sso-connections", { token: world.token }));
    assert.deepEqual(list.items.map((c) => c.connection_id), [id]);
    assert.equal(list.items[0].protocol.acs_url, `${endpoint}/v1/sso/saml/acs`);
  });

  test("SP-initiated sign-in: the session acts; replay, tampering, another audience, a forged state and an unknown user are refused", async () => {
    const world = await signUp("enterprise");
    const id = await connection(world);
    const dev = await member(world, ["build_applications"]);
    // A stranger (no such user, no provisioning) is refused like every SSO sign-in.
    assertProblem(await post(await fromProvider(world, id, samlEmail("stranger"))), 401, "sso_user_unknown");

    const form = await fromProvider(world, id, dev.email);
    // Tampered after signing: the NameID and email changed inside the signed assertion.
    const xml = Buffer.from(form.samlResponse, "base64").toString("utf8");
    const evil = Buffer.from(xml.replaceAll(dev.email, "owner@evil.test")).toString("base64");
    assertProblem(await post(form, { samlResponse: evil }), 401, "sso_assertion_invalid");
    // Posted into another browser (no matching state cookie): nothing completes.
    assertProblem(await post(form, { cookie: `${form.stateCookie}x` }), 401, "sso_state_invalid");
    // The genuine response signs the user in.
    const answer = await post(form);
    const body = ok(answer, 200, "acs");
    assert.equal(body.user_id, dev.id);
    assert.equal(body.session, undefined, "the session is only in the cookie");
    const session = sessionOf(answer);
    assert.match(session ?? "", /^pcss_/);
    assert.match(answer.headers.get("set-cookie"), /__Host-portcullis_saml_state=;/);
    const decision = ok(
      await call("POST", "/v1/authorize", { token: session, headers: { "portcullis-tenant": world.tenant }, body: { operation: "run_build" } }),
    );
    assert.equal(decision.allow, true);
    const sessions = ok(await call("GET", "/v1/sessions", { token: session }));
    assert.ok(JSON.stringify(sessions.items[0].method).includes(id));
    // The same response again: the request it answered is used up.
    assertProblem(await post(form), 401, "sso_state_invalid");

    // A response meant for another service provider, and an expired one.
    assertProblem(await post(await fromProvider(world, id, dev.email, { audience: "https://other.example/sp" })), 401, "sso_assertion_invalid");
    assertProblem(await post(await fromProvider(world, id, dev.email, { skew: "-900" })), 401, "sso_assertion_invalid");
    // Not signed at all.
    assertProblem(await post(await fromProvider(world, id, dev.email, { sign: "none" })), 401, "sso_assertion_invalid");
    // Signed, but the connection pins another certificate (the IdP's key changed).
    ok(
      await call("PATCH", `/v1/account/sso-connections/${id}`, {
        token: world.token,
        body: { saml: { idp_certificates: [otherCertificate()] } },
      }),
    );
    assertProblem(await post(await fromProvider(world, id, dev.email)), 401, "sso_assertion_invalid");
    const audit = ok(await call("GET", "/v1/account/audit?limit=200", { token: world.token }));
    const created = audit.items.find((e) => e.action === "sso.connection_created");
    assert.match(created.detail, /protocol=saml .*idp_certificates=([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    assert.ok(audit.items.some((e) => e.action === "session.signed_in" && e.detail.includes(`connection=${id}`)));
  });

  test("enforcement with a SAML connection: its sessions act there; password sessions are refused, the breakglass user's excepted", async () => {
    const world = await signUp("enterprise");
    const id = await connection(world);
    const PASSWORD = "saml-enforcement-1";
    remember(PASSWORD);
    const guard = await member(
      world,
      ["modify_configuration", "update_certificates", "build_applications", "manage_custom_messages", "user_and_api_management", "modify_tenant_settings"],
      PASSWORD,
    );
    const dev = await member(world, ["build_applications"], PASSWORD);
    ok(
      await call("PATCH", `/v1/tenants/${world.tenant}`, {
        token: world.token,
        body: { sso: { enforced: true, breakglass: guard.id, connection: id } },
      }),
    );
    const build = (credential) =>
      call("POST", "/v1/authorize", { token: credential, headers: { "portcullis-tenant": world.tenant }, body: { operation: "run_build" } });
    assertProblem(await build(dev.session), 403, "sso_required");
    assert.equal(ok(await build(guard.session)).allow, true);
    const signedIn = await post(await fromProvider(world, id, dev.email));
    ok(signedIn, 200, "acs");
    const session = sessionOf(signedIn);
    assert.equal(ok(await build(session)).allow, true);
  });
});
