// The sign-in page: account id, email and password (the session comes back as the HttpOnly
// cookie), or single sign-on: the browser goes to `GET /v1/sso/start` for the account's
// connection, signs in at the identity provider and comes back to /console/ with the cookie.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorText, Field } from "./ui.jsx";

const ACCOUNT_KEY = "portcullis.console.account";
const CONNECTION_KEY = "portcullis.console.connection";

/** Single sign-on: a page navigation to the worker's SSO start (nothing is fetched here). */
function SingleSignOn({ accountId }) {
  const [connection, setConnection] = useState(() => localStorage.getItem(CONNECTION_KEY) ?? "");
  const [hint, setHint] = useState("");
  function submit(event) {
    event.preventDefault();
    localStorage.setItem(ACCOUNT_KEY, accountId.trim());
    localStorage.setItem(CONNECTION_KEY, connection.trim());
    const query = new URLSearchParams({ account_id: accountId.trim(), connection_id: connection.trim() });
    if (hint.trim()) query.set("login_hint", hint.trim());
    location.assign(`/v1/sso/start?${query}`);
  }
  return (
    <form onSubmit={submit} aria-labelledby="sso-title" class="sso">
      <h2 id="sso-title">Single sign-on</h2>
      <p class="muted">With the account id above and your company's SSO connection id.</p>
      <Field
        id="sso-connection"
        label="SSO connection id"
        required
        spellcheck={false}
        placeholder="sso_…"
        value={connection}
        onValue={setConnection}
      />
      <Field id="sso-email" label="Email (optional)" type="email" autocomplete="username" value={hint} onValue={setHint} />
      <button type="submit" disabled={!accountId.trim()}>
        Sign in with SSO
      </button>
    </form>
  );
}

export function SignIn({ onSignedIn }) {
  const [accountId, setAccountId] = useState(() => localStorage.getItem(ACCOUNT_KEY) ?? "");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const signedIn = await api("POST", "/v1/sessions", {
        body: { account_id: accountId.trim(), email: email.trim(), password, cookie: true },
      });
      localStorage.setItem(ACCOUNT_KEY, accountId.trim());
      setPassword("");
      await onSignedIn(signedIn.csrf_token);
    } catch (refused) {
      setError(refused);
      setBusy(false);
    }
  }

  return (
    <main class="sign-in" id="main">
      <h1>Sign in to Portcullis</h1>
      <form onSubmit={submit} aria-describedby={error ? "sign-in-error" : undefined}>
        <Field
          id="account-id"
          label="Account id"
          name="account_id"
          required
          autocomplete="organization"
          spellcheck={false}
          placeholder="acc_…"
          value={accountId}
          onValue={setAccountId}
        />
        <Field id="email" label="Email" type="email" required autocomplete="username" value={email} onValue={setEmail} />
        <Field
          id="password"
          label="Password"
          type="password"
          required
          autocomplete="current-password"
          value={password}
          onValue={setPassword}
        />
        <div id="sign-in-error">
          <ErrorText error={error} />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <SingleSignOn accountId={accountId} />
    </main>
  );
}
