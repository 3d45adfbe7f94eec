// Company roles and license assignments on the Users screen, for two callers of different
// roles: a company admin changes them for anyone (a seat and the support role, read back through
// the API); a license admin, who is no company admin, sees only themselves, with the company
// roles and the tenants they do not administer shown disabled. The email is never editable.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { accountWithPassword, assertAccessible, call, invitee, launch, ok, screenshot, signIn, watchedPage } from "./lib.mjs";

const PASSWORD = "console roles passphrase 1";

describe("company roles and licenses, as the caller's roles allow", () => {
  let browser, world, sandbox, rita, lena;

  before(async () => {
    world = await accountWithPassword({ plan: "enterprise", email: "owner@roles.test", password: PASSWORD });
    sandbox = ok(await call("POST", "/v1/tenants", { token: world.token, body: { name: "Sandbox", plan: "team" } })).tenant_id;
    rita = await invitee(world, world.tenant_id, "rita@roles.test", "Rita", { accept: true });
    const invited = ok(
      await call("POST", `/v1/tenants/${world.tenant_id}/members`, {
        token: world.token,
        body: { email: "lena@roles.test", permissions: [] },
      }),
    );
    ok(
      await call("POST", "/v1/invitations/accept", {
        body: { account_id: world.account_id, email: "lena@roles.test", code: invited.invitation.code, password: PASSWORD },
      }),
    );
    lena = { ...world, email: "lena@roles.test", password: PASSWORD, user_id: invited.user_id };
    ok(await call("PUT", `/v1/tenants/${sandbox}/license-admins/${lena.user_id}`, { token: world.token }), "Lena, license admin of Sandbox");
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  async function editDialog(who, email) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const { page, problems } = await watchedPage(context);
    await signIn(page, who);
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("button", { name: `Edit ${email}` }).click();
    const dialog = page.getByRole("dialog", { name: `Edit ${email}` });
    await dialog.waitFor();
    return { context, page, dialog, problems };
  }

  const disabled = (dialog, name) => dialog.getByRole(name.role ?? "checkbox", { name: name.name }).isDisabled();

  test("a company admin gives a seat and the support role; every field is enabled but the email", async () => {
    const { context, page, dialog, problems } = await editDialog(world, "rita@roles.test");
    // The owner is in both tenants: the picker names them (from GET /v1/account).
    const picker = await page.$$eval("#tenant-picker option", (options) => options.map((o) => o.textContent).sort());
    assert.deepEqual(picker, ["Production (enterprise)", "Sandbox (team)"]);
    assert.equal(await dialog.getByLabel("Email (cannot be changed)").isDisabled(), true);
    for (const name of ["Company admin", "Support"]) assert.equal(await disabled(dialog, { role: "switch", name }), false, name);
    for (const name of ["Seat in Production", "Seat in Sandbox", "License admin of Production", "License admin of Sandbox"])
      assert.equal(await disabled(dialog, { name }), false, name);
    assert.equal(await dialog.getByRole("checkbox", { name: "Seat in Production" }).isChecked(), true);
    // Each switch is applied at once and shows the state read back from the server.
    await dialog.getByRole("checkbox", { name: "Seat in Sandbox" }).click();
    await page.waitForFunction(() => document.querySelector("dialog input[aria-label='Seat in Sandbox']")?.checked);
    await dialog.getByRole("switch", { name: "Support" }).click();
    await page.waitForFunction(() => document.querySelector("#role-support")?.checked);
    const user = ok(await call("GET", `/v1/users/${rita}`, { token: world.token }));
    assert.ok(user.tenants.includes(sandbox), "Rita holds a seat in Sandbox");
    assert.ok(user.roles.includes("support"), "Rita has the support role");
    assert.equal(await dialog.getByRole("switch", { name: "Support" }).isChecked(), true);
    await assertAccessible(page, "company roles and licenses");
    await screenshot(page, "30-roles-company-admin");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("a license admin sees only themselves, with what their role does not allow disabled", async () => {
    const { context, page, dialog } = await editDialog(lena, lena.email);
    assert.equal(await page.locator("table.users tbody tr[data-email]").count(), 1, "only their own row");
    assert.equal(await dialog.getByLabel("Email (cannot be changed)").isDisabled(), true);
    for (const name of ["Company admin", "Support"]) assert.equal(await disabled(dialog, { role: "switch", name }), true, name);
    // Production is not theirs to administer; Sandbox is.
    assert.equal(await disabled(dialog, { name: "Seat in Production" }), true);
    assert.equal(await disabled(dialog, { name: "License admin of Production" }), true);
    assert.equal(await disabled(dialog, { name: "Seat in Sandbox" }), false);
    assert.equal(await disabled(dialog, { name: "License admin of Sandbox" }), false);
    assert.equal(await dialog.getByRole("checkbox", { name: "License admin of Sandbox" }).isChecked(), true);
    await assertAccessible(page, "a license admin's own roles");
    await screenshot(page, "31-roles-license-admin");
    await context.close();
  });
});
