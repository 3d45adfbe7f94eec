// Automation keys of one tenant (a plan feature): the list, create (the key shown once, with a
// copy button and a warning), an on/off switch, delete with confirmation. On a plan without the
// feature the screen says so and names the plans that include it, from the product model.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { Confirm, DataTable, endOfDay, ErrorText, Field, FormDialog, ShownOnce, useLoaded, When } from "./ui.jsx";

const FEATURE = "automation_keys";

/** The plans (upgrade order) that include `feature`, from the product model. */
export function plansWith(model, feature) {
  return model.plans.filter((plan) => plan.features.includes(feature)).map((plan) => plan.name);
}

/** Explains that the tenant's plan lacks `feature`, naming the plans that have it. */
export function PlanLacks({ what, plan, plans }) {
  return (
    <p class="notice" id="plan-lacks">
      The <strong>{plan}</strong> plan does not include {what}.{" "}
      {plans.length > 0 ? `They come with the ${plans.join(" and ")} plan${plans.length > 1 ? "s" : ""}.` : ""}
    </p>
  );
}

function CreateKey({ tenant, onClose, onCreated }) {
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  async function submit() {
    setError(null);
    try {
      const body = { name: name.trim() };
      if (expires) body.expires_at = endOfDay(expires);
      setCreated(await api("POST", `/v1/tenants/${encodeURIComponent(tenant)}/automation-keys`, { body }));
      onCreated();
    } catch (refused) {
      setError(refused);
    }
  }
  if (created)
    return <ShownOnce title="Automation key created" what="key" secret={created.key} id="key-secret" onClose={onClose} />;
  return (
    <FormDialog title="Create automation key" submitLabel="Create key" onSubmit={submit} onClose={onClose} error={error}>
      <p class="muted">A build-only key for automation (CI): it can run the builds the model allows keys, nothing else.</p>
      <Field id="key-name" label="Name" required value={name} onValue={setName} />
      <Field id="key-expiry" label="Expires (optional)" type="date" value={expires} onValue={setExpires} />
    </FormDialog>
  );
}

function KeySwitch({ item, disabled, onSwitched, onRefused }) {
  const id = `enabled-${item.key_id}`;
  const [busy, setBusy] = useState(false);
  return (
    <span class="switch-cell">
      <input
        type="checkbox"
        role="switch"
        id={id}
        checked={item.enabled}
        disabled={disabled || busy}
        aria-busy={busy ? "true" : undefined}
        onChange={async (event) => {
          const input = event.currentTarget;
          const enabled = input.checked;
          setBusy(true);
          try {
            await api("PATCH", `/v1/automation-keys/${encodeURIComponent(item.key_id)}`, { body: { enabled } });
            onSwitched();
          } catch (refused) {
            // Back to what the server holds.
            input.checked = item.enabled;
            onRefused(refused);
          } finally {
            setBusy(false);
          }
        }}
      />
      <label for={id} class="inline">
        {item.enabled ? "on" : "off"}
        <span class="visually-hidden"> ({item.name})</span>
      </label>
    </span>
  );
}

export function Keys({ tenant, model, held }) {
  const [dialog, setDialog] = useState(null);
  const [refusal, setRefusal] = useState(null);
  const loaded = useLoaded(async () => {
    const settings = await api("GET", `/v1/tenants/${encodeURIComponent(tenant)}`);
    const plan = model.plans.find((p) => p.name === settings.plan);
    if (!plan?.features.includes(FEATURE)) return { settings, keys: null };
    const list = await api("GET", `/v1/tenants/${encodeURIComponent(tenant)}/automation-keys`);
    return { settings, keys: list.items };
  }, [tenant]);
  const manager = held.includes(model.automation_keys.managed_with);
  const data = loaded.data;
  const reload = () => {
    setRefusal(null);
    loaded.reload();
  };

  return (
    <section aria-labelledby="keys-title">
      <div class="section-head">
        <h1 id="keys-title">Automation keys</h1>
        {data?.keys && manager ? (
          <button type="button" class="primary" onClick={() => setDialog({ kind: "create" })}>
            Create key
          </button>
        ) : null}
      </div>
      <ErrorText error={loaded.error ?? refusal} />
      {data === null ? (
        loaded.error ? null : <p class="muted">Loading…</p>
      ) : data.keys === null ? (
        <PlanLacks what="automation keys" plan={data.settings.plan} plans={plansWith(model, FEATURE)} />
      ) : (
        <>
          {manager ? null : (
            <p class="muted">Managing keys needs the {model.automation_keys.managed_with.replaceAll("_", " ")} permission.</p>
          )}
          {data.keys.length === 0 ? (
            <p class="muted">No automation keys in this tenant.</p>
          ) : (
            <DataTable caption="Automation keys of the tenant" columns={["Name", "Key id", "Enabled", "Created", "Last used", "Expires"]}>
              {data.keys.map((item) => (
                <tr key={item.key_id} data-key={item.key_id}>
                  <td data-label="Name">{item.name}</td>
                  <td data-label="Key id">
                    <code>{item.key_id}</code>
                  </td>
                  <td data-label="Enabled">
                    <KeySwitch item={item} disabled={!manager} onSwitched={reload} onRefused={setRefusal} />
                  </td>
                  <td data-label="Created">
                    <When at={item.created_at} />
                  </td>
                  <td data-label="Last used">
                    <When at={item.last_used_at} />
                  </td>
                  <td data-label="Expires">
                    {item.expires_at ? <When at={item.expires_at} /> : <span class="muted">no expiry</span>}
                  </td>
                  <td>
                    {manager ? (
                      <button type="button" class="danger" onClick={() => setDialog({ kind: "delete", item })}>
                        Delete<span class="visually-hidden"> {item.name}</span>
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </DataTable>
          )}
        </>
      )}
      {dialog?.kind === "create" ? <CreateKey tenant={tenant} onClose={() => setDialog(null)} onCreated={reload} /> : null}
      {dialog?.kind === "delete" ? (
        <Confirm
          title="Delete automation key"
          action="Delete"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api("DELETE", `/v1/automation-keys/${encodeURIComponent(dialog.item.key_id)}`);
            setDialog(null);
            reload();
          }}
        >
          <p>
            Delete <strong>{dialog.item.name}</strong>? Automation using it stops working. This cannot be undone.
          </p>
        </Confirm>
      ) : null}
    </section>
  );
}
