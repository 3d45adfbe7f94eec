// The credential lifecycle end to end: terms set at creation (validity window, client IP rules,
// external id and metadata) enforced at the edge and told to the origin, and rolling a secret
// with an overlap, for tokens and automation keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertProblem, call, ok, signUp, stateJson, token } from "./lib.mjs";

const now = () => Math.floor(Date.now() / 1000);

/** whoami with `credential` from the client address `ip`. */
const whoami = (credential, ip = "192.0.2.10") =>
  call("GET", "/v1/whoami", { token: credential, headers: { "cf-connecting-ip": ip } });

test("client IP rules admit the listed ranges, refuse the rest with ip_not_allowed, at the API and the gateway", async () => {
  const world = await signUp("team");
  const created = ok(
    await token(world, world.token, ["build_applications"], {
      allowed_ips: ["198.51.100.0/24", "2001:db8::/32"],
      denied_ips: ["198.51.100.128/25"],
    }),
    201,
  );
  ok(await whoami(created.token, "198.51.100.7"), 200, "allowed IPv4");
  ok(await whoami(created.token, "2001:db8::1"), 200, "allowed IPv6");
  for (const ip of ["198.51.100.200", "203.0.113.9"]) {
    assertProblem(await whoami(created.token, ip), 403, "ip_not_allowed", ip);
  }
  // A wrong secret from a refused address reads like any wrong secret.
  const wrong = `${created.token.slice(0, -2)}AA`;
  const refused = await whoami(wrong, "203.0.113.9");
  assert.notEqual(refused.json?.code, "ip_not_allowed");
  // The gateway: forwarded from inside, refused from outside before the origin.
  const inside = await call("POST", "/api/builds", {
    token: created.token,
    headers: { "cf-connecting-ip": "198.51.100.8" },
    body: {},
  });
  assert.equal(inside.status, 200, inside.text);
  assert.equal(inside.headers.get("x-origin"), "echo");
  const outside = await call("POST", "/api/builds", {
    token: created.token,
    headers: { "cf-connecting-ip": "203.0.113.8" },
    body: {},
  });
  assertProblem(outside, 403, "ip_not_allowed", "gateway");
  assert.equal(outside.headers.get("x-origin"), null, "never reached the origin");
  const view = ok(await call("GET", `/v1/tokens/${created.key_id}`, { token: world.token }));
  assert.deepEqual(view.allowed_ips, ["198.51.100.0/24", "2001:db8::/32"]);
  assert.deepEqual(view.denied_ips, ["198.51.100.128/25"]);
});

test("external id and metadata are shown, returned by whoami and signed to the origin", async () => {
  const world = await signUp("team");
  const key = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, {
      token: world.token,
      body: { name: "builds", external_id: "cus_4242", metadata: { team: "builds", tier: 2 } },
    }),
    201,
  );
  const me = ok(await whoami(key.key));
  assert.equal(me.external_id, "cus_4242");
  assert.deepEqual(me.metadata, { team: "builds", tier: 2 });
  const forwarded = await call("POST", "/api/builds", { token: key.key, body: {} });
  assert.equal(forwarded.status, 200, forwarded.text);
  const echo = forwarded.json;
  assert.equal(echo.identity.valid, true, echo.identity.error);
  assert.equal(echo.headers["portcullis-external-id"], "cus_4242");
  const metadata = Buffer.from(echo.headers["portcullis-metadata"], "base64url").toString();
  assert.deepEqual(JSON.parse(metadata), { team: "builds", tier: 2 });
  const view = ok(await call("GET", `/v1/automation-keys/${key.key_id}`, { token: world.token }));
  assert.equal(view.external_id, "cus_4242");
  assert.deepEqual(view.metadata, { team: "builds", tier: 2 });
  // A token without them sends empty signed headers.
  const plain = await call("POST", "/api/builds", { token: world.token, body: {} });
  assert.equal(plain.json.headers["portcullis-external-id"], "");
  assert.equal(plain.json.headers["portcullis-metadata"], "");
});

test("a validity window: not yet valid, then valid; automation keys expire too", async () => {
  const world = await signUp("team");
  const later = ok(await token(world, world.token, [], { not_before: now() + 3600 }), 201);
  assertProblem(await whoami(later.token), 401, "invalid_credentials", "before not_before");
  const view = ok(await call("GET", `/v1/tokens/${later.key_id}`, { token: world.token }));
  assert.ok(view.not_before > now());
  const started = ok(await token(world, world.token, [], { not_before: now() - 5 }), 201);
  ok(await whoami(started.token), 200, "after not_before");
  const expiring = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, {
      token: world.token,
      body: { name: "short", expires_at: now() + 2 },
    }),
    201,
  );
  ok(await whoami(expiring.key), 200, "before expiry");
  await new Promise((resolve) => setTimeout(resolve, 3_100));
  assertProblem(await whoami(expiring.key), 401, "invalid_credentials", "after expiry");
});

test("terms that cannot hold are refused with their code and create nothing", async () => {
  const world = await signUp("team");
  const before = ok(await call("GET", `/v1/tenants/${world.tenant}/tokens`, { token: world.token }));
  const cases = [
    [{ not_before: now() + 100, expires_at: now() + 100 }, "empty_validity_window"],
    [{ expires_at: now() - 1 }, "expiry_in_past"],
    [{ allowed_ips: Array.from({ length: 33 }, (_, i) => `10.${i}.0.0/16`) }, "too_many_ip_ranges"],
  ];
  for (const [extra, code] of cases) {
    assertProblem(await token(world, world.token, [], extra), 400, code, JSON.stringify(extra).slice(0, 60));
  }
  for (const extra of [
    { allowed_ips: ["203.0.113.7/24"] },
    { allowed_ips: ["not-an-ip"] },
    { external_id: "has space" },
    { metadata: ["not", "an", "object"] },
    { metadata: { big: "x".repeat(1100) } },
  ]) {
    const refused = await token(world, world.token, [], extra);
    assert.equal(refused.status, 400, `${JSON.stringify(extra).slice(0, 60)}: ${refused.text}`);
  }
  const after = ok(await call("GET", `/v1/tenants/${world.tenant}/tokens`, { token: world.token }));
  assert.equal(after.items.length, before.items.length);
});

test("rolling keeps the id, the old secret works through the overlap, rolling again ends it", async () => {
  const world = await signUp("enterprise");
  const created = ok(await token(world, world.token, ["build_applications"], { external_id: "cus_1" }), 201);
  const first = ok(
    await call("POST", `/v1/tokens/${created.key_id}/roll`, { token: world.token, body: { overlap_seconds: 600 } }),
  );
  assert.equal(first.outcome, "api_token_rolled");
  assert.equal(first.key_id, created.key_id);
  assert.ok(first.token.startsWith(`${created.key_id}:`));
  assert.notEqual(first.token, created.token);
  assert.ok(first.previous_valid_until >= now() + 590);
  const viaOld = ok(await whoami(created.token), 200, "old secret during the overlap");
  const viaNew = ok(await whoami(first.token), 200, "new secret");
  assert.equal(viaOld.key_id, viaNew.key_id);
  assert.equal(viaNew.external_id, "cus_1", "terms kept");
  const second = ok(await call("POST", `/v1/tokens/${created.key_id}/roll`, { token: world.token, body: {} }));
  assert.equal(second.previous_valid_until, null);
  assertProblem(await whoami(created.token), 401, "invalid_credentials", "older secret ended");
  assertProblem(await whoami(first.token), 401, "invalid_credentials", "overlap 0 ended the previous");
  ok(await whoami(second.token), 200, "newest");
  const view = ok(await call("GET", `/v1/tokens/${created.key_id}`, { token: world.token }));
  assert.ok(view.rolled_at >= now() - 60);
  assertProblem(
    await call("POST", `/v1/tokens/${created.key_id}/roll`, { token: world.token, body: { overlap_seconds: 86_401 } }),
    400,
    "overlap_too_long",
  );
  const audit = ok(await call("GET", `/v1/tenants/${world.tenant}/audit`, { token: world.token }));
  assert.ok(JSON.stringify(audit).includes('"api_token.rolled"'), `audited: ${JSON.stringify(audit).slice(0, 300)}`);
  // Automation keys roll the same way, through their own route.
  const key = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "b" } }),
    201,
  );
  const rolled = ok(
    await call("POST", `/v1/automation-keys/${key.key_id}/roll`, { token: world.token, body: { overlap_seconds: 60 } }),
  );
  assert.equal(rolled.outcome, "automation_key_rolled");
  assert.ok(rolled.key.startsWith(key.key_id));
  ok(await whoami(key.key), 200, "old key in overlap");
  ok(await whoami(rolled.key), 200, "new key");
  assertProblem(
    await call("POST", `/v1/tokens/${key.key_id}/roll`, { token: world.token, body: {} }),
    404,
    "credential_not_found",
    "a key id is not a token",
  );
});

test("a rate limit: its tier's requests pass, the next is refused with 429 rate_limited and Retry-After, others unaffected", async () => {
  const world = await signUp("team");
  const limited = ok(
    await token(world, world.token, ["build_applications"], { rate_limit: { requests: 10, period_seconds: 10 } }),
    201,
  );
  const view = ok(await call("GET", `/v1/tokens/${limited.key_id}`, { token: world.token }));
  assert.deepEqual(view.rate_limit, { requests: 10, period_seconds: 10 });
  const free = ok(await token(world, world.token, ["build_applications"]), 201);
  // Local rate limiting (miniflare) counts in fixed windows, floor(now / period): a burst that
  // crosses a window boundary starts counting again. Start the burst at the start of a window.
  await new Promise((resolve) => setTimeout(resolve, 10_000 - (Date.now() % 10_000) + 20));
  let passed = 0;
  let refused;
  for (let attempt = 0; attempt < 12 && !refused; attempt += 1) {
    const answer = await whoami(limited.token);
    if (answer.status === 200) passed += 1;
    else refused = answer;
  }
  assert.ok(refused, `no refusal after ${passed} requests`);
  assert.equal(passed, 10, "the tier's 10 requests pass");
  assertProblem(refused, 429, "rate_limited");
  assert.equal(refused.headers.get("retry-after"), "10");
  // At the gateway too, and a token without a limit is not slowed by its neighbour's.
  const gateway = await call("POST", "/api/builds", { token: limited.token, body: {} });
  assert.equal(gateway.status, 429, gateway.text);
  ok(await whoami(free.token), 200, "a token without a limit");
});

test("a rate limit outside the tiers is refused with its code and creates nothing", async () => {
  const world = await signUp("team");
  const before = ok(await call("GET", `/v1/tenants/${world.tenant}/tokens`, { token: world.token }));
  for (const rate_limit of [{ requests: 50, period_seconds: 60 }, { requests: 10, period_seconds: 30 }]) {
    assertProblem(await token(world, world.token, [], { rate_limit }), 400, "rate_limit_not_offered", JSON.stringify(rate_limit));
  }
  assertProblem(
    await token(world, world.token, [], { rate_limit: { requests: 10 } }),
    400,
    "invalid_body",
    "period missing",
  );
  const key = await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, {
    token: world.token,
    body: { name: "builds", rate_limit: { requests: 7, period_seconds: 10 } },
  });
  assertProblem(key, 400, "rate_limit_not_offered", "automation key");
  const after = ok(await call("GET", `/v1/tenants/${world.tenant}/tokens`, { token: world.token }));
  assert.equal(stateJson(after), stateJson(before));
});

test("usage: requests per day, counted at the edge and reported with last-used, for tokens and automation keys", async () => {
  const world = await signUp("team");
  const created = ok(await token(world, world.token, ["build_applications"]), 201);
  const key = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "builds" } }),
    201,
  );
  const empty = ok(await call("GET", `/v1/tokens/${created.key_id}/usage`, { token: world.token }));
  assert.equal(empty.total, 0);
  assert.equal(empty.days.length, 30);
  const today = Math.floor(Date.now() / 1000 / 86400) * 86400;
  assert.equal(empty.days.at(-1).day, today);
  assert.equal(empty.days[0].day, today - 29 * 86400);
  // Three requests (the first reported at once, the next two held), then one after the
  // interval (scripts/test-worker sets 1 second), which reports what was held.
  for (let i = 0; i < 3; i += 1) ok(await whoami(created.token));
  ok(await call("POST", "/api/builds", { token: key.key, body: {} }));
  await new Promise((resolve) => setTimeout(resolve, 1200));
  ok(await whoami(created.token));
  ok(await call("POST", "/api/builds", { token: key.key, body: {} }));
  let usage;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    usage = ok(await call("GET", `/v1/tokens/${created.key_id}/usage`, { token: world.token }));
    if (usage.total === 4) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(usage.total, 4, JSON.stringify(usage.days.at(-1)));
  assert.deepEqual(usage.days.at(-1), { day: today, requests: 4 });
  const keyUsage = ok(await call("GET", `/v1/automation-keys/${key.key_id}/usage`, { token: world.token }));
  assert.equal(keyUsage.total, 2);
  // Each path names its kind; another account's member sees nothing.
  assertProblem(await call("GET", `/v1/automation-keys/${created.key_id}/usage`, { token: world.token }), 404, "credential_not_found");
  assertProblem(await call("GET", `/v1/tokens/${key.key_id}/usage`, { token: world.token }), 404, "credential_not_found");
  const stranger = await signUp("team");
  assertProblem(await call("GET", `/v1/tokens/${created.key_id}/usage`, { token: stranger.token }), 404, "credential_not_found");
});
