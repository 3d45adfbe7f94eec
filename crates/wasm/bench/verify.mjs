// Verifications per second of the wasm package under Node, for docs/PERFORMANCE.md.
//
//   wasm-pack build crates/wasm --target web --release --out-dir pkg
//   node crates/wasm/bench/verify.mjs [seconds per sample, default 2] [package directory, default ../pkg]
//
// Uses the API token of the shared vectors (crates/wasm/tests/vectors.json) at the vectors'
// time, so every call is a full, successful verification. One benchmark = one call from
// JavaScript, arguments and result crossing the boundary included. Five samples each after a
// warm-up; the median is reported. Another build (an older one, to compare) can be named as
// the second argument; the calls it lacks are skipped.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const pkg = process.argv[3] ? pathToFileURL(`${process.argv[3]}/`) : new URL("../pkg/", import.meta.url);
const { Model, Verifier, authorize, credentialKeyId, initSync, listOperations, verifyCredential } = await import(
  new URL("portcullis_wasm.js", pkg).href
);
initSync({ module: readFileSync(new URL("portcullis_wasm_bg.wasm", pkg)) });
const model = Model.default(); // the vectors' records are the default model's

const vectors = JSON.parse(readFileSync(new URL("../tests/vectors.json", import.meta.url), "utf8"));
const token = vectors.verify.find((vector) => vector.name === "api token, bare");
const recordText = JSON.stringify(token.record);
const header = `Bearer ${token.credential}`;
const seconds = Number(process.argv[2] ?? 2);

function check(result) {
  if (!result.ok) throw new Error(`benchmark input does not verify: ${JSON.stringify(result)}`);
}
check(verifyCredential(model, header, recordText, vectors.hashing_key, vectors.now));
const created = Verifier.create(model, vectors.hashing_key);
check(created);
const verifier = created.verifier;
const parsed = verifier.parseRecord(recordText);
check(parsed);
const stored = parsed.record;
check({ ok: verifier.verifyStored(header, stored, vectors.now).ok });
const checks = typeof verifier.checkStored === "function";
if (checks) check({ ok: verifier.checkStored(header, stored, vectors.now) });

// A verdict is a handle on wasm memory: free it when done (the FinalizationRegistry would
// otherwise, later), and read only what is needed.
function verdictOk(verdict) {
  const ok = verdict.ok;
  verdict.free();
  return { ok };
}

// An operation the benchmark's token may perform, for the authorizing rows (a build with
// `lastAllows` only).
const allowed =
  checks &&
  typeof verifier.lastAllows === "function" &&
  verifier.checkStored(header, stored, vectors.now) &&
  listOperations(model)
    .map((operation) => operation.name)
    .find((name) => verifier.lastAllows(name));

const benchmarks = {
  // What a worker does per request: the header, the record as KV's JSON text.
  "verifyCredential(header, record JSON text)": () =>
    verifyCredential(model, header, recordText, vectors.hashing_key, vectors.now),
  // The record as a JavaScript object (it is written as JSON once inside the call).
  "verifyCredential(credential, record object)": () =>
    verifyCredential(model, token.credential, token.record, vectors.hashing_key, vectors.now),
  // A Verifier (hashing key decoded and keyed once): the record still read per call, as a
  // worker reads it from KV; only `ok` read from the verdict.
  "Verifier.verify(header, record JSON text).ok": () =>
    verdictOk(verifier.verify(header, recordText, vectors.now)),
  // The record read once (parseRecord) and kept: the verification alone.
  "Verifier.verifyStored(header, record).ok": () =>
    verdictOk(verifier.verifyStored(header, stored, vectors.now)),
  // The same, with the principal built as an object.
  "Verifier.verifyStored(header, record).principal": () => {
    const verdict = verifier.verifyStored(header, stored, vectors.now);
    const ok = verdict.principal !== undefined;
    verdict.free();
    return { ok };
  },
  // A boolean back, no Verdict object: the outcome stays in the verifier.
  ...(checks && {
    "Verifier.check(header, record JSON text)": () => ({
      ok: verifier.check(header, recordText, vectors.now),
    }),
    "Verifier.checkStored(header, record)": () => ({
      ok: verifier.checkStored(header, stored, vectors.now),
    }),
    // The same, with the principal built as an object.
    "Verifier.checkStored(header, record) + lastPrincipal": () => ({
      ok: verifier.checkStored(header, stored, vectors.now) && verifier.lastPrincipal !== undefined,
    }),
    // Verified, then authorized for one operation the token may perform: through the
    // principal object, and inside wasm against the principal the verifier keeps.
    ...(allowed && {
      [`... + authorize(model, lastPrincipal, "${allowed}").allow`]: () => ({
        ok:
          verifier.checkStored(header, stored, vectors.now) &&
          authorize(model, verifier.lastPrincipal, allowed).allow,
      }),
      [`... + lastAllows("${allowed}")`]: () => ({
        ok: verifier.checkStored(header, stored, vectors.now) && verifier.lastAllows(allowed),
      }),
    }),
  }),
  // Parsing alone: format and checksum, no HMAC.
  "credentialKeyId(header)": () => credentialKeyId(header),
};

function sample(run) {
  let calls = 0;
  let sink = 0;
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1000; i++) sink ^= run().ok ? 1 : 0;
    calls += 1000;
    now = process.hrtime.bigint();
  }
  if (sink === 2) console.log("unreachable");
  return Number(now - start) / calls;
}

console.log(`node ${process.version}, ${fileURLToPath(pkg)}, ${seconds} s per sample, median of 5`);
for (const [name, run] of Object.entries(benchmarks)) {
  sample(run); // warm-up
  const samples = Array.from({ length: 5 }, () => sample(run)).sort((a, b) => a - b);
  const median = samples[2];
  console.log(
    `${name.padEnd(54)} ${median.toFixed(0).padStart(6)} ns/call  ${(1e9 / median).toFixed(0).padStart(8)} calls/s` +
      `  (samples ${samples[0].toFixed(0)}–${samples[4].toFixed(0)} ns)`,
  );
}
