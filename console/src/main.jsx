// The Portcullis admin console: signs in with the sessions API (the HttpOnly cookie, the CSRF
// token kept in memory), then User Management, API tokens and "your sessions" for one tenant.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, setCsrfToken } from "./api.js";
import { Audit } from "./audit.jsx";
import { Keys } from "./keys.jsx";
import { Members } from "./members.jsx";
import { loadRules } from "./rules.js";
import { Sessions } from "./sessions.jsx";
import { Settings } from "./settings.jsx";
import { SignIn } from "./signin.jsx";
import { Tokens } from "./tokens.jsx";
import { Users } from "./users.jsx";
import { ErrorText } from "./ui.jsx";
import "./style.css";

const SCREENS = [
  { path: "/console/", title: "User Management" },
  { path: "/console/users", title: "Users", account: true },
  { path: "/console/tokens", title: "API tokens" },
  { path: "/console/automation-keys", title: "Automation keys" },
  { path: "/console/audit", title: "Audit log" },
  { path: "/console/settings", title: "Tenant settings" },
  { path: "/console/sessions", title: "Your sessions" },
];

function screenOf(pathname) {
  return SCREENS.find((screen) => screen.path === pathname) ?? SCREENS[0];
}

function App() {
  const [state, setState] = useState({ phase: "loading" });
  const [screen, setScreen] = useState(() => screenOf(location.pathname));
  const [tenant, setTenant] = useState(null);

  async function load() {
    try {
      const [me, model] = await Promise.all([api("GET", "/v1/whoami"), api("GET", "/v1/model")]);
      if (me.kind !== "session") throw new ApiError(401, { detail: "sign in with a password session" });
      setCsrfToken(me.csrf_token);
      // The engine's rules, with the server's model: a change they refuse is never sent; and
      // the tenants' names (the account's details list the caller's tenants; ids otherwise).
      const [rules, account] = await Promise.all([loadRules(model), api("GET", "/v1/account").catch(() => null)]);
      const names = Object.fromEntries((account?.tenants ?? []).map((t) => [t.tenant_id, t.name]));
      setTenant((current) => (me.tenants.some((t) => t.tenant_id === current) ? current : me.tenants[0]?.tenant_id));
      setState({ phase: "signed-in", me, model, rules, names });
    } catch (refused) {
      setCsrfToken(null);
      if (refused.status === 401 || refused.status === 403) setState({ phase: "signed-out" });
      else setState({ phase: "failed", error: refused });
    }
  }
  useEffect(() => {
    load();
    const onPop = () => setScreen(screenOf(location.pathname));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  useEffect(() => {
    document.title = state.phase === "signed-in" ? `${screen.title} · Portcullis` : "Sign in · Portcullis";
  }, [screen, state.phase]);

  function go(event, next) {
    event.preventDefault();
    history.pushState(null, "", next.path);
    setScreen(next);
    document.getElementById("main")?.focus();
  }

  async function signOut() {
    try {
      await api("DELETE", `/v1/sessions/${encodeURIComponent(state.me.session_id)}`);
    } catch {
      // Signed out either way: the session is gone or unusable.
    }
    signedOut();
  }
  function signedOut() {
    setCsrfToken(null);
    setState({ phase: "signed-out" });
  }

  if (state.phase === "loading") return <p class="loading">Loading…</p>;
  if (state.phase === "failed") return <ErrorText error={state.error} />;
  if (state.phase === "signed-out")
    return (
      <SignIn
        onSignedIn={async (csrf) => {
          setCsrfToken(csrf);
          await load();
        }}
      />
    );

  const { me, model, rules, names } = state;
  const held = me.tenants.find((t) => t.tenant_id === tenant)?.permissions ?? [];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Portcullis</span>
        <nav aria-label="Console">
          <ul>
            {SCREENS.map((item) => (
              <li key={item.path}>
                <a href={item.path} aria-current={item === screen ? "page" : undefined} onClick={(e) => go(e, item)}>
                  {item.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {me.tenants.length > 1 ? (
            <>
              <label for="tenant-picker" class="visually-hidden">
                Tenant
              </label>
              <select id="tenant-picker" value={tenant} onChange={(event) => setTenant(event.currentTarget.value)}>
                {me.tenants.map((t) => (
                  <option key={t.tenant_id} value={t.tenant_id}>
                    {names[t.tenant_id] ?? t.tenant_id} ({t.plan})
                  </option>
                ))}
              </select>
            </>
          ) : null}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {screen.path === "/console/sessions" ? (
          <Sessions onSignedOut={signedOut} />
        ) : screen.path === "/console/users" ? (
          <Users me={me.user_id} rules={rules} />
        ) : !tenant ? (
          <p>You are not a member of any tenant.</p>
        ) : screen.path === "/console/settings" ? (
          <Settings tenant={tenant} model={model} />
        ) : screen.path === "/console/audit" ? (
          <Audit tenant={tenant} model={model} />
        ) : screen.path === "/console/automation-keys" ? (
          <Keys tenant={tenant} model={model} held={held} />
        ) : screen.path === "/console/tokens" ? (
          <Tokens tenant={tenant} permissions={model.permissions} held={held} />
        ) : (
          <Members tenant={tenant} permissions={model.permissions} held={held} me={me.user_id} rules={rules} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app"));
