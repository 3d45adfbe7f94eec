// The platform's storage limit (issue 13): Cloudflare's SQLite-backed Durable Objects refuse any
// string, BLOB or row over 2 MB, and `wrangler dev` does not, so this test checks it itself. It
// grows one account past the size that breaks a single-row account state, the cheapest way the
// API offers (no bulk invitation exists): pending members with the longest email and name it
// takes, about 810 stored bytes each against about 465 with short ones. Then it reads every
// Durable Object database under the state directory and fails naming each table, column, key
// and size over the limit.
//
// With one row per entity (issue 13) no stored value grows with the account; before it, the whole
// account was one JSON value (state.value['account_state'], 2.19 MB at this size). It costs about two
// minutes, nearly all of it the invitations (PORTCULLIS_STORAGE_MEMBERS sets their count):
//
//   PORTCULLIS_E2E_FILES=tests/e2e/storage-limits.test.mjs scripts/test-worker
import assert from "node:assert/strict";
import { test } from "node:test";
import { call, ok, signUp } from "./lib.mjs";
import { VALUE_LIMIT, measureObject, objectFiles, objectHolds, shortName } from "./storage.mjs";

const MEMBERS = Number(process.env.PORTCULLIS_STORAGE_MEMBERS ?? 2700);
// Pending invitees take a seat: an enterprise tenant holds its owner and 99 more.
const PER_TENANT = 99;
const CONCURRENCY = 4;

/** A 254-character address (the longest the API takes) unique to this run and `n`. */
function longEmail(n) {
  const domain = `${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.test`;
  return `${`${process.pid}.${n}.`.padEnd(254 - domain.length - 1, "l")}@${domain}`;
}

test(
  "no value stored in a Durable Object exceeds 2 MB, after growing an account past a single row's limit",
  async () => {
    const started = performance.now();
    const world = await signUp("enterprise");
    const tenants = [{ id: world.tenant, token: world.token }];
    while (tenants.length * PER_TENANT < MEMBERS) {
      const launched = ok(
        await call("POST", "/v1/tenants", {
          token: world.token,
          body: { name: `Tenant ${tenants.length}`, plan: "enterprise" },
        }),
        201,
        "launch a tenant",
      );
      tenants.push({ id: launched.tenant_id, token: launched.token });
    }
    let next = 0;
    const invite = async () => {
      for (let n = next++; n < MEMBERS; n = next++) {
        const tenant = tenants[Math.floor(n / PER_TENANT)];
        const body = { email: longEmail(n), name: `${"N".repeat(90)} ${String(n).padStart(9, "0")}` };
        ok(await call("POST", `/v1/tenants/${tenant.id}/members`, { token: tenant.token, body }), 201, `invite ${n}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, invite));
    const licenses = ok(await call("GET", "/v1/licenses", { token: world.token }), 200, "licenses");
    const seats = licenses.items.reduce((sum, tenant) => sum + tenant.seats_used, 0);
    assert.equal(seats, MEMBERS + tenants.length, "every invitee holds a seat (and the owner one per tenant)");
    const grown = (performance.now() - started) / 1000;

    // Controls: the scan reads the account's current data (the last invitee is in it), and that
    // data is past the limit in all, so a pass means it is spread over values the platform takes.
    const files = objectFiles();
    const measured = await Promise.all(files.map((file) => measureObject(file)));
    const holders = [];
    for (const file of files) if (await objectHolds(file, longEmail(MEMBERS - 1))) holders.push(file);
    assert.equal(holders.length, 1, "exactly one Durable Object holds the last invitee (the scan is not blind)");
    const account = measured.find((m) => m.file === holders[0]);
    assert.ok(
      account.bytes > VALUE_LIMIT,
      `the account stores ${account.bytes} bytes in all, not past ${VALUE_LIMIT}: grow it more (PORTCULLIS_STORAGE_MEMBERS)`,
    );
    const largest = account.largestRow;
    console.log(
      `grew ${MEMBERS} pending members over ${tenants.length} tenants in ${grown.toFixed(1)} s; the account's object ` +
        `stores ${account.bytes} bytes; its largest row: ${largest.table}[${largest.key}] ${largest.bytes} bytes; ` +
        `${files.length} objects scanned in ${((performance.now() - started) / 1000 - grown).toFixed(1)} s`,
    );

    const over = measured.flatMap((m) =>
      m.over.map((o) => `${shortName(m.file)}: ${o.kind === "value" ? `${o.table}.${o.column}` : `row of ${o.table}`} ` +
        `key ${JSON.stringify(o.key)}: ${o.bytes} bytes`),
    );
    if (over.length) {
      assert.fail(`${over.length} stored values or rows over the platform's ${VALUE_LIMIT}-byte limit:\n  ${over.join("\n  ")}`);
    }
  },
);
