import type { GetToken } from '@tally/react';

/** Who the page is signed in as, and the customer token the service gave it for the REST API. */
export interface Session {
  readonly customerId: string;
  readonly token: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Asks the service for a token (signing in, in this demo). The service never sends a secret key. */
export async function fetchSession(): Promise<Session> {
  const res = await fetch('/session/token', { method: 'POST', credentials: 'same-origin' });
  if (!res.ok) throw new Error(`could not sign in: HTTP ${res.status}`);
  const body = (await res.json()) as { customerId: string; token: string; expiresIn: number };
  return { customerId: body.customerId, token: body.token, expiresAt: Date.now() + body.expiresIn * 1000 };
}

/** The token for each request: the session's, or a new one once it has less than a minute left. */
export function tokenSource(first: Session): GetToken {
  let current = first;
  let pending: Promise<Session> | null = null;
  return async () => {
    if (current.expiresAt - Date.now() > 60_000) return current.token;
    pending ??= fetchSession().finally(() => {
      pending = null;
    });
    current = await pending;
    return current.token;
  };
}
