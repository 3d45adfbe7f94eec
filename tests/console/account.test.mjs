// The console's account screens in real headless Chromium against the real worker: Users (the
// directory grid: sorting, filters, search, keyset paging, the actions each status allows with
// the server's refusals inline, the email never editable, bulk actions and their status report).
// axe-core on every screen and dialog, 375 px, no request off the worker's origin.
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

const PASSWORD = "console account passphrase 2";
const at = (n) => `user${String(n).padStart(2, "0")}@users.test`;

/** The emails of the grid's rows, top to bottom. */
function gridEmails(page) {
  return page.locator("table.users tbody tr[data-email]").evaluateAll((rows) => rows.map((row) => row.dataset.email));
}
/** Waits until the grid shows exactly `emails`, in order. */
async function gridShows(page, emails) {
  await page.waitForFunction(
    (want) =>
      JSON.stringify([...document.querySelectorAll("table.users tbody tr[data-email]")].map((row) => row.dataset.email)) ===
      JSON.stringify(want),
    emails,
  );
}

describe("the console's account screens", () => {
  let browser, page, offOrigin, problems, world, ids, sandbox;

  before(async () => {
    world = await accountWithPassword({ plan: "enterprise", email: "owner@users.test", password: PASSWORD });
    // Eleven invitees: 01–03 stay pending, 04–11 accept; 10 and 11 are then deactivated.
    ids = {};
    for (let n = 1; n <= 11; n += 1)
      ids[n] = await invitee(world, world.tenant_id, at(n), `Person ${String.fromCharCode(75 - n)} ${n}`, { accept: n >= 4 });
    for (const n of [10, 11]) ok(await call("POST", `/v1/users/${ids[n]}/deactivate`, { token: world.token }), "deactivate");
    // A second tenant on the Free plan, which has neither automation keys nor the audit log.
    sandbox = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Sandbox", plan: "free" } }), "free tenant");
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(10_000);
    ({ page, offOrigin, problems } = await watchedPage(context));
    await signIn(page, world);
  });

  after(async () => {
    await browser?.close();
  });

  test("Users: the directory sorted by email, then by name both ways", async () => {
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users" }).waitFor();
    const all = [world.email, ...Array.from({ length: 11 }, (_, i) => at(i + 1))].sort();
    await gridShows(page, all);
    const owner = page.locator(`tr[data-email="${world.email}"]`);
    assert.match(await owner.textContent(), /account owner.*active.*company admin/);
    assert.equal(await page.locator("th", { hasText: "Email" }).getAttribute("aria-sort"), "ascending");
    await assertAccessible(page, "Users");
    await screenshot(page, "20-users");

    const byName = async (order) =>
      ok(await call("GET", `/v1/users?sort=name&order=${order}`, { token: world.token })).items.map((u) => u.email);
    await page.getByRole("button", { name: /^Name/ }).click();
    await gridShows(page, await byName("asc"));
    assert.equal(await page.locator("th", { hasText: "Name" }).getAttribute("aria-sort"), "ascending");
    await page.getByRole("button", { name: /^Name/ }).click();
    const descending = await byName("desc");
    await gridShows(page, descending);
    assert.notDeepEqual(descending, all, "the name order is not the email order");
    assert.equal(await page.locator("th", { hasText: "Name" }).getAttribute("aria-sort"), "descending");
    await page.getByRole("button", { name: /^Email/ }).click();
    await gridShows(page, all);
  });

  test("Users: status and role filters, search as you type", async () => {
    await page.getByLabel("Status").selectOption("inactive");
    await gridShows(page, [at(10), at(11)]);
    await page.getByLabel("Status").selectOption("");
    await page.getByLabel("Role").selectOption("company_admin");
    await gridShows(page, [world.email]);
    await page.getByLabel("Role").selectOption("");
    await page.getByLabel("Search").pressSequentially("user0");
    await gridShows(page, Array.from({ length: 9 }, (_, i) => at(i + 1)));
    await page.getByLabel("Search").fill("person c");
    await gridShows(page, [at(8)]);
    await page.getByLabel("Search").fill("");
  });

  test("Users: keyset paging, next and previous", async () => {
    await page.getByLabel("Per page").selectOption("10");
    const all = [world.email, ...Array.from({ length: 11 }, (_, i) => at(i + 1))].sort();
    await gridShows(page, all.slice(0, 10));
    const previous = page.getByRole("button", { name: "Previous page" });
    assert.equal(await previous.isDisabled(), true);
    await page.getByRole("button", { name: "Next page" }).click();
    await gridShows(page, all.slice(10));
    assert.match(await page.locator("#users-page").textContent(), /Page 2/);
    assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true, "the last page");
    await previous.click();
    await gridShows(page, all.slice(0, 10));
    await page.getByLabel("Per page").selectOption("25");
    await gridShows(page, all);
  });

  test("Users: each status shows its own actions; re-send gives a working code, revoke deletes", async () => {
    const buttons = (email) =>
      page.locator(`tr[data-email="${email}"] .row-actions button`).evaluateAll((all) => all.map((b) => b.firstChild.textContent));
    assert.deepEqual(await buttons(at(1)), ["Edit", "Re-send invitation", "Revoke invitation"]);
    assert.deepEqual(await buttons(at(4)), ["Edit", "Deactivate"]);
    assert.deepEqual(await buttons(at(10)), ["Edit", "Activate", "Delete"]);

    await page.getByRole("button", { name: `Re-send invitation ${at(1)}` }).click();
    const resend = page.getByRole("dialog", { name: "Re-send invitation" });
    await resend.getByRole("button", { name: "Re-send invitation" }).click();
    const resent = page.getByRole("dialog", { name: "Invitation re-sent" });
    const code = (await resent.locator("#resent-code").textContent()).trim();
    assert.match(await resent.textContent(), /shown once, the previous code no longer works/);
    await screenshot(page, "21-invitation-resent");
    await resent.getByRole("button", { name: "Done" }).click();
    ok(
      await call("POST", "/v1/invitations/accept", { body: { account_id: world.account_id, email: at(1), code } }),
      "the re-sent code",
    );

    await page.getByRole("button", { name: `Revoke invitation ${at(2)}` }).click();
    const revoke = page.getByRole("dialog", { name: "Revoke invitation" });
    await page.waitForFunction(() => document.activeElement?.textContent === "Cancel");
    await revoke.getByRole("button", { name: "Revoke invitation" }).click();
    await page.locator(`tr[data-email="${at(2)}"]`).waitFor({ state: "detached" });
    const left = ok(await call("GET", "/v1/users?limit=200", { token: world.token })).items.map((u) => u.email);
    assert.ok(!left.includes(at(2)), "the revoked invitee is gone");
    assert.equal(await page.locator(`tr[data-email="${at(1)}"] .status`).textContent(), "active", "the grid reloads");
  });

  test("Users: a refusal shown inline with the server's reason; activate and delete", async () => {
    await page.getByRole("button", { name: `Deactivate ${world.email}` }).click();
    const dialog = page.getByRole("dialog", { name: "Deactivate user" });
    await dialog.getByRole("button", { name: "Deactivate" }).click();
    const reason = dialog.getByRole("alert");
    await reason.waitFor();
    assert.match(await reason.textContent(), /owner_protected/);
    await assertAccessible(page, "a refused deactivation");
    await screenshot(page, "22-refused-deactivation");
    await dialog.getByRole("button", { name: "Cancel" }).click();

    await page.getByRole("button", { name: `Activate ${at(10)}` }).click();
    await page.getByRole("dialog", { name: "Activate user" }).getByRole("button", { name: "Activate" }).click();
    await page.waitForFunction((email) => document.querySelector(`tr[data-email="${email}"] .status`)?.textContent === "active", at(10));

    await page.getByRole("button", { name: `Delete ${at(11)}` }).click();
    const confirm = page.getByRole("dialog", { name: "Delete user" });
    assert.match(await confirm.textContent(), /cannot be undone/);
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await page.locator(`tr[data-email="${at(11)}"]`).waitFor({ state: "detached" });
    assert.equal((await call("GET", `/v1/users/${ids[11]}`, { token: world.token })).status, 404);
  });

  test("Users: the name is editable, the email never", async () => {
    await page.getByRole("button", { name: `Edit ${at(5)}` }).click();
    const dialog = page.getByRole("dialog", { name: `Edit ${at(5)}` });
    const email = dialog.getByLabel("Email (cannot be changed)");
    assert.equal(await email.isDisabled(), true);
    assert.equal(await email.inputValue(), at(5));
    await dialog.getByLabel("Name").fill("Renamed Five");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.waitForFunction((address) => document.querySelector(`tr[data-email="${address}"]`)?.textContent.includes("Renamed Five"), at(5));
    assert.equal(ok(await call("GET", `/v1/users/${ids[5]}`, { token: world.token })).email, at(5));
  });

  test("Users: bulk deactivate, each user judged alone, and the status report read again", async () => {
    for (const email of [at(6), at(7), world.email]) await page.getByLabel(`Select ${email}`).check();
    assert.match(await page.locator("#bulk-selected").textContent(), /3 selected/);
    await page.getByRole("button", { name: "Deactivate selected" }).click();
    const confirm = page.getByRole("dialog", { name: "Deactivate 3 users" });
    await confirm.getByRole("button", { name: "Deactivate", exact: true }).click();
    const report = page.getByRole("dialog", { name: "Bulk status report" });
    await report.waitFor();
    assert.match(await report.locator("#bulk-counts").textContent(), /3 requested, 2 changed, 1 refused/);
    assert.match(await report.locator(`tr[data-user="${world.owner_id}"]`).textContent(), /refused.*owner_protected/);
    assert.match(await report.locator(`tr[data-user="${ids[6]}"]`).textContent(), /deactivated/);
    await assertAccessible(page, "the bulk status report");
    await screenshot(page, "23-bulk-report");
    await report.getByRole("button", { name: "Done" }).click();
    await page.waitForFunction((email) => document.querySelector(`tr[data-email="${email}"] .status`)?.textContent === "inactive", at(6));
    assert.equal(ok(await call("GET", `/v1/users/${ids[7]}`, { token: world.token })).status, "inactive");

    const fetched = page.waitForRequest((request) => /\/v1\/account\/bulk-reports\/blk_/.test(request.url()));
    await page.getByRole("button", { name: "View status report" }).click();
    await fetched;
    const again = page.getByRole("dialog", { name: "Bulk status report" });
    assert.match(await again.locator("#bulk-counts").textContent(), /3 requested, 2 changed, 1 refused/);
    await again.getByRole("button", { name: "Done" }).click();
  });

  test("Users at 375 px: no sideways scrolling", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.locator(`tr[data-email="${world.email}"]`).waitFor();
    await assertNarrow(page, "Users");
    await assertAccessible(page, "Users at 375 px");
    await screenshot(page, "24-users-375px");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("Automation keys: created (the key shown once works), switched off and on, deleted", async () => {
    await page.getByRole("link", { name: "Automation keys" }).click();
    await page.getByRole("heading", { name: "Automation keys" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/console/automation-keys");
    // The picker starts on whichever tenant whoami lists first: the Enterprise one here.
    await page.getByLabel("Tenant", { exact: true }).selectOption(world.tenant_id);
    await page.getByRole("button", { name: "Create key" }).click();
    const dialog = page.getByRole("dialog", { name: "Create automation key" });
    await dialog.getByLabel("Name").fill("ci builds");
    await assertAccessible(page, "the Create automation key dialog");
    await dialog.getByRole("button", { name: "Create key" }).click();
    const created = page.getByRole("dialog", { name: "Automation key created" });
    assert.match(await created.textContent(), /shown once and cannot be read again/);
    const key = (await created.locator("#key-secret").textContent()).trim();
    assert.match(key, /^pcak_/);
    await screenshot(page, "25-automation-key-created");
    assert.equal(ok(await call("GET", "/v1/whoami", { token: key }), "the shown key").kind, "automation_key");
    await created.getByRole("button", { name: "Done" }).click();
    const row = page.locator("tr", { hasText: "ci builds" });
    await row.waitFor();
    assert.doesNotMatch(await page.content(), new RegExp(key.slice(25)), "the key is gone from the page");

    const toggle = row.getByRole("switch");
    assert.equal(await toggle.isChecked(), true);
    await toggle.focus();
    await page.keyboard.press("Space");
    // The label follows the server's answer (the list reloaded after the PATCH).
    const says = (state) =>
      page.waitForFunction((want) => document.querySelector("tr[data-key] .switch-cell label")?.textContent.startsWith(want), state);
    await says("off");
    assert.equal(await toggle.isChecked(), false);
    assert.notEqual((await call("GET", "/v1/whoami", { token: key })).status, 200, "a key switched off does not work");
    await assertAccessible(page, "Automation keys");
    await screenshot(page, "26-automation-keys");
    await toggle.click();
    await says("on");
    assert.equal(await toggle.isChecked(), true);
    assert.equal((await call("GET", "/v1/whoami", { token: key })).status, 200, "switched on again");

    await row.getByRole("button", { name: "Delete ci builds" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete automation key" });
    assert.match(await confirm.textContent(), /cannot be undone/);
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await row.waitFor({ state: "detached" });
    assert.equal((await call("GET", "/v1/whoami", { token: key })).status, 401, "the deleted key no longer works");
  });

  test("Automation keys on the Free plan: explained, nothing to create", async () => {
    await page.getByLabel("Tenant", { exact: true }).selectOption(sandbox.tenant_id);
    const notice = page.locator("#plan-lacks");
    await notice.waitFor();
    assert.match(await notice.textContent(), /The free plan does not include automation keys.*team and enterprise plans/);
    assert.equal(await page.getByRole("button", { name: "Create key" }).count(), 0);
    await assertAccessible(page, "Automation keys on Free");
    await screenshot(page, "27-automation-keys-free");
    await page.getByLabel("Tenant", { exact: true }).selectOption(world.tenant_id);
    await page.getByRole("button", { name: "Create key" }).waitFor();
  });

  test("Audit log: the tenant's events a page at a time, the chain verified, an action filter", async () => {
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { name: "Audit log" }).waitFor();
    const sequences = () =>
      page.locator("tbody tr[data-sequence]").evaluateAll((rows) => rows.map((row) => Number(row.dataset.sequence)));
    const shows = (want) =>
      page.waitForFunction(
        (list) =>
          JSON.stringify([...document.querySelectorAll("tbody tr[data-sequence]")].map((row) => Number(row.dataset.sequence))) ===
          JSON.stringify(list),
        want,
      );
    const audit = async (path, from) => ok(await call("GET", `${path}?from=${from}&limit=10`, { token: world.token }));
    const tenantLog = `/v1/tenants/${world.tenant_id}/audit`;
    await page.getByLabel("Per page").selectOption("10");
    const first = await audit(tenantLog, 0);
    assert.equal(first.items.length, 10, "enough events for two pages");
    await shows(first.items.map((e) => e.sequence));
    const chain = await page.locator("#audit-chain").textContent();
    assert.match(chain, /Hash chain verified/);
    assert.match(chain, new RegExp(`holds ${first.chain.length} events`));
    const invited = page.locator("tbody tr", { hasText: "member.invited" }).first();
    assert.match(await invited.textContent(), new RegExp(world.email), "the actor by email");
    await assertAccessible(page, "the tenant's audit log");
    await screenshot(page, "28-audit-tenant");

    await page.getByRole("button", { name: "Next page" }).click();
    const second = await audit(tenantLog, first.next_from);
    await shows(second.items.map((e) => e.sequence));
    assert.match(await page.locator("#audit-page").textContent(), /Page 2/);
    await page.getByRole("button", { name: "Previous page" }).click();
    await shows(first.items.map((e) => e.sequence));

    await page.getByLabel("Action contains").fill("invited");
    await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-sequence]").length > 0);
    const actions = await page.locator("tbody tr[data-sequence] td[data-label=Action]").allTextContents();
    assert.ok(actions.length > 0 && actions.length < 10 && actions.every((a) => a.includes("invited")), actions.join(", "));
    await page.getByLabel("Action contains").fill("");
    assert.equal((await sequences()).length, 10);
  });

  test("Audit log: the account's own log; on the Free plan the tenant's is explained", async () => {
    await page.getByLabel("The account").check();
    const account = ok(await call("GET", "/v1/account/audit?from=0&limit=10", { token: world.token }));
    await page.waitForFunction(
      (want) =>
        JSON.stringify([...document.querySelectorAll("tbody tr[data-sequence]")].map((row) => Number(row.dataset.sequence))) === want,
      JSON.stringify(account.items.map((e) => e.sequence)),
    );
    await screenshot(page, "29-audit-account");

    await page.getByLabel("Tenant", { exact: true }).selectOption(sandbox.tenant_id);
    await page.getByLabel("This tenant").check();
    const notice = page.locator("#plan-lacks");
    await notice.waitFor();
    assert.match(await notice.textContent(), /The free plan does not include the audit log.*enterprise plan/);
    await assertAccessible(page, "the audit log on Free");
    await screenshot(page, "30-audit-free");
    await page.getByLabel("The account").check();
    await page.locator("#audit-chain").waitFor();
    await page.getByLabel("Tenant", { exact: true }).selectOption(world.tenant_id);
  });

  test("Automation keys and the audit log at 375 px: no sideways scrolling", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.getByLabel("This tenant").check();
    await page.locator("tbody tr[data-sequence]").first().waitFor();
    await assertNarrow(page, "the audit log");
    await assertAccessible(page, "the audit log at 375 px");
    await screenshot(page, "31-audit-375px");
    await page.getByRole("link", { name: "Automation keys" }).click();
    await page.getByRole("button", { name: "Create key" }).waitFor();
    await assertNarrow(page, "Automation keys");
    await screenshot(page, "32-automation-keys-375px");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("nothing left the worker's origin and nothing broke the CSP", () => {
    assert.deepEqual(offOrigin, []);
    assert.deepEqual(problems, []);
  });
});
