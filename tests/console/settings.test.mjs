// Tenant settings in real headless Chromium: the name saved, SAML SSO enforced with a
// breakglass picker that offers only the members holding `user_and_api_management`, and a plan
// downgrade the tenant does not fit refused with every blocker the server returns (the same
// list the API answers for the same change).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  accountWithPassword,
  assertAccessible,
  assertNarrow,
  call,
  invitee,
  launch,
  ok,
  screenshot,
  signIn,
  watchedPage,
} from "./lib.mjs";

const PASSWORD = "console settings passphrase 1";

describe("the console's tenant settings", () => {
  let browser, page, problems, offOrigin, world, guard, connection;

  before(async () => {
    world = await accountWithPassword({ plan: "enterprise", email: "owner@settings.test", password: PASSWORD });
    await invitee(world, world.tenant_id, "reader@settings.test", "Reader", { accept: true });
    const invited = ok(
      await call("POST", `/v1/tenants/${world.tenant_id}/members`, {
        token: world.token,
        body: { email: "guard@settings.test", permissions: ["user_and_api_management"] },
      }),
    );
    ok(
      await call("POST", "/v1/invitations/accept", {
        body: { account_id: world.account_id, email: "guard@settings.test", code: invited.invitation.code },
      }),
    );
    guard = invited.user_id;
    ok(await call("POST", `/v1/tenants/${world.tenant_id}/automation-keys`, { token: world.token, body: { name: "ci" } }));
    // An OpenID Connect connection whose provider is never contacted (nobody signs in with it here).
    connection = ok(
      await call("POST", "/v1/account/sso-connections", {
        token: world.token,
        body: {
          name: "Company IdP",
          protocol: { type: "oidc", issuer: "https://idp.example.test", client_id: "portcullis", client_secret: "a-client-secret-of-some-length" },
        },
      }),
    ).connection.connection_id;
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(10_000);
    ({ page, problems, offOrigin } = await watchedPage(context));
    await signIn(page, world);
    await page.getByRole("link", { name: "Tenant settings" }).click();
    await page.getByRole("heading", { name: "Tenant settings" }).waitFor();
  });

  after(async () => {
    await browser?.close();
  });

  const tenant = async () => ok(await call("GET", `/v1/tenants/${world.tenant_id}`, { token: world.token }));

  test("the name is saved", async () => {
    await page.getByLabel("Name").fill("Production EU");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#settings-saved").waitFor();
    assert.equal((await tenant()).name, "Production EU");
    await assertAccessible(page, "Tenant settings");
    await screenshot(page, "50-tenant-settings");
  });

  test("SSO: the breakglass picker offers only the members holding user and API management", async () => {
    const offered = await page.$$eval("#settings-breakglass option", (options) => options.map((o) => o.textContent));
    assert.deepEqual(offered.sort(), ["None", "guard@settings.test", world.email].sort());
    await page.getByRole("switch", { name: "Enforce SSO" }).check();
    await page.getByLabel("Identity provider connection").selectOption(connection);
    // The owner stays the breakglass user: their password session keeps working here.
    await page.getByLabel(/^Breakglass user/).selectOption(world.owner_id);
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#settings-saved").waitFor();
    const now = await tenant();
    assert.deepEqual(
      [now.sso_enforced, now.saml_breakglass_user_id, now.sso_connection_id],
      [true, world.owner_id, connection],
    );
    assert.notEqual(guard, undefined);
  });

  test("a downgrade the tenant does not fit lists every blocker the server returns", async () => {
    await page.getByLabel("Plan").selectOption("free");
    await page.getByRole("button", { name: "Save settings" }).click();
    const blockers = page.locator("#plan-blockers li");
    await blockers.first().waitFor();
    const shown = await blockers.evaluateAll((items) => items.map((li) => ({ code: li.dataset.code, message: li.textContent })));
    const answer = await call("PATCH", `/v1/tenants/${world.tenant_id}`, { token: world.token, body: { plan: "free" } });
    assert.equal(answer.status, 409);
    assert.equal(answer.json.code, "plan_change_blocked");
    assert.deepEqual(shown, answer.json.blockers.map(({ code, message }) => ({ code, message })));
    assert.deepEqual(
      shown.map((b) => b.code),
      ["too_many_members", "automation_keys_in_use", "sso_enforced"],
    );
    assert.match(await page.locator("#settings-refusal").textContent(), /plan_change_blocked/);
    assert.equal((await tenant()).plan, "enterprise", "nothing changed");
    await assertAccessible(page, "a refused downgrade");
    await page.setViewportSize({ width: 375, height: 800 });
    await assertNarrow(page, "Tenant settings at 375 px");
    await screenshot(page, "51-plan-blockers");
    assert.deepEqual([problems, offOrigin], [[], []]);
  });
});
