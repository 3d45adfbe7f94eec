// Helpers for the end-to-end suite: a thin HTTP client for the worker under `wrangler dev`
// (started by scripts/test-worker, which sets PORTCULLIS_ENDPOINT and PORTCULLIS_SIGNUP_KEY).
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { checkAgainstDocument } from "./openapi.mjs";

export const endpoint = process.env.PORTCULLIS_ENDPOINT ?? "http://127.0.0.1:8787";
const signupKey = process.env.PORTCULLIS_SIGNUP_KEY;
const secretsFile = process.env.PORTCULLIS_SECRETS_FILE;

export const ALL = [
  "modify_configuration",
  "update_certificates",
  "build_applications",
  "manage_custom_messages",
  "user_and_api_management",
  "modify_tenant_settings",
];

/** Remembers a secret the API showed, so the suite can check storage never holds it. */
export function remember(secret) {
  if (secretsFile && secret) appendFileSync(secretsFile, `${secret}\n`);
}

/**
 * The client address this test file's requests come from unless a request names its own: the
 * worker rate-limits failed verifications per client, so the failures one file provokes on
 * purpose must not be charged to the next file (each runs in its own process).
 */
const CLIENT = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 256)}`;

/**
 * One request. `body` objects are sent as JSON; `raw` sends a string as is; `redirect`
 * ("manual") answers a redirect as it is instead of following it.
 * Returns { status, headers, json, text }.
 */
export async function call(method, path, { token, body, raw, headers = {}, redirect } = {}) {
  const init = { method, headers: { "cf-connecting-ip": CLIENT, ...headers } };
  if (redirect) init.redirect = redirect;
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  } else if (raw !== undefined) {
    init.body = raw;
    init.headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${endpoint}${path}`, init);
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  for (const field of ["token", "key", "session"]) if (typeof json?.[field] === "string") remember(json[field]);
  const cookie = /__Host-portcullis_session=([^;]+)/.exec(response.headers.get("set-cookie") ?? "");
  if (cookie) remember(cookie[1]);
  if (json?.invitation?.code) remember(json.invitation.code);
  const answer = { status: response.status, headers: response.headers, json, text };
  checkAgainstDocument(method, path, answer);
  return answer;
}

/**
 * JSON text of `value` without last-used and last-active times: those are telemetry the edge
 * records after any authenticated request (refused or not, see README "Last-used times"), not
 * state a command changes.
 */
export function stateJson(value) {
  return JSON.stringify(value, (key, field) =>
    key === "last_used_at" || key === "last_active_at" ? undefined : field,
  );
}

/** Asserts a problem+json response with `status` and `code`. */
export function assertProblem(response, status, code, what = "") {
  assert.equal(response.status, status, `${what} expected ${status} ${code}, got ${response.status} ${response.text}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/, what);
  assert.equal(response.json?.code, code, `${what} ${response.text}`);
  assert.equal(response.json?.status, status, what);
  assert.equal(typeof response.json?.detail, "string", what);
  if (status === 401) assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /, what);
}

/** Asserts a 2xx JSON response and returns its body. */
export function ok(response, status = 200, what = "") {
  assert.equal(response.status, status, `${what} expected ${status}, got ${response.status} ${response.text}`);
  return response.json;
}

let counter = 0;
/** A unique email address for this run. */
export function email(name) {
  counter += 1;
  return `${name}.${process.pid}.${counter}.${Date.now()}@acme.test`;
}

/** Signs up a fresh account; returns { account, tenant, owner, token }. */
export async function signUp(plan = "team", extra = {}) {
  assert.ok(signupKey, "PORTCULLIS_SIGNUP_KEY is not set (run the suite through scripts/test-worker)");
  const response = await call("POST", "/v1/signup", {
    token: signupKey,
    body: {
      account_name: "Acme",
      owner_email: email("owner"),
      owner_name: "Olive Owner",
      tenant_name: "Production",
      plan,
      ...extra,
    },
  });
  const body = ok(response, 201, "sign-up");
  return { account: body.account_id, tenant: body.tenant_id, owner: body.owner_id, token: body.token };
}

/** Invites `address` into the tenant; returns the member_added outcome (with the code). */
export async function invite(world, address, permissions = [], token = world.token) {
  return call("POST", `/v1/tenants/${world.tenant}/members`, { token, body: { email: address, permissions } });
}

/** Invites and accepts: an active member with `permissions` and their first token. */
export async function member(world, permissions = [], name = "member") {
  const address = email(name);
  const invited = ok(await invite(world, address, permissions), 201, "invite");
  const accepted = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: invited.invitation.code },
    }),
    200,
    "accept",
  );
  return { id: invited.user_id, email: address, token: accepted.token, keyId: accepted.key_id };
}

/** Creates an API token for the caller. */
export async function token(world, callerToken, permissions, extra = {}) {
  return call("POST", `/v1/tenants/${world.tenant}/tokens`, {
    token: callerToken,
    body: { name: "ci", permissions, ...extra },
  });
}

/**
 * Creates an OpenID Connect connection in the account (nothing is fetched until someone signs
 * in with it); returns its id. `issuer` defaults to a provider that is never contacted.
 */
export async function ssoConnection(world, issuer = "https://idp.example.test", extra = {}) {
  const created = ok(
    await call("POST", "/v1/account/sso-connections", {
      token: world.token,
      body: {
        name: "Company IdP",
        protocol: { type: "oidc", issuer, client_id: "portcullis", client_secret: "a-client-secret-of-some-length" },
        ...extra,
      },
    }),
    201,
    "create the SSO connection",
  );
  return created.connection.connection_id ?? created.connection.id;
}
