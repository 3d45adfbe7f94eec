// The user directory (sorting, filters, prefix search, cursor pagination under concurrent
// changes) and bulk lifecycle requests with their per-user reports, against the real worker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ALL, assertProblem, call, email, invite, member, ok, signUp, stateJson } from "./lib.mjs";

const SORTS = ["email", "name", "status", "created_at", "last_active_at"];

/** GET /v1/users with `parameters` (an object), as the owner unless `token` says otherwise. */
async function directory(world, parameters = {}, token = world.token) {
  const query = new URLSearchParams(parameters).toString();
  return call("GET", `/v1/users${query ? `?${query}` : ""}`, { token });
}

/** The whole directory in one page (the worlds here stay under 200 users). */
async function everyone(world) {
  const page = ok(await directory(world, { limit: "200" }));
  assert.equal(page.next_cursor, null);
  return page.items;
}

/** Compares two rows by `sort` then user id, as the directory orders them (ascending). */
function compare(sort, a, b) {
  const key = (row) => {
    if (sort === "name") return row.name.toLowerCase();
    if (sort === "last_active_at") return row.last_active_at ?? -1;
    return row[sort];
  };
  const [x, y] = [key(a), key(b)];
  if (x < y) return -1;
  if (x > y) return 1;
  return a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0;
}

/** Invites `address` with a display name; returns its user id. */
async function named(world, name, address = email(name.split(" ")[0].toLowerCase())) {
  const invited = ok(
    await call("POST", `/v1/tenants/${world.tenant}/members`, {
      token: world.token,
      body: { email: address, name },
    }),
    201,
  );
  return { id: invited.user_id, email: address, code: invited.invitation.code };
}

/** A company admin other than the owner, with every permission. */
async function companyAdmin(world, name = "admin") {
  const admin = await member(world, ALL, name);
  ok(await call("PUT", `/v1/users/${admin.id}/company-admin`, { token: world.token, body: { company_admin: true } }));
  return admin;
}

test("directory: every column sorts both ways; status and role filters; prefix search", async () => {
  const world = await signUp("enterprise");
  const ada = await named(world, "Ada Quinlan");
  ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: ada.email, code: ada.code },
    }),
  );
  await named(world, "zoe Brandt");
  await named(world, "Émile Zola", email("emile"));
  const admin = await companyAdmin(world, "admin");
  const gone = await member(world, [], "leaver");
  ok(await call("POST", `/v1/users/${gone.id}/deactivate`, { token: world.token }));
  const all = await everyone(world);
  assert.equal(all.length, 6);
  for (const sort of SORTS) {
    for (const order of ["asc", "desc"]) {
      const rows = ok(await directory(world, { sort, order })).items;
      assert.deepEqual(
        rows.map((row) => row.user_id).sort(),
        all.map((row) => row.user_id).sort(),
        `${sort} ${order}: same users`,
      );
      for (let i = 1; i < rows.length; i += 1) {
        const sign = compare(sort, rows[i - 1], rows[i]);
        assert.ok(order === "asc" ? sign < 0 : sign > 0, `${sort} ${order}: rows ${i - 1} and ${i} out of order`);
      }
    }
  }
  // Never-active users sort first ascending; the owner, who signed up, is active.
  const byActivity = ok(await directory(world, { sort: "last_active_at" })).items;
  assert.equal(byActivity[0].last_active_at, null);
  assert.ok(byActivity.find((row) => row.user_id === world.owner).last_active_at > 0);

  for (const status of ["pending", "active", "inactive"]) {
    const rows = ok(await directory(world, { status })).items;
    assert.deepEqual(
      rows.map((row) => row.user_id).sort(),
      all.filter((row) => row.status === status).map((row) => row.user_id).sort(),
      status,
    );
  }
  assert.equal(ok(await directory(world, { status: "inactive" })).items[0].user_id, gone.id);
  const admins = ok(await directory(world, { role: "company_admin" })).items;
  assert.deepEqual(admins.map((row) => row.user_id).sort(), [admin.id, world.owner].sort());
  for (const row of admins) assert.ok(row.roles.includes("company_admin") && row.company_admin);
  const tenantUsers = ok(await directory(world, { role: "tenant_user" })).items;
  assert.equal(tenantUsers.length, 6);
  ok(await call("DELETE", `/v1/tenants/${world.tenant}/members/${gone.id}`, { token: world.token }));
  const stillUsers = ok(await directory(world, { role: "tenant_user" })).items;
  assert.equal(stillUsers.length, 5, "a user in no tenant is not a tenant user");
  const outsider = (await everyone(world)).find((row) => row.user_id === gone.id);
  assert.deepEqual(outsider.roles, []);

  // Autocomplete: prefixes of the email, of the name or of any word of it, any case.
  const found = async (q) => ok(await directory(world, { q })).items.map((row) => row.user_id);
  assert.deepEqual(await found("QUIN"), [ada.id]);
  assert.deepEqual(await found("ada q"), [ada.id]);
  assert.deepEqual(await found(ada.email.slice(0, 6)), [ada.id]);
  assert.equal((await found("brand")).length, 1);
  assert.deepEqual(await found("brand"), await found("ZOE"));
  assert.equal((await found("zol")).length, 1, "a word after an accented one");
  assert.deepEqual(await found("uinlan"), [], "not a prefix");
  assert.deepEqual(await found("acme.test"), [], "the email's domain is not a prefix");
  const filtered = async (parameters) => ok(await directory(world, parameters)).items.map((row) => row.user_id);
  assert.deepEqual(await filtered({ q: "ada", status: "active" }), [ada.id], "search and filter combine");
  assert.deepEqual(await filtered({ q: "ada", status: "pending" }), []);
});

test("directory: paging through more than a page while users come and go neither repeats nor skips anyone", async () => {
  const world = await signUp("enterprise");
  const stable = [world.owner];
  for (let i = 0; i < 18; i += 1) stable.push((await named(world, `Stable ${String.fromCharCode(97 + i)}${i}`)).id);
  const transient = [];
  for (let i = 0; i < 24; i += 1) {
    const user = await member(world, [], `transient${i}`);
    ok(await call("POST", `/v1/users/${user.id}/deactivate`, { token: world.token }));
    transient.push(user.id);
  }
  for (const [sort, order] of [
    ["email", "asc"],
    ["name", "desc"],
    ["created_at", "asc"],
    ["status", "desc"],
  ]) {
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const parameters = { sort, order, limit: "4", ...(cursor ? { cursor } : {}) };
      const page = ok(await directory(world, parameters));
      pages += 1;
      seen.push(...page.items.map((row) => row.user_id));
      cursor = page.next_cursor;
      // Between pages, concurrently: a newcomer is invited, a transient user is deleted, and
      // a page is read by someone else.
      const changes = [invite(world, email(`newcomer-${sort}`)), directory(world, { sort, order })];
      const leaving = transient.pop();
      if (leaving) changes.push(call("DELETE", `/v1/users/${leaving}`, { token: world.token }));
      for (const response of await Promise.all(changes)) assert.ok(response.status < 300, response.text);
    } while (cursor);
    assert.ok(pages >= 5, `${sort} ${order}: ${pages} pages`);
    assert.equal(new Set(seen).size, seen.length, `${sort} ${order}: a user appeared twice`);
    for (const id of stable) assert.ok(seen.includes(id), `${sort} ${order}: ${id} was skipped`);
  }
});

test("directory: malformed, altered or foreign cursors and bad parameters are 400 with a stable code", async () => {
  const world = await signUp("team");
  for (let i = 0; i < 3; i += 1) await invite(world, email(`p${i}`));
  const first = ok(await directory(world, { sort: "email", limit: "2" }));
  assert.match(first.next_cursor, /^[A-Za-z0-9_-]+$/, "the cursor is URL-safe");
  const second = ok(await directory(world, { sort: "email", limit: "2", cursor: first.next_cursor }));
  assert.equal(second.items.length, 2);
  assert.equal(second.next_cursor, null);
  const cursor = first.next_cursor;
  const flip = (text, at) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
  for (const [what, parameters] of [
    ["garbage", { cursor: "not-a-cursor" }],
    ["truncated", { cursor: cursor.slice(0, -3) }],
    ["altered", { cursor: flip(cursor, 10) }],
    ["altered at the end", { cursor: flip(cursor, cursor.length - 1) }],
    ["another order", { cursor, order: "desc" }],
    ["another sort", { cursor, sort: "name" }],
    ["huge", { cursor: "dc2_" + "A".repeat(5000) }],
  ]) {
    assertProblem(await directory(world, { sort: "email", limit: "2", ...parameters }), 400, "invalid_cursor", what);
  }
  for (const [parameters, code] of [
    [{ sort: "password" }, "invalid_sort"],
    [{ order: "sideways" }, "invalid_order"],
    [{ status: "deleted" }, "invalid_status"],
    [{ role: "root" }, "invalid_role"],
    [{ limit: "0" }, "invalid_limit"],
    [{ limit: "201" }, "invalid_limit"],
    [{ limit: "ten" }, "invalid_limit"],
    [{ q: "x".repeat(101) }, "invalid_search"],
    [{ page: "2" }, "unknown_parameter"],
  ]) {
    assertProblem(await directory(world, parameters), 400, code, JSON.stringify(parameters));
  }
  assertProblem(await call("GET", "/v1/users?sort=name&sort=email", { token: world.token }), 400, "repeated_parameter");
});

test("directory cursors are MACed and bound to the account and the query: another account's, another query's or a forged one is 400 invalid_cursor", async () => {
  const world = await signUp("team");
  const other = await signUp("team");
  for (let i = 0; i < 3; i += 1) {
    await invite(world, email(`p${i}`));
    await invite(other, email(`p${i}`));
  }
  const query = { sort: "email", status: "pending", q: "p", limit: "1" };
  const mine = ok(await directory(world, query)).next_cursor;
  const theirs = ok(await directory(other, query)).next_cursor;
  assert.ok(mine && theirs);
  // Its own query, with another page size: the next page.
  const next = ok(await directory(world, { ...query, limit: "5", cursor: mine }));
  assert.equal(next.items.length, 2);
  for (const [what, parameters, token] of [
    ["another account's cursor, same query", { ...query, cursor: theirs }, world.token],
    ["this account's cursor in the other account", { ...query, cursor: mine }, other.token],
    ["another status filter", { ...query, status: "active", cursor: mine }, world.token],
    ["no status filter", { sort: "email", q: "p", limit: "1", cursor: mine }, world.token],
    ["another search", { ...query, q: "p0", cursor: mine }, world.token],
    ["a role filter", { ...query, role: "tenant_user", cursor: mine }, world.token],
    ["another order", { ...query, order: "desc", cursor: mine }, world.token],
  ]) {
    const refused = await directory(world, parameters, token);
    assertProblem(refused, 400, "invalid_cursor", what);
  }
  // A cursor anyone could make under the old scheme (JSON + CRC-32) is refused.
  const { crc32 } = await import("node:zlib");
  const payload = Buffer.from(JSON.stringify({ key: { text: "a" }, user_id: world.owner }));
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(crc32(payload));
  for (const prefix of ["dc1_", "dc2_"]) {
    const forged = prefix + Buffer.concat([payload, checksum]).toString("base64url");
    assertProblem(await directory(world, { ...query, cursor: forged }), 400, "invalid_cursor", `forged ${prefix}`);
  }
});

test("bulk lifecycle: each user judged on their own, with a per-user report that can be read again", async () => {
  const world = await signUp("team");
  const admin = await companyAdmin(world);
  const active = await member(world, [], "active");
  const inactive = await member(world, [], "inactive");
  ok(await call("POST", `/v1/users/${inactive.id}/deactivate`, { token: world.token }));
  const pending = ok(await invite(world, email("pending")), 201);
  const unknown = "usr_00000000000000ff";
  const bulk = (action, ids, token = admin.token) =>
    call("POST", "/v1/users/bulk", { token, body: { action, user_ids: ids } });
  const status = async (id) => (await call("GET", `/v1/users/${id}`, { token: world.token })).json?.status;
  const lines = (report) => report.results.map((r) => [r.user_id, r.outcome, r.code ?? null]);

  const deactivated = ok(
    await bulk("deactivate", [active.id, inactive.id, pending.user_id, unknown, world.owner, admin.id]),
  );
  assert.equal(deactivated.outcome, "bulk_reported");
  assert.equal(deactivated.action, "deactivate");
  assert.deepEqual(lines(deactivated), [
    [active.id, "deactivated", null],
    [inactive.id, "refused", "illegal_transition"],
    [pending.user_id, "refused", "illegal_transition"],
    [unknown, "refused", "user_not_found"],
    [world.owner, "refused", "owner_protected"],
    [admin.id, "refused", "self_target"],
  ]);
  assert.deepEqual(deactivated.counts, { requested: 6, changed: 1, refused: 5 });
  for (const result of deactivated.results.filter((r) => r.outcome === "refused")) {
    assert.equal(typeof result.message, "string");
  }
  assert.equal(await status(active.id), "inactive");
  assert.equal(await status(inactive.id), "inactive");
  assert.equal(await status(pending.user_id), "pending");
  assert.equal(await status(admin.id), "active");
  const verified = await call("GET", "/v1/whoami", { token: active.token });
  assertProblem(verified, 401, "invalid_credentials", "a deactivated user's token stops working");

  const activated = ok(await bulk("activate", [inactive.id, pending.user_id, admin.id]));
  assert.deepEqual(lines(activated), [
    [inactive.id, "activated", null],
    [pending.user_id, "refused", "illegal_transition"],
    [admin.id, "refused", "illegal_transition"],
  ]);
  assert.equal(await status(inactive.id), "active");

  const deleted = ok(await bulk("delete", [active.id, inactive.id, pending.user_id, unknown, world.owner]));
  assert.deepEqual(lines(deleted), [
    [active.id, "deleted", null],
    [inactive.id, "refused", "illegal_transition"],
    [pending.user_id, "refused", "illegal_transition"],
    [unknown, "refused", "user_not_found"],
    [world.owner, "refused", "owner_protected"],
  ]);
  assertProblem(await call("GET", `/v1/users/${active.id}`, { token: world.token }), 404, "user_not_found");
  assert.equal(await status(inactive.id), "active");

  // Later, and by another company admin: the same report.
  await bulk("activate", [unknown]);
  const again = ok(await call("GET", `/v1/account/bulk-reports/${deleted.report_id}`, { token: world.token }));
  const { outcome, account_id, ...report } = deleted;
  assert.equal(account_id, world.account);
  assert.deepEqual(again, report);
  assert.equal(again.requested_by, admin.id);
  // The report's first path, kept for earlier clients, answers the same.
  assert.deepEqual(ok(await call("GET", `/v1/users/bulk/${deleted.report_id}`, { token: world.token })), report);
  for (const path of ["/v1/account/bulk-reports", "/v1/users/bulk"]) {
    assertProblem(
      await call("GET", `${path}/blk_00000000000000ff`, { token: world.token }),
      404,
      "bulk_report_not_found",
    );
    assertProblem(await call("GET", `${path}/nope`, { token: world.token }), 404, "not_found");
  }
});

test("bulk lifecycle and the directory are for company admins; bad bulk bodies change nothing", async () => {
  const world = await signUp("team");
  const manager = await member(world, ALL, "manager");
  const target = await member(world, [], "target");
  const report = ok(
    await call("POST", "/v1/users/bulk", {
      token: world.token,
      body: { action: "deactivate", user_ids: [target.id] },
    }),
  );
  // Refused requests are still activity: the manager's last_active_at may advance.
  const state = async () => stateJson(await everyone(world));
  const before = await state();
  const asManager = { token: manager.token };
  assertProblem(
    await call("POST", "/v1/users/bulk", { ...asManager, body: { action: "activate", user_ids: [target.id] } }),
    403,
    "not_company_admin",
  );
  assertProblem(await call("GET", `/v1/account/bulk-reports/${report.report_id}`, asManager), 403, "not_company_admin");
  assertProblem(await directory(world, {}, manager.token), 403, "not_company_admin");
  for (const [body, code] of [
    [{ action: "explode", user_ids: [target.id] }, "invalid_body"],
    [{ action: "activate", user_ids: ["usr_nope"] }, "invalid_body"],
    [{ action: "activate" }, "invalid_body"],
    [{ action: "activate", user_ids: [target.id], extra: 1 }, "invalid_body"],
    [{ action: "activate", user_ids: [] }, "out_of_range"],
    [{ action: "activate", user_ids: [target.id, target.id] }, "out_of_range"],
    [
      { action: "activate", user_ids: Array.from({ length: 101 }, (_, i) => `usr_${i.toString(16).padStart(16, "0")}`) },
      "out_of_range",
    ],
  ]) {
    assertProblem(await call("POST", "/v1/users/bulk", { token: world.token, body }), 400, code, JSON.stringify(body).slice(0, 80));
  }
  // The email never changes, and a user's basic information is edited apart from their status.
  for (const body of [{ email: email("renamed") }, { status: "active" }, { name: "T", company_admin: true }]) {
    assertProblem(await call("PATCH", `/v1/users/${target.id}`, { token: world.token, body }), 400, "invalid_body");
  }
  assert.equal(await state(), before, "refused bulk requests changed nothing");
  const renamed = ok(await call("PATCH", `/v1/users/${target.id}`, { token: world.token, body: { name: "Tess Target" } }));
  assert.equal(renamed.name, "Tess Target");
  const row = (await everyone(world)).find((r) => r.user_id === target.id);
  assert.deepEqual([row.name, row.email, row.status], ["Tess Target", target.email, "inactive"]);
  assertProblem(await call("GET", "/v1/users/bulk", { token: world.token }), 405, "method_not_allowed");
});

test("tenant lists page by keyset: members and tokens in id order, each once, with limit and cursor; bad parameters are 400", async () => {
  const world = await signUp("enterprise");
  for (let i = 0; i < 5; i += 1) await invite(world, email(`pager${i}`));
  for (let i = 0; i < 3; i += 1) {
    ok(await call("POST", `/v1/tenants/${world.tenant}/tokens`, { token: world.token, body: { name: `ci-${i}`, permissions: [] } }), 201);
  }
  for (const [list, id] of [["members", "user_id"], ["tokens", "key_id"]]) {
    const whole = ok(await call("GET", `/v1/tenants/${world.tenant}/${list}`, { token: world.token }));
    assert.equal(whole.next_cursor, null);
    assert.ok(whole.items.length >= 4, list);
    const ids = whole.items.map((item) => item[id]);
    assert.deepEqual(ids, [...ids].sort(), `${list} in id order`);
    const paged = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ limit: "2", ...(cursor ? { cursor } : {}) }).toString();
      const page = ok(await call("GET", `/v1/tenants/${world.tenant}/${list}?${query}`, { token: world.token }));
      assert.ok(page.items.length <= 2);
      paged.push(...page.items.map((item) => item[id]));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(paged, ids, `${list}: every item once, in order`);
    for (const [query, code] of [["limit=0", "invalid_limit"], ["limit=201", "invalid_limit"], ["cursor=a%3Ab", "invalid_cursor"], ["sort=name", "unknown_parameter"]]) {
      assertProblem(await call("GET", `/v1/tenants/${world.tenant}/${list}?${query}`, { token: world.token }), 400, code);
    }
  }
  // A cursor that is not an id of the list's kind is refused as well.
  assertProblem(
    await call("GET", `/v1/tenants/${world.tenant}/tokens?limit=1&cursor=${world.owner}`, { token: world.token }),
    400,
    "invalid_cursor",
  );
});
