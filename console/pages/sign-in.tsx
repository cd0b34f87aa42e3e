import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, type Identity, identify } from '../api';

/**
 * The sign-in form: an API key, checked against the server before anything else is shown (a
 * tenant key reads its tenant, the admin key lists tenants). The key is kept by the app in this
 * tab's sessionStorage only.
 */
export function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (key: string, identity: Identity) => void }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Sign in · Tally console';
    input.current?.focus();
  }, []);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (trimmed === '' || busy) return;
    setBusy(true);
    setError(null);
    try {
      onSignedIn(trimmed, await identify(trimmed));
    } catch (failure) {
      setError(`The key was not accepted. ${describeError(failure)}`);
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>Tally console</h1>
      <p class="muted">Sign in with a tenant's API key to see its events, usage, customers and invoices, or with the admin key to see the tenants.</p>
      {notice === null ? null : (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} class="stack">
        <label for="api-key">API key</label>
        <input
          id="api-key"
          ref={input}
          type="password"
          name="api-key"
          autoComplete="off"
          spellcheck={false}
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-describedby={error === null ? 'api-key-hint' : 'api-key-hint api-key-error'}
        />
        <p id="api-key-hint" class="hint">
          Kept in this browser tab only, until you sign out or close the tab.
        </p>
        {error === null ? null : (
          <p id="api-key-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
