// The audit log: the tenant's (a plan feature, explained when the plan lacks it) or the account's
// own (company admins, every plan), a page at a time from a sequence number (next and previous),
// each event's time, actor, action, target and detail, an action filter over the page, and the
// hash chain's status as the server verified it on this read.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { plansWith, PlanLacks } from "./keys.jsx";
import { DataTable, ErrorText, PageSize, Pager, useLoaded, When } from "./ui.jsx";

function Chain({ chain }) {
  return (
    <p id="audit-chain" role="status" class="notice">
      {chain.valid ? (
        <span class="chain-ok">Hash chain verified</span>
      ) : (
        <span class="chain-bad">Hash chain broken: an event was edited, removed, inserted or reordered</span>
      )}{" "}
      · the account's log holds {chain.length} events
      {chain.head ? (
        <>
          {" "}
          · head <code>{chain.head.slice(0, 16)}…</code>
        </>
      ) : null}
    </p>
  );
}

export function Audit({ tenant, model }) {
  const [scope, setScope] = useState("tenant");
  const [limit, setLimit] = useState(25);
  const [from, setFrom] = useState(0);
  const [before, setBefore] = useState([]);
  const [filter, setFilter] = useState("");
  const feature = model.operations.find((op) => op.name === "read_audit_log")?.feature ?? "audit_log";

  const loaded = useLoaded(async () => {
    const settings = await api("GET", `/v1/tenants/${encodeURIComponent(tenant)}`);
    const members = await api("GET", `/v1/tenants/${encodeURIComponent(tenant)}/members`).catch(() => ({ items: [] }));
    const emails = Object.fromEntries(members.items.map((m) => [m.user_id, m.email]));
    const plan = model.plans.find((p) => p.name === settings.plan);
    if (scope === "tenant" && !plan?.features.includes(feature)) return { settings, emails, page: null };
    const path = scope === "tenant" ? `/v1/tenants/${encodeURIComponent(tenant)}/audit` : "/v1/account/audit";
    return { settings, emails, page: await api("GET", `${path}?from=${from}&limit=${limit}`) };
  }, [tenant, scope, limit, from]);
  const data = loaded.data;
  const restart = (change) => {
    change();
    setFrom(0);
    setBefore([]);
  };
  const needle = filter.trim().toLowerCase();
  const events = data?.page?.items.filter((event) => event.action.toLowerCase().includes(needle)) ?? [];

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <div class="filters">
        <fieldset class="scope">
          <legend>Log</legend>
          {[
            ["tenant", "This tenant"],
            ["account", "The account"],
          ].map(([value, label]) => (
            <span key={value}>
              <input
                type="radio"
                name="audit-scope"
                id={`audit-scope-${value}`}
                checked={scope === value}
                onChange={() => restart(() => setScope(value))}
              />
              <label for={`audit-scope-${value}`} class="inline">
                {label}
              </label>
            </span>
          ))}
        </fieldset>
        <div>
          <label for="audit-filter">Action contains</label>
          <input id="audit-filter" type="search" value={filter} onInput={(event) => setFilter(event.currentTarget.value)} />
        </div>
        <PageSize id="audit-limit" value={limit} onValue={(size) => restart(() => setLimit(size))} />
      </div>
      <ErrorText error={loaded.error} />
      {data === null ? (
        loaded.error ? null : <p class="muted">Loading…</p>
      ) : data.page === null ? (
        <PlanLacks what="the audit log" plan={data.settings.plan} plans={plansWith(model, feature)} />
      ) : (
        <>
          <Chain chain={data.page.chain} />
          {data.page.items.length === 0 ? (
            <p class="muted">{before.length > 0 ? "No later events." : "No events yet."}</p>
          ) : events.length === 0 ? (
            <p class="muted">No event on this page matches.</p>
          ) : (
            <DataTable caption="Audit events, oldest first" columns={["#", "Time", "Actor", "Action", "Target", "Detail"]}>
              {events.map((event) => (
                <tr key={event.sequence} data-sequence={event.sequence}>
                  <td data-label="#">{event.sequence}</td>
                  <td data-label="Time">
                    <When at={event.at} />
                  </td>
                  <td data-label="Actor">
                    {event.actor ? data.emails[event.actor] ?? <code>{event.actor}</code> : <span class="muted">system</span>}
                  </td>
                  <td data-label="Action">
                    <code>{event.action}</code>
                  </td>
                  <td data-label="Target">
                    <code>{event.target}</code>
                  </td>
                  <td data-label="Detail">{event.detail}</td>
                  <td />
                </tr>
              ))}
            </DataTable>
          )}
          <Pager
            label="Pages of the audit log"
            id="audit-page"
            number={before.length + 1}
            hasNext={data.page.items.length > 0 && data.page.next_from !== null}
            onPrevious={() => {
              setFrom(before[before.length - 1] ?? 0);
              setBefore(before.slice(0, -1));
            }}
            onNext={() => {
              setBefore([...before, from]);
              setFrom(data.page.next_from);
            }}
          />
        </>
      )}
    </section>
  );
}
