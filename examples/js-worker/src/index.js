// A plain JavaScript Cloudflare Worker that verifies `Authorization: Bearer` credentials with
// the Portcullis wasm package: one KV read per request, every decision made by the engine.
//
//   GET /whoami                      -> 200 { principal } or 401 problem+json
//   GET /whoami?operation=run_build  -> also authorizes the operation (a name of the model's
//                                       operations): 403 when it is denied, 400 when the model
//                                       has no such operation
//
// Bindings: CREDENTIALS (KV, the records the engine projects, under `cred:v1:<key id>`),
// HASHING_KEY (secret, base64) and, optionally, PRODUCT_MODEL (a var: the product model document
// as JSON text, the one the Rust worker runs with; without it, the package's built-in default
// model). The package is built with
// `wasm-pack build crates/wasm --target web`; Workers compile the imported .wasm file into a
// WebAssembly.Module, which initSync instantiates once per isolate.
import {
  Model,
  authorize,
  credentialKeyId,
  initSync,
  verifyCredential,
} from "../../../crates/wasm/pkg/portcullis_wasm.js";
import wasmModule from "../../../crates/wasm/pkg/portcullis_wasm_bg.wasm";

initSync({ module: wasmModule });

// The product model, loaded once per isolate (per `env`): `{ ok: true, model }`, or every
// problem of the PRODUCT_MODEL document.
const models = new WeakMap();
function productModel(env) {
  let loaded = models.get(env);
  if (loaded === undefined) {
    loaded = env.PRODUCT_MODEL ? Model.load(env.PRODUCT_MODEL) : { ok: true, model: Model.default() };
    models.set(env, loaded);
  }
  return loaded;
}

// A refused credential's `code` is the precise reason (`wrong_secret`, `unknown_key`, ...),
// for this worker's own logs and rate limiting; the caller gets its `public` answer, the same
// for an unknown key id, a wrong secret and every refused state, so nobody can probe which key
// ids exist.
function publicErrors(errors) {
  return errors.map((error) => error.public ?? error);
}

function problem(status, title, errors) {
  const headers = { "content-type": "application/problem+json" };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="portcullis"';
  return new Response(JSON.stringify({ status, title, errors }), { status, headers });
}

export default {
  async fetch(request, env) {
    const loaded = productModel(env);
    if (!loaded.ok) return problem(500, "invalid product model", loaded.errors);
    const { model } = loaded;

    const header = request.headers.get("authorization");
    if (header === null) {
      return problem(401, "unauthorized", [
        { code: "missing_credentials", message: "send `Authorization: Bearer <credential>`" },
      ]);
    }
    // Parse first: garbage never reaches KV.
    const located = credentialKeyId(header);
    if (!located.ok) return problem(401, "unauthorized", publicErrors(located.errors));

    // KV hands back the record as JSON text (null when none is stored); the package reads both.
    const record = await env.CREDENTIALS.get(located.storage_key);
    const verified = verifyCredential(
      model,
      header,
      record,
      env.HASHING_KEY,
      undefined,
      request.headers.get("cf-connecting-ip"),
    );
    if (!verified.ok) return problem(401, "unauthorized", publicErrors(verified.errors));

    const operation = new URL(request.url).searchParams.get("operation");
    if (operation === null) return Response.json({ principal: verified.principal });

    const decision = authorize(model, verified.principal, operation);
    if (!decision.ok) return problem(400, "bad request", decision.errors);
    if (!decision.allow) {
      return problem(403, "forbidden", [{ code: decision.reason.code, message: decision.message }]);
    }
    return Response.json({ principal: verified.principal, operation, reason: decision.reason });
  },
};
