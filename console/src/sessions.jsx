// "Your sessions": every open session of the signed-in user, with revoke.
import { api } from "./api.js";
import { DataTable, ErrorText, useLoaded, When } from "./ui.jsx";

function method(session) {
  if (session.method === "password") return "password";
  const connection = session.method?.sso?.connection;
  return connection ? `SSO (${connection})` : "SSO";
}

export function Sessions({ onSignedOut }) {
  const loaded = useLoaded(async () => (await api("GET", "/v1/sessions")).items, []);

  async function revoke(session) {
    loaded.setError(null);
    try {
      await api("DELETE", `/v1/sessions/${encodeURIComponent(session.session_id)}`);
      if (session.current) onSignedOut();
      else await loaded.reload();
    } catch (refused) {
      loaded.setError(refused);
    }
  }

  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Your sessions</h1>
      <ErrorText error={loaded.error} />
      {loaded.data === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <DataTable
          caption="Open sessions, most recently seen first"
          columns={["Device", "Signed in with", "Created", "Last seen", "Expires"]}
        >
          {loaded.data.map((session) => (
            <tr key={session.session_id} data-session={session.session_id}>
              <td data-label="Device">
                {session.user_agent ?? <span class="muted">unknown</span>}
                {session.current ? <span class="badge">this session</span> : null}
              </td>
              <td data-label="Signed in with">{method(session)}</td>
              <td data-label="Created">
                <When at={session.created_at} />
              </td>
              <td data-label="Last seen">
                <When at={session.last_seen_at} />
              </td>
              <td data-label="Expires">
                <When at={Math.min(session.idle_expires_at, session.absolute_expires_at)} />
              </td>
              <td>
                <button type="button" class="danger" onClick={() => revoke(session)}>
                  {session.current ? "Sign out" : "Revoke"}
                  <span class="visually-hidden"> session {session.session_id}</span>
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
