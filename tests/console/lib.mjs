// Helpers for the console's browser suite (started by scripts/test-console, which sets
// PORTCULLIS_ENDPOINT, PORTCULLIS_SIGNUP_KEY and PORTCULLIS_CONSOLE_SCREENSHOTS): the API calls
// that prepare an account, Debian's Chromium driven by playwright-core, and axe-core.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium } from "playwright-core";

export const endpoint = process.env.PORTCULLIS_ENDPOINT ?? "http://127.0.0.1:8787";
export const screenshots = process.env.PORTCULLIS_CONSOLE_SCREENSHOTS ?? "target/console-screenshots";
const signupKey = process.env.PORTCULLIS_SIGNUP_KEY;
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** One JSON request to the worker; returns { status, json, headers }. */
export async function call(method, route, { token, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(`${endpoint}${route}`, init);
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Asserts a 2xx answer and returns its JSON. */
export function ok(answer, what = "") {
  assert.ok(answer.status >= 200 && answer.status < 300, `${what}: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json;
}

/**
 * A fresh account (sign-up key), its owner given a password through the reset flow (a code the
 * owner issues for themselves while they have none).
 */
export async function accountWithPassword({ plan = "team", email = "owner@console.test", password }) {
  assert.ok(signupKey, "PORTCULLIS_SIGNUP_KEY is not set (run scripts/test-console)");
  const signedUp = ok(
    await call("POST", "/v1/signup", {
      headers: { authorization: `Bearer ${signupKey}` },
      body: { account_name: "Console Co", owner_email: email, owner_name: "Console Owner", tenant_name: "Production", plan },
    }),
    "sign-up",
  );
  const reset = ok(
    await call("POST", `/v1/users/${signedUp.owner_id}/password-reset`, { token: signedUp.token }),
    "password reset code",
  );
  ok(
    await call("POST", "/v1/password-reset", {
      body: { account_id: signedUp.account_id, email, code: reset.reset.code, new_password: password },
    }),
    "password reset",
  );
  return { ...signedUp, email, password };
}

/** Debian's Chromium (no browser download), headless. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.PORTCULLIS_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * A page that records every request (each must go to the worker) and every console error or
 * Content-Security-Policy violation (there must be none).
 */
export async function watchedPage(context) {
  const page = await context.newPage();
  const offOrigin = [];
  const problems = [];
  const origin = new URL(endpoint).origin;
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol !== "data:" && url.origin !== origin) offOrigin.push(request.url());
  });
  page.on("console", (message) => {
    // A refused API call logs "Failed to load resource: … 4xx": expected on the refusal paths.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text()))
      problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  return { page, offOrigin, problems };
}

/** Runs axe-core in the page; fails on any serious or critical violation. */
export async function assertAccessible(page, what) {
  // page.evaluate runs through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const results = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
  const blocking = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    blocking.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `axe-core on ${what}`,
  );
  return results.violations.length;
}

/** Saves a full-page screenshot as NAME.png in the run's screenshot directory. */
export async function screenshot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  const file = path.join(screenshots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs `world`'s owner in through the console's sign-in page and waits for the first screen. */
export async function signIn(page, world) {
  await page.goto(`${endpoint}/console/`);
  await page.getByLabel("Account id").fill(world.account_id);
  await page.getByLabel("Email", { exact: true }).fill(world.email);
  await page.getByLabel("Password").fill(world.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "User Management" }).waitFor();
}

/** Invites `email` (named `name`) to `tenant` as the owner; accepts when `accept`. Returns its user id. */
export async function invitee(world, tenant, email, name, { accept = false } = {}) {
  const invited = ok(
    await call("POST", `/v1/tenants/${tenant}/members`, { token: world.token, body: { email, name, permissions: [] } }),
    `inviting ${email}`,
  );
  if (accept)
    ok(
      await call("POST", "/v1/invitations/accept", {
        body: { account_id: world.account_id, email, code: invited.invitation.code },
      }),
      `accepting ${email}`,
    );
  return invited.user_id;
}

/** Asserts the page does not scroll sideways at its current width. */
export async function assertNarrow(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `${what}: the page is ${width} px wide`);
}
