// User Management for one tenant: the members, seat usage, Add User (invitation), permissions
// as toggles (or a role preset) with Save, Remove with confirmation. A change the engine's rules
// refuse (rules.js: escalation, lockout, self-removal, the plan's seats) is explained inline and
// never sent; the server's own refusals are shown the same way.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import {
  Confirm,
  CopyButton,
  DataTable,
  Done,
  ErrorText,
  Field,
  FormDialog,
  PermissionChips,
  PermissionToggles,
  PresetPicker,
  useLoaded,
  When,
} from "./ui.jsx";

/** Only the permissions of the model, in its order. */
const inOrder = (permissions, names) => permissions.map((p) => p.name).filter((name) => names.includes(name));

function AddUser({ tenant, permissions, rules, check, onClose, onAdded }) {
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [granted, setGranted] = useState([]);
  const [error, setError] = useState(null);
  const [added, setAdded] = useState(null);

  async function submit() {
    setError(null);
    try {
      const body = { email: email.trim(), permissions: inOrder(permissions, granted) };
      if (name.trim()) body.name = name.trim();
      const answer = await api("POST", `/v1/tenants/${encodeURIComponent(tenant)}/members`, { body });
      setAdded({ ...answer, email: email.trim() });
      onAdded();
    } catch (refused) {
      setError(refused);
    }
  }

  if (added) {
    return (
      <Done title="User added" onClose={onClose}>
        {added.invitation ? (
          <div class="secret" aria-live="polite">
            <p>
              Deliver this invitation code to <strong>{added.email}</strong>. It is shown once and expires{" "}
              <When at={added.invitation.expires_at} />.
            </p>
            <code id="invitation-code">{added.invitation.code}</code>
            <CopyButton text={added.invitation.code} label="Copy code" />
          </div>
        ) : (
          <p>{added.email} already had an account user and was added to this tenant as is.</p>
        )}
      </Done>
    );
  }
  return (
    <FormDialog
      title="Add user"
      submitLabel="Send invitation"
      onSubmit={submit}
      onClose={onClose}
      error={error}
      refused={check({ change: "invite_member", email: email.trim(), permissions: inOrder(permissions, granted) })}
    >
      <Field id="invite-email" label="Email" type="email" required value={email} onValue={setEmail} />
      <Field id="invite-name" label="Name (optional)" value={name} onValue={setName} />
      <PresetPicker presets={rules.presets} selected={granted} onChange={setGranted} id="invite-preset" />
      <PermissionToggles permissions={permissions} selected={granted} onChange={setGranted} idPrefix="invite" />
    </FormDialog>
  );
}

function EditPermissions({ tenant, member, permissions, rules, check, onClose, onSaved }) {
  const [granted, setGranted] = useState(member.permissions);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const unchanged =
    granted.length === member.permissions.length && granted.every((name) => member.permissions.includes(name));

  async function save() {
    setBusy(true);
    setError(null);
    try {
      await api("PATCH", `/v1/tenants/${encodeURIComponent(tenant)}/members/${encodeURIComponent(member.user_id)}`, {
        body: { permissions: inOrder(permissions, granted) },
      });
      onSaved();
    } catch (refused) {
      setError(refused);
      setBusy(false);
    }
  }

  return (
    <FormDialog
      title={`Permissions of ${member.email}`}
      submitLabel="Save"
      onSubmit={save}
      onClose={onClose}
      error={error}
      busy={busy || unchanged}
      refused={
        unchanged
          ? null
          : check({ change: "change_permissions", user_id: member.user_id, permissions: inOrder(permissions, granted) })
      }
    >
      <PresetPicker presets={rules.presets} selected={granted} onChange={setGranted} id="edit-preset" />
      <PermissionToggles permissions={permissions} selected={granted} onChange={setGranted} idPrefix="edit" />
    </FormDialog>
  );
}

function RemoveMember({ tenant, member, check, onClose, onRemoved }) {
  return (
    <Confirm
      title="Remove user"
      action="Remove"
      onClose={onClose}
      refused={check({ change: "remove_member", user_id: member.user_id })}
      onConfirm={async () => {
        await api("DELETE", `/v1/tenants/${encodeURIComponent(tenant)}/members/${encodeURIComponent(member.user_id)}`);
        onRemoved();
      }}
    >
      <p>
        Remove <strong>{member.email}</strong> from this tenant? Their access here ends at once, and their API tokens
        for this tenant stop working.
      </p>
    </Confirm>
  );
}

export function Members({ tenant, permissions, held, me, rules }) {
  const [dialog, setDialog] = useState(null);
  const manager = held.includes("user_and_api_management");
  const loaded = useLoaded(async () => {
    const [list, settings] = await Promise.all([
      api("GET", `/v1/tenants/${encodeURIComponent(tenant)}/members`),
      api("GET", `/v1/tenants/${encodeURIComponent(tenant)}`),
    ]);
    return { members: list.items, settings };
  }, [tenant]);
  // The engine's judgement of a change on the tenant as loaded (the server judges it again).
  const check = (change) =>
    loaded.data
      ? rules.tenantChange({ tenant: loaded.data.settings, members: loaded.data.members, actor: me, change })
      : null;
  const close = () => setDialog(null);
  const after = () => {
    setDialog(null);
    loaded.reload();
  };

  return (
    <section aria-labelledby="members-title">
      <div class="section-head">
        <h1 id="members-title">User Management</h1>
        {manager ? (
          <button type="button" class="primary" onClick={() => setDialog({ kind: "add" })}>
            Add user
          </button>
        ) : null}
      </div>
      {loaded.data ? (
        <p class="seats" id="seat-usage">
          {loaded.data.settings.name} · {loaded.data.settings.plan} plan ·{" "}
          <strong>
            {loaded.data.settings.member_count} of {loaded.data.settings.member_limit} users
          </strong>
          , owner included
        </p>
      ) : null}
      <ErrorText error={loaded.error} />
      {loaded.data === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <DataTable caption="Members of the tenant" columns={["Email", "Name", "Status", "Permissions", "Added"]}>
          {loaded.data.members.map((member) => (
            <tr key={member.user_id} data-email={member.email}>
              <td data-label="Email">
                {member.email}
                {member.tenant_owner ? <span class="badge">owner</span> : null}
                {member.user_id === me ? <span class="badge">you</span> : null}
              </td>
              <td data-label="Name">{member.name}</td>
              <td data-label="Status">
                <span class={`status status-${member.status}`}>{member.status}</span>
              </td>
              <td data-label="Permissions">
                <PermissionChips names={member.permissions} />
              </td>
              <td data-label="Added">
                <When at={member.added_at} />
              </td>
              <td class="row-actions">
                {manager ? (
                  <>
                    <button type="button" onClick={() => setDialog({ kind: "edit", member })}>
                      Permissions<span class="visually-hidden"> of {member.email}</span>
                    </button>
                    <button type="button" class="danger" onClick={() => setDialog({ kind: "remove", member })}>
                      Remove<span class="visually-hidden"> {member.email}</span>
                    </button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {dialog?.kind === "add" ? (
        <AddUser
          tenant={tenant}
          permissions={permissions}
          rules={rules}
          check={check}
          onClose={close}
          onAdded={loaded.reload}
        />
      ) : null}
      {dialog?.kind === "edit" ? (
        <EditPermissions
          tenant={tenant}
          member={dialog.member}
          permissions={permissions}
          rules={rules}
          check={check}
          onClose={close}
          onSaved={after}
        />
      ) : null}
      {dialog?.kind === "remove" ? (
        <RemoveMember tenant={tenant} member={dialog.member} check={check} onClose={close} onRemoved={after} />
      ) : null}
    </section>
  );
}
