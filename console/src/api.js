// The console's only way to the Management API: same-origin fetches with the session cookie,
// the CSRF token on every write, and refusals turned into ApiError carrying the server's reason.

let csrfToken = null;

/** Remembers the session's CSRF token (from the sign-in answer or `GET /v1/whoami`). */
export function setCsrfToken(token) {
  csrfToken = token ?? null;
}

/** A refusal: the HTTP status, the problem's stable `code` and its `detail` as the message. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `the server answered ${status}`);
    this.status = status;
    this.code = problem?.code ?? "unknown";
    // `plan_change_blocked`: everything that blocks the plan change, each `{ code, message }`.
    this.blockers = problem?.blockers ?? [];
  }
}

/** One request to the API; resolves with the JSON answer or rejects with an ApiError. */
export async function api(method, path, { body, tenant } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["portcullis-csrf"] = csrfToken;
  if (tenant) headers["portcullis-tenant"] = tenant;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: "network", detail: "the server could not be reached" });
  }
  // Answers and problems are JSON (`application/json`, `application/problem+json`).
  const isJson = /^application\/(problem\+)?json/.test(response.headers.get("content-type") ?? "");
  const json = isJson ? await response.json().catch(() => undefined) : undefined;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}
