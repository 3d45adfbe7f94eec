// The engine's rules in the browser (crates/wasm, loaded by console/src/rules.js): a change the
// rules refuse is explained before it is sent and NOT sent (every write the page makes is
// recorded), and the explanation is exactly the server's answer to the same change, sent here
// by the same person through the API: escalation, self-removal, lockout, the plan's seats and
// an illegal lifecycle transition. Also the role presets, which set the permission switches.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  accountWithPassword,
  assertAccessible,
  assertNarrow,
  call,
  endpoint,
  invitee,
  launch,
  ok,
  screenshot,
  signIn,
  watchedPage,
} from "./lib.mjs";

const PASSWORD = "console rules passphrase 1";

/** Invites `email` to `tenant` as `by` (a token) with `permissions`, accepted with a password: the session. */
async function memberWithPassword(world, by, tenant, email, permissions) {
  const invited = ok(
    await call("POST", `/v1/tenants/${tenant}/members`, { token: by, body: { email, permissions } }),
    `inviting ${email}`,
  );
  const signedIn = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account_id, email, code: invited.invitation.code, password: PASSWORD },
    }),
    `accepting ${email}`,
  );
  return { ...world, email, password: PASSWORD, user_id: invited.user_id, session: signedIn.session };
}

/** A page whose every write to the API (any method but GET) is recorded in `writes`. */
async function recordedPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  const watched = await watchedPage(context);
  const writes = [];
  watched.page.on("request", (request) => {
    const url = new URL(request.url());
    if (request.method() !== "GET" && url.pathname.startsWith("/v1/")) writes.push(`${request.method()} ${url.pathname}`);
  });
  return { ...watched, context, writes };
}

/** The refusal shown before sending: its code and text ("message (code)"). */
async function shownRefusal(page) {
  const shown = page.locator("#preflight-refusal");
  await shown.waitFor();
  return { code: await shown.getAttribute("data-code"), text: (await shown.textContent()).trim() };
}

/** Asserts the server refuses the same change with the code and reason the page showed. */
function sameAsServer(shown, answer, status) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(shown.code, answer.json.code);
  assert.equal(shown.text, `${answer.json.detail} (${answer.json.code})`);
}

const row = (page, email) => page.locator(`tr[data-email="${email}"]`);

describe("the engine's rules in the browser, before anything is sent", () => {
  let browser, world, manager, readerId;

  before(async () => {
    world = await accountWithPassword({ plan: "team", email: "owner@rules.test", password: PASSWORD });
    manager = await memberWithPassword(world, world.token, world.tenant_id, "mia@rules.test", ["user_and_api_management"]);
    readerId = await invitee(world, world.tenant_id, "rita@rules.test", "Rita Reader", { accept: true });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  test("the page may compile WebAssembly and nothing else: the CSP adds only 'wasm-unsafe-eval'", async () => {
    const response = await fetch(`${endpoint}/console/`);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.doesNotMatch(csp, /'unsafe-eval'|'unsafe-inline'/);
    const page = await response.text();
    const script = page.match(/src="(\/console\/assets\/main-[^"]+\.js)"/)?.[1];
    const bundle = await (await fetch(`${endpoint}${script}`)).text();
    const wasm = bundle.match(/\/console\/assets\/portcullis-[A-Z0-9]+\.wasm/)?.[0];
    assert.ok(wasm, "the bundle names its wasm asset");
    const served = await fetch(`${endpoint}${wasm}`);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("content-type"), "application/wasm");
  });

  test("escalation: granting a permission the manager does not hold is refused before Save", async () => {
    const { page, writes, problems, offOrigin, context } = await recordedPage(browser);
    await signIn(page, manager);
    writes.length = 0; // the sign-in itself
    await row(page, "rita@rules.test").getByRole("button", { name: /^Permissions/ }).click();
    await page.getByRole("switch", { name: "build applications" }).check();
    const shown = await shownRefusal(page);
    assert.equal(shown.code, "privilege_escalation");
    assert.ok(await page.getByRole("button", { name: "Save" }).isDisabled());
    await assertAccessible(page, "an escalation refused before Save");
    await screenshot(page, "40-preflight-escalation");
    // Back to what the manager may grant: the refusal goes, Save comes back.
    await page.getByRole("switch", { name: "build applications" }).uncheck();
    await page.getByRole("switch", { name: "user and api management" }).check();
    await page.locator("#preflight-refusal").waitFor({ state: "detached" });
    assert.ok(await page.getByRole("button", { name: "Save" }).isEnabled());
    assert.deepEqual(writes, [], "nothing was sent");
    sameAsServer(
      shown,
      await call("PATCH", `/v1/tenants/${world.tenant_id}/members/${readerId}`, {
        token: manager.session,
        body: { permissions: ["build_applications"] },
      }),
      403,
    );
    assert.deepEqual([problems, offOrigin], [[], []]);
    await context.close();
  });

  test("self-removal: removing yourself is refused in the confirmation, which sends nothing", async () => {
    const { page, writes, context } = await recordedPage(browser);
    await signIn(page, manager);
    writes.length = 0; // the sign-in itself
    await row(page, manager.email).getByRole("button", { name: /^Remove/ }).click();
    const shown = await shownRefusal(page);
    assert.equal(shown.code, "self_target");
    assert.ok(await page.getByRole("dialog").getByRole("button", { name: "Remove" }).isDisabled());
    await assertAccessible(page, "self-removal refused");
    await screenshot(page, "41-preflight-self-removal");
    assert.deepEqual(writes, []);
    sameAsServer(
      shown,
      await call("DELETE", `/v1/tenants/${world.tenant_id}/members/${manager.user_id}`, { token: manager.session }),
      409,
    );
    await context.close();
  });

  test("lockout: the last active manager cannot take their own management permission", async () => {
    // Carol (a company admin) launches a tenant and owns it; Bob manages it with her; Carol is
    // then deactivated, which leaves Bob its last active manager.
    // (Carol acts through a session: a token acts in the one tenant it was made in.)
    const carol = await memberWithPassword(world, world.token, world.tenant_id, "carol@rules.test", ["user_and_api_management"]);
    const carolId = carol.user_id;
    ok(await call("PUT", `/v1/users/${carolId}/company-admin`, { token: world.token, body: { company_admin: true } }));
    const carols = ok(
      await call("POST", "/v1/tenants", { token: carol.session, body: { name: "Carol's", plan: "team" } }),
      "Carol's tenant",
    );
    const bob = await memberWithPassword(world, carol.session, carols.tenant_id, "bob@rules.test", ["user_and_api_management"]);
    ok(await call("POST", `/v1/users/${carolId}/deactivate`, { token: world.token }), "deactivating Carol");

    const { page, writes, context } = await recordedPage(browser);
    await signIn(page, bob);
    writes.length = 0; // the sign-in itself
    await row(page, bob.email).getByRole("button", { name: /^Permissions/ }).click();
    await page.getByRole("switch", { name: "user and api management" }).uncheck();
    const shown = await shownRefusal(page);
    assert.equal(shown.code, "lockout");
    assert.ok(await page.getByRole("button", { name: "Save" }).isDisabled());
    await assertAccessible(page, "a lockout refused before Save");
    await screenshot(page, "42-preflight-lockout");
    assert.deepEqual(writes, []);
    sameAsServer(
      shown,
      await call("PATCH", `/v1/tenants/${carols.tenant_id}/members/${bob.user_id}`, {
        token: bob.session,
        body: { permissions: [] },
      }),
      409,
    );
    await context.close();
  });

  test("role presets set the switches, and the invitation carries the preset's permissions", async () => {
    const { page, context } = await recordedPage(browser);
    await signIn(page, world);
    await page.getByRole("button", { name: "Add user" }).click();
    const preset = page.getByLabel("Role preset");
    const checked = async () =>
      page.$$eval("dialog input[role=switch]", (inputs) => inputs.filter((i) => i.checked).map((i) => i.name));
    assert.equal(await preset.inputValue(), "compliance_reviewer", "no permission is the read-only preset");
    await preset.selectOption("release_engineer");
    assert.deepEqual(await checked(), ["build_applications"]);
    await preset.selectOption("platform_admin");
    assert.equal((await checked()).length, 6);
    await preset.selectOption("security_engineer");
    assert.deepEqual(await checked(), ["modify_configuration", "update_certificates"]);
    // A switch changed by hand is no preset any more.
    await page.getByRole("switch", { name: "build applications" }).check();
    assert.equal(await preset.inputValue(), "");
    await preset.selectOption("release_engineer");
    await page.getByLabel("Email").fill("rex@rules.test");
    await screenshot(page, "43-role-presets");
    await page.getByRole("button", { name: "Send invitation" }).click();
    await page.locator("#invitation-code").waitFor();
    const members = ok(await call("GET", `/v1/tenants/${world.tenant_id}/members`, { token: world.token })).items;
    assert.deepEqual(members.find((m) => m.email === "rex@rules.test").permissions, ["build_applications"]);
    await context.close();
  });

  test("illegal transition: a bulk delete of active users is refused before it is sent", async () => {
    const { page, writes, context } = await recordedPage(browser);
    await page.setViewportSize({ width: 375, height: 800 });
    await signIn(page, world);
    writes.length = 0; // the sign-in itself
    await page.getByRole("link", { name: "Users" }).click();
    await row(page, "rita@rules.test").waitFor();
    await page.getByRole("checkbox", { name: "Select rita@rules.test" }).check();
    await page.getByRole("button", { name: "Delete selected" }).click();
    const shown = await shownRefusal(page);
    assert.equal(shown.code, "illegal_transition");
    const listed = page.locator(`#bulk-preflight li[data-user="${readerId}"]`);
    assert.equal(await listed.getAttribute("data-code"), "illegal_transition");
    assert.ok(await page.getByRole("dialog").getByRole("button", { name: "Delete" }).isDisabled());
    await assertAccessible(page, "an illegal transition refused before sending");
    await assertNarrow(page, "the bulk refusal at 375 px");
    await screenshot(page, "44-preflight-transition");
    assert.deepEqual(writes, []);
    // Each action a row offers is one the lifecycle allows: an active user can only be deactivated.
    await page.getByRole("button", { name: "Cancel" }).click();
    const actions = await row(page, "rita@rules.test").locator(".row-actions button").allTextContents();
    assert.deepEqual(
      actions.map((text) => text.replace("rita@rules.test", "").trim()),
      ["Edit", "Deactivate"],
    );
    sameAsServer(shown, await call("DELETE", `/v1/users/${readerId}`, { token: world.token }), 409);
    await context.close();
  });

  test("seat limit: an invitation beyond the plan's seats is refused before it is sent", async () => {
    const free = await accountWithPassword({ plan: "free", email: "owner@free-rules.test", password: PASSWORD });
    const { page, writes, context } = await recordedPage(browser);
    await signIn(page, free);
    writes.length = 0; // the sign-in itself
    await page.getByRole("button", { name: "Add user" }).click();
    await page.getByLabel("Email").fill("second@free-rules.test");
    const shown = await shownRefusal(page);
    assert.equal(shown.code, "plan_limit");
    assert.ok(await page.getByRole("button", { name: "Send invitation" }).isDisabled());
    // Enter in the form does not send it either.
    await page.getByLabel("Email").press("Enter");
    await assertAccessible(page, "the seat limit refused before sending");
    await screenshot(page, "45-preflight-seat-limit");
    assert.deepEqual(writes, []);
    sameAsServer(
      shown,
      await call("POST", `/v1/tenants/${free.tenant_id}/members`, {
        token: free.token,
        body: { email: "second@free-rules.test", permissions: [] },
      }),
      409,
    );
    await context.close();
  });
});
