// Users (account level, company admins): the user directory (`GET /v1/users`) as a grid with
// sortable columns, prefix search as you type, status and role filters and keyset paging; the
// actions a user's status allows (the engine's lifecycle, asked through rules.js: pending: re-send
// or revoke the invitation; active: deactivate; inactive: activate, delete), each through a
// dialog that shows the server's refusal inline;
// a name edit (the email is never editable); multi-select with bulk activate, deactivate and
// delete (`POST /v1/users/bulk`), the users the lifecycle refuses named with the reason before
// sending (nothing sent when it refuses them all), and the per-user status report, read again
// by id.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Confirm, CopyButton, Done, ErrorText, Field, FormDialog, PageSize, Pager, useLoaded, When } from "./ui.jsx";

const COLUMNS = [
  { key: "email", label: "Email" },
  { key: "name", label: "Name" },
  { key: "status", label: "Status" },
  { key: "created_at", label: "Created" },
  { key: "last_active_at", label: "Last active" },
];
const STATUSES = ["pending", "active", "inactive"];
const ROLES = ["company_admin", "license_admin", "support", "tenant_user"];
const words = (code) => code.replaceAll("_", " ");

const LABELS = {
  resend_invitation: "Re-send invitation",
  revoke_invitation: "Revoke invitation",
  deactivate: "Deactivate",
  activate: "Activate",
  delete: "Delete",
};

function userPath(user, tail = "") {
  return `/v1/users/${encodeURIComponent(user.user_id)}${tail}`;
}

/** One user's lifecycle action, confirmed in a dialog; the refusal stays in it. */
function LifecycleAction({ kind, user, onClose, onDone }) {
  const [resent, setResent] = useState(null);
  if (resent) {
    return (
      <Done title="Invitation re-sent" onClose={onDone}>
        <div class="secret">
          <p class="warning" role="status">
            Deliver this new code to {user.email}: it is shown once, the previous code no longer works, and it expires{" "}
            <When at={resent.expires_at} />.
          </p>
          <code id="resent-code">{resent.code}</code>
          <CopyButton text={resent.code} label="Copy code" />
        </div>
      </Done>
    );
  }
  const spec = {
    resend_invitation: {
      title: "Re-send invitation",
      text: `Issue a new invitation code for ${user.email}? The code sent before stops working.`,
      run: async () => setResent((await api("POST", userPath(user, "/invitation"))).invitation),
    },
    revoke_invitation: {
      title: "Revoke invitation",
      text: `Revoke the invitation of ${user.email}? The pending user is deleted and the code stops working.`,
      run: () => api("DELETE", userPath(user, "/invitation")).then(onDone),
      danger: true,
    },
    deactivate: {
      title: "Deactivate user",
      text: `Deactivate ${user.email}? They and every credential they own are blocked at once, in every tenant.`,
      run: () => api("POST", userPath(user, "/deactivate")).then(onDone),
      danger: true,
    },
    activate: {
      title: "Activate user",
      text: `Activate ${user.email} again? Their memberships and credentials work again.`,
      run: () => api("POST", userPath(user, "/activate")).then(onDone),
    },
    delete: {
      title: "Delete user",
      text: `Delete ${user.email}? They leave every tenant and their tokens are deleted. This cannot be undone.`,
      run: () => api("DELETE", userPath(user)).then(onDone),
      danger: true,
    },
  }[kind];
  return (
    <Confirm title={spec.title} action={LABELS[kind]} danger={spec.danger ?? false} onClose={onClose} onConfirm={spec.run}>
      <p>{spec.text}</p>
    </Confirm>
  );
}

/**
 * A user's company roles and license assignments, each switch applied at once and read back:
 * company admin and support, and per tenant a seat and the license admin role. What the
 * caller's company roles do not allow (their matrix row from `GET /v1/account/operations`, and
 * for license admins only the tenants `GET /v1/licenses` says they administer) is shown
 * disabled; the server's refusal of the rest is shown inline.
 */
function RolesEditor({ user, access, onChanged }) {
  const [shown, setShown] = useState(user);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const may = (operation) => access.operations.some((o) => o.operation === operation && o.allowed);
  async function apply(method, path, body) {
    setBusy(true);
    setError(null);
    try {
      await api(method, path, body === undefined ? {} : { body });
      setShown(await api("GET", userPath(user)));
      onChanged();
    } catch (refused) {
      setError(refused);
    }
    setBusy(false);
  }
  const roleSwitch = (id, label, on, operation, path, field) => (
    <div class="toggle">
      <input
        type="checkbox"
        role="switch"
        id={id}
        checked={on}
        disabled={busy || !may(operation)}
        onChange={(event) => apply("PUT", userPath(user, path), { [field]: event.currentTarget.checked })}
      />
      <label for={id}>{label}</label>
    </div>
  );
  const tenantPath = (tenant, kind) =>
    `/v1/tenants/${encodeURIComponent(tenant.tenant_id)}/${kind}/${encodeURIComponent(user.user_id)}`;
  return (
    <fieldset class="toggles roles">
      <legend>Company roles and licenses</legend>
      {roleSwitch("role-company-admin", "Company admin", shown.company_admin, "assign_company_admin", "/company-admin", "company_admin")}
      {roleSwitch("role-support", "Support", shown.roles.includes("support"), "assign_support", "/support", "support")}
      <div class="table-wrap">
        <table class="licenses">
          <caption class="visually-hidden">Seats and license admin roles by tenant</caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Seat</th>
              <th scope="col">License admin</th>
            </tr>
          </thead>
          <tbody>
            {access.licenses.map((tenant) => {
              const seat = shown.tenants.includes(tenant.tenant_id);
              const admin = shown.license_tenants.includes(tenant.tenant_id);
              const here = tenant.administered_by_caller;
              return (
                <tr key={tenant.tenant_id} data-tenant={tenant.tenant_id}>
                  <td data-label="Tenant">{tenant.name}</td>
                  <td data-label="Seat">
                    <input
                      type="checkbox"
                      aria-label={`Seat in ${tenant.name}`}
                      checked={seat}
                      disabled={busy || !here || !may("assign_licenses")}
                      onChange={() => apply(seat ? "DELETE" : "PUT", tenantPath(tenant, "seats"))}
                    />
                  </td>
                  <td data-label="License admin">
                    <input
                      type="checkbox"
                      aria-label={`License admin of ${tenant.name}`}
                      checked={admin}
                      disabled={busy || !here || !may("assign_license_admin")}
                      onChange={() => apply(admin ? "DELETE" : "PUT", tenantPath(tenant, "license-admins"))}
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ErrorText error={error} />
    </fieldset>
  );
}

/**
 * The display name, editable; the email shown but never editable; and the user's company roles
 * and licenses as the caller's roles allow.
 */
function EditUser({ user, access, onClose, onSaved, onChanged }) {
  const [name, setName] = useState(user.name);
  const [error, setError] = useState(null);
  async function save() {
    setError(null);
    try {
      await api("PATCH", userPath(user), { body: { name: name.trim() } });
      onSaved();
    } catch (refused) {
      setError(refused);
    }
  }
  return (
    <FormDialog title={`Edit ${user.email}`} submitLabel="Save" onSubmit={save} onClose={onClose} error={error}>
      <Field id="edit-user-email" label="Email (cannot be changed)" value={user.email} onValue={() => {}} disabled />
      <Field id="edit-user-name" label="Name" required value={name} onValue={setName} data-autofocus />
      {access ? <RolesEditor user={user} access={access} onChanged={onChanged} /> : null}
    </FormDialog>
  );
}

/** The per-user report of a bulk request, with each user's outcome and any refusal's reason. */
function BulkReport({ report, emails, onClose }) {
  return (
    <Done title="Bulk status report" onClose={onClose}>
      <p id="bulk-counts" role="status">
        {words(report.action)}: {report.counts.requested} requested, {report.counts.changed} changed,{" "}
        {report.counts.refused} refused · <When at={report.created_at} /> · <code>{report.report_id}</code>
      </p>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">What happened to each user</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Outcome</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {report.results.map((result) => (
              <tr key={result.user_id} data-user={result.user_id}>
                <td data-label="User">{emails[result.user_id] ?? <code>{result.user_id}</code>}</td>
                <td data-label="Outcome">
                  <span class={`status status-${result.outcome === "refused" ? "inactive" : "active"}`}>{result.outcome}</span>
                </td>
                <td data-label="Reason">
                  {result.message ?? ""}
                  {result.code ? <span class="muted"> ({result.code})</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Done>
  );
}

function BulkConfirm({ action, users, rules, onClose, onReported }) {
  // The lifecycle's refusals, before sending: named here; nothing is sent if it refuses them all.
  const refusals = users
    .map((user) => ({ user, refused: rules.transition(user.status, action) }))
    .filter((entry) => entry.refused);
  const all = refusals.length === users.length ? refusals[0].refused : null;
  return (
    <Confirm
      title={`${LABELS[action]} ${users.length} users`}
      action={LABELS[action]}
      danger={action !== "activate"}
      onClose={onClose}
      refused={all}
      onConfirm={async () =>
        onReported(await api("POST", "/v1/users/bulk", { body: { action, user_ids: users.map((u) => u.user_id) } }))
      }
    >
      <p>
        {LABELS[action]} {users.length === 1 ? "this user" : `these ${users.length} users`}? Each is judged on its own: a
        refused user changes nothing and the others proceed.{action === "delete" ? " Deletion cannot be undone." : ""}
      </p>
      <ul class="chips">
        {users.map((u) => (
          <li key={u.user_id}>{u.email}</li>
        ))}
      </ul>
      {refusals.length > 0 ? (
        <ul id="bulk-preflight" class="refusals">
          {refusals.map(({ user, refused }) => (
            <li key={user.user_id} data-user={user.user_id} data-code={refused.code}>
              {user.email}: {refused.message} <span class="code">({refused.code})</span>
            </li>
          ))}
        </ul>
      ) : null}
    </Confirm>
  );
}

function SortHeader({ column, sort, order, onSort }) {
  const active = sort === column.key;
  const next = active && order === "asc" ? "desc" : "asc";
  return (
    <th scope="col" aria-sort={active ? (order === "asc" ? "ascending" : "descending") : "none"}>
      <button type="button" class="sort" onClick={() => onSort(column.key, next)}>
        {column.label}
        <span aria-hidden="true">{active ? (order === "asc" ? " ▲" : " ▼") : ""}</span>
        <span class="visually-hidden">, sort {next === "asc" ? "ascending" : "descending"}</span>
      </button>
    </th>
  );
}

/** What the caller may do at account level: their matrix row and every tenant's licenses. */
async function loadAccess() {
  const [operations, licenses] = await Promise.all([
    api("GET", "/v1/account/operations"),
    api("GET", "/v1/licenses").catch(() => ({ items: [] })),
  ]);
  return { operations: operations.items, licenses: licenses.items };
}

export function Users({ me, rules }) {
  const [query, setQuery] = useState({ sort: "email", order: "asc", status: "", role: "", q: "", limit: 25 });
  const [typed, setTyped] = useState("");
  // The cursors of the pages before this one (keyset: previous goes back down the stack).
  const [cursors, setCursors] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [selected, setSelected] = useState([]);
  const [dialog, setDialog] = useState(null);
  const [lastReport, setLastReport] = useState(null);
  const [emails, setEmails] = useState({});

  // Search as you type: the query follows the box a moment after the last key.
  useEffect(() => {
    const timer = setTimeout(() => change({ q: typed.trim() }), 250);
    return () => clearTimeout(timer);
  }, [typed]);

  const loaded = useLoaded(async () => {
    const parameters = new URLSearchParams({ sort: query.sort, order: query.order, limit: String(query.limit) });
    if (query.status) parameters.set("status", query.status);
    if (query.role) parameters.set("role", query.role);
    if (query.q) parameters.set("q", query.q);
    if (cursor) parameters.set("cursor", cursor);
    const [list, access] = await Promise.all([
      // The directory is for company admins; anyone else sees (and edits) themselves alone.
      api("GET", `/v1/users?${parameters}`).catch(async (refused) => {
        if (refused.code !== "not_company_admin") throw refused;
        return { items: [await api("GET", userPath({ user_id: me }))], next_cursor: null, self: true };
      }),
      loadAccess(),
    ]);
    return { ...list, access };
  }, [query, cursor]);
  const page = loaded.data;
  useEffect(() => {
    if (!page) return;
    setEmails((known) => ({ ...known, ...Object.fromEntries(page.items.map((u) => [u.user_id, u.email])) }));
    setSelected((ids) => ids.filter((id) => page.items.some((u) => u.user_id === id)));
  }, [page]);

  function change(part) {
    setQuery((current) => {
      const next = { ...current, ...part };
      return Object.keys(next).every((key) => next[key] === current[key]) ? current : next;
    });
    setCursors([]);
    setCursor(null);
  }
  async function viewReport() {
    try {
      setDialog({ kind: "report", report: await api("GET", `/v1/account/bulk-reports/${encodeURIComponent(lastReport)}`) });
    } catch (refused) {
      loaded.setError(refused);
    }
  }
  const close = () => setDialog(null);
  const after = () => {
    setDialog(null);
    loaded.reload();
  };
  const rows = page?.items ?? [];
  const chosen = rows.filter((u) => selected.includes(u.user_id));
  const allChosen = rows.length > 0 && chosen.length === rows.length;

  return (
    <section aria-labelledby="users-title">
      <div class="section-head">
        <h1 id="users-title">Users</h1>
        {lastReport ? (
          <button type="button" onClick={viewReport}>
            View status report
          </button>
        ) : null}
      </div>
      <p class="muted">
        {page?.self
          ? "Your own user: the directory of every user is for company admins."
          : "Every user of the account, in every tenant. Company admins only."}
      </p>
      <div class="filters" role="search">
        <div>
          <label for="users-search">Search</label>
          <input
            id="users-search"
            type="search"
            autocomplete="off"
            placeholder="Email or name prefix"
            value={typed}
            onInput={(event) => setTyped(event.currentTarget.value)}
          />
        </div>
        <div>
          <label for="users-status">Status</label>
          <select id="users-status" value={query.status} onChange={(event) => change({ status: event.currentTarget.value })}>
            <option value="">Any status</option>
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="users-role">Role</label>
          <select id="users-role" value={query.role} onChange={(event) => change({ role: event.currentTarget.value })}>
            <option value="">Any role</option>
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {words(role)}
              </option>
            ))}
          </select>
        </div>
        <PageSize id="users-limit" value={query.limit} onValue={(limit) => change({ limit })} />
      </div>
      <div class="bulk" aria-live="polite">
        {chosen.length > 0 ? (
          <>
            <span id="bulk-selected">{chosen.length} selected</span>
            {["activate", "deactivate", "delete"].map((action) => (
              <button
                type="button"
                key={action}
                class={action === "activate" ? "" : "danger"}
                onClick={() => setDialog({ kind: "bulk", action, users: chosen })}
              >
                {LABELS[action]} selected
              </button>
            ))}
          </>
        ) : (
          <span class="muted">Select users for bulk actions.</span>
        )}
      </div>
      <ErrorText error={loaded.error} />
      {page === null && !loaded.error ? <p class="muted">Loading…</p> : null}
      {page ? (
        <div class="table-wrap">
          <table class="users">
            <caption class="visually-hidden">Users of the account</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every user on this page"
                    checked={allChosen}
                    onChange={(event) => setSelected(event.currentTarget.checked ? rows.map((u) => u.user_id) : [])}
                  />
                </th>
                {COLUMNS.map((column) => (
                  <SortHeader key={column.key} column={column} sort={query.sort} order={query.order} onSort={(sort, order) => change({ sort, order })} />
                ))}
                <th scope="col">Roles</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 ? (
                <tr>
                  <td colSpan={8} class="muted">
                    No user matches.
                  </td>
                </tr>
              ) : null}
              {rows.map((user) => (
                <tr key={user.user_id} data-email={user.email}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${user.email}`}
                      checked={selected.includes(user.user_id)}
                      onChange={(event) =>
                        setSelected((ids) =>
                          event.currentTarget.checked ? [...ids, user.user_id] : ids.filter((id) => id !== user.user_id),
                        )
                      }
                    />
                  </td>
                  <td data-label="Email">
                    {user.email}
                    {user.account_owner ? <span class="badge">account owner</span> : null}
                    {user.user_id === me ? <span class="badge">you</span> : null}
                  </td>
                  <td data-label="Name">{user.name}</td>
                  <td data-label="Status">
                    <span class={`status status-${user.status}`}>{user.status}</span>
                  </td>
                  <td data-label="Created">
                    <When at={user.created_at} />
                  </td>
                  <td data-label="Last active">
                    <When at={user.last_active_at} />
                  </td>
                  <td data-label="Roles">{user.roles.map(words).join(", ") || <span class="muted">none</span>}</td>
                  <td class="row-actions">
                    <button type="button" onClick={() => setDialog({ kind: "edit", user })}>
                      Edit<span class="visually-hidden"> {user.email}</span>
                    </button>
                    {rules.actionsFor(user.status).map((kind) => (
                      <button
                        type="button"
                        key={kind}
                        class={kind === "activate" || kind === "resend_invitation" ? "" : "danger"}
                        onClick={() => setDialog({ kind, user })}
                      >
                        {LABELS[kind]}
                        <span class="visually-hidden"> {user.email}</span>
                      </button>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager
        label="Pages of users"
        id="users-page"
        number={cursors.length + 1}
        hasNext={Boolean(page?.next_cursor)}
        onPrevious={() => {
          setCursor(cursors[cursors.length - 1] ?? null);
          setCursors(cursors.slice(0, -1));
        }}
        onNext={() => {
          setCursors([...cursors, cursor]);
          setCursor(page.next_cursor);
        }}
      />
      {dialog?.user && rules.actionsFor(dialog.user.status).includes(dialog.kind) ? (
        <LifecycleAction kind={dialog.kind} user={dialog.user} onClose={close} onDone={after} />
      ) : null}
      {dialog?.kind === "edit" ? (
        <EditUser user={dialog.user} access={page?.access} onClose={close} onSaved={after} onChanged={loaded.reload} />
      ) : null}
      {dialog?.kind === "bulk" ? (
        <BulkConfirm
          action={dialog.action}
          users={dialog.users}
          rules={rules}
          onClose={close}
          onReported={(report) => {
            setLastReport(report.report_id);
            setSelected([]);
            loaded.reload();
            setDialog({ kind: "report", report });
          }}
        />
      ) : null}
      {dialog?.kind === "report" ? <BulkReport report={dialog.report} emails={emails} onClose={close} /> : null}
    </section>
  );
}
