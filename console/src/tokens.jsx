// API Tokens in one tenant: create (name, permissions, optional expiry; the secret shown once),
// the list with last use and expiry, delete with confirmation.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import {
  Confirm,
  DataTable,
  endOfDay,
  ErrorText,
  Field,
  FormDialog,
  PermissionChips,
  PermissionToggles,
  ShownOnce,
  useLoaded,
  When,
} from "./ui.jsx";

function CreateToken({ tenant, permissions, held, onClose, onCreated }) {
  const [name, setName] = useState("");
  const [granted, setGranted] = useState([]);
  const [expires, setExpires] = useState("");
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);

  async function submit() {
    setError(null);
    try {
      const body = { name: name.trim(), permissions: granted };
      if (expires) body.expires_at = endOfDay(expires);
      setCreated(await api("POST", `/v1/tenants/${encodeURIComponent(tenant)}/tokens`, { body }));
      onCreated();
    } catch (refused) {
      setError(refused);
    }
  }

  if (created)
    return <ShownOnce title="Token created" what="token" secret={created.token} id="token-secret" onClose={onClose} />;
  return (
    <FormDialog title="Create API token" submitLabel="Create token" onSubmit={submit} onClose={onClose} error={error}>
      <Field id="token-name" label="Name" required value={name} onValue={setName} />
      <PermissionToggles
        permissions={permissions}
        selected={granted}
        onChange={setGranted}
        idPrefix="token"
        disabled={(permission) => !held.includes(permission)}
      />
      <Field id="token-expiry" label="Expires (optional)" type="date" value={expires} onValue={setExpires} />
    </FormDialog>
  );
}

function DeleteToken({ token, onClose, onDeleted }) {
  return (
    <Confirm
      title="Delete token"
      action="Delete"
      onClose={onClose}
      onConfirm={async () => {
        await api("DELETE", `/v1/tokens/${encodeURIComponent(token.key_id)}`);
        onDeleted();
      }}
    >
      <p>
        Delete <strong>{token.name}</strong>? Anything using it stops working. This cannot be undone.
      </p>
    </Confirm>
  );
}

export function Tokens({ tenant, permissions, held }) {
  const [dialog, setDialog] = useState(null);
  const loaded = useLoaded(async () => (await api("GET", `/v1/tenants/${encodeURIComponent(tenant)}/tokens`)).items, [tenant]);
  const tokens = loaded.data;

  return (
    <section aria-labelledby="tokens-title">
      <div class="section-head">
        <h1 id="tokens-title">API tokens</h1>
        <button type="button" class="primary" onClick={() => setDialog({ kind: "create" })}>
          Create token
        </button>
      </div>
      <ErrorText error={loaded.error} />
      {tokens === null ? (
        <p class="muted">Loading…</p>
      ) : tokens.length === 0 ? (
        <p class="muted">No API tokens in this tenant.</p>
      ) : (
        <DataTable caption="API tokens of the tenant" columns={["Name", "Key id", "Permissions", "Last used", "Expires"]}>
          {tokens.map((token) => (
            <tr key={token.key_id} data-key={token.key_id}>
              <td data-label="Name">{token.name}</td>
              <td data-label="Key id">
                <code>{token.key_id}</code>
              </td>
              <td data-label="Permissions">
                <PermissionChips names={token.permissions} />
              </td>
              <td data-label="Last used">
                <When at={token.last_used_at} />
              </td>
              <td data-label="Expires">
                {token.expires_at ? <When at={token.expires_at} /> : <span class="muted">no expiry</span>}
              </td>
              <td>
                <button type="button" class="danger" onClick={() => setDialog({ kind: "delete", token })}>
                  Delete<span class="visually-hidden"> {token.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {dialog?.kind === "create" ? (
        <CreateToken
          tenant={tenant}
          permissions={permissions}
          held={held}
          onClose={() => setDialog(null)}
          onCreated={loaded.reload}
        />
      ) : null}
      {dialog?.kind === "delete" ? (
        <DeleteToken
          token={dialog.token}
          onClose={() => setDialog(null)}
          onDeleted={() => {
            setDialog(null);
            loaded.reload();
          }}
        />
      ) : null}
    </section>
  );
}
