import { connect } from 'node:net';
import type { LedgerEntry } from '@tally/core';
import { createLedger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpHandler } from '../src/index.js';
import { API_KEY, catalog, startServer, type TestServer } from './server.js';

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

/**
 * Writes `data` on a raw TCP connection to the server, then hangs up (`end`: half-close, the server
 * may still answer; `destroy`: gone) or keeps the connection open. Resolves with what the server
 * sent back by the time the connection closed.
 */
function rawRequest(url: string, data: string, then: 'end' | 'destroy' | 'keep'): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(data, () => {
      if (then === 'end') socket.end();
      // Give the server time to dispatch the request and start reading its body.
      if (then === 'destroy') setTimeout(() => socket.destroy(), 100);
    });
  });
}

const head = (framing: string) =>
  `POST /v1/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${API_KEY}\r\n` +
  `Content-Type: application/json\r\n${framing}\r\n`;

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

describe('clients that hang up or break the framing', () => {
  const cases: [string, string, 'end' | 'destroy' | 'keep'][] = [
    [
      'less body than its Content-Length, then a half-close',
      `${head('Content-Length: 100\r\n')}{"customerId":`,
      'end',
    ],
    [
      'less body than its Content-Length, then gone',
      `${head('Content-Length: 100\r\n')}{"customerId":`,
      'destroy',
    ],
    ['a chunk size that is not hex', `${head('Transfer-Encoding: chunked\r\n')}5\r\n{"cus\r\nzz\r\n`, 'keep'],
    [
      'a chunked body without its last chunk, then a half-close',
      `${head('Transfer-Encoding: chunked\r\n')}5\r\n{"cus\r\n`,
      'end',
    ],
  ];

  it.each(cases)(
    '%s: not reported to onError, answered 400 when the connection is still there',
    async (_what, data, then) => {
      const reported: unknown[] = [];
      const server = await start({ onError: (error) => reported.push(error) });
      const response = await rawRequest(server.url, data, then);
      if (then !== 'destroy') expect(response).toMatch(/^HTTP\/1\.1 400 /);
      // Let the handler finish with the body it could not read.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(reported.map(String)).toEqual([]);
      // Nothing was written, and the server still serves well-behaved clients.
      expect((await server.call('GET', '/v1/customers/cus_1')).status).toBe(404);
      expect((await server.call('POST', '/v1/customers', { body: { customerId: 'cus_ok' } })).status).toBe(
        201,
      );
    },
  );

  it('answers 400 bad_request, without onError, to a body stream that fails while the client still listens', async () => {
    const reported: unknown[] = [];
    const ledger = createLedger({ catalog, store: memoryStore() });
    const handler = createHttpHandler({ ledger, apiKeys: [API_KEY], onError: (e) => reported.push(e) });
    const bytes = new TextEncoder().encode('{"customerId":"cus_');
    const res = await handler(
      new Request('http://tally.local/v1/customers', {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: new ReadableStream({
          pull(controller) {
            controller.enqueue(bytes);
            controller.error(new Error('connection reset by peer'));
          },
        }),
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('bad_request');
    expect(error.message).not.toContain('reset by peer');
    expect(reported).toEqual([]);
    await ledger.close();
  });
});

describe('methods', () => {
  it('answers HEAD like any other method a route does not have: 404 not_found', async () => {
    const server = await start();
    await quickstartCustomer(server);
    for (const path of [
      '/v1/catalog',
      '/v1/customers/cus_123',
      '/v1/ledger?customerId=cus_123',
      '/v1/nowhere',
    ]) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(res.status, `HEAD ${path}`).toBe(404);
      const other = await server.call('DELETE', path);
      expect([other.status, errorOf(other.body).code], `DELETE ${path}`).toEqual([404, 'not_found']);
    }
    // Authentication still comes first.
    const anonymous = await fetch(`${server.url}/v1/catalog`, { method: 'HEAD' });
    expect(anonymous.status).toBe(401);
  });
});

describe('query strings', () => {
  it('refuse an unknown parameter with 400 invalid_input naming it', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const cases: [string, string][] = [
      ['/v1/credit-accounts?customerId=cus_123&cachebuster=1', 'cachebuster'],
      ['/v1/holds?customerId=cus_123&currency=credits', 'currency'],
      ['/v1/ledger?customerId=cus_123&curency=credits', 'curency'],
      ['/v1/grants?customerId=cus_123&__proto__=x', '__proto__'],
      ['/v1/subscriptions?customerId=cus_123&constructor=x', 'constructor'],
      ['/v1/ledger?customerId=cus_123&=x', ''],
    ];
    for (const [path, field] of cases) {
      const res = await server.call('GET', path);
      expect([res.status, errorOf(res.body).code, errorOf(res.body).field], path).toEqual([
        400,
        'invalid_input',
        field,
      ]);
      expect(errorOf(res.body).message, path).toContain(JSON.stringify(field));
    }
  });

  it('refuse a repeated parameter with 400 invalid_input naming it', async () => {
    const server = await start();
    await quickstartCustomer(server);
    await quickstartCustomer(server, 'cus_456');
    const cases: [string, string][] = [
      ['/v1/credit-accounts?customerId=cus_123&customerId=cus_456', 'customerId'],
      ['/v1/ledger?customerId=cus_123&currency=credits&currency=credits', 'currency'],
      ['/v1/grants?customerId=cus_123&at=2030-01-01T00:00:00Z&at=2020-01-01T00:00:00Z', 'at'],
    ];
    for (const [path, field] of cases) {
      const res = await server.call('GET', path);
      expect([res.status, errorOf(res.body).code, errorOf(res.body).field], path).toEqual([
        400,
        'invalid_input',
        field,
      ]);
    }
    // The declared parameters, once each, still read.
    const ok = await server.call('GET', '/v1/ledger?customerId=cus_123&currency=credits');
    expect(ok.status).toBe(200);
  });
});
