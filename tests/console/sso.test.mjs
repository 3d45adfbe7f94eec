// Single sign-on from the console's sign-in page in real headless Chromium, through the real
// OpenID Connect provider of the tests (tests/idp/oidc-provider.mjs, started by
// scripts/test-console): the page sends the browser to `GET /v1/sso/start`, the provider signs
// the login_hint's user in, the worker's callback sets the session cookie and sends the browser
// on to /console/, signed in.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { accountWithPassword, assertAccessible, call, endpoint, launch, ok, screenshot } from "./lib.mjs";

const issuer = process.env.PORTCULLIS_OIDC_ISSUER;
const clientId = process.env.PORTCULLIS_OIDC_CLIENT_ID;
const clientSecret = process.env.PORTCULLIS_OIDC_CLIENT_SECRET;

describe("single sign-on through the test identity provider", () => {
  let browser, world, connection, ada;
  const address = `ada.${process.pid}@sso.test`;

  before(async () => {
    assert.ok(issuer, "PORTCULLIS_OIDC_ISSUER is not set (run scripts/test-console)");
    world = await accountWithPassword({ plan: "enterprise", email: "owner@console-sso.test", password: "console sso passphrase 1" });
    connection = ok(
      await call("POST", "/v1/account/sso-connections", {
        token: world.token,
        body: { name: "Company IdP", protocol: { type: "oidc", issuer, client_id: clientId, client_secret: clientSecret } },
      }),
    ).connection.connection_id;
    const invited = ok(
      await call("POST", `/v1/tenants/${world.tenant_id}/members`, {
        token: world.token,
        body: { email: address, permissions: ["build_applications"] },
      }),
    );
    ok(await call("POST", "/v1/invitations/accept", { body: { account_id: world.account_id, email: address, code: invited.invitation.code } }));
    ada = invited.user_id;
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  test("the sign-in page's SSO form signs the user in through the provider and lands in the console", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const visited = [];
    // Every page navigation the browser makes, redirects included (they commit no page).
    page.on("request", (request) => {
      if (request.isNavigationRequest()) visited.push(new URL(request.url()).origin);
    });
    await page.goto(`${endpoint}/console/`);
    await page.getByLabel("Account id").fill(world.account_id);
    await page.getByLabel("SSO connection id").fill(connection);
    await page.getByLabel("Email (optional)").fill(address);
    await assertAccessible(page, "the sign-in page with SSO");
    await screenshot(page, "60-sign-in-sso");
    await page.getByRole("button", { name: "Sign in with SSO" }).click();
    await page.getByRole("heading", { name: "User Management" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/console/");
    assert.ok(visited.includes(new URL(issuer).origin), `the browser went through the provider: ${visited.join(", ")}`);
    // Signed in as Ada, through the connection: the session the cookie carries says so.
    await page.getByRole("link", { name: "Your sessions" }).click();
    await page.getByRole("heading", { name: "Your sessions" }).waitFor();
    await screenshot(page, "61-signed-in-with-sso");
    const audit = ok(await call("GET", "/v1/account/audit?limit=200", { token: world.token }));
    assert.ok(
      audit.items.some((e) => e.action === "session.signed_in" && e.detail.includes(`connection=${connection}`)),
      "a session signed in with the connection",
    );
    const cookies = await context.cookies(endpoint);
    const session = cookies.find((c) => c.name === "__Host-portcullis_session");
    assert.ok(session?.httpOnly && session.secure, "the session cookie is HttpOnly and Secure");
    const me = ok(await call("GET", "/v1/whoami", { token: session.value }));
    assert.equal(me.user_id, ada);
    assert.deepEqual(me.tenants.map((t) => t.permissions), [["build_applications"]]);
    await context.close();
  });
});
