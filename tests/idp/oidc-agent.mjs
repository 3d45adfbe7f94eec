// What a browser and the worker do over HTTP in an OpenID Connect sign-in, with `fetch` alone:
// used by oidc-smoke.mjs and by the core's real-provider test (crates/core/tests/sso.rs) as a
// module or from the command line:
//
//   node tests/idp/oidc-agent.mjs get <url>                          # GET, print the body
//   node tests/idp/oidc-agent.mjs authorize <authorization_url> <redirect_uri>
//       # follow the redirects (keeping the provider's cookies, as a browser does) until one
//       # goes to redirect_uri; print that URL (with code and state, or error)
//   node tests/idp/oidc-agent.mjs token <token_endpoint> <authorization header or ""> <form body>
//       # POST the token request; print the JSON answer (an OAuth error answer too)
import { pathToFileURL } from "node:url";

const MAX_REDIRECTS = 20;

export async function get(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${body}`);
  return body;
}

// Follows `authorizationUrl` like a browser until a redirect goes to `redirectUri`, which it
// returns without fetching. Cookies are kept per host, as the provider's interaction needs.
export async function authorize(authorizationUrl, redirectUri) {
  const jar = new Map();
  let url = authorizationUrl;
  for (let hop = 0; hop < MAX_REDIRECTS; hop += 1) {
    const host = new URL(url).host;
    const cookies = jar.get(host) ?? new Map();
    const response = await fetch(url, {
      redirect: "manual",
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; ") },
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(";");
      const index = pair.indexOf("=");
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute))
        || attributes.some((attribute) => /^\s*expires=thu, 01 jan 1970/i.test(attribute));
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
    jar.set(host, cookies);
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`GET ${url}: ${response.status} without a redirect: ${await response.text()}`);
    }
    await response.arrayBuffer();
    const next = new URL(location, url).href;
    if (next.startsWith(redirectUri)) return next;
    url = next;
  }
  throw new Error(`more than ${MAX_REDIRECTS} redirects`);
}

// POSTs a token request; the answer's JSON text, whatever its status.
export async function token(tokenEndpoint, authorization, body) {
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (authorization) headers.authorization = authorization;
  const response = await fetch(tokenEndpoint, { method: "POST", headers, body });
  return response.text();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, ...args] = process.argv.slice(2);
  const commands = { get, authorize, token };
  if (!commands[command]) {
    console.error("usage: oidc-agent.mjs get|authorize|token …");
    process.exit(2);
  }
  try {
    process.stdout.write(`${await commands[command](...args)}\n`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
