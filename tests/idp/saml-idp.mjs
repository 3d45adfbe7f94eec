#!/usr/bin/env node
// A real SAML 2.0 identity provider on loopback, for Portcullis's end-to-end tests.
//
// Built on npm `samlify` (schema validation by `@authenio/samlify-node-xmllint`, libxml2
// compiled to JavaScript: real XSD validation, no native build). Its RSA key and self-signed
// X.509 certificate are made fresh at every start: the key by node:crypto, the certificate by
// the `openssl` command-line tool (node:crypto parses certificates but cannot issue one).
//
//   node tests/idp/saml-idp.mjs            # prints `ready <port>` on stdout once listening
//
// Environment (all optional):
//   SAML_IDP_HOST        address to listen on (default 127.0.0.1; loopback only)
//   SAML_IDP_PORT        port (default 0: the system picks one; read it from `ready <port>`)
//   SAML_IDP_ENTITY_ID   the IdP's entity id / Issuer (default http://127.0.0.1:<port>/metadata)
//   SAML_SP_ENTITY_ID    the service provider's entity id: the Audience, and the Issuer its
//                        AuthnRequests must carry (default http://127.0.0.1/saml/sp)
//   SAML_SP_ACS_URL      the SP's Assertion Consumer Service (HTTP-POST): the Destination,
//                        Recipient and form action (default http://127.0.0.1/saml/acs)
//   SAML_IDP_USER        the email signed in when a request names none (default: none, and the
//                        IdP then shows a one-field login form)
//   SAML_IDP_SIGN        what is signed: `assertion` (default), `response` or `both`
//   SAML_IDP_LIFETIME    seconds the assertion is valid (NotOnOrAfter - now; default 300)
//
// Endpoints:
//   GET  /metadata   IdP metadata (EntityDescriptor with the signing certificate and SSO URL)
//   GET  /cert       the signing certificate, PEM
//   GET  /sp         the service provider currently trusted, JSON {entityId, acsUrl}
//   PUT  /sp         replace it, JSON body {entityId, acsUrl} (for tests that learn the SP's
//                    port only after the IdP has started)
//   GET  /sso        SP-initiated SSO, HTTP-Redirect binding: SAMLRequest (deflated, base64),
//                    RelayState, and (test hooks, not SAML) these query parameters:
//                      login_hint=<email>   the user signed in (else SAML_IDP_USER, else a form)
//                      sign=assertion|response|both|none   override SAML_IDP_SIGN for this reply
//                      skew=<seconds>       shift IssueInstant/NotBefore/NotOnOrAfter (negative:
//                                           in the past, e.g. -600 for an expired assertion)
//                      audience=<uri>       a different Audience (a response meant for another SP)
//                      recipient=<url>      a different Recipient in SubjectConfirmationData
//                      in_response_to=<id>  a different InResponseTo (response and assertion)
//                    Answers an HTML page whose form POSTs SAMLResponse and RelayState to the
//                    ACS URL (auto-submitted in a browser). The same values are in the response
//                    headers X-SAML-ACS and X-SAML-InResponseTo for scripts.
//   GET  /slo        501 (advertised in the metadata; logout is not implemented)
//   GET  /health     `ok`
//
// It stops on SIGINT or SIGTERM.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const host = process.env.SAML_IDP_HOST || '127.0.0.1';
const wantedPort = Number(process.env.SAML_IDP_PORT || 0);
const defaultSign = process.env.SAML_IDP_SIGN || 'assertion';
const lifetime = Number(process.env.SAML_IDP_LIFETIME || 300);
const fixedUser = process.env.SAML_IDP_USER || '';
const SIGN_MODES = ['assertion', 'response', 'both', 'none'];
if (!SIGN_MODES.slice(0, 3).includes(defaultSign)) {
  console.error(`saml-idp: SAML_IDP_SIGN must be assertion, response or both, not ${defaultSign}`);
  process.exit(2);
}

// ---- key and certificate -----------------------------------------------------------------
function makeKeyAndCert() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    writeFileSync(keyPath, keyPem, { mode: 0o600 });
    execFileSync('openssl', [
      'req', '-new', '-x509', '-key', keyPath, '-out', certPath, '-days', '2', '-sha256',
      '-subj', '/CN=Portcullis test SAML IdP', '-set_serial', `0x${randomUUID().replace(/-/g, '')}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const certPem = readFileSync(certPath, 'utf8');
    new X509Certificate(certPem); // throws if openssl wrote something unusable
    return { keyPem, certPem };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const { keyPem, certPem } = makeKeyAndCert();

// ---- entities ----------------------------------------------------------------------------
let port = 0;
let idpEntityId = process.env.SAML_IDP_ENTITY_ID || '';
let sp = {
  entityId: process.env.SAML_SP_ENTITY_ID || 'http://127.0.0.1/saml/sp',
  acsUrl: process.env.SAML_SP_ACS_URL || 'http://127.0.0.1/saml/acs',
};

const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

// A Response like a production IdP's: the default samlify template plus an AuthnStatement and
// an email attribute. Values are filled in by fillTemplate (samlify's customTagReplacement).
const RESPONSE_TEMPLATE =
  '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">' +
  '<saml:Issuer>{Issuer}</saml:Issuer>' +
  '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
  '<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}">' +
  '<saml:Issuer>{Issuer}</saml:Issuer>' +
  '<saml:Subject><saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID>' +
  '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
  '<saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Recipient}" InResponseTo="{InResponseTo}"/>' +
  '</saml:SubjectConfirmation></saml:Subject>' +
  '<saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}">' +
  '<saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction>' +
  '</saml:Conditions>' +
  '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}" SessionNotOnOrAfter="{SessionNotOnOrAfter}">' +
  '<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>' +
  '</saml:AuthnStatement>' +
  '<saml:AttributeStatement><saml:Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">' +
  '<saml:AttributeValue xsi:type="xs:string">{NameID}</saml:AttributeValue>' +
  '</saml:Attribute></saml:AttributeStatement>' +
  '</saml:Assertion></samlp:Response>';

function makeIdp() {
  return samlify.IdentityProvider({
    entityID: idpEntityId,
    privateKey: keyPem,
    signingCert: certPem,
    nameIDFormat: [NAMEID_EMAIL],
    wantAuthnRequestsSigned: false,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    singleSignOnService: [{ Binding: REDIRECT, Location: `http://${host}:${port}/sso` }],
    // Advertised so SPs reading the metadata find one; this test IdP does not do logout.
    singleLogoutService: [{ Binding: REDIRECT, Location: `http://${host}:${port}/slo` }],
    loginResponseTemplate: { context: RESPONSE_TEMPLATE, attributes: [] },
  });
}

// What is signed is the SP's wish in samlify: WantAssertionsSigned signs the Assertion, and
// wantMessageSigned (or no WantAssertionsSigned) signs the Response.
function makeSp(sign) {
  return samlify.ServiceProvider({
    entityID: sp.entityId,
    authnRequestsSigned: false,
    wantAssertionsSigned: sign === 'assertion' || sign === 'both',
    wantMessageSigned: sign === 'response' || sign === 'both',
    nameIDFormat: [NAMEID_EMAIL],
    assertionConsumerService: [{ Binding: POST, Location: sp.acsUrl }],
  });
}

const xmlEscape = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fillTemplate(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(values, name) ? xmlEscape(values[name]) : whole);
}

async function loginResponse(requestInfo, user, relayState, hooks) {
  const sign = hooks.sign || defaultSign;
  const now = Date.now() + hooks.skewSeconds * 1000;
  const iso = (ms) => new Date(ms).toISOString();
  const requestId = requestInfo?.extract?.request?.id || '';
  const values = {
    ID: `_${randomUUID()}`,
    AssertionID: `_${randomUUID()}`,
    IssueInstant: iso(now),
    Destination: sp.acsUrl,
    Issuer: idpEntityId,
    NameIDFormat: NAMEID_EMAIL,
    NameID: user,
    Recipient: hooks.recipient || sp.acsUrl,
    InResponseTo: hooks.inResponseTo ?? requestId,
    NotBefore: iso(now),
    NotOnOrAfter: iso(now + lifetime * 1000),
    SessionNotOnOrAfter: iso(now + 8 * 3600 * 1000),
    SessionIndex: `_${randomUUID()}`,
    Audience: hooks.audience || sp.entityId,
  };
  if (sign === 'none') {
    const xml = fillTemplate(RESPONSE_TEMPLATE, values);
    return { context: Buffer.from(xml, 'utf8').toString('base64'), entityEndpoint: sp.acsUrl, inResponseTo: values.InResponseTo };
  }
  const response = await makeIdp().createLoginResponse(makeSp(sign), requestInfo, 'post', { email: user }, {
    relayState,
    customTagReplacement: (template) => ({ id: values.ID, context: fillTemplate(template, values) }),
  });
  return { context: response.context, entityEndpoint: response.entityEndpoint, inResponseTo: values.InResponseTo };
}

// ---- HTTP --------------------------------------------------------------------------------
const html = (s) => xmlEscape(s);

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handleSso(req, res, url) {
  const q = url.searchParams;
  const samlRequest = q.get('SAMLRequest');
  if (!samlRequest) return send(res, 400, 'text/plain', 'missing SAMLRequest\n');
  const relayState = q.get('RelayState') ?? '';
  const sign = q.get('sign') || '';
  if (sign && !SIGN_MODES.includes(sign)) return send(res, 400, 'text/plain', 'sign must be assertion, response, both or none\n');
  const skewSeconds = Number(q.get('skew') || 0);
  if (!Number.isFinite(skewSeconds)) return send(res, 400, 'text/plain', 'skew must be a number of seconds\n');

  let requestInfo;
  try {
    const query = { SAMLRequest: samlRequest };
    if (q.has('RelayState')) query.RelayState = relayState;
    requestInfo = await makeIdp().parseLoginRequest(makeSp(defaultSign), 'redirect', { query });
  } catch (err) {
    return send(res, 400, 'text/plain', `AuthnRequest refused: ${err?.message || err}\n`);
  }
  // samlify checks neither of these for an AuthnRequest; a real IdP checks both.
  const issuer = requestInfo?.extract?.issuer;
  if (issuer !== sp.entityId) {
    return send(res, 400, 'text/plain', `AuthnRequest refused: Issuer ${issuer} is not the SP's ${sp.entityId}\n`);
  }
  const acs = requestInfo?.extract?.request?.assertionConsumerServiceUrl;
  if (acs && acs !== sp.acsUrl) {
    return send(res, 400, 'text/plain', `AuthnRequest refused: AssertionConsumerServiceURL ${acs} is not the SP's ${sp.acsUrl}\n`);
  }

  const user = q.get('login_hint') || fixedUser;
  if (!user) {
    // A person at a browser: ask for the email, then come back here with it.
    const hidden = [...q.entries()]
      .map(([k, v]) => `<input type="hidden" name="${html(k)}" value="${html(v)}">`).join('');
    return send(res, 200, 'text/html; charset=utf-8',
      `<!doctype html><title>Test IdP sign-in</title><form method="get" action="/sso">${hidden}` +
      '<label>Email <input name="login_hint" type="email" required autofocus></label> <button>Sign in</button></form>\n');
  }

  const out = await loginResponse(requestInfo, user, relayState, {
    sign,
    skewSeconds,
    audience: q.get('audience') || '',
    recipient: q.get('recipient') || '',
    inResponseTo: q.has('in_response_to') ? q.get('in_response_to') : undefined,
  });
  const relayInput = q.has('RelayState') ? `<input type="hidden" name="RelayState" value="${html(relayState)}">` : '';
  const page = '<!doctype html><html><head><title>Signing in…</title></head>' +
    '<body onload="document.forms[0].submit()">' +
    `<form method="post" action="${html(out.entityEndpoint)}">` +
    `<input type="hidden" name="SAMLResponse" value="${html(out.context)}">${relayInput}` +
    '<noscript><button type="submit">Continue</button></noscript></form></body></html>\n';
  return send(res, 200, 'text/html; charset=utf-8', page, {
    'x-saml-acs': out.entityEndpoint,
    'x-saml-inresponseto': out.inResponseTo,
  });
}

async function handle(req, res) {
  const url = new URL(req.url, `http://${host}:${port}`);
  if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, 'text/plain', 'ok\n');
  if (req.method === 'GET' && url.pathname === '/cert') return send(res, 200, 'application/x-pem-file', certPem);
  if (req.method === 'GET' && url.pathname === '/metadata') {
    return send(res, 200, 'application/samlmetadata+xml', makeIdp().getMetadata());
  }
  if (url.pathname === '/sp') {
    if (req.method === 'GET') return send(res, 200, 'application/json', `${JSON.stringify(sp)}\n`);
    if (req.method === 'PUT') {
      let next;
      try { next = JSON.parse(await readBody(req)); } catch { return send(res, 400, 'text/plain', 'body must be JSON\n'); }
      if (typeof next?.entityId !== 'string' || typeof next?.acsUrl !== 'string' || !next.entityId || !URL.canParse(next.acsUrl)) {
        return send(res, 400, 'text/plain', 'body must be {"entityId": "...", "acsUrl": "http..."}\n');
      }
      sp = { entityId: next.entityId, acsUrl: next.acsUrl };
      return send(res, 200, 'application/json', `${JSON.stringify(sp)}\n`);
    }
  }
  if (req.method === 'GET' && url.pathname === '/sso') return handleSso(req, res, url);
  if (url.pathname === '/slo') return send(res, 501, 'text/plain', 'single logout is not implemented by this test IdP\n');
  return send(res, 404, 'text/plain', 'not found\n');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('saml-idp:', err);
    if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
    else res.end();
  });
});

server.listen(wantedPort, host, () => {
  port = server.address().port;
  if (!idpEntityId) idpEntityId = `http://${host}:${port}/metadata`;
  process.stdout.write(`ready ${port}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
