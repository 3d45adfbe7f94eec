import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, issueToken, model } from "../gatekeeper.mjs";

test("the installed package issues, verifies and authorizes a token with the default model", () => {
  assert.ok(model.document().permissions.some((permission) => permission.name === "build_applications"));
  const token = issueToken(["build_applications"]);
  assert.match(token.secret, /^pctk_[A-Za-z0-9_-]+:pcts_[A-Za-z0-9_-]+$/);
  const records = new Map([[token.storage_key, token.record]]);

  const allowed = decide(`Bearer ${token.secret}`, records, "run_build");
  assert.equal(allowed.status, 200);
  assert.equal(allowed.principal.tenant_id, "ten_0123456789abcdef");
  assert.deepEqual(allowed.principal.permissions, ["build_applications"]);

  assert.deepEqual(decide(`Bearer ${token.secret}`, records, "manage_users"), { status: 403, code: "missing_permission" });
  assert.deepEqual(decide(`Bearer ${token.secret}`, new Map(), "run_build"), { status: 401, code: "invalid_credentials" });
  assert.deepEqual(decide("Bearer pctk_garbage", records, "run_build"), { status: 401, code: "malformed_credential" });
});

test("a token with another token's secret is refused", () => {
  const first = issueToken(["build_applications"]);
  const second = issueToken(["build_applications"]);
  const records = new Map([[first.storage_key, first.record]]);
  const forged = `${first.secret.split(":")[0]}:${second.secret.split(":")[1]}`;
  assert.deepEqual(decide(`Bearer ${forged}`, records, "run_build"), { status: 401, code: "invalid_credentials" });
});
