// The sign-in page: account id, email and password; the session comes back as the HttpOnly cookie.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { ErrorText, Field } from "./ui.jsx";

const ACCOUNT_KEY = "portcullis.console.account";

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
    </main>
  );
}
