// Checks answers of the real worker against the OpenAPI document it serves
// (crates/worker/openapi.json): the JSON Schema of the documented response for the answer's
// status and content type, validated with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";

const DOCUMENT_ID = "openapi.json";
const document = JSON.parse(readFileSync(new URL("../../crates/worker/openapi.json", import.meta.url), "utf8"));

// `strict: false`: the document's schemas carry OpenAPI keywords Ajv does not know; formats
// (`email`, `uri`, `int64`) are descriptions here, not checked.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(document, DOCUMENT_ID);

/** Follows a local `$ref` (`#/components/...`) in the document, as often as it takes. */
function resolve(value) {
  while (value && typeof value.$ref === "string") {
    const pointer = value.$ref.replace(/^#/, "");
    value = pointer
      .split("/")
      .slice(1)
      .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce((node, part) => node?.[part], document);
    assert.ok(value !== undefined, `dangling $ref in openapi.json`);
  }
  return value;
}

function pointerPart(text) {
  return text.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Asserts that `answer` (from lib.mjs `call`) is what the document says `method template`
 * answers with its status: a documented status, and a JSON body matching that response's schema.
 * `template` is the documented path, e.g. `/v1/invitations/accept`.
 */
export function assertMatchesDocument(answer, method, template) {
  const operation = document.paths?.[template]?.[method.toLowerCase()];
  assert.ok(operation, `openapi.json documents no ${method} ${template}`);
  const status = String(answer.status);
  const response = operation.responses[status];
  assert.ok(response, `${method} ${template} answered ${status}, which openapi.json does not document`);
  // A response documented without content (a redirect) has an empty body.
  if (!resolve(response).content) {
    assert.equal(answer.text, "", `${method} ${template} ${status} is documented without a body`);
    return;
  }
  const content = resolve(response).content;
  const type = (answer.headers.get("content-type") ?? "").split(";")[0].trim();
  assert.ok(content[type], `${method} ${template} ${status}: content type \`${type}\` is not documented`);
  // The response object may be a component: point at the schema where it lives.
  const location = response.$ref
    ? `${response.$ref}/content/${pointerPart(type)}/schema`
    : `#/paths/${pointerPart(template)}/${method.toLowerCase()}/responses/${status}/content/${pointerPart(type)}/schema`;
  const validate = ajv.getSchema(`${DOCUMENT_ID}${location}`);
  assert.ok(validate, `no schema at ${location}`);
  if (!validate(answer.json)) {
    assert.fail(
      `${method} ${template} ${status} does not match its schema in openapi.json:\n` +
        `${ajv.errorsText(validate.errors, { separator: "\n" })}\nbody: ${answer.text}`,
    );
  }
}

// Documented path templates as patterns, most literal segments first (`/v1/users/bulk` before
// `/v1/users/{user_id}`), so a concrete path finds the template the router serves it by.
const templates = Object.keys(document.paths)
  .map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    literals: template.split("/").filter((part) => part && !part.startsWith("{")).length,
  }))
  .sort((a, b) => b.literals - a.literals);

/**
 * When PORTCULLIS_CHECK_OPENAPI is set (scripts/test-worker sets it for tests/e2e), asserts
 * that an answer of a documented operation matches the document (assertMatchesDocument). Paths
 * and methods the document does not name are left alone: tests send them on purpose, and
 * openapi_tests.rs already keeps the router and the document in step.
 */
export function checkAgainstDocument(method, target, answer) {
  if (!process.env.PORTCULLIS_CHECK_OPENAPI || method === "HEAD") return;
  const path = target.split("?")[0].replace(/\/+$/, "");
  if (!path.startsWith("/v1/")) return;
  const found = templates.find(({ pattern }) => pattern.test(path));
  if (!found || !document.paths[found.template][method.toLowerCase()]) return;
  assertMatchesDocument(answer, method, found.template);
}
