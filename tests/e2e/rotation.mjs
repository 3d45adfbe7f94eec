// A rotation of PORTCULLIS_HASHING_KEY against the real worker, in three phases that
// scripts/test-worker runs around two restarts of `wrangler dev` on the same storage:
//   prepare  (old key):              an account, two tokens, an automation key, a member's
//                                    password and a session; written to the state file.
//   rotating (new key, old previous): everything still works; the token, the key and the
//                                    password used now are stored again under the new key.
//   after    (new key alone):        what was used while rotating works; the token nobody used
//                                    and the session are refused, like any wrong secret.
// Usage: node tests/e2e/rotation.mjs PHASE STATE_FILE
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { assertProblem, call, email, invite, ok, remember, signUp, token } from "./lib.mjs";

const PASSWORD = "Rotation-Password-9f3c1d";
remember(PASSWORD);
const [phase, stateFile] = process.argv.slice(2);

const whoami = (credential) => call("GET", "/v1/whoami", { token: credential });
const signIn = (state) =>
  call("POST", "/v1/sessions", { body: { account_id: state.account, email: state.email, password: PASSWORD } });

async function prepare() {
  const world = await signUp("team");
  const used = ok(await token(world, world.token, ["build_applications"]), 201, "token");
  const unused = ok(await token(world, world.token, []), 201, "unused token");
  const key = ok(
    await call("POST", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token, body: { name: "builds" } }),
    201,
    "automation key",
  );
  const address = email("rotation");
  const invited = ok(await invite(world, address, []), 201, "invite");
  const accepted = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: invited.invitation.code, password: PASSWORD },
    }),
    200,
    "accept with a password",
  );
  const state = {
    account: world.account,
    owner: world.token,
    used: used.token,
    unused: unused.token,
    key: key.key,
    email: address,
    session: accepted.session,
  };
  for (const credential of [state.owner, state.used, state.unused, state.key, state.session]) {
    ok(await whoami(credential), 200, "before the rotation");
  }
  writeFileSync(stateFile, JSON.stringify(state));
  console.log("rotation prepare: account, 2 tokens, an automation key, a password and a session under the old key");
}

async function rotating(state) {
  // Not the unused token: it must stay as it was made, under the old key.
  for (const [what, credential] of [["owner token", state.owner], ["token", state.used], ["automation key", state.key], ["session", state.session]]) {
    ok(await whoami(credential), 200, `${what} while rotating`);
  }
  ok(await signIn(state), 201, "password sign-in while rotating");
  // The re-hash reports go to the account's Durable Object after the responses.
  await sleep(1000);
  console.log("rotation rotating: the credentials and the password used work under new key + previous key");
}

async function after(state) {
  ok(await whoami(state.owner), 200, "owner token (used while rotating)");
  ok(await whoami(state.used), 200, "token used while rotating");
  ok(await whoami(state.key), 200, "automation key used while rotating");
  const signedIn = ok(await signIn(state), 201, "password rehashed while rotating");
  ok(await whoami(signedIn.session), 200, "a new session");
  // The unused token (its hash made under the old key) now reads like a wrong secret. So does
  // the session from before the rotation: sessions are never re-hashed, they expire.
  for (const [what, credential] of [["unused token", state.unused], ["old session", state.session]]) {
    const refused = await whoami(credential);
    assert.equal(refused.status, 401, `${what}: ${refused.status} ${refused.text}`);
  }
  assertProblem(await whoami(state.unused), 401, "invalid_credentials", "unused token");
  console.log("rotation after: used credentials and the password work under the new key alone; the rest is refused");
}

if (phase === "prepare") await prepare();
else {
  const state = JSON.parse(readFileSync(stateFile, "utf8"));
  if (phase === "rotating") await rotating(state);
  else if (phase === "after") await after(state);
  else throw new Error(`unknown phase ${phase}`);
}
