// Credential terms and rolls through the real terraform CLI against the real worker: a token
// and an automation key created with a validity window, client IP rules (an IPv6 range among
// them), an external id and metadata, checked in the state, in the API's views and at the edge
// from allowed and refused client addresses; a change of `rotation_triggers` planned as an
// update in place and applied as a roll (same key id, a new secret; the previous one working
// through the overlap, or not at all with none); a term change planned as a replacement; the
// terms' plan-time validation.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Workspace, call, flat, ok, signUp } from "./lib.mjs";

/** RFC 3339 text of now + `seconds`, whole seconds. */
const at = (seconds) => new Date((Math.floor(Date.now() / 1000) + seconds) * 1000).toISOString().replace(".000Z", "Z");

/** whoami with `credential` from the client address `ip`. */
const whoami = (credential, ip) => call("GET", "/v1/whoami", { token: credential, headers: { "cf-connecting-ip": ip } });

describe("credential terms and rolls", () => {
  let world;
  let ws;
  const notBefore = at(-60);
  const expiresAt = at(86_400);
  const later = at(86_400);

  const config = ({ version = "1", tokenExternalId = "cus_42" } = {}) => `
resource "portcullis_api_token" "edge" {
  name        = "edge"
  permissions = ["build_applications"]
  not_before  = "${notBefore}"
  expires_at  = "${expiresAt}"
  allowed_ips = ["198.51.100.0/24", "2001:db8::/32"]
  denied_ips  = ["198.51.100.13"]
  external_id = "${tokenExternalId}"
  metadata    = jsonencode({ team = "builds", tier = 2 })

  rotation_triggers        = { version = "${version}" }
  rotation_overlap_seconds = 600
}

resource "portcullis_automation_key" "builder" {
  name        = "builder"
  expires_at  = "${expiresAt}"
  allowed_ips = ["2001:db8:1::/48", "203.0.113.0/24"]
  external_id = "farm-1"
  rate_limit  = { requests = 1000, period_seconds = 60 }
  # Key order and whitespace are not changes: compared as JSON.
  metadata = <<-JSON
    { "pool": "linux",  "arch": "x86_64" }
  JSON

  rotation_triggers = { version = "${version}" }
}

resource "portcullis_api_token" "later" {
  name       = "later"
  not_before = "${later}"
}
`;

  before(async () => {
    world = await signUp("team");
    ws = new Workspace(world.token);
  });

  after(() => ws?.remove());

  test("created with their terms: state, views, and the edge from allowed and refused addresses", async () => {
    ws.write(config());
    await ws.apply();
    const state = await ws.resources();
    const token = state["portcullis_api_token.edge"];
    const key = state["portcullis_automation_key.builder"];
    assert.deepEqual(token.allowed_ips, ["198.51.100.0/24", "2001:db8::/32"]);
    assert.deepEqual(token.denied_ips, ["198.51.100.13"], "the configured spelling is kept");
    assert.equal(token.metadata, '{"team":"builds","tier":2}');
    assert.equal(token.rotation_overlap_seconds, 600);
    assert.equal(token.rolled_at, null);
    assert.equal(key.rotation_overlap_seconds, 0, "the default");
    assert.equal(key.not_before, null);
    assert.deepEqual(key.rate_limit, { requests: 1000, period_seconds: 60 });
    assert.equal(token.rate_limit, null);

    const view = ok(await call("GET", `/v1/tokens/${token.key_id}`, { token: world.token }));
    assert.equal(view.not_before, Date.parse(notBefore) / 1000);
    assert.equal(view.expires_at, Date.parse(expiresAt) / 1000);
    assert.deepEqual(view.denied_ips, ["198.51.100.13/32"]);
    assert.equal(view.external_id, "cus_42");
    assert.deepEqual(view.metadata, { team: "builds", tier: 2 });
    const keyView = ok(await call("GET", `/v1/automation-keys/${key.key_id}`, { token: world.token }));
    assert.deepEqual(keyView.allowed_ips, ["203.0.113.0/24", "2001:db8:1::/48"]);
    assert.deepEqual(keyView.metadata, { arch: "x86_64", pool: "linux" });
    assert.equal(keyView.expires_at, Date.parse(expiresAt) / 1000, "automation keys expire too");
    assert.deepEqual(keyView.rate_limit, { requests: 1000, period_seconds: 60 });

    const me = ok(await whoami(token.token, "2001:db8::7"), 200, "allowed IPv6");
    assert.equal(me.external_id, "cus_42");
    assert.deepEqual(me.metadata, { team: "builds", tier: 2 });
    ok(await whoami(token.token, "198.51.100.7"), 200, "allowed IPv4");
    for (const ip of ["198.51.100.13", "192.0.2.1", "2001:db9::1"]) {
      assert.equal((await whoami(token.token, ip)).json?.code, "ip_not_allowed", ip);
    }
    assert.equal(ok(await whoami(key.key, "2001:db8:1:ff::1"), 200).kind, "automation_key");
    assert.equal((await whoami(key.key, "2001:db8:2::1")).json?.code, "ip_not_allowed");
    const early = await whoami(state["portcullis_api_token.later"].token, "192.0.2.1");
    assert.equal(early.status, 401, "before not_before");

    await ws.assertNoChanges("after create");
  });

  test("a changed rotation_triggers rolls in place: same key ids, new secrets, the overlap kept", async () => {
    const before = await ws.resources();
    ws.write(config({ version: "2" }));
    const plan = await ws.plan();
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /portcullis_api_token\.edge will be updated in-place/);
    assert.match(plan.stdout, /portcullis_automation_key\.builder will be updated in-place/);
    assert.doesNotMatch(plan.stdout, /must be replaced/);
    assert.match(plan.stdout, /0 to add, 2 to change, 0 to destroy/);
    await ws.apply();
    const after = await ws.resources();
    const [oldToken, newToken] = [before, after].map((s) => s["portcullis_api_token.edge"]);
    const [oldKey, newKey] = [before, after].map((s) => s["portcullis_automation_key.builder"]);
    assert.equal(newToken.key_id, oldToken.key_id);
    assert.equal(newKey.key_id, oldKey.key_id);
    assert.notEqual(newToken.token, oldToken.token);
    assert.notEqual(newKey.key, oldKey.key);
    assert.match(newToken.rolled_at, /^\d{4}-\d\d-\d\dT/);
    const until = Date.parse(newToken.previous_valid_until) / 1000;
    assert.ok(Math.abs(until - (Date.parse(newToken.rolled_at) / 1000 + 600)) <= 1, newToken.previous_valid_until);
    assert.equal(newKey.previous_valid_until, null, "no overlap");

    ok(await whoami(newToken.token, "198.51.100.7"), 200, "the new token");
    ok(await whoami(oldToken.token, "198.51.100.7"), 200, "the previous token, during its overlap");
    ok(await whoami(newKey.key, "203.0.113.5"), 200, "the new key");
    assert.equal((await whoami(oldKey.key, "203.0.113.5")).status, 401, "the previous key stopped at the roll");
    const view = ok(await call("GET", `/v1/tokens/${newToken.key_id}`, { token: world.token }));
    assert.equal(view.external_id, "cus_42", "the terms are kept");
    await ws.assertNoChanges("after the roll");
  });

  test("a changed term plans a replacement", async () => {
    ws.write(config({ version: "2", tokenExternalId: "cus_43" }));
    const plan = await ws.plan();
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /portcullis_api_token\.edge must be replaced/);
    assert.match(plan.stdout, /external_id\s+= "cus_42" -> "cus_43" # forces replacement/);
    ws.write(config({ version: "2" }));
  });

  test("terms the core refuses fail the plan on their attribute", async () => {
    /** Plans `hcl` in a fresh workspace: asserts it fails with each of `expected` in its output. */
    const refused = async (hcl, expected) => {
      const bad = new Workspace(world.token);
      try {
        bad.write(hcl);
        const result = await bad.plan();
        const output = flat(`${result.stderr}\n${result.stdout}`);
        assert.equal(result.code, 1, output);
        for (const text of expected) assert.ok(output.includes(text), `expected "${text}" in:\n${output}`);
      } finally {
        bad.remove();
      }
    };
    // Each term on its own, parsed by the core's types (terraform validate).
    await refused(
      `
resource "portcullis_automation_key" "bad" {
  name                     = "bad"
  allowed_ips              = ["203.0.113.7/24"]
  external_id              = "has space"
  metadata                 = jsonencode(["not", "an", "object"])
  rotation_overlap_seconds = 86401
  rate_limit               = { requests = 50, period_seconds = 60 }
}
`,
      [
        "`203.0.113.7/24` has bits set after its prefix: the range is `203.0.113.0/24`",
        "external_id must be 1 to 128 visible ASCII characters",
        "metadata must be a JSON object",
        "Invalid configuration (overlap_too_long)",
        "rate_limit 50 requests per 60 seconds is not offered",
      ],
    );
    // The terms together, for a credential created now (plan).
    await refused(
      `
resource "portcullis_automation_key" "bad" {
  name       = "bad"
  denied_ips = [for i in range(33) : "10.0.\${i}.0/24"]
}

resource "portcullis_api_token" "window" {
  name       = "window"
  not_before = "${at(7200)}"
  expires_at = "${at(3600)}"
}
`,
      [
        "Invalid configuration (too_many_ip_ranges)",
        "denied_ips holds 33 ranges; at most 32 are allowed",
        "Invalid configuration (empty_validity_window)",
        "not_before must be before expires_at",
      ],
    );
  });

  test("destroy deletes them", async () => {
    const state = await ws.resources();
    await ws.destroy();
    const gone = await call("GET", `/v1/tokens/${state["portcullis_api_token.edge"].key_id}`, { token: world.token });
    assert.equal(gone.status, 404);
  });
});
