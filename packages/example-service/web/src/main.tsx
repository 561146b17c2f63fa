import { TallyProvider } from '@tally/react';
import { type ReactNode, StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { fetchSession, type Session, tokenSource } from './session.js';
import './styles.css';

function Root(): ReactNode {
  const [session, setSession] = useState<{
    session: Session;
    getToken: ReturnType<typeof tokenSource>;
  } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    fetchSession().then(
      (s) => live && setSession({ session: s, getToken: tokenSource(s) }),
      (e: unknown) => live && setError(String(e)),
    );
    return () => {
      live = false;
    };
  }, []);
  if (error !== null) return <p className="error">{error}</p>;
  if (session === null) return <p>Signing in…</p>;
  return (
    <TallyProvider baseUrl="" customerId={session.session.customerId} getToken={session.getToken}>
      <App customerId={session.session.customerId} />
    </TallyProvider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
