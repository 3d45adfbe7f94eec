// Tenant settings (`modify_tenant_settings`): the name, the plan (a refused downgrade lists every
// blocker the server returns) and SAML SSO enforcement, whose breakglass picker offers only the
// members who hold `user_and_api_management` now (the server requires an active one) and whose
// connection picker offers the account's SSO connections.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorText, useLoaded } from "./ui.jsx";

const MANAGEMENT = "user_and_api_management";

function SettingsForm({ tenant, settings, members, connections, plans, onSaved }) {
  const [name, setName] = useState(settings.name);
  const [plan, setPlan] = useState(settings.plan);
  const [enforced, setEnforced] = useState(settings.sso_enforced);
  const [breakglass, setBreakglass] = useState(settings.saml_breakglass_user_id ?? "");
  const [connection, setConnection] = useState(settings.sso_connection_id ?? "");
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  // The breakglass picker: members holding the management permission now (the owner included).
  const managers = members.filter((m) => m.effective_permissions.includes(MANAGEMENT));
  const ssoPlan = plans.find((p) => p.name === plan)?.features.includes("saml_sso") ?? false;
  const ssoChanged =
    enforced !== settings.sso_enforced ||
    breakglass !== (settings.saml_breakglass_user_id ?? "") ||
    connection !== (settings.sso_connection_id ?? "");

  async function save(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    const body = {};
    if (name.trim() !== settings.name) body.name = name.trim();
    if (plan !== settings.plan) body.plan = plan;
    if (ssoChanged) body.sso = { enforced, breakglass: breakglass || null, connection: connection || null };
    try {
      await api("PATCH", `/v1/tenants/${encodeURIComponent(tenant)}`, { body });
      setSaved(true);
      onSaved();
    } catch (refused) {
      setError(refused);
    }
    setBusy(false);
  }

  return (
    <form class="settings" onSubmit={save} aria-labelledby="settings-title">
      <label for="settings-name">Name</label>
      <input id="settings-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="settings-plan">Plan</label>
      <select id="settings-plan" value={plan} onChange={(e) => setPlan(e.currentTarget.value)} aria-describedby="plan-help">
        {plans.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name} ({p.seats} seats{p.features.length ? `; ${p.features.join(", ").replaceAll("_", " ")}` : ""})
          </option>
        ))}
      </select>
      <p class="muted" id="plan-help">
        {settings.member_count} of {settings.member_limit} users now, owner included. A plan the tenant does not fit is
        refused with everything that blocks it.
      </p>
      <fieldset class="toggles">
        <legend>SAML single sign-on</legend>
        <div class="toggle">
          <input
            type="checkbox"
            role="switch"
            id="settings-sso"
            checked={enforced}
            aria-describedby="settings-sso-description"
            onChange={(e) => setEnforced(e.currentTarget.checked)}
          />
          <label for="settings-sso">Enforce SSO</label>
          <span class="description" id="settings-sso-description">
            {ssoPlan
              ? "Members sign in through the identity provider; only the breakglass user may still use a password."
              : `The ${plan} plan does not include SAML SSO.`}
          </span>
        </div>
        <label for="settings-connection">Identity provider connection</label>
        <select id="settings-connection" value={connection} onChange={(e) => setConnection(e.currentTarget.value)}>
          <option value="">None</option>
          {connections.map((c) => (
            <option key={c.connection_id} value={c.connection_id}>
              {c.name} ({c.protocol?.type ?? c.type ?? "sso"})
            </option>
          ))}
        </select>
        <label for="settings-breakglass">Breakglass user (holds user and API management)</label>
        <select id="settings-breakglass" value={breakglass} onChange={(e) => setBreakglass(e.currentTarget.value)}>
          <option value="">None</option>
          {managers.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.email}
            </option>
          ))}
        </select>
      </fieldset>
      {error ? (
        <div id="settings-refusal">
          <ErrorText error={error} />
          {error.blockers.length > 0 ? (
            <ul id="plan-blockers" class="refusals" aria-label="What blocks the plan change">
              {error.blockers.map((blocker) => (
                <li key={blocker.code} data-code={blocker.code}>
                  {blocker.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {saved ? (
        <p role="status" id="settings-saved">
          Saved.
        </p>
      ) : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save settings
        </button>
      </div>
    </form>
  );
}

export function Settings({ tenant, model }) {
  const loaded = useLoaded(async () => {
    const [settings, members, connections] = await Promise.all([
      api("GET", `/v1/tenants/${encodeURIComponent(tenant)}`),
      api("GET", `/v1/tenants/${encodeURIComponent(tenant)}/members`),
      // Company admins list the account's connections; others keep the tenant's as it is.
      api("GET", "/v1/account/sso-connections").catch(() => ({ items: [] })),
    ]);
    return { settings, members: members.items, connections: connections.items ?? [] };
  }, [tenant]);
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Tenant settings</h1>
      <ErrorText error={loaded.error} />
      {loaded.data ? (
        <SettingsForm
          key={`${loaded.data.settings.name}/${loaded.data.settings.plan}`}
          tenant={tenant}
          {...loaded.data}
          plans={model.plans}
          onSaved={loaded.reload}
        />
      ) : (
        <p class="muted">Loading…</p>
      )}
    </section>
  );
}
