// Users (account level, company admins): the user directory (`GET /v1/users`) as a grid with
// sortable columns, prefix search as you type, status and role filters and keyset paging; the
// actions a user's status allows (pending: re-send or revoke the invitation; active: deactivate;
// inactive: activate, delete), each through a dialog that shows the server's refusal inline;
// a name edit (the email is never editable); multi-select with bulk activate, deactivate and
// delete (`POST /v1/users/bulk`) and the per-user status report, read again by id.
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

/** What each status allows, as the lifecycle has it (README "The domain in one page"). */
const ACTIONS = {
  pending: ["resend", "revoke"],
  active: ["deactivate"],
  inactive: ["activate", "delete"],
};
const LABELS = {
  resend: "Re-send invitation",
  revoke: "Revoke invitation",
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
    resend: {
      title: "Re-send invitation",
      text: `Issue a new invitation code for ${user.email}? The code sent before stops working.`,
      run: async () => setResent((await api("POST", userPath(user, "/invitation"))).invitation),
    },
    revoke: {
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

/** The display name, editable; the email shown but never editable. */
function EditUser({ user, onClose, onSaved }) {
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

function BulkConfirm({ action, users, onClose, onReported }) {
  return (
    <Confirm
      title={`${LABELS[action]} ${users.length} users`}
      action={LABELS[action]}
      danger={action !== "activate"}
      onClose={onClose}
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

export function Users({ me }) {
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
    return api("GET", `/v1/users?${parameters}`);
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
      <p class="muted">Every user of the account, in every tenant. Company admins only.</p>
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
                    {ACTIONS[user.status].map((kind) => (
                      <button
                        type="button"
                        key={kind}
                        class={kind === "activate" || kind === "resend" ? "" : "danger"}
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
      {dialog && ACTIONS[dialog.user?.status]?.includes(dialog.kind) ? (
        <LifecycleAction kind={dialog.kind} user={dialog.user} onClose={close} onDone={after} />
      ) : null}
      {dialog?.kind === "edit" ? <EditUser user={dialog.user} onClose={close} onSaved={after} /> : null}
      {dialog?.kind === "bulk" ? (
        <BulkConfirm
          action={dialog.action}
          users={dialog.users}
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
