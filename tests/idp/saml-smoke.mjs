#!/usr/bin/env node
// Smoke test of tests/idp/saml-idp.mjs, playing the service provider with npm `samlify`:
// builds an SP-initiated AuthnRequest (HTTP-Redirect), follows it to the IdP's /sso with a
// login_hint, takes the HTTP-POST form the IdP answers, decodes its SAMLResponse and prints the
// XML. It then has samlify's SP check that response (signature against the IdP metadata's
// certificate, Issuer, InResponseTo, Audience, time conditions) and prints the result.
//
//   node tests/idp/saml-smoke.mjs [options]
//     --idp=http://127.0.0.1:PORT   use a running IdP (else SAML_IDP_URL, else one is started here)
//     --email=alice@example.com     the user (default smoke@example.com)
//     --sign=assertion|response|both|none   what the IdP signs (default: the IdP's setting)
//     --skew=S --audience=URI --recipient=URL --in_response_to=ID
//                                   the IdP's test hooks (see saml-idp.mjs), for bad responses
//     --out=DIR                     also write DIR/response.xml, response.b64, cert.pem,
//                                   request-id and idp.json ({idpEntityId, spEntityId, acsUrl})
//     --quiet                       do not print the XML
// Exits 0 when the response came back and samlify's SP accepted it. With `--sign=none` samlify
// must refuse it instead. With a hook the response is only printed with samlify's verdict
// (samlify checks the signature and time, not Audience, Recipient or InResponseTo: those are
// the SP's own checks, Portcullis's included).

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';

// node-xmllint (libxml2 under emscripten) prints a lone " " to stdout after every validation;
// keep stdout for what this script means to print.
samlify.setSchemaValidator({
  validate(xml) {
    const log = console.log;
    console.log = (...a) => { if (!(a.length === 1 && a[0] === ' ')) log(...a); };
    try { return xmllint.validate(xml); } finally { console.log = log; }
  },
});

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([\w-]+)(?:=(.*))?$/.exec(a);
  if (!m) { console.error(`saml-smoke: unknown argument ${a}`); process.exit(2); }
  return [m[1], m[2] ?? true];
}));
const email = args.email || 'smoke@example.com';

async function startIdp() {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'saml-idp.mjs');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('IdP did not print `ready <port>` within 15 s')), 15000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /^ready (\d+)$/m.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`IdP exited (${code}) before ready`)); });
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

async function text(url, init) {
  const res = await fetch(url, init);
  const body = await res.text();
  if (!res.ok) throw new Error(`${init?.method || 'GET'} ${url}: ${res.status} ${body.trim()}`);
  return { res, body };
}

function formField(page, name) {
  const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(page);
  return m ? m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : null;
}

let idpProcess = null;
try {
  let base = args.idp || process.env.SAML_IDP_URL;
  if (!base) {
    const started = await startIdp();
    base = started.base;
    idpProcess = started.child;
  }

  const trusted = JSON.parse((await text(`${base}/sp`)).body);
  const metadata = (await text(`${base}/metadata`)).body;
  const certPem = (await text(`${base}/cert`)).body;
  const idp = samlify.IdentityProvider({ metadata });
  const sp = samlify.ServiceProvider({
    entityID: trusted.entityId,
    authnRequestsSigned: false,
    wantAssertionsSigned: args.sign === 'assertion' || args.sign === 'both',
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: trusted.acsUrl }],
  });

  // SP-initiated: the AuthnRequest, deflated and base64'd into the IdP's SSO URL.
  const relayState = `smoke-${Date.now()}`;
  const { id: requestId, context: redirectUrl } = sp.createLoginRequest(idp, 'redirect', { relayState });
  const ssoUrl = new URL(redirectUrl);
  ssoUrl.searchParams.set('login_hint', email);
  if (args.sign) ssoUrl.searchParams.set('sign', args.sign);
  const HOOKS = ['skew', 'audience', 'recipient', 'in_response_to'];
  for (const hook of HOOKS) if (typeof args[hook] === 'string') ssoUrl.searchParams.set(hook, args[hook]);
  const hooked = HOOKS.some((h) => h in args);
  console.error(`AuthnRequest ${requestId} -> ${ssoUrl.origin}${ssoUrl.pathname}`);

  const { res, body: page } = await text(ssoUrl);
  const samlResponse = formField(page, 'SAMLResponse');
  const gotRelay = formField(page, 'RelayState');
  const action = /<form method="post" action="([^"]*)">/.exec(page)?.[1];
  if (!samlResponse) throw new Error(`no SAMLResponse in the IdP's page:\n${page}`);
  if (gotRelay !== relayState) throw new Error(`RelayState came back as ${gotRelay}, sent ${relayState}`);
  if (action !== trusted.acsUrl || res.headers.get('x-saml-acs') !== trusted.acsUrl) {
    throw new Error(`form posts to ${action}, expected the ACS ${trusted.acsUrl}`);
  }
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (!args.quiet) process.stdout.write(`${xml}\n`);
  if (args.out) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'response.xml'), xml);
    writeFileSync(join(args.out, 'response.b64'), samlResponse);
    writeFileSync(join(args.out, 'cert.pem'), certPem);
    writeFileSync(join(args.out, 'request-id'), requestId);
    writeFileSync(join(args.out, 'idp.json'), JSON.stringify({
      idpEntityId: idp.entityMeta.getEntityID(), spEntityId: trusted.entityId, acsUrl: trusted.acsUrl,
    }));
    console.error(`wrote ${args.out}/response.xml, response.b64, cert.pem, request-id, idp.json`);
  }

  // The SP's checks, by samlify (an independent second opinion; Portcullis has its own).
  let accepted = null;
  let refusal = null;
  try {
    accepted = await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: samlResponse, RelayState: gotRelay } });
  } catch (err) {
    refusal = err?.message || String(err);
  }
  if (hooked) {
    console.error(`test-hook response; samlify's SP ${accepted ? 'accepted' : `refused (${refusal})`} it`);
  } else if (args.sign === 'none') {
    if (accepted) throw new Error('samlify accepted an unsigned response');
    console.error(`unsigned response refused by samlify's SP, as it should be: ${refusal}`);
  } else {
    if (!accepted) throw new Error(`samlify's SP refused the response: ${refusal}`);
    const x = accepted.extract;
    if (x.nameID !== email) throw new Error(`NameID ${x.nameID}, expected ${email}`);
    if (x.response?.inResponseTo !== requestId) throw new Error(`InResponseTo ${x.response?.inResponseTo}, expected ${requestId}`);
    if (!x.audience || (Array.isArray(x.audience) ? !x.audience.includes(trusted.entityId) : x.audience !== trusted.entityId)) {
      throw new Error(`Audience ${x.audience}, expected ${trusted.entityId}`);
    }
    const signed = [/<ds:Signature/.test(xml.split('<saml:Assertion')[0]) ? 'Response' : null,
      /<saml:Assertion[^]*<ds:Signature[^]*<\/saml:Assertion>/.test(xml) ? 'Assertion' : null].filter(Boolean);
    console.error(`accepted by samlify's SP: NameID=${x.nameID} InResponseTo=${x.response.inResponseTo} ` +
      `Audience=${x.audience} NotBefore=${x.conditions?.notBefore} NotOnOrAfter=${x.conditions?.notOnOrAfter} signed=${signed.join('+')}`);
  }
  console.error('saml-smoke: ok');
} catch (err) {
  console.error(`saml-smoke: FAILED: ${err?.stack || err}`);
  process.exitCode = 1;
} finally {
  idpProcess?.kill('SIGTERM');
}
