// The package as an application uses it once installed from npm: imported by name, its wasm
// module loaded with `initSync`, the default product model, then one token issued, verified and
// authorized, as an edge worker would do on each request.
import { readFileSync } from "node:fs";
import {
  Model,
  authorize,
  credentialKeyId,
  generateHashingKey,
  initSync,
  issueCredential,
  verifyCredential,
} from "portcullis-wasm";

initSync({ module: readFileSync(new URL(import.meta.resolve("portcullis-wasm/portcullis_wasm_bg.wasm"))) });

export const model = Model.default();

// A hashing key belongs in a secret store; a fresh one keeps the example self-contained.
export const hashingKey = generateHashingKey();

// issueToken(permissions): a new API token of a team tenant, and the record to store for it.
export function issueToken(permissions) {
  const issued = issueCredential(
    model,
    {
      kind: "api_token",
      account_id: "acc_0123456789abcdef",
      tenant_id: "ten_0123456789abcdef",
      name: "ci",
      plan: "team",
      owner: "usr_0123456789abcdef",
      permissions,
    },
    hashingKey,
  );
  if (!issued.ok) throw new Error(issued.errors.map((error) => error.message).join("; "));
  return issued;
}

// decide(header, records, operation): what an edge answers for an `Authorization` header, with
// the stored records (a Map from storage key to record) and the operation the route performs.
export function decide(header, records, operation) {
  const located = credentialKeyId(header);
  if (!located.ok) return { status: 401, code: located.errors[0].code };
  const verified = verifyCredential(model, header, records.get(located.storage_key) ?? null, hashingKey);
  if (!verified.ok) return { status: 401, code: verified.errors[0].public.code };
  const decision = authorize(model, verified.principal, operation);
  if (!decision.ok || !decision.allow) return { status: 403, code: decision.reason?.code ?? "refused" };
  return { status: 200, principal: verified.principal };
}
