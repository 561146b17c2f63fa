import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedger, type Ledger } from '@tally/core';
import { createHttpHandler, toNodeListener } from '@tally/http';
import { sqliteStore } from '@tally/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The hosted quickstart, verbatim, over HTTP, from an empty SQLite file: the catalog is built through
 * the API (a credit currency, a free plan granting 100 a month, the `ai-generation` feature at 10),
 * then `cus_123` subscribes, uses the feature once, and the ledger and credit account read +100, −10,
 * 90. Then the billing path: a paid plan is incomplete until its payment, and a renewal past due until
 * the next one.
 */

const KEY = 'upay_sk_test_quickstart_0123456789';
let server: Server;
let ledger: Ledger;
let base: string;
let dir: string;
let now = Date.parse('2026-12-01T10:00:00.000Z');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-quickstart-'));
  ledger = createLedger({
    store: sqliteStore({ filename: join(dir, 'tally.db') }),
    clock: () => new Date(now),
  });
  server = createServer(toNodeListener(createHttpHandler({ ledger, apiKeys: [KEY] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await ledger.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { data?: unknown[] } };
}

describe('the quickstart over HTTP from an empty database', () => {
  it('builds the catalog, subscribes, tracks usage and reads +100, −10, balance 90', async () => {
    expect((await call('POST', '/credit-currencies', { code: 'credits', decimals: 0 })).status).toBe(201);
    const plan = await call('POST', '/plans', {
      id: 'free',
      interval: 'month',
      price: { amount: '0.00', currency: 'USD' },
      grants: [{ currency: 'credits', amount: '100' }],
    });
    expect(plan).toMatchObject({ status: 201, body: { id: 'free', version: 1 } });
    const feature = await call('POST', '/features', {
      key: 'ai-generation',
      cost: { currency: 'credits', perUnit: '10' },
    });
    expect(feature).toMatchObject({ status: 201, body: { key: 'ai-generation', perUnit: '10' } });

    expect((await call('POST', '/customers', { customerId: 'cus_123', externalId: 'user_42' })).status).toBe(
      201,
    );
    const subscription = await call('POST', '/subscriptions', { customerId: 'cus_123', planId: 'free' });
    expect(subscription).toMatchObject({
      status: 201,
      body: { status: 'active', salesMotion: 'self_serve', collectionMethod: 'charge_automatically' },
    });
    const usage = await call('POST', '/usage', {
      customerId: 'cus_123',
      feature: 'ai-generation',
      quantity: 1,
    });
    expect(usage).toMatchObject({ status: 201, body: { cost: '10', balance: '90' } });

    const statement = await call('GET', '/ledger?customerId=cus_123&currency=credits');
    expect(
      (statement.body.data as { kind: string; amount: string; balance: string }[]).map((e) => [
        e.kind,
        e.amount,
        e.balance,
      ]),
    ).toEqual([
      ['grant', '100', '100'],
      ['usage', '-10', '90'],
    ]);
    const accounts = await call('GET', '/credit-accounts?customerId=cus_123');
    expect(accounts.body.data).toEqual([
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
    const catalog = await call('GET', '/catalog');
    expect(catalog.body).toMatchObject({ version: 3 });
    expect((await call('GET', '/plans')).body.data).toHaveLength(1);
  });

  it('refuses a bad definition with 400 invalid_catalog naming the field, writing nothing', async () => {
    const bad = await call('POST', '/plans', { id: 'x', interval: 'fortnight', grants: [] });
    expect(bad).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_catalog', field: 'interval' } },
    });
    const redefine = await call('POST', '/credit-currencies', { code: 'credits', decimals: 2 });
    expect(redefine).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_catalog', field: 'decimals' } },
    });
    expect((await call('GET', '/catalog')).body).toMatchObject({ version: 3 });
  });

  it('changes a price from an instant on: usage before it pays the old price, after it the new one', async () => {
    const at = new Date(now + 60_000).toISOString();
    const changed = await call('PATCH', '/features/ai-generation', { perUnit: '12', effectiveAt: at });
    expect(changed).toMatchObject({ status: 200, body: { perUnit: '12' } });
    expect(
      (await call('POST', '/usage', { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })).body,
    ).toMatchObject({ cost: '10' });
    now += 60_000;
    expect(
      (await call('POST', '/usage', { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })).body,
    ).toMatchObject({ cost: '12' });
  });

  it('runs a paid plan: incomplete with no credits, active once paid, past due at renewal until paid again', async () => {
    const price = { amount: '20.00', currency: 'USD' };
    await call('POST', '/plans', {
      id: 'pro',
      interval: 'month',
      price,
      grants: [{ currency: 'credits', amount: '1000' }],
    });
    await call('POST', '/customers', { customerId: 'cus_pro' });
    const created = await call('POST', '/subscriptions', { customerId: 'cus_pro', planId: 'pro' });
    expect(created).toMatchObject({ status: 201, body: { status: 'incomplete', grantIds: [] } });
    const balance = async () =>
      ((await call('GET', '/credit-accounts?customerId=cus_pro')).body.data as { balance: string }[])[0]
        ?.balance ?? '0';
    expect(await balance()).toBe('0');
    const id = created.body.subscriptionId as string;
    const paid = await call('POST', `/subscriptions/${id}/confirm-payment`, {
      customerId: 'cus_pro',
      paymentId: 'in_1',
      amount: price,
    });
    expect(paid).toMatchObject({ status: 200, body: { status: 'active', paymentId: 'in_1' } });
    expect(await balance()).toBe('1000');
    now += 32 * 86_400_000;
    const [renewed] = (await call('GET', '/subscriptions?customerId=cus_pro')).body.data as {
      status: string;
    }[];
    expect(renewed!.status).toBe('past_due');
    expect(await balance()).toBe('0');
    await call('POST', `/subscriptions/${id}/confirm-payment`, {
      customerId: 'cus_pro',
      paymentId: 'in_2',
      amount: price,
    });
    expect(await balance()).toBe('1000');
  });
});
