import { EXPORT_COLUMNS, type LedgerEntry } from '@tally/core';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, startServer, type TestServer } from './server.js';

const open: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

interface Page {
  readonly data: LedgerEntry[];
  readonly nextCursor: string | null;
  readonly hasMore: boolean;
}

/** A customer on the free plan (100 credits) who used `uses` generations of 10 credits. */
async function customerWith(uses: number): Promise<TestServer> {
  const s = await startServer();
  open.push(s);
  await s.ledger.createCustomer({ customerId: 'cus_123' });
  await s.ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
  await s.ledger.grant({ customerId: 'cus_123', currency: 'credits', amount: '1000', source: 'top_up' });
  for (let i = 0; i < uses; i++)
    await s.ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
  return s;
}

const errorOf = (body: unknown) => (body as { error: { code: string; field?: string } }).error;

async function raw(s: TestServer, path: string): Promise<Response> {
  return fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
}

describe('GET /v1/ledger pages', () => {
  it('answers { data, nextCursor, hasMore }, and following nextCursor reads the whole statement once', async () => {
    const s = await customerWith(12);
    const whole = (await s.ledger.entries({ customerId: 'cus_123', currency: 'credits' })).data;
    expect(whole).toHaveLength(14);
    for (const order of ['oldest_first', 'newest_first'] as const) {
      const seen: LedgerEntry[] = [];
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({ customerId: 'cus_123', currency: 'credits', limit: '5', order });
        if (cursor !== null) query.set('cursor', cursor);
        const res = await s.call('GET', `/v1/ledger?${query}`);
        expect(res.status).toBe(200);
        const page = res.body as Page;
        expect(Object.keys(page).sort()).toEqual(['data', 'hasMore', 'nextCursor']);
        expect(page.hasMore).toBe(page.nextCursor !== null);
        seen.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(order === 'oldest_first' ? whole : [...whole].reverse());
    }
  });

  it('the latest page, newest first, starts at the balance of the account', async () => {
    const s = await customerWith(3);
    const res = await s.call(
      'GET',
      '/v1/ledger?customerId=cus_123&currency=credits&order=newest_first&limit=2',
    );
    const page = res.body as Page;
    expect(page.data.map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['usage', '-10', '1070'],
      ['usage', '-10', '1080'],
    ]);
    expect(page.hasMore).toBe(true);
  });

  it('refuses a bad limit, a tampered or foreign cursor, an unknown parameter, with the field named', async () => {
    const s = await customerWith(6);
    await s.ledger.createCustomer({ customerId: 'cus_other' });
    const first = (await s.call('GET', '/v1/ledger?customerId=cus_123&limit=2')).body as Page;
    const cases: [string, string, string][] = [
      ['/v1/ledger?customerId=cus_123&limit=0', 'invalid_input', 'limit'],
      ['/v1/ledger?customerId=cus_123&limit=1001', 'invalid_input', 'limit'],
      ['/v1/ledger?customerId=cus_123&limit=ten', 'invalid_input', 'limit'],
      ['/v1/ledger?customerId=cus_123&order=sideways', 'invalid_input', 'order'],
      ['/v1/ledger?customerId=cus_123&cursor=garbage', 'invalid_input', 'cursor'],
      [`/v1/ledger?customerId=cus_other&cursor=${first.nextCursor}`, 'invalid_input', 'cursor'],
      [
        `/v1/ledger?customerId=cus_123&currency=credits&cursor=${first.nextCursor}`,
        'invalid_input',
        'cursor',
      ],
      ['/v1/ledger?customerId=cus_123&from=2025-02-01&to=2025-01-01', 'invalid_time', 'to'],
      ['/v1/ledger?customerId=cus_123&page=2', 'invalid_input', 'page'],
    ];
    for (const [path, code, field] of cases) {
      const res = await s.call('GET', path);
      expect(res.status, path).toBe(400);
      expect(errorOf(res.body), path).toMatchObject({ code, field });
    }
    // The library refuses the same way, with the same code and field.
    await expect(
      s.ledger.entries({ customerId: 'cus_other', cursor: first.nextCursor }),
    ).rejects.toMatchObject({ code: 'invalid_input', field: 'cursor' });
  });
});

describe('GET /v1/ledger/export', () => {
  it('streams CSV and NDJSON with their content types, equal to the entries', async () => {
    const s = await customerWith(4);
    const whole = (await s.ledger.entries({ customerId: 'cus_123' })).data;
    const csv = await raw(s, '/v1/ledger/export?customerId=cus_123&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).split('\r\n');
    expect(lines[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(lines.slice(1, -1).map((l) => l.split(',')[1])).toEqual(whole.map((e) => e.entryId));
    expect(lines.at(-1)).toBe('');

    const ndjson = await raw(s, '/v1/ledger/export?format=ndjson');
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const rows = (await ndjson.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toEqual(whole.map((e) => ({ customerId: 'cus_123', ...e })));
  });

  it('refuses before streaming: an error response, not a 200 cut short', async () => {
    const s = await customerWith(0);
    const cases: [string, number, string, string | undefined][] = [
      ['/v1/ledger/export?customerId=cus_123', 400, 'invalid_input', 'format'],
      ['/v1/ledger/export?customerId=cus_123&format=xml', 400, 'invalid_input', 'format'],
      ['/v1/ledger/export?customerId=nobody&format=csv', 404, 'unknown_customer', 'customerId'],
      ['/v1/ledger/export?format=csv&limit=5', 400, 'invalid_input', 'limit'],
    ];
    for (const [path, status, code, field] of cases) {
      const res = await s.call('GET', path);
      expect(res.status, path).toBe(status);
      expect(errorOf(res.body), path).toMatchObject({ code, field });
    }
  });
});

describe('GET /v1/usage/summary', () => {
  it('answers what the library answers, and refuses what it refuses', async () => {
    const s = await customerWith(3);
    const from = '2000-01-01T00:00:00.000Z';
    const to = '2100-01-01T00:00:00.000Z';
    const res = await s.call(
      'GET',
      `/v1/usage/summary?customerId=cus_123&from=${from}&to=${to}&groupBy=feature`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      await s.ledger.usageSummary({ customerId: 'cus_123', from, to, groupBy: 'feature' }),
    );
    expect(res.body).toMatchObject({
      totals: [{ currency: 'credits', spent: '30', usages: 3 }],
      groups: [{ key: 'ai-generation', spent: '30' }],
    });
    const refused = await s.call(
      'GET',
      `/v1/usage/summary?customerId=cus_123&from=${from}&to=${to}&groupBy=year`,
    );
    expect(refused.status).toBe(400);
    expect(errorOf(refused.body)).toMatchObject({ code: 'invalid_input', field: 'groupBy' });
    const missing = await s.call('GET', `/v1/usage/summary?customerId=cus_123&groupBy=day&to=${to}`);
    expect(errorOf(missing.body)).toMatchObject({ code: 'invalid_time', field: 'from' });
  });
});
