// A hand check of tests/idp/oidc-provider.mjs: starts it on loopback, runs the whole
// authorization code flow with PKCE (S256), state and nonce against it with fetch alone
// (oidc-agent.mjs), exchanges the code at the token endpoint with the client secret, checks the
// ID token's signature against the provider's JWKS (node:crypto) and its nonce, and prints its
// claims. Then checks what the provider refuses: no PKCE challenge, a wrong verifier, a code
// used twice, an unknown login_hint. Exits non-zero on any surprise.
//
//   node tests/idp/oidc-smoke.mjs            # any free port
//   OIDC_ID_TOKEN_ALG=ES256 OIDC_TOKEN_AUTH_METHOD=client_secret_post node tests/idp/oidc-smoke.mjs
import { spawn } from "node:child_process";
import { createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { authorize, get, token } from "./oidc-agent.mjs";

const clientId = "smoke-client";
const clientSecret = randomBytes(24).toString("base64url");
const redirectUri = "http://127.0.0.1:9/callback";
const authMethod = process.env.OIDC_TOKEN_AUTH_METHOD ?? "client_secret_basic";

const idp = spawn(process.execPath, [fileURLToPath(new URL("./oidc-provider.mjs", import.meta.url)), "0"], {
  env: {
    ...process.env,
    OIDC_CLIENT_ID: clientId,
    OIDC_CLIENT_SECRET: clientSecret,
    OIDC_REDIRECT_URI: redirectUri,
    OIDC_ACCOUNTS: JSON.stringify({ "ana@acme.test": { verified: true, name: "Ana Lima" }, "bo@acme.test": false }),
  },
  stdio: ["ignore", "pipe", "inherit"],
});
const [line] = await once(createInterface({ input: idp.stdout }), "line");
const port = /^ready (\d+)$/.exec(line)?.[1];
if (!port) throw new Error(`unexpected first line: ${line}`);
const issuer = `http://127.0.0.1:${port}`;

function check(condition, message) {
  if (!condition) {
    idp.kill();
    throw new Error(message);
  }
}

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const metadata = JSON.parse(await get(`${issuer}/.well-known/openid-configuration`));
check(metadata.issuer === issuer, `issuer ${metadata.issuer}`);
check(metadata.code_challenge_methods_supported?.includes("S256"), "no S256");
const jwks = JSON.parse(await get(metadata.jwks_uri));

function authorizationUrl({ state, nonce, challenge, hint }) {
  const url = new URL(metadata.authorization_endpoint);
  const params = {
    response_type: "code", client_id: clientId, redirect_uri: redirectUri,
    scope: "openid email profile", state, nonce, login_hint: hint,
  };
  if (challenge) Object.assign(params, { code_challenge: challenge, code_challenge_method: "S256" });
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

function tokenRequest(code, verifier) {
  const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier });
  let authorization = "";
  if (authMethod === "client_secret_post") {
    form.set("client_id", clientId);
    form.set("client_secret", clientSecret);
  } else {
    const encode = (text) => encodeURIComponent(text).replace(/%20/g, "+");
    authorization = `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
  }
  return [metadata.token_endpoint, authorization, form.toString()];
}

async function signIn(hint) {
  const state = b64url(randomBytes(32));
  const nonce = b64url(randomBytes(32));
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const callback = new URL(await authorize(authorizationUrl({ state, nonce, challenge, hint }), redirectUri));
  check(callback.searchParams.get("state") === state, `state came back as ${callback.searchParams.get("state")}`);
  const code = callback.searchParams.get("code");
  check(code, `no code: ${callback.href}`);
  const answer = JSON.parse(await token(...tokenRequest(code, verifier)));
  check(answer.id_token, `no id_token: ${JSON.stringify(answer)}`);
  const [header, payload, signature] = answer.id_token.split(".");
  const { alg, kid } = JSON.parse(Buffer.from(header, "base64url"));
  const jwk = jwks.keys.find((key) => key.kid === kid);
  check(jwk && jwk.alg === alg, `kid ${kid} (${alg}) not in the JWKS`);
  const valid = verify("sha256", Buffer.from(`${header}.${payload}`), {
    key: createPublicKey({ key: jwk, format: "jwk" }),
    dsaEncoding: "ieee-p1363",
  }, Buffer.from(signature, "base64url"));
  check(valid, "the ID token's signature does not verify against the JWKS");
  const claims = JSON.parse(Buffer.from(payload, "base64url"));
  check(claims.nonce === nonce, "nonce mismatch");
  check(claims.iss === issuer && claims.aud === clientId, `iss/aud ${claims.iss} ${claims.aud}`);
  return { alg, kid, claims, code, verifier };
}

const ana = await signIn("ana@acme.test");
console.log(`signed in ana@acme.test: id_token ${ana.alg} (kid ${ana.kid}), verified against ${metadata.jwks_uri}`);
console.log(JSON.stringify(ana.claims, null, 2));
check(ana.claims.email === "ana@acme.test" && ana.claims.email_verified === true, "ana's email claims");
const bo = await signIn("bo@acme.test");
check(bo.claims.email_verified === false, "bo is not verified");
console.log(`signed in bo@acme.test: email_verified=${bo.claims.email_verified}`);

// What the provider refuses.
const replay = JSON.parse(await token(...tokenRequest(ana.code, ana.verifier)));
check(replay.error === "invalid_grant", `a used code: ${JSON.stringify(replay)}`);
const noPkce = new URL(await authorize(authorizationUrl({ state: "s", nonce: "n", hint: "ana@acme.test" }), redirectUri));
check(noPkce.searchParams.get("error") === "invalid_request", `no PKCE: ${noPkce.href}`);
{
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const callback = new URL(await authorize(authorizationUrl({ state: "s", nonce: "n", challenge, hint: "ana@acme.test" }), redirectUri));
  const wrong = JSON.parse(await token(...tokenRequest(callback.searchParams.get("code"), b64url(randomBytes(32)))));
  check(wrong.error === "invalid_grant", `a wrong verifier: ${JSON.stringify(wrong)}`);
}
const stranger = new URL(await authorize(authorizationUrl({ state: "s", nonce: "n", challenge: "x".repeat(43), hint: "eve@acme.test" }), redirectUri));
check(stranger.searchParams.get("error") === "access_denied", `unknown login_hint: ${stranger.href}`);
console.log("refused: a used code, no PKCE challenge, a wrong code_verifier, an unknown login_hint");
idp.kill();
console.log("oidc smoke: ok");
