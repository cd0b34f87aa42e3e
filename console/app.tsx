import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { Api, ApiError, describeError, type Identity, identify } from './api';
import { ApiContext } from './hooks';
import { Nav } from './nav';
import { PageFor } from './pages';
import { SignIn } from './pages/sign-in';
import { link, useRoute } from './router';
import { forgetKey, storedKey, storeKey } from './session';

interface Session {
  key: string;
  identity: Identity;
}

/** The page a key lands on: live events for a tenant, the tenants for the admin. */
const home = (identity: Identity) => (identity.kind === 'admin' ? 'tenants' : 'events');

/**
 * The console: sign-in until a key is accepted, then the pages. A key the server refuses later
 * (401 on any call) signs out with a message saying so.
 */
export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(() => storedKey() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const [unreachable, setUnreachable] = useState<string | null>(null);
  const route = useRoute();

  const signOut = useCallback((message: string | null) => {
    forgetKey();
    setSession(null);
    setNotice(message);
  }, []);

  const start = useCallback((key: string, identity: Identity) => {
    storeKey(key);
    setSession({ key, identity });
    setNotice(null);
    if (route.length === 0 || (identity.kind === 'admin') !== (route[0] === 'tenants')) location.replace(link(home(identity)));
  }, [route]);

  // A key kept in this tab (a reload) is checked again before anything is shown.
  useEffect(() => {
    const key = storedKey();
    if (key === null) return;
    identify(key).then(
      (identity) => {
        setSession({ key, identity });
        if (route.length === 0) location.replace(link(home(identity)));
      },
      (error: unknown) => {
        // Only a refusal drops the key: a server that cannot be reached now may take it again in a moment.
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) signOut(`The kept key no longer works (${describeError(error)}). Sign in again.`);
        else setUnreachable(describeError(error));
      },
    ).finally(() => setChecking(false));
  }, []);

  const api = useMemo(
    () => (session === null ? null : new Api(session.key, (error: ApiError) => signOut(`The server refused the key (${error.code}): sign in again.`))),
    [session?.key],
  );

  if (checking) {
    return (
      <main id="main" class="signin">
        <p role="status">Checking the key kept in this tab…</p>
      </main>
    );
  }
  if (unreachable !== null) {
    return (
      <main id="main" class="signin">
        <h1>Tally console</h1>
        <p role="alert">The server could not check the key kept in this tab: {unreachable}</p>
        <div class="button-row">
          <button type="button" class="primary" onClick={() => location.reload()}>
            Try again
          </button>
          <button type="button" onClick={() => { setUnreachable(null); signOut(null); }}>
            Sign in with another key
          </button>
        </div>
      </main>
    );
  }
  if (session === null || api === null) return <SignIn notice={notice} onSignedIn={start} />;

  return (
    <ApiContext.Provider value={api}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">▮</span> Tally console
        </div>
        <div class="who">
          <span>{session.identity.kind === 'admin' ? 'Admin key' : `Tenant: ${session.identity.tenant.name}`}</span>
          <button type="button" onClick={() => signOut('You signed out.')}>
            Sign out
          </button>
        </div>
        <Nav identity={session.identity} current={route[0] ?? home(session.identity)} />
      </header>
      <main id="main" tabIndex={-1}>
        <PageFor route={route.length === 0 ? [home(session.identity)] : route} identity={session.identity} />
      </main>
    </ApiContext.Provider>
  );
}
