#!/usr/bin/env node
// Drives a wasm32-unknown-unknown build of crates/core/src/sso/saml.rs.proposal (with the
// wasm-bindgen shim saml_wasm.rs.proposal, `wasm-bindgen --target nodejs`) against a running
// tests/idp/saml-idp.mjs: the AuthnRequest is built in wasm -> the IdP's /sso (samlify parses
// and schema-validates it) -> SAMLResponse -> verified in wasm, then a replay, a tampered
// NameID, a late clock and an unsigned response, all of which must be refused.
//
//   node tests/idp/saml-wasm-check.mjs http://127.0.0.1:PORT /path/to/pkg/saml_proto.js
// Not part of the test suite: the prototype is not in the build (docs/SAML_FEASIBILITY.md).
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const [base, pkg] = process.argv.slice(2);
if (!base || !pkg) { console.error('usage: saml-wasm-check.mjs IDP_URL PKG_JS'); process.exit(2); }
const wasm = require(pkg);
const sp = await (await fetch(`${base}/sp`)).json();
const cert = await (await fetch(`${base}/cert`)).text();
const idpEntityId = /entityID="([^"]+)"/.exec(await (await fetch(`${base}/metadata`)).text())[1];
let failed = 0;
const check = (name, ok, out) => { console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${out}`); if (!ok) failed++; };
for (const sign of ['assertion', 'response', 'both', 'none']) {
  const [requestId, url] = wasm.start(`${base}/sso`, sp.entityId, sp.acsUrl, Date.now()).split(' ');
  const u = new URL(url);
  u.searchParams.set('login_hint', 'wasm@example.com');
  u.searchParams.set('sign', sign);
  const res = await fetch(u);
  const page = await res.text();
  if (!res.ok) { check(`IdP accepts the wasm-built AuthnRequest (${sign})`, false, page.trim()); continue; }
  const samlResponse = /name="SAMLResponse" value="([^"]*)"/.exec(page)[1];
  const t0 = performance.now();
  const out = wasm.verify(samlResponse, cert, requestId, idpEntityId, sp.entityId, sp.acsUrl, Date.now());
  const ms = (performance.now() - t0).toFixed(1);
  if (sign === 'none') check('wasm: unsigned refused', out.startsWith('refused Signature'), out);
  else check(`wasm: ${sign} signed accepted once, replay refused (${ms} ms for both)`, out.startsWith('ok wasm@example.com') && out.endsWith('replay: Replay'), out);
  if (sign === 'assertion') {
    const xml = Buffer.from(samlResponse, 'base64').toString().replace(/wasm@example\.com/g, 'evil@example.com');
    const t = wasm.verify(Buffer.from(xml).toString('base64'), cert, requestId, idpEntityId, sp.entityId, sp.acsUrl, Date.now());
    check('wasm: tampered NameID refused', t.startsWith('refused Signature'), t);
    const late = wasm.verify(samlResponse, cert, requestId, idpEntityId, sp.entityId, sp.acsUrl, Date.now() + 3600e3);
    check('wasm: an hour later refused', late.startsWith('refused Conditions'), late);
  }
}
console.log(`${failed} failed`);
process.exit(failed ? 1 : 0);
