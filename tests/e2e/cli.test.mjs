// The `portcullis` command-line client (crates/cli), built once by scripts/test (or
// scripts/test-worker) and passed in PORTCULLIS_CLI, against the real worker: sign-up, an
// invitation, a token created and used, deleted and refused, then the audit tail, all through
// the binary's JSON output; the token it was given never appears in what it prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { endpoint, email, remember } from "./lib.mjs";

const cli = process.env.PORTCULLIS_CLI;
const execute = promisify(execFile);

/** Runs the CLI with `--json`; returns { code, stdout, stderr, json } (json: the parsed stdout). */
async function portcullis(args, { token } = {}) {
  assert.ok(cli, "PORTCULLIS_CLI is not set (run the suite through scripts/test-worker)");
  const env = { ...process.env, PORTCULLIS_ENDPOINT: endpoint };
  delete env.PORTCULLIS_TOKEN;
  if (token) env.PORTCULLIS_TOKEN = token;
  let result;
  try {
    const { stdout, stderr } = await execute(cli, ["--json", ...args], { env, timeout: 30_000 });
    result = { code: 0, stdout, stderr };
  } catch (error) {
    if (typeof error.code !== "number") throw error;
    result = { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
  const lines = result.stdout.trim().split("\n").filter(Boolean);
  result.json = lines.length === 1 ? JSON.parse(lines[0]) : lines.map((line) => JSON.parse(line));
  if (token) assert.ok(!`${result.stdout}${result.stderr}`.includes(token.split(":")[1]), "the token was printed");
  return result;
}

function ok(result, what) {
  assert.equal(result.code, 0, `${what}: exit ${result.code}: ${result.stderr}`);
  return result.json;
}

test("sign-up, invite, token create, whoami with it, delete it, audit tail: through the CLI", async () => {
  const signedUp = ok(
    await portcullis([
      "signup",
      "--account-name",
      "Acme",
      "--owner-email",
      email("cli-owner"),
      "--owner-name",
      "Olive Owner",
      "--plan",
      "enterprise", // the audit log is an enterprise feature
    ]),
    "signup",
  );
  remember(signedUp.token);
  assert.match(signedUp.account_id, /^acc_/);
  assert.match(signedUp.tenant_id, /^ten_/);
  assert.match(signedUp.token, /^pctk_[^:]+:pcts_/);
  const owner = signedUp.token;

  const address = email("cli-member");
  const invited = ok(
    await portcullis(["users", "invite", address, "--permission", "build_applications"], { token: owner }),
    "invite",
  );
  remember(invited.invitation.code);
  assert.equal(invited.tenant_id, signedUp.tenant_id);
  assert.equal(invited.status, "pending");
  assert.match(invited.invitation.code, /^pcinv_/);
  const members = ok(await portcullis(["users", "members"], { token: owner }), "members");
  const member = members.items.find((item) => item.user_id === invited.user_id);
  assert.deepEqual(member?.permissions, ["build_applications"]);

  const created = ok(
    await portcullis(
      ["tokens", "create", "--name", "ci", "--permission", "build_applications", "--permission", "user_and_api_management"],
      { token: owner },
    ),
    "token create",
  );
  remember(created.token);
  assert.match(created.key_id, /^pctk_/);
  assert.ok(created.token.startsWith(`${created.key_id}:`));
  assert.deepEqual(created.permissions, ["build_applications", "user_and_api_management"]);

  const me = ok(await portcullis(["whoami"], { token: created.token }), "whoami");
  assert.equal(me.kind, "user");
  assert.equal(me.key_id, created.key_id);
  assert.equal(me.user_id, signedUp.owner_id);
  assert.equal(me.tenant_id, signedUp.tenant_id);
  assert.deepEqual(me.permissions, ["build_applications", "user_and_api_management"]);

  const listed = ok(await portcullis(["tokens", "list"], { token: owner }), "token list");
  assert.ok(listed.items.some((token) => token.key_id === created.key_id));
  assert.deepEqual(ok(await portcullis(["tokens", "delete", created.key_id], { token: owner }), "token delete"), {
    deleted: created.key_id,
  });
  // Refused now: exit 1, the problem's code on stdout.
  const refused = await portcullis(["whoami"], { token: created.token });
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.json.status, 401);
  assert.equal(typeof refused.json.code, "string");
  assert.match(refused.stderr, /^error: /);

  const tail = ok(await portcullis(["audit", "tail", "-n", "3"], { token: owner }), "audit tail");
  const events = Array.isArray(tail) ? tail : [tail];
  assert.deepEqual(
    events.map((event) => event.action),
    ["member.invited", "api_token.created", "api_token.deleted"],
  );
  assert.ok(events.every((event) => event.tenant === signedUp.tenant_id));
  assert.equal(events[2].target, created.key_id);
  assert.ok(events[0].sequence < events[1].sequence && events[1].sequence < events[2].sequence);

  // A usage error never reaches the API: exit 2.
  const unknown = await portcullis(["tokens", "create", "--name", "x", "--permission", "fly"], { token: owner });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /`fly` is not a permission/);
});

test("roll a token and a key with an overlap, read their usage: through the CLI", async () => {
  const signedUp = ok(
    await portcullis(["signup", "--account-name", "Acme", "--owner-email", email("cli-roll"), "--owner-name", "Olive Owner", "--plan", "team"]),
    "signup",
  );
  remember(signedUp.token);
  const owner = signedUp.token;
  const created = ok(await portcullis(["tokens", "create", "--name", "ci"], { token: owner }), "token create");
  remember(created.token);
  ok(await portcullis(["whoami"], { token: created.token }), "whoami before the roll");
  const rolled = ok(await portcullis(["tokens", "roll", created.key_id, "--overlap-seconds", "600"], { token: owner }), "roll");
  remember(rolled.token);
  assert.equal(rolled.key_id, created.key_id);
  assert.ok(rolled.token.startsWith(`${created.key_id}:`) && rolled.token !== created.token);
  assert.ok(rolled.previous_valid_until > Date.now() / 1000, JSON.stringify(rolled));
  ok(await portcullis(["whoami"], { token: rolled.token }), "the new secret");
  ok(await portcullis(["whoami"], { token: created.token }), "the old one, during the overlap");
  const tooLong = await portcullis(["tokens", "roll", created.key_id, "--overlap-seconds", "90000"], { token: owner });
  assert.equal(tooLong.code, 1, tooLong.stderr);
  assert.equal(tooLong.json.code, "overlap_too_long");

  const key = ok(await portcullis(["keys", "create", "--name", "builds"], { token: owner }), "key create");
  remember(key.key);
  const rolledKey = ok(await portcullis(["keys", "roll", key.key_id], { token: owner }), "key roll");
  remember(rolledKey.key);
  assert.equal(rolledKey.key_id, key.key_id);
  assert.equal(rolledKey.previous_valid_until, null, "overlap 0: the old key stopped");
  assert.equal((await portcullis(["whoami"], { token: key.key })).code, 1, "the old key is refused");

  // Three uses of the token (the whoami calls above); counted by the edge and reported at once
  // for the first, then each interval (scripts/test-worker sets 1 second).
  await new Promise((resolve) => setTimeout(resolve, 1200));
  ok(await portcullis(["whoami"], { token: rolled.token }), "one more");
  let usage;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    usage = ok(await portcullis(["tokens", "usage", created.key_id], { token: owner }), "usage");
    if (usage.total === 4) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(usage.key_id, created.key_id);
  assert.equal(usage.days.length, 30);
  assert.equal(usage.total, 4, JSON.stringify(usage.days.at(-1)));
  const keyUsage = ok(await portcullis(["keys", "usage", key.key_id], { token: owner }), "key usage");
  assert.equal(keyUsage.total, 0, "a refused key authenticated nothing");
});
