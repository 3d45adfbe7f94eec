// Notifications: the outbox each lifecycle action writes to, its list/acknowledge API, and webhook
// delivery to a receiver (started here, on a free loopback port) that fails and then recovers.
// scripts/test-worker starts the worker with PORTCULLIS_WEBHOOK_RETRY_BASE_MS=100, so retries
// come after 0.1 s, 0.2 s, 0.4 s...
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { call, ok, assertProblem, signUp, email, invite, member, remember, ALL } from "./lib.mjs";

const SECRET_SHAPES = /pcinv_|pcts_|pcak_|pcwh_/;

/** The README's receiver recipe: HMAC-SHA256 of "<t>.<raw body>" keyed with the secret's text. */
function verifySignature(secret, header, rawBody, toleranceSeconds = 300) {
  const parts = Object.fromEntries((header ?? "").split(",").map((part) => part.split("=", 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== "string") return false;
  if (Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Every pending notification, following `next_after` page by page. */
async function allPending(world, limit = 2) {
  const items = [];
  let after;
  for (let pages = 0; pages < 100; pages += 1) {
    const query = after === undefined ? `?limit=${limit}` : `?after=${after}&limit=${limit}`;
    const page = ok(await call("GET", `/v1/notifications${query}`, { token: world.token }), 200, "list");
    assert.ok(page.items.length <= limit, "a page respects its limit");
    if (page.items.length === 0) return items;
    items.push(...page.items);
    after = page.next_after;
  }
  assert.fail("paging never ended");
}

async function acknowledge(world, ids) {
  return call("POST", "/v1/notifications/ack", { token: world.token, body: { ids } });
}

/**
 * A webhook receiver on a free loopback port. The backlog may be delivered before the PUT that
 * configures the webhook has answered here, so each delivery waits until `showSecret` is given
 * the secret that answer carries; then `handle(request, rawBody, response, secret)` judges it.
 */
async function receiver(handle) {
  let showSecret;
  const secretKnown = new Promise((resolve) => {
    showSecret = resolve;
  });
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", async () => {
      const secret = await secretKnown;
      handle(request, Buffer.concat(chunks).toString("utf8"), response, secret);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: server.address().port, showSecret };
}

/** Closes a receiver without waiting for connections a failed test may have left open. */
async function closed(server) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

async function until(what, predicate, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("every lifecycle action produces its notification, to the right recipient, without secrets", async () => {
  const world = await signUp("team");
  const address = email("nina");
  const invited = ok(await invite(world, address, ["build_applications"]), 201, "invite");
  const resent = ok(
    await call("POST", `/v1/users/${invited.user_id}/invitation`, { token: world.token }),
    200,
    "resend",
  );
  const accepted = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: resent.invitation.code },
    }),
    200,
    "accept",
  );
  for (const action of ["deactivate", "activate", "deactivate"]) {
    ok(await call("POST", `/v1/users/${invited.user_id}/${action}`, { token: world.token }), 200, action);
  }
  ok(await call("DELETE", `/v1/users/${invited.user_id}`, { token: world.token }), 200, "delete");
  // Refused actions produce nothing: the owner cannot be deactivated.
  assertProblem(
    await call("POST", `/v1/users/${world.owner}/deactivate`, { token: world.token }),
    409,
    "owner_protected",
  );

  const items = await allPending(world);
  assert.deepEqual(
    items.map((n) => [n.kind, n.data.via ?? null]),
    [
      ["invitation", null],
      ["invitation_resent", null],
      ["activated", "invitation_accepted"],
      ["deactivated", null],
      ["activated", "reactivated"],
      ["deactivated", null],
      ["deleted", null],
    ],
  );
  for (const n of items) {
    assert.equal(n.email, address, `${n.kind} goes to the user concerned`);
    assert.equal(n.user_id, invited.user_id);
    assert.match(n.id, /^ntf_[0-9a-f]{16}$/);
  }
  const sequences = items.map((n) => n.sequence);
  assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), "oldest first");
  assert.equal(new Set(items.map((n) => n.id)).size, items.length, "ids are unique");
  const [invitation, reinvitation] = items;
  assert.equal(invitation.tenant_id, world.tenant);
  assert.equal(invitation.data.tenant_name, "Production");
  assert.equal(invitation.data.account_name, "Acme");
  assert.equal(invitation.data.invitation_expires_at, invited.invitation.expires_at);
  assert.equal(reinvitation.data.invitation_expires_at, resent.invitation.expires_at);
  assert.equal(items.at(-1).data.account_name, "Acme", "the deletion notice names the account");
  const text = JSON.stringify(items);
  for (const secret of [invited.invitation.code, resent.invitation.code, accepted.token, world.token]) {
    assert.ok(!text.includes(secret.split(":").at(-1)), "no secret in a notification");
  }
  assert.doesNotMatch(text, SECRET_SHAPES);
});

test("list and acknowledge: acknowledged notifications disappear, acknowledging is idempotent", async () => {
  const world = await signUp("team");
  for (const name of ["ann", "ben", "cat"]) ok(await invite(world, email(name)), 201, "invite");
  const before = await allPending(world, 1);
  assert.equal(before.length, 3);
  const firstPage = ok(await call("GET", "/v1/notifications?limit=2", { token: world.token }), 200);
  assert.equal(firstPage.pending, 3);
  assert.deepEqual(firstPage.items.map((n) => n.id), before.slice(0, 2).map((n) => n.id));

  const [a, b, c] = before.map((n) => n.id);
  const unknown = "ntf_0000000000000000";
  const first = ok(await acknowledge(world, [a, b, a, unknown]), 200, "ack");
  assert.deepEqual(first, { acknowledged: [a, b], already_acknowledged: [], unknown: [unknown] });
  const after = await allPending(world);
  assert.deepEqual(after.map((n) => n.id), [c], "acknowledged notifications are gone");

  const again = ok(await acknowledge(world, [a, b]), 200, "ack again");
  assert.deepEqual(again, { acknowledged: [], already_acknowledged: [a, b], unknown: [] });
  assert.deepEqual((await allPending(world)).map((n) => n.id), [c], "a repeated ack changes nothing");

  // Another account's notification is unknown here and stays pending there.
  const other = await signUp("team");
  ok(await invite(other, email("dan")), 201);
  const [foreign] = await allPending(other);
  const cross = ok(await acknowledge(world, [foreign.id]), 200, "foreign ack");
  assert.deepEqual(cross.unknown, [foreign.id]);
  assert.equal((await allPending(other)).length, 1);

  assertProblem(await acknowledge(world, []), 400, "invalid_body", "empty ids");
  assertProblem(await acknowledge(world, ["usr_0000000000000000"]), 400, "invalid_body", "not a notification id");
  assertProblem(
    await call("POST", "/v1/notifications/ack", { token: world.token, body: { ids: [c], extra: 1 } }),
    400,
    "invalid_body",
    "unknown field",
  );
  assert.deepEqual((await allPending(world)).map((n) => n.id), [c], "refused acks change nothing");
});

test("only company admins list, acknowledge and configure the webhook", async () => {
  const world = await signUp("team");
  const manager = await member(world, ALL, "manager");
  const [invitation] = (await allPending(world)).filter((n) => n.kind === "invitation");
  assertProblem(await call("GET", "/v1/notifications", { token: manager.token }), 403, "not_company_admin");
  assertProblem(
    await call("POST", "/v1/notifications/ack", { token: manager.token, body: { ids: [invitation.id] } }),
    403,
    "not_company_admin",
  );
  assertProblem(
    await call("PUT", "/v1/account/webhook", { token: manager.token, body: { url: "https://hooks.example.com/x" } }),
    403,
    "not_company_admin",
  );
  assertProblem(await call("DELETE", "/v1/account/webhook", { token: manager.token }), 403, "not_company_admin");
  assertProblem(await call("GET", "/v1/notifications"), 401, "missing_credentials");
  assert.ok((await allPending(world)).some((n) => n.id === invitation.id), "the refused ack changed nothing");

  assertProblem(
    await call("PUT", "/v1/account/webhook", { token: world.token, body: { url: "http://hooks.example.com/x" } }),
    400,
    "invalid_body",
    "plain http to another machine",
  );
  assertProblem(
    await call("PUT", "/v1/account/webhook", {
      token: world.token,
      body: { url: "https://hooks.example.com/x", start_after_seconds: 3_601 },
    }),
    400,
    "out_of_range",
    "a first delivery more than an hour away",
  );
  assertProblem(await call("DELETE", "/v1/account/webhook", { token: world.token }), 404, "webhook_not_found");
});

test("webhook delivery: a receiver that fails, then recovers, gets every notification, signed, in order", async () => {
  let failuresLeft = 4;
  const posts = []; // every request: { at, deliveryId, ids, sequences, signed, status }
  const received = new Map(); // notification id -> { deliveryId, sequence }
  const order = []; // notification sequences as first accepted
  const hook = await receiver((request, raw, response, secret) => {
    const body = JSON.parse(raw);
    const deliveryId = request.headers["portcullis-delivery"];
    const signed = verifySignature(secret, request.headers["portcullis-signature"], raw);
    const status = !signed ? 401 : failuresLeft > 0 ? 500 : 204;
    if (status === 500) failuresLeft -= 1;
    posts.push({
      at: Date.now(),
      deliveryId,
      bodyDeliveryId: body.delivery_id,
      ids: body.items.map((n) => n.id),
      signed,
      status,
      text: raw,
    });
    if (status === 204) {
      for (const n of body.items) {
        const seen = received.get(n.id);
        // Duplicates are allowed only as the same delivery (same idempotency id).
        if (seen) assert.equal(seen.deliveryId, deliveryId, `${n.id} arrived in two deliveries`);
        else {
          received.set(n.id, { deliveryId, sequence: n.sequence });
          order.push(n.sequence);
        }
      }
    }
    response.writeHead(status).end();
  });
  const { port } = hook;
  try {
    const world = await signUp("team");
    // A backlog from before the webhook existed.
    for (const name of ["eve", "fay", "gus"]) ok(await invite(world, email(name)), 201, "invite");
    const configuredAt = Date.now();
    const configured = ok(
      await call("PUT", "/v1/account/webhook", {
        token: world.token,
        body: { url: `http://127.0.0.1:${port}/hooks/portcullis`, start_after_seconds: 3 },
      }),
      200,
      "configure",
    );
    const secret = configured.signing_secret;
    // Nothing signed with the new secret arrives before the receiver could store it.
    assert.ok(configured.deliveries_start_at >= Math.floor(configuredAt / 1000) + 3, configured.deliveries_start_at);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal(posts.length, 0, "no delivery before deliveries_start_at");
    hook.showSecret(secret);
    remember(secret);
    assert.match(secret, /^pcwh_[A-Za-z0-9_-]{43}$/);
    assert.equal(configured.url, `http://127.0.0.1:${port}/hooks/portcullis`);

    // The first batch fails four times, with backoff, always as the same delivery.
    await until("four failed attempts", () => posts.length >= 4);
    // Times are whole seconds: the first attempt comes at the start of the second named.
    assert.ok(posts[0].at - configuredAt >= 2_000, `first attempt after the delay (${posts[0].at - configuredAt} ms)`);
    const failed = posts.slice(0, 4);
    assert.ok(failed.every((p) => p.status === 500 && p.signed), "failed attempts were signed");
    assert.equal(new Set(failed.map((p) => p.deliveryId)).size, 1, "a retried batch keeps its idempotency id");
    assert.ok(failed.every((p) => p.deliveryId === p.bodyDeliveryId && /^dlv_[0-9a-f]{32}$/.test(p.deliveryId)));
    const gaps = failed.slice(1).map((p, i) => p.at - failed[i].at);
    assert.ok(gaps[2] >= 300, `the backoff grows (gaps ${gaps} ms)`);

    // More notifications while the receiver recovers; nothing is lost.
    const late = await member(world, [], "hal");
    for (const action of ["deactivate", "activate"]) {
      ok(await call("POST", `/v1/users/${late.id}/${action}`, { token: world.token }), 200, action);
    }
    const expected = 3 + 4; // three invitations; hal's invitation, activation, deactivation, activation
    await until("every notification delivered", () => received.size >= expected);
    await until("the outbox to empty", async () => {
      const page = ok(await call("GET", "/v1/notifications", { token: world.token }), 200);
      return page.pending === 0;
    });
    assert.equal(received.size, expected, "each notification arrived exactly once");
    assert.deepEqual(order, [...order].sort((a, b) => a - b), "in order");
    assert.deepEqual(order, [...Array(expected).keys()], "no gap: every sequence number arrived");
    assert.ok(posts.every((p) => p.signed), "every delivery verifies");
    assert.ok(posts.every((p) => !SECRET_SHAPES.test(p.text)), "no secret in a delivery");

    // Delivered notifications count as acknowledged.
    const ids = [...received.keys()];
    const report = ok(await acknowledge(world, ids), 200, "ack delivered");
    assert.deepEqual(report.already_acknowledged, ids);

    // A forged or re-keyed signature does not verify with the shown secret.
    const last = posts.at(-1);
    assert.ok(!verifySignature(`${secret}x`, `t=${Math.floor(Date.now() / 1000)},v1=00`, last.text));

    // Removing the webhook stops deliveries; notifications wait in the outbox again.
    ok(await call("DELETE", "/v1/account/webhook", { token: world.token }), 200, "remove");
    const count = posts.length;
    ok(await call("POST", `/v1/users/${late.id}/deactivate`, { token: world.token }), 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(posts.length, count, "no delivery without a webhook");
    assert.deepEqual((await allPending(world)).map((n) => n.kind), ["deactivated"]);
  } finally {
    await closed(hook.server);
  }
});

test("webhook delivery: a receiver that is not even listening at first gets everything once it starts", async () => {
  // Reserve a free port, then leave it closed: deliveries are refused at the TCP level.
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));

  const world = await signUp("team");
  const configured = ok(
    await call("PUT", "/v1/account/webhook", { token: world.token, body: { url: `http://127.0.0.1:${port}/`, start_after_seconds: 0 } }),
    200,
    "configure",
  );
  remember(configured.signing_secret);
  for (const name of ["ida", "jon"]) ok(await invite(world, email(name)), 201, "invite");
  await new Promise((resolve) => setTimeout(resolve, 800)); // several refused attempts
  assert.equal(
    ok(await call("GET", "/v1/notifications", { token: world.token }), 200).pending,
    2,
    "nothing is dropped while the receiver is down",
  );

  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      if (verifySignature(configured.signing_secret, request.headers["portcullis-signature"], raw)) {
        received.push(...JSON.parse(raw).items.map((n) => n.kind));
      }
      response.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  try {
    await until("the backlog to arrive", () => received.length >= 2);
    assert.deepEqual(received, ["invitation", "invitation"]);
    await until("the outbox to empty", async () => {
      return ok(await call("GET", "/v1/notifications", { token: world.token }), 200).pending === 0;
    });
  } finally {
    await closed(server);
  }
});

test("webhook delivery: a receiver that never answers is timed out and retried, not waited on", async () => {
  // scripts/test-worker sets PORTCULLIS_WEBHOOK_TIMEOUT_MS=1000: the first request is left hanging.
  const attempts = [];
  const hanging = [];
  const received = [];
  const hook = await receiver((request, raw, response, secret) => {
    const deliveryId = request.headers["portcullis-delivery"];
    attempts.push({ at: Date.now(), deliveryId });
    if (attempts.length === 1) {
      hanging.push(response); // never answered
      return;
    }
    if (verifySignature(secret, request.headers["portcullis-signature"], raw)) {
      received.push(...JSON.parse(raw).items.map((n) => n.kind));
    }
    response.writeHead(204).end();
  });
  const { port } = hook;
  try {
    const world = await signUp("team");
    ok(await invite(world, email("kim")), 201, "invite");
    const configured = ok(
      await call("PUT", "/v1/account/webhook", { token: world.token, body: { url: `http://127.0.0.1:${port}/`, start_after_seconds: 0 } }),
      200,
      "configure",
    );
    hook.showSecret(configured.signing_secret);
    remember(configured.signing_secret);

    await until("the retry after the hung attempt", () => received.length >= 1, 20_000);
    assert.deepEqual(received, ["invitation"]);
    assert.equal(attempts[1].deliveryId, attempts[0].deliveryId, "the retry is the same delivery");
    const gap = attempts[1].at - attempts[0].at;
    assert.ok(gap >= 900, `the receiver was given its timeout before the retry (${gap} ms)`);
    assert.equal(hanging.length, 1);
    // The API kept answering while the receiver hung.
    await until("the outbox to empty", async () => {
      return ok(await call("GET", "/v1/notifications", { token: world.token }), 200).pending === 0;
    });
  } finally {
    for (const response of hanging) response.destroy();
    await closed(hook.server);
  }
});
