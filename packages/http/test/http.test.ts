import type { CreditAccount, EventStore, LedgerEntry } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpHandler, statusOf } from '../src/index.js';
import { API_KEY, catalog, startServer, type TestServer } from './server.js';

const open: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
/** Starts a server that is closed after the test. */
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

describe('the quickstart over HTTP', () => {
  it('creates a customer, subscribes, tracks usage and reads +100, -10, balance 90', async () => {
    const server = await start();

    const customer = await server.call('POST', '/v1/customers', {
      body: { customerId: 'cus_123', externalId: 'user_42' },
    });
    expect(customer.status).toBe(201);
    expect(customer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(customer.body).toMatchObject({ customerId: 'cus_123', externalId: 'user_42', metadata: {} });

    const subscription = await server.call('POST', '/v1/subscriptions', {
      body: { customerId: 'cus_123', planId: 'free' },
    });
    expect(subscription.status).toBe(201);
    expect(subscription.body).toMatchObject({ planId: 'free', status: 'active' });
    expect((subscription.body as { grantIds: string[] }).grantIds).toHaveLength(1);

    const usage = await server.call('POST', '/v1/usage', {
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 },
    });
    expect(usage.status).toBe(201);
    expect(usage.body).toMatchObject({ feature: 'ai-generation', cost: '10', balance: '90' });

    const ledger = await server.call('GET', '/v1/ledger?customerId=cus_123&currency=credits');
    expect(ledger.status).toBe(200);
    const entries = dataOf<LedgerEntry>(ledger.body);
    expect(entries.map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['grant', '100', '100'],
      ['usage', '-10', '90'],
    ]);

    const accounts = await server.call('GET', '/v1/credit-accounts?customerId=cus_123');
    expect(accounts.status).toBe(200);
    expect(dataOf<CreditAccount>(accounts.body)).toEqual([
      {
        currency: 'credits',
        balance: '90',
        held: '0',
        available: '90',
        creditLimit: '0',
        debt: '0',
        scoped: [],
      },
    ]);

    // The same objects as the core API, as JSON.
    expect(accounts.body).toEqual(
      JSON.parse(JSON.stringify({ data: await server.ledger.creditAccounts({ customerId: 'cus_123' }) })),
    );
    const got = await server.call('GET', '/v1/customers/cus_123');
    expect(got.body).toEqual(customer.body);
  });

  it('serves the catalog loaded from configuration', async () => {
    const server = await start();
    const res = await server.call('GET', '/v1/catalog');
    expect(res.status).toBe(200);
    const rule = {
      currency: 'credits',
      amount: '100',
      priority: 50,
      expires: 'cycle_end',
      rollover: null,
      appliesTo: null,
    };
    const terms = { price: null, interval: 'month', gracePeriodDays: 0, grants: [rule] };
    expect(res.body).toEqual({
      version: 0,
      at: expect.any(String),
      currencies: [{ code: 'credits', decimals: 0, rounding: 'half_up' }],
      features: [
        {
          key: 'ai-generation',
          currency: 'credits',
          perUnit: '10',
          roundOn: 'running_total',
          prices: [{ perUnit: '10', roundOn: 'running_total', effectiveAt: null }],
        },
      ],
      plans: [
        {
          id: 'free',
          version: 1,
          archived: false,
          archivedAt: null,
          ...terms,
          versions: [{ ...terms, version: 1, appliesTo: 'new', effectiveAt: null }],
        },
      ],
    });
  });
});

describe('the rest of the API', () => {
  it('tops up, holds, captures, releases, checks and time-travels', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));

    const topUp = await server.call('POST', '/v1/grants', {
      body: { customerId: 'cus_123', currency: 'credits', amount: '50', source: 'top_up' },
    });
    expect(topUp.status).toBe(201);
    expect(topUp.body).toMatchObject({ source: 'top_up', amount: '50', account: { balance: '150' } });

    const grants = await server.call('GET', '/v1/grants?customerId=cus_123');
    expect(dataOf<{ source: string }>(grants.body).map((g) => g.source)).toEqual(['plan', 'top_up']);

    const hold = await server.call('POST', '/v1/holds', {
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 3 },
    });
    expect(hold.status).toBe(201);
    expect(hold.body).toMatchObject({ amount: '30', status: 'active', account: { available: '120' } });
    const holdId = (hold.body as { holdId: string }).holdId;

    const capture = await server.call('POST', `/v1/holds/${holdId}/capture`, {
      body: { customerId: 'cus_123', quantity: 2 },
    });
    expect(capture.status).toBe(200);
    expect(capture.body).toMatchObject({ cost: '20', balance: '130' });

    const second = await server.call('POST', '/v1/holds', {
      body: { customerId: 'cus_123', currency: 'credits', amount: '5' },
    });
    const secondId = (second.body as { holdId: string }).holdId;
    const release = await server.call('POST', `/v1/holds/${secondId}/release`, {
      body: { customerId: 'cus_123' },
    });
    expect(release.status).toBe(200);
    expect(release.body).toMatchObject({ status: 'released', account: { available: '130' } });
    const holds = await server.call('GET', '/v1/holds?customerId=cus_123');
    expect(dataOf<{ status: string }>(holds.body).map((h) => h.status)).toEqual(['captured', 'released']);

    const check = await server.call('POST', '/v1/check', {
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 13 },
    });
    expect(check.status).toBe(200);
    expect(check.body).toEqual({
      allowed: true,
      currency: 'credits',
      cost: '130',
      available: '130',
      spendable: '130',
    });
    const refused = await server.call('POST', '/v1/check', {
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 14 },
    });
    expect(refused.body).toMatchObject({ allowed: false });

    const past = await server.call('GET', `/v1/credit-accounts?customerId=cus_123&at=${before}`);
    expect(dataOf<CreditAccount>(past.body)[0]?.balance).toBe('100');
    const pastLedger = await server.call('GET', `/v1/ledger?customerId=cus_123&at=${before}`);
    expect(dataOf<LedgerEntry>(pastLedger.body)).toHaveLength(1);
  });

  it('reverses usage, voids grants, sets credit limits, changes and cancels plans', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const usage = await server.call('POST', '/v1/usage', {
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 2 },
    });
    const usageId = (usage.body as { usageId: string }).usageId;
    const reversal = await server.call('POST', `/v1/usage/${usageId}/reverse`, {
      body: { customerId: 'cus_123', reason: 'failed job' },
    });
    expect(reversal.status).toBe(200);
    expect(reversal.body).toMatchObject({ returned: '20', account: { balance: '100' } });
    const again = await server.call('POST', `/v1/usage/${usageId}/reverse`, {
      body: { customerId: 'cus_123' },
    });
    expect([again.status, errorOf(again.body).code]).toEqual([409, 'usage_already_reversed']);

    const limit = await server.call('POST', '/v1/credit-limits', {
      body: { customerId: 'cus_123', currency: 'credits', limit: '20' },
    });
    expect(limit.status).toBe(200);
    expect(limit.body).toMatchObject({ creditLimit: '20' });

    const grant = await server.call('POST', '/v1/grants', {
      body: { customerId: 'cus_123', currency: 'credits', amount: '5' },
    });
    const grantId = (grant.body as { grantId: string }).grantId;
    const voided = await server.call('POST', `/v1/grants/${grantId}/void`, {
      body: { customerId: 'cus_123', reason: 'mistake' },
    });
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({ grantId, status: 'voided' });

    const subs = await server.call('GET', '/v1/subscriptions?customerId=cus_123');
    expect(dataOf<{ status: string }>(subs.body).map((s) => s.status)).toEqual(['active']);
    const cancel = await server.call('POST', '/v1/subscriptions/cancel', {
      body: { customerId: 'cus_123', at: 'cycle_end' },
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ planId: 'free' });
    const verify = await server.call('GET', '/v1/customers/cus_123/verify');
    expect(verify.body).toMatchObject({ ok: true });
  });
});

describe('error statuses', () => {
  const usage = { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 };

  it('answers 400 for bad JSON, unknown or missing fields, wrong types and invalid values', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const cases: [unknown, string, string | undefined][] = [
      ['{"customerId": ', 'invalid_json', undefined],
      ['[1, 2]', 'invalid_input', undefined],
      [{ ...usage, colour: 'red' }, 'invalid_input', 'colour'],
      // The library's code for the field, whatever is wrong with it: the same over HTTP.
      [{ customerId: 'cus_123', feature: 'ai-generation' }, 'invalid_quantity', 'quantity'],
      [{ ...usage, quantity: '1' }, 'invalid_quantity', 'quantity'],
      [{ ...usage, metadata: { n: 1 } }, 'invalid_input', 'metadata.n'],
      [{ ...usage, quantity: -1 }, 'invalid_quantity', 'quantity'],
      [
        '{"customerId":"cus_123","feature":"ai-generation","quantity":1,"metadata":{"__proto__":"x"}}',
        'invalid_input',
        undefined,
      ],
      [{ ...usage, customerId: 'has spaces' }, 'invalid_id', 'customerId'],
    ];
    for (const [body, code, field] of cases) {
      const res = await server.call('POST', '/v1/usage', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(res.body)).toMatchObject({ code, ...(field === undefined ? {} : { field }) });
      expect(errorOf(res.body).message).toEqual(expect.any(String));
    }
    const amount = await server.call('POST', '/v1/grants', {
      body: { customerId: 'cus_123', currency: 'credits', amount: '1.5' },
    });
    expect([amount.status, errorOf(amount.body).code]).toEqual([400, 'invalid_amount']);
    const time = await server.call('GET', '/v1/credit-accounts?customerId=cus_123&at=yesterday');
    expect([time.status, errorOf(time.body).code]).toEqual([400, 'invalid_time']);
    const noCustomer = await server.call('GET', '/v1/ledger');
    expect([noCustomer.status, errorOf(noCustomer.body).field]).toEqual([400, 'customerId']);
    const badKey = await server.call('POST', '/v1/usage', {
      body: usage,
      headers: { 'idempotency-key': '' },
    });
    expect([badKey.status, errorOf(badKey.body).field]).toEqual([400, 'idempotencyKey']);
  });

  it('answers 404 for unknown customers, plans, features, holds and routes', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const cases: [string, string, unknown, string][] = [
      ['GET', '/v1/customers/cus_nobody', undefined, 'unknown_customer'],
      ['GET', '/v1/credit-accounts?customerId=cus_nobody', undefined, 'unknown_customer'],
      ['POST', '/v1/usage', { ...usage, customerId: 'cus_nobody' }, 'unknown_customer'],
      ['POST', '/v1/usage', { ...usage, feature: 'teleport' }, 'unknown_feature'],
      ['POST', '/v1/subscriptions', { customerId: 'cus_123', planId: 'gold' }, 'unknown_plan'],
      ['GET', '/v1/ledger?customerId=cus_123&currency=gems', undefined, 'unknown_currency'],
      ['POST', '/v1/holds/hold_nope/release', { customerId: 'cus_123' }, 'unknown_hold'],
      ['GET', '/v1/nowhere', undefined, 'not_found'],
      ['DELETE', '/v1/customers/cus_123', undefined, 'not_found'],
    ];
    for (const [method, path, body, code] of cases) {
      const res = await server.call(method, path, { body });
      expect([res.status, errorOf(res.body).code], `${method} ${path}`).toEqual([404, code]);
    }
  });

  it('answers 409 for conflicts and 422 for insufficient credits', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const exists = await server.call('POST', '/v1/customers', { body: { customerId: 'cus_123' } });
    expect([exists.status, errorOf(exists.body)]).toEqual([
      409,
      expect.objectContaining({ code: 'customer_exists', field: 'customerId' }),
    ]);

    const tooMuch = await server.call('POST', '/v1/usage', { body: { ...usage, quantity: 11 } });
    expect([tooMuch.status, errorOf(tooMuch.body).code]).toEqual([422, 'insufficient_credits']);
    const bigHold = await server.call('POST', '/v1/holds', { body: { ...usage, quantity: 11 } });
    expect([bigHold.status, errorOf(bigHold.body).code]).toEqual([422, 'insufficient_credits']);
    // Nothing was written by the refusals.
    const accounts = await server.call('GET', '/v1/credit-accounts?customerId=cus_123');
    expect(dataOf<CreditAccount>(accounts.body)[0]).toMatchObject({ balance: '100', held: '0' });

    const hold = await server.call('POST', '/v1/holds', { body: usage });
    const holdId = (hold.body as { holdId: string }).holdId;
    await server.call('POST', `/v1/holds/${holdId}/release`, { body: { customerId: 'cus_123' } });
    const twice = await server.call('POST', `/v1/holds/${holdId}/capture`, {
      body: { customerId: 'cus_123' },
    });
    expect([twice.status, errorOf(twice.body).code]).toEqual([409, 'hold_not_active']);
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const server = await start({ maxBodyBytes: 1024 });
    const big = { customerId: 'cus_big', metadata: { note: 'x'.repeat(2000) } };
    const declared = await server.call('POST', '/v1/customers', { body: big });
    expect([declared.status, errorOf(declared.body).code]).toEqual([413, 'payload_too_large']);

    const bytes = new TextEncoder().encode(JSON.stringify(big));
    const streamed = await fetch(`${server.url}/v1/customers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 256) controller.enqueue(bytes.slice(i, i + 256));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(errorOf(await streamed.json()).code).toBe('payload_too_large');

    const small = await server.call('POST', '/v1/customers', { body: { customerId: 'cus_small' } });
    expect(small.status).toBe(201);
    const smallBytes = new TextEncoder().encode(JSON.stringify({ customerId: 'cus_streamed' }));
    const smallStreamed = await fetch(`${server.url}/v1/customers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(smallBytes.slice(0, 5));
          controller.enqueue(smallBytes.slice(5));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(smallStreamed.status).toBe(201);
    const missing = await server.call('GET', '/v1/customers/cus_big');
    expect(missing.status).toBe(404);
  });

  it('answers 500 without details when the store fails, and reports the error', async () => {
    const failing: EventStore = {
      ...memoryStore(),
      readStream: async () => {
        throw new Error('disk on fire at /var/lib/secret.db');
      },
    };
    const reported: unknown[] = [];
    const server = await start({ store: failing, onError: (e) => reported.push(e) });
    const res = await server.call('GET', '/v1/customers/cus_123');
    expect(res.status).toBe(500);
    expect(errorOf(res.body).message).not.toContain('secret');
    expect(reported).toHaveLength(1);
  });
});

describe('authentication', () => {
  it('answers 401 without a key, with a wrong key and with another scheme', async () => {
    const server = await start();
    const attempts: (string | null)[] = [
      null,
      'upay_sk_test_wrong_key_0000',
      `${API_KEY}x`,
      API_KEY.slice(0, -1),
    ];
    for (const key of attempts) {
      const res = await server.call('GET', '/v1/catalog', { key });
      expect(res.status, String(key)).toBe(401);
      expect(errorOf(res.body).code).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    for (const authorization of [`Basic ${API_KEY}`, API_KEY, 'Bearer', `Bearer ${API_KEY} extra`]) {
      const res = await server.call('GET', '/v1/catalog', { key: null, headers: { authorization } });
      expect(res.status, authorization).toBe(401);
    }
    // Unknown routes do not reveal themselves before authentication; writes write nothing.
    expect((await server.call('GET', '/v1/nowhere', { key: null })).status).toBe(401);
    const write = await server.call('POST', '/v1/customers', { key: null, body: { customerId: 'cus_x' } });
    expect(write.status).toBe(401);
    expect((await server.call('GET', '/v1/customers/cus_x')).status).toBe(404);
  });

  it('accepts any of several keys, with the scheme in any case', async () => {
    const next = 'upay_sk_test_rotated_key_9999';
    const server = await start({ apiKeys: [API_KEY, next] });
    expect((await server.call('GET', '/v1/catalog', { key: next })).status).toBe(200);
    const res = await server.call('GET', '/v1/catalog', {
      key: null,
      headers: { authorization: `bearer ${API_KEY}` },
    });
    expect(res.status).toBe(200);
  });

  it('refuses to start without a usable key', async () => {
    const { createLedger } = await import('@tally/core');
    const ledger = createLedger({ catalog, store: memoryStore() });
    const refused = expect.objectContaining({ code: 'invalid_input', field: 'apiKeys' });
    expect(() => createHttpHandler({ ledger, apiKeys: [] })).toThrow(refused);
    expect(() => createHttpHandler({ ledger, apiKeys: ['short'] })).toThrow(refused);
    // The message never shows a key.
    expect(() => createHttpHandler({ ledger, apiKeys: ['short-secret'] })).not.toThrow(/short-secret/);
    await ledger.close();
  });
});

describe('idempotent retries', () => {
  const usage = { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 };

  it('answers a retry with the same key and body with the first response and writes once', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const headers = { 'idempotency-key': 'req_abc' };
    const first = await server.call('POST', '/v1/usage', { body: usage, headers });
    const retry = await server.call('POST', '/v1/usage', { body: usage, headers });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(first.status);
    expect(retry.body).toEqual(first.body);

    // Concurrent retries of another request: still one deduction.
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () =>
        server.call('POST', '/v1/usage', { body: usage, headers: { 'idempotency-key': 'req_def' } }),
      ),
    );
    expect(new Set(concurrent.map((r) => JSON.stringify([r.status, r.body]))).size).toBe(1);

    const ledger = await server.call('GET', '/v1/ledger?customerId=cus_123&currency=credits');
    const entries = dataOf<LedgerEntry>(ledger.body);
    expect(entries.map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['grant', '100', '100'],
      ['usage', '-10', '90'],
      ['usage', '-10', '80'],
    ]);
  });

  it('answers 409 for the same key with a different body', async () => {
    const server = await start();
    await quickstartCustomer(server);
    const headers = { 'idempotency-key': 'req_abc' };
    expect((await server.call('POST', '/v1/usage', { body: usage, headers })).status).toBe(201);
    const other = await server.call('POST', '/v1/usage', { body: { ...usage, quantity: 2 }, headers });
    expect([other.status, errorOf(other.body)]).toEqual([
      409,
      expect.objectContaining({ code: 'idempotency_conflict', field: 'idempotencyKey' }),
    ]);
    const accounts = await server.call('GET', '/v1/credit-accounts?customerId=cus_123');
    expect(dataOf<CreditAccount>(accounts.body)[0]?.balance).toBe('90');
  });

  it('honours the key on every write: customers, subscriptions, grants and holds', async () => {
    const server = await start();
    const writes: [string, unknown][] = [
      ['/v1/customers', { customerId: 'cus_9' }],
      ['/v1/subscriptions', { customerId: 'cus_9', planId: 'free' }],
      ['/v1/grants', { customerId: 'cus_9', currency: 'credits', amount: '7' }],
      ['/v1/holds', { customerId: 'cus_9', currency: 'credits', amount: '3' }],
    ];
    for (const [path, body] of writes) {
      const headers = { 'idempotency-key': `key:${path}` };
      const first = await server.call('POST', path, { body, headers });
      const retry = await server.call('POST', path, { body, headers });
      expect([retry.status, retry.body], path).toEqual([first.status, first.body]);
    }
    const accounts = await server.call('GET', '/v1/credit-accounts?customerId=cus_9');
    expect(dataOf<CreditAccount>(accounts.body)[0]).toMatchObject({ balance: '107', held: '3' });
  });
});

describe('without a server', () => {
  it('is a plain Request → Response function', async () => {
    const { createLedger } = await import('@tally/core');
    const ledger = createLedger({ catalog, store: memoryStore() });
    const handler = createHttpHandler({ ledger, apiKeys: [API_KEY] });
    const res = await handler(
      new Request('http://tally.local/v1/catalog', { headers: { authorization: `Bearer ${API_KEY}` } }),
    );
    expect(res.status).toBe(200);
    expect(statusOf('insufficient_credits')).toBe(422);
    expect(statusOf('no_such_code')).toBe(500);
  });
});
