// A real OpenID Connect identity provider for the tests: the npm package `oidc-provider`
// (certified OpenID Provider, https://github.com/panva/node-oidc-provider), on 127.0.0.1 only,
// with one confidential client, PKCE required, `email` and `email_verified` in the ID token,
// and accounts from a JSON map. Its interaction handler signs in the `login_hint` email and
// consents at once, so a test drives the real authorization code flow with `fetch` alone (see
// oidc-agent.mjs, which follows the redirects and keeps the provider's cookies); no browser.
//
//   OIDC_CLIENT_ID=portcullis OIDC_CLIENT_SECRET=s3cret \
//   OIDC_REDIRECT_URI=http://127.0.0.1:8787/v1/sso/oidc/callback \
//   OIDC_ACCOUNTS='{"ana@acme.test": true, "bo@acme.test": false}' \
//   node tests/idp/oidc-provider.mjs 9411
//
// Port: the first argument, else OIDC_IDP_PORT, else 0 (any free port). Prints `ready <port>`
// on stdout once listening; the issuer is then http://127.0.0.1:<port>. Environment:
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI  the one client (all required)
//   OIDC_ACCOUNTS            {"email": verified} or {"email": {"verified": bool, "name": "…"}}
//   OIDC_TOKEN_AUTH_METHOD   client_secret_basic (default) or client_secret_post
//   OIDC_ID_TOKEN_ALG        RS256 (default) or ES256
// Signing keys are generated at start (an RSA 2048 and a P-256 key), so every run has new ones.
// A login_hint that is not an account ends the flow with `error=access_denied`.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import Provider from "oidc-provider";

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider.mjs: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(process.argv[2] ?? process.env.OIDC_IDP_PORT ?? 0);
const clientId = required("OIDC_CLIENT_ID");
const clientSecret = required("OIDC_CLIENT_SECRET");
const redirectUri = required("OIDC_REDIRECT_URI");
const authMethod = process.env.OIDC_TOKEN_AUTH_METHOD ?? "client_secret_basic";
const idTokenAlg = process.env.OIDC_ID_TOKEN_ALG ?? "RS256";

const accounts = new Map(
  Object.entries(JSON.parse(process.env.OIDC_ACCOUNTS ?? "{}")).map(([email, value]) => {
    const entry = typeof value === "object" && value !== null ? value : { verified: value };
    return [email.toLowerCase(), { verified: entry.verified === true, name: entry.name ?? email.split("@")[0] }];
  }),
);

// An account by email: an exact entry, else a `*@domain` entry (any address at that domain),
// so a test suite can sign in users it creates on the fly.
function account(email) {
  const address = String(email ?? "").toLowerCase();
  const exact = accounts.get(address);
  if (exact) return exact;
  const wildcard = accounts.get(`*@${address.split("@")[1] ?? ""}`);
  return wildcard && address.includes("@") ? { ...wildcard, name: address.split("@")[0] } : undefined;
}

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: "jwk" }), kid: `${alg.toLowerCase()}-${randomBytes(4).toString("hex")}`, alg, use: "sig" };
}

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: authMethod,
      id_token_signed_response_alg: idTokenAlg,
    },
  ],
  jwks: {
    keys: [
      signingKey("rsa", { modulusLength: 2048 }, "RS256"),
      signingKey("ec", { namedCurve: "P-256" }, "ES256"),
    ],
  },
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // Put the scopes' claims in the ID token (as Okta, Entra ID, Google and Auth0 do), not only
  // behind the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString("base64url")] },
  async findAccount(_ctx, sub) {
    const known = account(sub);
    if (!known) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: sub, email_verified: known.verified, name: known.name };
      },
    };
  },
};

const server = createServer();
server.listen(port, "127.0.0.1", () => {
  const actual = server.address().port;
  const provider = new Provider(`http://127.0.0.1:${actual}`, configuration);

  // Login and consent, done at once: the account is the login_hint's, and the client gets the
  // scopes and claims it asked for.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith("/interaction/")) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, session } = details;
    let result;
    if (prompt.name === "login") {
      const hint = String(params.login_hint ?? "").toLowerCase();
      result = account(hint)
        ? { login: { accountId: hint } }
        : { error: "access_denied", error_description: "the login_hint is not an account" };
    } else if (prompt.name === "consent") {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const missing = prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(" "));
      }
      result = { consent: { grantId: await grant.save() } };
    } else {
      result = { error: "access_denied", error_description: `unexpected prompt ${prompt.name}` };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: prompt.name !== "login",
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  server.on("request", provider.callback());
  console.log(`ready ${actual}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(0));
}
