import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { serve } from '@hono/node-server';
import {
  type Catalog,
  type CatalogInput,
  createLedger,
  defineCatalog,
  type EventStore,
  type Ledger,
} from '@tally/core';
import { createHttpHandler, statusOf } from '@tally/http';
import { sqliteStore } from '@tally/store-sqlite';
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { mountPage, type PageOptions, Sessions } from './page.js';

/** The catalog is configuration: a JSON file with a currency, a feature and a plan. */
export function loadCatalog(path: string | URL): Catalog {
  return defineCatalog(JSON.parse(readFileSync(path, 'utf8')) as CatalogInput);
}

/** The event store: one SQLite file (created with its folder if missing), or `':memory:'`. */
export function openStore(filename: string): EventStore {
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
  return sqliteStore({ filename });
}

/** Stands in for the real work an AI endpoint would do (and bill for). */
async function generate(prompt: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return `a picture of ${prompt.trim() || 'nothing in particular'}`;
}

/**
 * The service's routes:
 * - `POST /ai/generate` `{ customerId, prompt }`: the metered feature. Checks the customer can pay,
 *   does the work, then records the usage under an idempotency key made from the request id
 *   (`X-Request-Id`, or a fresh one) and the prompt, so a retried request is never charged twice.
 * - `/v1/*`: Tally's REST API (`@tally/http`), for the back office and for clients of the quickstart;
 *   with `page`, also for the page's customer tokens.
 * - `GET /healthz`.
 * - with `page`: the signed-in customer's page and its session (page.ts). `/ai/generate` then also
 *   takes the page's session instead of an API key, for the session's customer.
 */
export function createApp(options: { ledger: Ledger; apiKeys: readonly string[]; page?: PageOptions }): Hono {
  const { ledger, apiKeys, page } = options;
  const tally = createHttpHandler({
    ledger,
    apiKeys,
    ...(page === undefined ? {} : { customerTokens: { secret: page.tokenSecret } }),
  });
  const app = new Hono();
  const sessions = new Sessions();
  if (page !== undefined) mountPage(app, ledger, sessions, page);

  app.get('/healthz', (c) => c.json({ ok: true }));

  // The REST API answers for itself, authentication and errors included.
  app.all('/v1/*', (c) => tally(c.req.raw));

  // Your own endpoints use your own auth; this example reuses the API keys, and the page's session.
  const keyAuth = bearerAuth({ token: [...apiKeys] });
  app.use('/ai/*', (c, next) => (sessions.customerOf(c) === null ? keyAuth(c, next) : next()));
  app.post('/ai/generate', async (c) => {
    // An empty header counts as none: otherwise every such request would share one key.
    const requestId = c.req.header('x-request-id') || randomUUID();
    c.header('X-Request-Id', requestId);
    const body = (await c.req.json().catch(() => null)) as { customerId?: unknown; prompt?: unknown } | null;
    // The page's session names its customer; a caller with an API key names it in the body.
    const customerId = sessions.customerOf(c) ?? body?.customerId;
    if (typeof customerId !== 'string' || typeof body?.prompt !== 'string') {
      return c.json(
        { error: { code: 'invalid_input', message: 'send { customerId, prompt } as JSON' } },
        400,
      );
    }
    const { prompt } = body;

    // 1. Can the customer pay for it? (Writes nothing.)
    const check = await ledger.check({ customerId, feature: 'ai-generation', quantity: 1 });
    if (!check.allowed) {
      return c.json(
        {
          error: {
            code: 'insufficient_credits',
            message: `ai-generation costs ${check.cost} ${check.currency}; ${check.available} available`,
          },
        },
        422,
      );
    }
    // 2. Do the work.
    const output = await generate(prompt);
    // 3. Record what was used. The key makes a retry of this request a no-op. It covers the prompt
    // too: keyed on the request id alone, a client could resend one id with new prompts and have the
    // work done again and again for free (the usage replays, the new output is returned). Hashed, so
    // any request id gives a valid key (1-255 characters) and none is refused after the work is done.
    const idempotencyKey = `ai-generate:${createHash('sha256')
      .update(JSON.stringify([requestId, prompt]))
      .digest('hex')}`;
    const usage = await ledger.trackUsage({
      customerId,
      feature: 'ai-generation',
      quantity: 1,
      idempotencyKey,
    });
    return c.json({ requestId, output, cost: usage.cost, balance: usage.balance });
  });

  app.onError((error, c) => {
    const code = (error as { code?: unknown }).code;
    if (error.name === 'TallyError' && typeof code === 'string' && statusOf(code) < 500) {
      return c.json({ error: { code, message: error.message } }, statusOf(code) as ContentfulStatusCode);
    }
    if (error instanceof HTTPException && error.status === 401) {
      c.header('WWW-Authenticate', 'Bearer realm="tally"');
      return c.json(
        { error: { code: 'unauthorized', message: 'send a valid API key as a Bearer token' } },
        401,
      );
    }
    if (error instanceof HTTPException) return error.getResponse();
    console.error(error);
    return c.json({ error: { code: 'internal_error', message: 'internal error' } }, 500);
  });
  return app;
}

export interface ServiceOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly hostname: string;
  /** SQLite file of the ledger. */
  readonly database: string;
  readonly apiKeys: readonly string[];
  readonly catalog: Catalog;
  /** Serve the signed-in customer's page (and accept its customer tokens on the API). */
  readonly page?: PageOptions;
}

export interface RunningService {
  readonly url: string;
  readonly ledger: Ledger;
  close(): Promise<void>;
}

/** Opens the ledger and serves the app on node:http until `close()`. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const ledger = createLedger({ catalog: options.catalog, store: openStore(options.database) });
  const app = createApp({
    ledger,
    apiKeys: options.apiKeys,
    ...(options.page === undefined ? {} : { page: options.page }),
  });
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
    (resolve, reject) => {
      // A port in use (or a bad host) emits 'error' instead of calling back: without this listener the
      // start never settled and the error crashed the process with the database still open.
      const server = serve({ fetch: app.fetch, port: options.port, hostname: options.hostname }, (info) => {
        server.off('error', reject);
        resolve({ server, port: info.port });
      });
      server.once('error', reject);
    },
  ).catch(async (error: unknown) => {
    await ledger.close();
    throw error;
  });
  return {
    url: `http://${options.hostname}:${port}`,
    ledger,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ledger.close();
    },
  };
}
