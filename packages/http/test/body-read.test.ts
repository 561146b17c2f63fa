import { createLedger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { describe, expect, it } from 'vitest';
import { createHttpHandler } from '../src/index.js';
import { API_KEY, catalog } from './server.js';

/** A request whose body stream must not be touched: reading it whole is the fast path on Node. */
function wholeBodyOnly(request: Request): Request {
  Object.defineProperty(request, 'body', {
    get() {
      throw new Error('the body stream was read');
    },
  });
  return request;
}

async function handlerWithCustomer() {
  const ledger = createLedger({ catalog, store: memoryStore() });
  await ledger.createCustomer({ customerId: 'cus_1' });
  await ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
  return createHttpHandler({ ledger, apiKeys: [API_KEY] });
}

const post = (text: string | Uint8Array, length: number | null) =>
  new Request('http://localhost/v1/usage', {
    method: 'POST',
    body: text,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/json',
      ...(length === null ? {} : { 'content-length': String(length) }),
    },
  });

describe('reading a body whose length is declared', () => {
  it('reads it whole, never through the body stream, and answers as before', async () => {
    const handler = await handlerWithCustomer();
    const text = JSON.stringify({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    const response = await handler(wholeBodyOnly(post(text, Buffer.byteLength(text))));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ balance: '90' });
  });

  it('still refuses invalid UTF-8 read that way as invalid_json', async () => {
    const handler = await handlerWithCustomer();
    const bytes = new Uint8Array([0x7b, 0xff, 0x7d]);
    const response = await handler(wholeBodyOnly(post(bytes, bytes.length)));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });

  it('reads a body without a declared length through its stream, as before', async () => {
    const handler = await handlerWithCustomer();
    const text = JSON.stringify({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    const response = await handler(post(text, null));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ balance: '80' });
  });
});
