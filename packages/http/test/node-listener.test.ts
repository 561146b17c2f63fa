import { createLedger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { describe, expect, it } from 'vitest';
import {
  createHttpHandler,
  type HttpHandler,
  type NodeListenerOptions,
  toNodeListener,
} from '../src/index.js';
import { API_KEY, catalog, startServer } from './server.js';

/**
 * The Node adapter's one option: whether Node's global `Request`/`Response` are replaced by
 * `@hono/node-server`'s lightweight classes. The cases run in order: once replaced, the globals stay
 * replaced for the rest of this file (vitest gives each file a process of its own).
 */

function handler(): HttpHandler {
  return createHttpHandler({ ledger: createLedger({ catalog, store: memoryStore() }), apiKeys: [API_KEY] });
}

/** The walkthrough over a server whose listener takes `listener`: each call's status, and the usage's answer. */
async function walkthrough(listener?: NodeListenerOptions) {
  const server = await startServer(listener === undefined ? {} : { listener });
  try {
    const statuses = [
      (await server.call('POST', '/v1/customers', { body: { customerId: 'cus_123' } })).status,
      (await server.call('POST', '/v1/subscriptions', { body: { customerId: 'cus_123', planId: 'free' } }))
        .status,
    ];
    const usage = await server.call('POST', '/v1/usage', {
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 },
    });
    statuses.push(usage.status);
    return { statuses, usage };
  } finally {
    await server.close();
  }
}

const refused = (field: string) => expect.objectContaining({ code: 'invalid_input', field });

describe('toNodeListener', () => {
  it('refuses an unknown option, a bad value and a handler that is not a function, naming each', () => {
    const unknown = { overrideGlobals: true } as unknown as NodeListenerOptions;
    expect(() => toNodeListener(handler(), unknown)).toThrowError(refused('overrideGlobals'));
    const bad = { overrideGlobalObjects: 'no' } as unknown as NodeListenerOptions;
    expect(() => toNodeListener(handler(), bad)).toThrowError(refused('overrideGlobalObjects'));
    expect(() => toNodeListener({} as HttpHandler)).toThrowError(refused('handler'));
  });

  it('leaves Node’s Request and Response alone when told to, and serves the walkthrough', async () => {
    const { Request: request, Response: response } = globalThis;
    const served = await walkthrough({ overrideGlobalObjects: false });
    expect(globalThis.Response).toBe(response);
    expect(globalThis.Request).toBe(request);
    expect(served.statuses).toEqual([201, 201, 201]);
    expect(served.usage.body).toMatchObject({ balance: '90' });
  });

  it('by default puts the lightweight classes in their place, which still read as the standard ones', async () => {
    const nodeResponse = globalThis.Response;
    const served = await walkthrough();
    expect(globalThis.Response).not.toBe(nodeResponse);
    expect(served.statuses).toEqual([201, 201, 201]);
    expect(served.usage.body).toMatchObject({ balance: '90' });
    expect(served.usage.headers.get('content-type')).toMatch(/^application\/json/);
    // What the handler answers is a Response to code that checks, and one built by hand is too.
    const answered = await handler()(new Request('http://localhost/v1/catalog'));
    expect(answered).toBeInstanceOf(Response);
    expect(answered.status).toBe(401);
    expect(new Response('x')).toBeInstanceOf(nodeResponse);
  });
});
