// The timed part of scripts/bench-scale: grows one enterprise account through the Management API
// and measures it at checkpoints. One subcommand per step, so the shell script can restart
// wrangler dev between them (for the cold load); what they share lives in $SCALE_DIR/scale.json.
//
//   node scripts/bench-scale.mjs setup            sign up the account (and a tiny control one)
//   node scripts/bench-scale.mjs grow N           grow to N memberships (exit 3: time budget spent)
//   node scripts/bench-scale.mjs measure          (a)-(d) at the current size, and (e) storage
//   node scripts/bench-scale.mjs cold             (f) after a restart: first request, then warm
//   node scripts/bench-scale.mjs report           the table
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, signUp } from "../tests/e2e/lib.mjs";
import { measureObject, objectFiles, objectHolds, shortName, VALUE_LIMIT } from "../tests/e2e/storage.mjs";

const dir = process.env.SCALE_DIR;
const stateDir = process.env.SCALE_STATE_DIR;
const stateFile = join(dir, "scale.json");
const TENANTS = Number(process.env.SCALE_TENANTS ?? 100);
// Members per tenant, the owner included (enterprise: 100 seats).
const MEMBERS = Number(process.env.SCALE_MEMBERS ?? 100);
const SAMPLES = Number(process.env.SCALE_SAMPLES ?? 20);
const CONCURRENCY = Number(process.env.SCALE_CONCURRENCY ?? 4);
const WARM = 10;
const PERMISSIONS = ["build_applications"];

const load = () => JSON.parse(readFileSync(stateFile, "utf8"));
const save = (state) => writeFileSync(stateFile, JSON.stringify(state));
const memberships = (state) => state.tenants.reduce((sum, tenant) => sum + tenant.size, 0);

/**
 * One request, retried when the connection fails (wrangler dev closes idle kept-alive loopback
 * connections); fails on any answer but `status`. Returns { json, ms }.
 */
async function request(what, status, method, path, options) {
  for (let attempt = 1; ; attempt += 1) {
    const started = performance.now();
    let answer;
    try {
      answer = await call(method, path, options);
    } catch (error) {
      if (attempt >= 3) throw new Error(`${what}: ${error.message}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    const ms = performance.now() - started;
    if (answer.status !== status) throw new Error(`${what}: expected ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`);
    return { json: answer.json, ms };
  }
}

/** Median and p99 (nearest rank) of `values`, in ms. */
function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { n: sorted.length, median: rank(0.5), p99: rank(0.99) };
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

async function setup() {
  const world = await signUp("enterprise", { account_name: "Scale", tenant_name: "Tenant 0" });
  const control = await signUp("team", { account_name: "Control" });
  save({
    account: world.account,
    owner: world.owner,
    ownerToken: world.token,
    control: control.token,
    tenants: [{ id: world.tenant, token: world.token, size: 1 }],
    members: [],
    checkpoints: [],
    started: Date.now(),
  });
}

/** Invites member `position` of tenant `index` and accepts: an active member with a token. */
async function addMember(state, index, position, timings) {
  const tenant = state.tenants[index];
  const address = `member-${index}-${position}@scale.test`;
  const invited = await request("invite", 201, "POST", `/v1/tenants/${tenant.id}/members`, {
    token: tenant.token,
    body: { email: address, permissions: PERMISSIONS },
  });
  const accepted = await request("accept", 200, "POST", "/v1/invitations/accept", {
    body: { account_id: state.account, email: address, code: invited.json.invitation.code },
  });
  timings.invite.push(invited.ms);
  timings.accept.push(accepted.ms);
  state.members.push({ tenant: index, user: invited.json.user_id, token: accepted.json.token });
}

/** Grows the account to `target` memberships, or until `deadline`; true if the deadline stopped it. */
async function grow(target, deadline) {
  const state = load();
  const limit = Math.min(target, TENANTS * MEMBERS);
  const timings = { invite: [], accept: [] };
  const startedAt = performance.now();
  const from = memberships(state);
  let lastReport = startedAt;
  let stopped = false;
  // The next free slot (tenant, position): tenants fill one after the other, each launched when
  // the previous one is full. Claims are chained so that a tenant is launched once.
  let claims = Promise.resolve();
  const claim = () => {
    const next = claims.then(async () => {
      if (memberships(state) >= limit) return null;
      let index = state.tenants.findIndex((tenant) => tenant.size < MEMBERS);
      if (index < 0) {
        const launched = await request("launch a tenant", 201, "POST", "/v1/tenants", {
          token: state.ownerToken,
          body: { name: `Tenant ${state.tenants.length}`, plan: "enterprise" },
        });
        state.tenants.push({ id: launched.json.tenant_id, token: launched.json.token, size: 1 });
        index = state.tenants.length - 1;
      }
      const position = state.tenants[index].size;
      state.tenants[index].size += 1;
      return { index, position };
    });
    claims = next.catch(() => {});
    return next;
  };
  const worker = async () => {
    for (;;) {
      if (Date.now() > deadline) {
        stopped = true;
        return;
      }
      const slot = await claim();
      if (!slot) return;
      await addMember(state, slot.index, slot.position, timings);
      const now = performance.now();
      if (now - lastReport > 15000) {
        lastReport = now;
        const recent = stats(timings.invite.slice(-50));
        console.error(
          `  ${memberships(state)} memberships, ${((memberships(state) - from) / ((now - startedAt) / 1000)).toFixed(1)}/s, ` +
            `invite median of the last 50 ${recent.median.toFixed(0)} ms`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - startedAt) / 1000;
  // The cost of growth at the end of this segment (its last 10 % of writes).
  const tail = (list) => stats(list.slice(-Math.max(1, Math.ceil(list.length / 10))));
  state.lastGrowth = {
    from,
    to: memberships(state),
    seconds,
    invite: timings.invite.length ? tail(timings.invite) : null,
    accept: timings.accept.length ? tail(timings.accept) : null,
  };
  save(state);
  console.error(`  grown ${from} -> ${memberships(state)} memberships in ${seconds.toFixed(1)} s`);
  return stopped && memberships(state) < limit;
}

/** Times `run(i)` SAMPLES times after one unmeasured call. */
async function sample(run) {
  await run(-1);
  const times = [];
  for (let i = 0; i < SAMPLES; i += 1) times.push(await run(i));
  return stats(times);
}

/** The account's Durable Object file: the one holding its owner's id. */
async function accountFile(state) {
  for (const file of objectFiles(stateDir)) if (await objectHolds(file, state.owner)) return file;
  throw new Error("the account's Durable Object file was not found under the state directory");
}

async function measure() {
  const state = load();
  const row = { memberships: memberships(state), users: 1 + state.members.length, tenants: state.tenants.length };
  row.growth = state.lastGrowth ?? null;
  // (a) a member permission change: members of one tenant, by its owner's token there (one
  // credential, so one last-used report a minute, as in the other samples).
  const tenantIndex = state.members[state.members.length - 1].tenant;
  const tenant = state.tenants[tenantIndex];
  const inTenant = state.members.filter((m) => m.tenant === tenantIndex);
  let flip = 0;
  row.permission = await sample(async () => {
    const m = pick(inTenant);
    flip += 1;
    const permissions = flip % 2 ? [...PERMISSIONS, "modify_configuration"] : PERMISSIONS;
    return (
      await request("change permissions", 200, "PATCH", `/v1/tenants/${tenant.id}/members/${m.user}`, {
        token: tenant.token,
        body: { permissions },
      })
    ).ms;
  });
  // (b) an API token creation, by one member for themselves (a member holds at most 50 per
  // tenant: another member every 40 tokens).
  let creator = pick(state.members);
  row.token = await sample(async (i) => {
    if (i > 0 && i % 40 === 0) creator = pick(state.members);
    return (
      await request("create a token", 201, "POST", `/v1/tenants/${state.tenants[creator.tenant].id}/tokens`, {
        token: creator.token,
        body: { name: `bench ${i}`, permissions: [] },
      })
    ).ms;
  });
  // (c) the first page of the account's user directory (50 users by email), by the owner.
  row.directory = await sample(async () => (await request("read the directory", 200, "GET", "/v1/users", { token: state.ownerToken })).ms);
  // (d) a verify: POST /v1/authorize with a member's token (KV only, no Durable Object).
  const verifier = pick(state.members);
  row.verify = await sample(
    async () =>
      (await request("authorize", 200, "POST", "/v1/authorize", { token: verifier.token, body: { operation: "run_build" } })).ms,
  );
  // (e) what the account's Durable Object stores.
  const file = await accountFile(state);
  const measured = await measureObject(file);
  row.storage = {
    file: shortName(file),
    bytes: measured.bytes,
    largestValue: measured.largestValue,
    largestRow: measured.largestRow,
    over: measured.over.length,
  };
  state.checkpoints.push(row);
  save(state);
  const v = measured.largestValue;
  console.error(
    `  ${row.memberships} memberships: permission ${fmt(row.permission)}, token ${fmt(row.token)}, ` +
      `directory ${fmt(row.directory)}, verify ${fmt(row.verify)}; largest value ${v.bytes} B (${v.table}.${v.column} key ${v.key})`,
  );
}

async function cold() {
  const state = load();
  const first = async (token) => (await request("read the account", 200, "GET", "/v1/account", { token })).ms;
  // A tiny account first: it pays for the isolate and the Durable Object class starting, so
  // the account's own first request shows what loading its state costs.
  const control = await first(state.control);
  const coldMs = await first(state.ownerToken);
  const warm = [];
  for (let i = 0; i < WARM; i += 1) warm.push(await first(state.ownerToken));
  const row = state.checkpoints[state.checkpoints.length - 1];
  row.cold = { control, first: coldMs, warm: stats(warm) };
  save(state);
  console.error(`  cold: tiny account ${control.toFixed(1)} ms, this account first ${coldMs.toFixed(1)} ms, then ${fmt(row.cold.warm)}`);
}

const ms = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const fmt = (s) => (s ? `${ms(s.median)}/${ms(s.p99)}` : "-");
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;

function report() {
  const state = load();
  const columns = [
    ["members", (r) => r.memberships.toLocaleString("en")],
    ["users", (r) => r.users.toLocaleString("en")],
    ["tenants", (r) => String(r.tenants)],
    ["invite*", (r) => fmt(r.growth?.invite)],
    ["accept*", (r) => fmt(r.growth?.accept)],
    ["permission", (r) => fmt(r.permission)],
    ["token", (r) => fmt(r.token)],
    ["directory", (r) => fmt(r.directory)],
    ["verify", (r) => fmt(r.verify)],
    ["largest value", (r) => kb(r.storage.largestValue.bytes)],
    ["where", (r) => `${r.storage.largestValue.table}.${r.storage.largestValue.column}[${r.storage.largestValue.key}]`],
    ["DO total", (r) => kb(r.storage.bytes)],
    ["cold", (r) => (r.cold ? ms(r.cold.first) : "-")],
    ["warm", (r) => (r.cold ? ms(r.cold.warm.median) : "-")],
    ["tiny cold", (r) => (r.cold ? ms(r.cold.control) : "-")],
  ];
  const rows = state.checkpoints.map((r) => columns.map(([, f]) => f(r)));
  const widths = columns.map(([h], i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 10 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(`account ${state.account}: ${SAMPLES} samples per operation, median/p99 in ms (HTTP round trip from Node)`);
  console.log(line(columns.map(([h]) => h)));
  for (const r of rows) console.log(line(r));
  console.log(
    [
      "members = memberships (the owner counts once per tenant); users = distinct users; every one active with a token.",
      `invite*/accept*: the growth's own writes (${CONCURRENCY} in flight, so they include queueing in the object), median/p99 over the last 10 % of the segment up to that checkpoint.`,
      "permission: PATCH /v1/tenants/{t}/members/{u}; token: POST /v1/tenants/{t}/tokens; directory: GET /v1/users (first page);",
      "verify: POST /v1/authorize; largest value: the biggest string/BLOB in the account's Durable Object SQLite",
      `(limit ${VALUE_LIMIT.toLocaleString("en")} B); DO total: every value of that database; cold: the account's first request (GET /v1/account)`,
      "after restarting wrangler dev on the same state, warm: median of the next 10, tiny cold: a 1-user account's first request just before.",
    ].join("\n"),
  );
  const over = state.checkpoints.filter((r) => r.storage.over > 0);
  if (over.length) {
    console.log(`OVER THE PLATFORM LIMIT from ${over[0].memberships} memberships: Cloudflare would refuse these writes.`);
  }
}

const [command, argument] = process.argv.slice(2);
if (command === "setup") await setup();
else if (command === "grow") {
  const budget = Number(process.env.SCALE_DEADLINE ?? 0);
  const stopped = await grow(Number(argument), budget > 0 ? budget : Infinity);
  if (stopped) process.exit(3);
} else if (command === "measure") await measure();
else if (command === "cold") await cold();
else if (command === "report") report();
else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
