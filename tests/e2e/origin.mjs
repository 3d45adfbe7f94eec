// A tiny protected origin for the gateway's tests and demo: it echoes what it received (method,
// request target, headers, body) as JSON, and checks the gateway's identity signature with its
// own implementation of the algorithm the README documents (not the Rust one), so a test that
// passes shows an origin written from the documentation can trust the edge.
//
//   PORTCULLIS_GATEWAY_KEY=<base64> ORIGIN_PORT=8788 node tests/e2e/origin.mjs
//
// GET /__origin/health answers 200 (for start-up checks); every other request is echoed.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

export const SIGNED_HEADERS = [
  "portcullis-account",
  "portcullis-tenant",
  "portcullis-principal-kind",
  "portcullis-principal-id",
  "portcullis-key-id",
  "portcullis-permissions",
  "portcullis-plan",
  "portcullis-external-id",
  "portcullis-metadata",
  "portcullis-operation",
  "portcullis-request-id",
  "portcullis-timestamp",
];

/**
 * Checks the identity headers of a request (`headers`: lower-case name → value).
 * Returns { ok: true, identity } or { ok: false, error }.
 */
export function verifyIdentity(headers, method, target, keyBase64, nowSeconds, maxAgeSeconds = 300) {
  const values = [];
  for (const name of SIGNED_HEADERS) {
    const value = headers[name];
    if (typeof value !== "string") return { ok: false, error: `missing ${name}` };
    if (/[\r\n]/.test(value)) return { ok: false, error: `malformed ${name}` };
    values.push(value);
  }
  const signature = headers["portcullis-signature"];
  if (typeof signature !== "string" || !signature.startsWith("v2=")) {
    return { ok: false, error: "missing or malformed portcullis-signature" };
  }
  const canonical = [method, target, ...values].join("\n");
  const mac = createHmac("sha256", Buffer.from(keyBase64, "base64"))
    .update("portcullis/identity/v2")
    .update(Buffer.from([0]))
    .update(canonical)
    .digest();
  const presented = Buffer.from(signature.slice(3), "base64url");
  if (presented.length !== mac.length || !timingSafeEqual(presented, mac)) {
    return { ok: false, error: "signature does not match" };
  }
  const signedAt = Number(headers["portcullis-timestamp"]);
  if (!Number.isSafeInteger(signedAt) || Math.abs(nowSeconds - signedAt) > maxAgeSeconds) {
    return { ok: false, error: "stale timestamp" };
  }
  return { ok: true, identity: Object.fromEntries(SIGNED_HEADERS.map((name, i) => [name, values[i]])) };
}

function serve(port, keyBase64) {
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      if (request.url === "/__origin/health") {
        response.writeHead(200, { "content-type": "text/plain" }).end("ok");
        return;
      }
      const headers = request.headers;
      const signed = typeof headers["portcullis-signature"] === "string";
      const check = signed
        ? verifyIdentity(headers, request.method, request.url, keyBase64, Math.floor(Date.now() / 1000))
        : { ok: false, error: "unsigned" };
      const echo = {
        method: request.method,
        target: request.url,
        headers,
        body: Buffer.concat(chunks).toString("utf8"),
        identity: { signed, valid: check.ok, error: check.error ?? null },
      };
      response.writeHead(200, { "content-type": "application/json", "x-origin": "echo" }).end(JSON.stringify(echo));
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(port, "127.0.0.1");
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const key = process.env.PORTCULLIS_GATEWAY_KEY;
  const port = Number(process.env.ORIGIN_PORT ?? 8788);
  if (!key) {
    console.error("origin: set PORTCULLIS_GATEWAY_KEY (base64) to check signatures");
    process.exit(2);
  }
  serve(port, key);
}
