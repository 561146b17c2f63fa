import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, defineCatalog, type EventStore, type Ledger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import {
  createHttpHandler,
  type HttpHandlerOptions,
  type NodeListenerOptions,
  toNodeListener,
} from '../src/index.js';

/** The quickstart's catalog: a free plan granting 100 credits a month, `ai-generation` at 10 credits. */
export const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
});

export const API_KEY = 'upay_sk_test_0123456789abcdef';

export interface TestServer {
  readonly url: string;
  readonly ledger: Ledger;
  /** fetch against the server with the API key and, when given, a JSON body. */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; key?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

/** A real node:http server on 127.0.0.1, on a port the OS picks. */
export async function startServer(
  options: Partial<HttpHandlerOptions> & { store?: EventStore; listener?: NodeListenerOptions } = {},
): Promise<TestServer> {
  // `store` and `listener` are this helper's, not the handler's: the handler refuses an option it does
  // not know.
  const { store, listener, ...handlerOptions } = options;
  const ledger = options.ledger ?? createLedger({ catalog, store: store ?? memoryStore() });
  const handler = createHttpHandler({ apiKeys: [API_KEY], ...handlerOptions, ledger });
  const server = createServer(toNodeListener(handler, listener));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ledger,
    async call(method, path, { body, key = API_KEY, headers = {} } = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(key === null ? {} : { authorization: `Bearer ${key}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      await ledger.close();
    },
  };
}
