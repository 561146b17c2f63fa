/**
 * A real `@tally/http` server for the hook tests: an in-memory ledger behind the REST API on a free
 * localhost port, as a browser page would reach it. Besides the API it serves a host's checkout
 * endpoint (`POST /host/checkout`, granting purchased credits), and it can drop the answers of the
 * next usage posts after the ledger recorded them, the way a lost connection does.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, defineCatalog, type Ledger } from '@tally/core';
import { type CustomerScope, createCustomerToken, createHttpHandler, toNodeListener } from '@tally/http';
import { memoryStore } from '@tally/store-memory';

export const KEY = 'sk_test_react_hooks_0001';
/** Signs the customer tokens the tests mint, as a host's backend would. */
export const TOKEN_SECRET = 'react-hooks-test-customer-token-secret-01';

const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
});

/** A request the server saw: what the tests count. */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;
}

export interface TestServer {
  readonly url: string;
  readonly ledger: Ledger;
  readonly seen: Seen[];
  /** Drops the answers of the next `n` `POST /v1/usage` once the ledger has handled them. */
  dropUsageAnswers(n: number): void;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

export async function startServer(): Promise<TestServer> {
  const ledger = createLedger({ catalog, store: memoryStore() });
  const api = toNodeListener(
    createHttpHandler({ ledger, apiKeys: [KEY], customerTokens: { secret: TOKEN_SECRET } }),
  );
  const seen: Seen[] = [];
  let drops = 0;
  let payments = 0;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const header = req.headers['idempotency-key'];
    seen.push({
      method: req.method ?? '',
      path,
      idempotencyKey: typeof header === 'string' ? header : undefined,
    });
    if (req.method === 'POST' && path === '/host/checkout') {
      // The host's own endpoint: it takes the payment (here: none) and grants what was bought.
      void (async () => {
        const body = (await readJson(req)) as { customerId: string; credits: string };
        if (req.headers.authorization !== `Bearer ${KEY}`) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'no session' } }));
          return;
        }
        payments += 1;
        const grant = await ledger.grant({
          customerId: body.customerId,
          currency: 'credits',
          amount: body.credits,
          source: 'purchase',
          price: { amount: '5.00', currency: 'USD' },
          paymentId: `pay_${payments}`,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(grant));
      })();
      return;
    }
    if (req.method === 'POST' && path === '/host/token') {
      // The host's backend minting a token for its signed-in user (here: whoever the body names).
      void (async () => {
        const body = (await readJson(req)) as { customerId: string; scopes: CustomerScope[] };
        const token = await createCustomerToken(
          { customerId: body.customerId, scopes: body.scopes, expiresIn: '5m' },
          TOKEN_SECRET,
        );
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token }));
      })();
      return;
    }
    if (req.method === 'POST' && path === '/v1/usage' && drops > 0) {
      drops -= 1;
      // The ledger handles the request; the connection is cut before its answer goes out.
      res.on('error', () => {});
      res.writeHead = (() => {
        req.socket.destroy();
        return res;
      }) as typeof res.writeHead;
    }
    void api(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ledger,
    seen,
    dropUsageAnswers(n) {
      drops = n;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ledger.close();
    },
  };
}

/** A customer on the free plan (+100) who used one generation (-10): balance 90, as in the walkthrough. */
export async function walkthroughCustomer(ledger: Ledger, customerId: string): Promise<void> {
  await ledger.createCustomer({ customerId });
  await ledger.subscribe({ customerId, planId: 'free' });
  await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
}
