import type { LedgerEntry } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, startServer, type TestServer } from './server.js';

/**
 * Clients that send what a well-behaved client never would: bytes that are not UTF-8, bodies cut off
 * before their declared length, broken chunked framing, methods and query strings the API does not
 * define. None of them may be read as some other request, and none is the server's error.
 */

const open: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
async function start(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(options);
  open.push(s);
  return s;
}

const errorOf = (body: unknown) =>
  (body as { error: { code: string; message: string; field?: string } }).error;
const dataOf = <T>(body: unknown) => (body as { data: T[] }).data;

async function quickstartCustomer(s: TestServer, customerId = 'cus_123') {
  expect((await s.call('POST', '/v1/customers', { body: { customerId } })).status).toBe(201);
  expect((await s.call('POST', '/v1/subscriptions', { body: { customerId, planId: 'free' } })).status).toBe(
    201,
  );
}

/** POSTs raw bytes, as a client that does not encode its JSON as UTF-8 would. */
async function postBytes(
  s: TestServer,
  path: string,
  bytes: Uint8Array,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

/** The usage body with `note` in its metadata spliced in as raw bytes. */
function usageWithNoteBytes(note: readonly number[]): Uint8Array {
  const encoder = new TextEncoder();
  const before = encoder.encode(
    '{"customerId":"cus_123","feature":"ai-generation","quantity":1,"metadata":{"note":"',
  );
  const after = encoder.encode('"}}');
  return new Uint8Array([...before, ...note, ...after]);
}

describe('request bodies that are not UTF-8', () => {
  it('are refused with 400 invalid_json, whatever the invalid sequence', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const sequences: [string, number[]][] = [
      ['a byte that is never UTF-8', [0xff]],
      ['a lone continuation byte', [0x80]],
      ['an overlong encoding of "/"', [0xc0, 0xaf]],
      ['a UTF-8-encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a sequence cut short', [0xe2, 0x82]],
    ];
    for (const [what, bytes] of sequences) {
      const res = await postBytes(server, '/v1/usage', usageWithNoteBytes(bytes));
      expect([res.status, errorOf(res.body).code], what).toEqual([400, 'invalid_json']);
    }
    const cut = await postBytes(server, '/v1/customers', new Uint8Array([0x7b, 0x22, 0xe2, 0x82]));
    expect([cut.status, errorOf(cut.body).code], 'cut short at the end').toEqual([400, 'invalid_json']);
    const accounts = await server.call('GET', '/v1/credit-accounts?customerId=cus_123');
    expect(dataOf<{ balance: string }>(accounts.body)[0]?.balance).toBe('100');
  });

  it('never replay a request with a real U+FFFD under the same Idempotency-Key, nor are replayed by it', async () => {
    const store = memoryStore();
    const server = await start({ store });
    await quickstartCustomer(server);
    const headers = { 'idempotency-key': 'req_fffd' };
    const invalid = usageWithNoteBytes([0xff]);
    const replacement = usageWithNoteBytes([0xef, 0xbf, 0xbd]); // U+FFFD, correctly encoded

    const first = await postBytes(server, '/v1/usage', invalid, headers);
    expect([first.status, errorOf(first.body).code]).toEqual([400, 'invalid_json']);
    const real = await postBytes(server, '/v1/usage', replacement, headers);
    expect(real.status).toBe(201);
    expect(real.body).toMatchObject({ balance: '90' });
    const again = await postBytes(server, '/v1/usage', invalid, headers);
    expect([again.status, errorOf(again.body).code]).toEqual([400, 'invalid_json']);

    const ledger = await server.call('GET', '/v1/ledger?customerId=cus_123&currency=credits');
    const usages = dataOf<LedgerEntry>(ledger.body).filter((e) => e.kind === 'usage');
    expect(usages).toHaveLength(1);
    const deductions = (await store.readStream('customer-cus_123')).filter(
      (e) => e.type === 'credits_deducted',
    );
    expect(deductions.map((e) => e.data.metadata)).toEqual([{ note: '\uFFFD' }]);
  });
});
