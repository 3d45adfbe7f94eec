// The admin console in real headless Chromium against the real worker under `wrangler dev`:
// sign-in (a refusal, then the HttpOnly cookie), User Management (seats, invite with the code
// to deliver, permission toggles saved, the server's refusals shown inline, remove with
// confirmation), API tokens (secret shown once, delete), your sessions (revoke), sign-out;
// axe-core on every screen, the 375 px layout, the CSP and no request leaving the worker.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  accountWithPassword,
  assertAccessible,
  call,
  endpoint,
  launch,
  ok,
  screenshot,
  screenshots,
  watchedPage,
} from "./lib.mjs";

const PASSWORD = "console test passphrase 1";

/** Waits until the seat usage line says `text` (it is reloaded after every change). */
function seatsSay(page, text) {
  return page.waitForFunction((want) => document.querySelector("#seat-usage")?.textContent.includes(want), text);
}
const INVITEE = "ana@console.test";

describe("the admin console", () => {
  let browser, context, page, offOrigin, problems, world, otherSession;

  before(async () => {
    world = await accountWithPassword({ password: PASSWORD });
    // A second session of the owner, from another device, for "your sessions" to revoke.
    otherSession = ok(
      await call("POST", "/v1/sessions", {
        headers: { "user-agent": "OtherDevice/1.0 (console test)" },
        body: { account_id: world.account_id, email: world.email, password: PASSWORD },
      }),
      "second session",
    );
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // A step that waits in vain fails in 10 s rather than Playwright's 30.
    context.setDefaultTimeout(10_000);
    ({ page, offOrigin, problems } = await watchedPage(context));
    console.log(`screenshots in ${screenshots}`);
  });

  after(async () => {
    await browser?.close();
  });

  test("the page carries a strict CSP and security headers, and the API still reaches the worker", async () => {
    const response = await fetch(`${endpoint}/console/`);
    assert.equal(response.status, 200);
    const csp = response.headers.get("content-security-policy") ?? "";
    for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"])
      assert.ok(csp.includes(directive), `CSP lacks ${directive}: ${csp}`);
    // 'wasm-unsafe-eval' (the engine's WebAssembly) is the one exception: no eval, no inline code.
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    const html = await response.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    // A deep link answers the same page (single-page fallback), the API its own JSON.
    const deep = await fetch(`${endpoint}/console/sessions`, { headers: { "sec-fetch-mode": "navigate" } });
    assert.equal(deep.status, 200);
    assert.equal(await deep.text(), html);
    const health = await fetch(`${endpoint}/v1/health`);
    assert.match(health.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(health.headers.get("content-security-policy"), null, "the worker's answers are not the assets'");
    const unknown = await fetch(`${endpoint}/v1/no-such-route`, { headers: { "sec-fetch-mode": "navigate" } });
    assert.match(unknown.headers.get("content-type") ?? "", /application\/problem\+json/, "no fallback outside /console");
  });

  test("sign-in: a wrong password is refused with the server's reason, then the cookie session", async () => {
    const started = await page.goto(`${endpoint}/console/`);
    assert.equal(started.status(), 200);
    await page.getByLabel("Account id").fill(world.account_id);
    await page.getByLabel("Email", { exact: true }).fill(world.email);
    await page.getByLabel("Password").fill("not the password at all");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const refusal = page.getByRole("alert");
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /sign_in_failed/);
    await assertAccessible(page, "the sign-in page");
    await screenshot(page, "01-sign-in-refused");

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "User Management" }).waitFor();
    const [cookie] = (await context.cookies()).filter((c) => c.name === "__Host-portcullis_session");
    assert.ok(cookie, "the session cookie is set");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.equal(await page.evaluate(() => document.cookie.includes("portcullis_session")), false, "not readable by script");
  });

  test("User Management: the members and the plan's seat usage", async () => {
    const owner = page.locator(`tr[data-email="${world.email}"]`);
    await owner.waitFor();
    assert.match(await owner.textContent(), /owner/);
    assert.match(await owner.textContent(), /user and api management/);
    await seatsSay(page, "1 of 20 users, owner included");
    await assertAccessible(page, "User Management");
    await screenshot(page, "02-members");
  });

  test("Add user: an invitation whose code, shown once, the invitee can accept", async () => {
    const opener = page.getByRole("button", { name: "Add user" });
    await opener.click();
    const dialog = page.getByRole("dialog", { name: "Add user" });
    await dialog.waitFor();
    await page.waitForFunction(() => document.activeElement?.id === "invite-email"); // focus moves into the dialog
    await dialog.getByLabel("Email").fill(INVITEE);
    await dialog.getByLabel("Name (optional)").fill("Ana Invitee");
    await dialog.getByRole("switch", { name: "build applications" }).check();
    await assertAccessible(page, "the Add user dialog");
    await screenshot(page, "03-add-user");
    await dialog.getByRole("button", { name: "Send invitation" }).click();
    const added = page.getByRole("dialog", { name: "User added" });
    const code = (await added.locator("#invitation-code").textContent()).trim();
    assert.ok(code.length > 20, code);
    await screenshot(page, "04-invitation-code");
    await added.getByRole("button", { name: "Done" }).click();
    await page.waitForFunction(() => document.activeElement?.textContent === "Add user");
    await seatsSay(page, "2 of 20 users, owner included");
    const row = page.locator(`tr[data-email="${INVITEE}"]`);
    assert.match(await row.textContent(), /pending/);
    // The code shown is the real one: the invitee accepts with it.
    ok(
      await call("POST", "/v1/invitations/accept", { body: { account_id: world.account_id, email: INVITEE, code } }),
      "accepting with the code the console showed",
    );
  });

  test("permissions as toggles: Save sends the new set", async () => {
    await page.reload();
    const row = page.locator(`tr[data-email="${INVITEE}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /active/);
    await row.getByRole("button", { name: `Permissions of ${INVITEE}` }).click();
    const dialog = page.getByRole("dialog", { name: `Permissions of ${INVITEE}` });
    const save = dialog.getByRole("button", { name: "Save" });
    assert.equal(await save.isDisabled(), true, "nothing to save yet");
    assert.equal(await dialog.getByRole("switch", { name: "build applications" }).isChecked(), true);
    // Keyboard: the switch takes focus and Space toggles it.
    await dialog.getByRole("switch", { name: "update certificates" }).focus();
    await page.keyboard.press("Space");
    await screenshot(page, "05-permissions");
    await save.click();
    await dialog.waitFor({ state: "detached" });
    await page.waitForFunction(
      (email) => document.querySelector(`tr[data-email="${email}"]`)?.textContent.includes("update certificates"),
      INVITEE,
    );
    const members = ok(await call("GET", `/v1/tenants/${world.tenant_id}/members`, { token: world.token }));
    const ana = members.items.find((m) => m.email === INVITEE);
    assert.deepEqual([...ana.permissions].sort(), ["build_applications", "update_certificates"]);
  });

  test("refusals: the rules' reasons shown inline before sending, nothing changed", async () => {
    const owner = page.locator(`tr[data-email="${world.email}"]`);
    await owner.getByRole("button", { name: `Permissions of ${world.email}` }).click();
    const dialog = page.getByRole("dialog", { name: `Permissions of ${world.email}` });
    await dialog.getByRole("switch", { name: "user and api management" }).uncheck();
    const reason = dialog.getByRole("alert");
    await reason.waitFor();
    assert.match(await reason.textContent(), /the tenant owner cannot be .*demoted.*owner_protected/);
    assert.equal(await dialog.getByRole("button", { name: "Save" }).isDisabled(), true, "refused before sending");
    await screenshot(page, "06-refused-owner-demotion");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });

    await owner.getByRole("button", { name: `Remove ${world.email}` }).click();
    const confirm = page.getByRole("dialog", { name: "Remove user" });
    await confirm.waitFor();
    await page.waitForFunction(() => document.activeElement?.textContent === "Cancel"); // the safe choice has focus
    const refusal = confirm.getByRole("alert");
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /you cannot remove yourself.*self_target/);
    assert.equal(await confirm.getByRole("button", { name: "Remove", exact: true }).isDisabled(), true);
    await assertAccessible(page, "a refusal in a dialog");
    await screenshot(page, "07-refused-self-removal");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    const members = ok(await call("GET", `/v1/tenants/${world.tenant_id}/members`, { token: world.token }));
    const me = members.items.find((m) => m.email === world.email);
    assert.ok(me.permissions.includes("user_and_api_management"), "the owner kept the permission");
  });

  test("Remove with confirmation", async () => {
    const row = page.locator(`tr[data-email="${INVITEE}"]`);
    await row.getByRole("button", { name: `Remove ${INVITEE}` }).click();
    const confirm = page.getByRole("dialog", { name: "Remove user" });
    assert.match(await confirm.textContent(), new RegExp(`Remove ${INVITEE} from this tenant`));
    await confirm.getByRole("button", { name: "Remove", exact: true }).click();
    await row.waitFor({ state: "detached" });
    await seatsSay(page, "1 of 20 users, owner included");
    const members = ok(await call("GET", `/v1/tenants/${world.tenant_id}/members`, { token: world.token }));
    assert.deepEqual(members.items.map((m) => m.email), [world.email]);
  });

  test("API tokens: the secret shown once works, and delete says it cannot be undone", async () => {
    await page.getByRole("link", { name: "API tokens" }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/console/tokens");
    await page.getByRole("button", { name: "Create token" }).click();
    const dialog = page.getByRole("dialog", { name: "Create API token" });
    await dialog.getByLabel("Name").fill("ci deploys");
    await dialog.getByRole("switch", { name: "build applications" }).check();
    await dialog.getByRole("button", { name: "Create token" }).click();
    const created = page.getByRole("dialog", { name: "Token created" });
    assert.match(await created.textContent(), /shown once and cannot be read again/);
    const secret = (await created.locator("#token-secret").textContent()).trim();
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: endpoint });
    await created.getByRole("button", { name: "Copy token" }).click();
    await created.getByRole("button", { name: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, "the copy button copies the token");
    await assertAccessible(page, "the token shown once");
    await screenshot(page, "08-token-created");
    const who = ok(await call("GET", "/v1/whoami", { token: secret }), "the shown token authenticates");
    assert.equal(who.kind, "user");
    assert.deepEqual(who.permissions, ["build_applications"]);
    await created.getByRole("button", { name: "Done" }).click();
    const row = page.locator("tr", { hasText: "ci deploys" });
    await row.waitFor();
    assert.doesNotMatch(await page.content(), new RegExp(secret.split(":")[1]), "the secret is gone from the page");
    await screenshot(page, "09-tokens");
    await row.getByRole("button", { name: "Delete ci deploys" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete token" });
    assert.match(await confirm.textContent(), /cannot be undone/);
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await row.waitFor({ state: "detached" });
    assert.equal((await call("GET", "/v1/whoami", { token: secret })).status, 401, "the deleted token no longer works");
  });

  test("your sessions: both listed, the other device revoked", async () => {
    await page.getByRole("link", { name: "Your sessions" }).click();
    await page.getByRole("heading", { name: "Your sessions" }).waitFor();
    const other = page.locator(`tr[data-session="${otherSession.session_id}"]`);
    await other.waitFor();
    assert.match(await other.textContent(), /OtherDevice\/1\.0/);
    // The browser's, the other device's, and the one the password reset opened (README "Sign-in").
    assert.equal(await page.locator("tbody tr").count(), 3);
    assert.match(await page.locator("tbody tr", { hasText: "this session" }).textContent(), /Sign out/);
    await assertAccessible(page, "your sessions");
    await screenshot(page, "10-sessions");
    await other.getByRole("button", { name: /Revoke/ }).click();
    await other.waitFor({ state: "detached" });
    assert.equal((await call("GET", "/v1/whoami", { token: otherSession.session })).status, 401, "the revoked session ends");
  });

  test("375 px wide: no horizontal scrolling, every screen usable", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.getByRole("link", { name: "User Management" }).click();
    await page.locator(`tr[data-email="${world.email}"]`).waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `the page is ${width} px wide`);
    await assertAccessible(page, "User Management at 375 px");
    await screenshot(page, "11-members-375px");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("sign-out ends the session and forgets the cookie", async () => {
    const [cookie] = (await context.cookies()).filter((c) => c.name === "__Host-portcullis_session");
    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.getByRole("heading", { name: "Sign in to Portcullis" }).waitFor();
    assert.equal((await context.cookies()).some((c) => c.name === "__Host-portcullis_session"), false);
    const replayed = await call("GET", "/v1/whoami", { headers: { cookie: `__Host-portcullis_session=${cookie.value}` } });
    assert.equal(replayed.status, 401, "the old cookie no longer works");
    await screenshot(page, "12-signed-out");
  });

  test("first contentful paint, five cold loads (a figure, not a gate: docs/PERFORMANCE.md)", async () => {
    const paints = [];
    for (let load = 0; load < 5; load += 1) {
      const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const cold = await fresh.newPage();
      await cold.goto(`${endpoint}/console/`);
      await cold.getByRole("heading", { name: "Sign in to Portcullis" }).waitFor();
      paints.push(await cold.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime));
      await fresh.close();
    }
    assert.ok(paints.every((ms) => typeof ms === "number" && ms > 0), String(paints));
    paints.sort((a, b) => a - b);
    console.log(`first contentful paint of /console/, 5 cold loads: median ${paints[2].toFixed(0)} ms (${paints.map((ms) => ms.toFixed(0)).join(", ")} ms)`);
  });

  test("nothing left the worker's origin and nothing broke the CSP", () => {
    assert.deepEqual(offOrigin, []);
    assert.deepEqual(problems, []);
  });
});
