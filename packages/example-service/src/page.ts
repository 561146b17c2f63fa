import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Ledger } from '@tally/core';
import { createCustomerToken } from '@tally/http';
import type { Context, Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

/** The page's options: who the demo signs in, and the secret customer tokens are signed with. */
export interface PageOptions {
  /** Signs the customer tokens the page gets; the REST API verifies them (at least 32 bytes). */
  readonly tokenSecret: string;
  /** The customer every browser is signed in as: this is a demo, it has no login. */
  readonly demoCustomerId: string;
  /** The built page (`web/dist`); without it `GET /` says how to build it. */
  readonly webRoot?: string;
}

/** What the demo's "Buy 100 credits" grants, and the price it records for them. */
export const DEMO_PURCHASE = { amount: '100', price: { amount: '10.00', currency: 'USD' } } as const;
/** Lifetime of a customer token; the page asks for a new one before it runs out. */
export const TOKEN_SECONDS = 900;

const COOKIE = 'tally_demo_session';

/**
 * The signed-in side of the service, as a real one would have it with its own login: a session
 * cookie (HttpOnly, SameSite=Strict, so other sites cannot ride on it) naming the customer. Here
 * "signing in" is asking for a token: every browser becomes the demo customer.
 */
export class Sessions {
  readonly #customers = new Map<string, string>();

  /** The customer of the request's session, or null when it has none. */
  customerOf(c: Context): string | null {
    const id = getCookie(c, COOKIE);
    return id === undefined ? null : (this.#customers.get(id) ?? null);
  }

  /** Signs the browser in as `customerId` (a fresh session cookie) unless it already is someone. */
  signIn(c: Context, customerId: string): string {
    const current = this.customerOf(c);
    if (current !== null) return current;
    const id = randomBytes(32).toString('base64url');
    this.#customers.set(id, customerId);
    setCookie(c, COOKIE, id, { httpOnly: true, sameSite: 'Strict', path: '/' });
    return customerId;
  }
}

/**
 * The page's routes:
 * - `POST /session/token`: signs the browser in (the demo customer) and answers a customer token for
 *   the REST API — read-only: the page spends credits only through `/ai/generate`, which meters on
 *   the server. The page never sees a secret key.
 * - `POST /demo/purchase`: a pretend checkout for the signed-in customer: grants 100 credits with
 *   `source: 'purchase'`, the price and a payment id (a real one would do this when the payment
 *   provider confirms the payment).
 * - `GET /` and `/assets/*`: the built page.
 */
export function mountPage(app: Hono, ledger: Ledger, sessions: Sessions, options: PageOptions): void {
  app.post('/session/token', async (c) => {
    const customerId = sessions.signIn(c, options.demoCustomerId);
    const token = await createCustomerToken(
      { customerId, scopes: ['read'], expiresIn: TOKEN_SECONDS },
      options.tokenSecret,
    );
    c.header('Cache-Control', 'no-store');
    return c.json({ customerId, token, expiresIn: TOKEN_SECONDS });
  });

  app.post('/demo/purchase', async (c) => {
    const customerId = sessions.customerOf(c);
    if (customerId === null) {
      return c.json({ error: { code: 'unauthorized', message: 'sign in first: POST /session/token' } }, 401);
    }
    const grant = await ledger.grant({
      customerId,
      currency: 'credits',
      amount: DEMO_PURCHASE.amount,
      source: 'purchase',
      price: DEMO_PURCHASE.price,
      paymentId: `demo_pay_${randomUUID()}`,
    });
    return c.json(grant, 201);
  });

  const root = options.webRoot;
  if (root !== undefined && existsSync(join(root, 'index.html'))) {
    app.get('/assets/*', serveStatic({ root }));
    app.get('/', serveStatic({ root, path: 'index.html' }));
  } else {
    app.get('/', (c) =>
      c.text('The page is not built: npx -y pnpm@10 --filter @tally/example-service build:web\n', 404),
    );
  }
}
