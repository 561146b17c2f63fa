import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, isTallyError } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpHandler, type HttpHandler, toNodeListener } from '../src/index.js';
import { API_KEY, catalog } from './server.js';

/**
 * The Node adapter's one option: whether Node's global `Request`/`Response` are replaced by
 * `@hono/node-server`'s lightweight classes. The cases run in order: once replaced, the globals stay
 * replaced for the rest of this file (vitest gives each file a process of its own).
 */

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

function handler(): HttpHandler {
  const ledger = createLedger({ catalog, store: memoryStore() });
  return createHttpHandler({ ledger, apiKeys: [API_KEY] });
}

/** The walkthrough over a server on `listener`: each call's status, and the usage's answer and balance. */
async function walkthrough(listener: ReturnType<typeof toNodeListener>) {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (path: string, body: object) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const statuses = [
    (await post('/v1/customers', { customerId: 'cus_123' })).status,
    (await post('/v1/subscriptions', { customerId: 'cus_123', planId: 'free' })).status,
  ];
  const usage = await post('/v1/usage', { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
  statuses.push(usage.status);
  const body = (await usage.json()) as { balance: string };
  return { statuses, usage, balance: body.balance };
}

function refusal(run: () => unknown): { code: string; field: string | undefined } {
  try {
    run();
  } catch (error) {
    if (isTallyError(error)) return { code: error.code, field: error.field };
    throw error;
  }
  throw new Error('not refused');
}

describe('toNodeListener', () => {
  it('refuses an unknown option, a bad value and a handler that is not a function, naming each', () => {
    const unknown = { overrideGlobals: true } as unknown as Parameters<typeof toNodeListener>[1];
    expect(refusal(() => toNodeListener(handler(), unknown))).toEqual({
      code: 'invalid_input',
      field: 'overrideGlobals',
    });
    const bad = { overrideGlobalObjects: 'no' } as unknown as Parameters<typeof toNodeListener>[1];
    expect(refusal(() => toNodeListener(handler(), bad))).toEqual({
      code: 'invalid_input',
      field: 'overrideGlobalObjects',
    });
    expect(refusal(() => toNodeListener({} as HttpHandler))).toEqual({
      code: 'invalid_input',
      field: 'handler',
    });
  });

  it('leaves Node’s Request and Response alone when told to, and serves the walkthrough', async () => {
    const { Request: request, Response: response } = globalThis;
    const served = await walkthrough(toNodeListener(handler(), { overrideGlobalObjects: false }));
    expect(globalThis.Response).toBe(response);
    expect(globalThis.Request).toBe(request);
    expect(served.statuses).toEqual([201, 201, 201]);
    expect(served.balance).toBe('90');
  });

  it('by default puts the lightweight classes in their place, which still read as the standard ones', async () => {
    const nodeResponse = globalThis.Response;
    const served = await walkthrough(toNodeListener(handler()));
    expect(globalThis.Response).not.toBe(nodeResponse);
    expect(served.statuses).toEqual([201, 201, 201]);
    expect(served.balance).toBe('90');
    expect(served.usage.headers.get('content-type')).toMatch(/^application\/json/);
    // What the handler answers is a Response to code that checks, and one built by hand is too.
    const answered = await handler()(new Request('http://localhost/v1/catalog'));
    expect(answered).toBeInstanceOf(Response);
    expect(answered.status).toBe(401);
    expect(new Response('x')).toBeInstanceOf(nodeResponse);
  });
});
