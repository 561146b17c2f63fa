/**
 * The page's side of the service, in process: the demo sign-in and its customer token, the metered
 * endpoint and the demo purchase on the session, and what the token may not do.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog, type RunningService, startService } from '../src/service.js';

const KEY = 'sk_test_example_page_routes_1';
const dir = mkdtempSync(join(tmpdir(), 'tally-example-page-routes-'));
let service: RunningService;

beforeAll(async () => {
  service = await startService({
    port: 0,
    hostname: '127.0.0.1',
    database: join(dir, 'page.db'),
    apiKeys: [KEY],
    catalog: loadCatalog(new URL('../catalog.json', import.meta.url)),
    page: {
      tokenSecret: 'a-test-secret-of-at-least-32-bytes-long',
      demoCustomerId: 'cus_page',
      webRoot: dir,
    },
  });
  await service.ledger.createCustomer({ customerId: 'cus_page' });
  await service.ledger.subscribe({ customerId: 'cus_page', planId: 'free' });
  await service.ledger.createCustomer({ customerId: 'cus_someone_else' });
});
afterAll(async () => {
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${service.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json().catch(() => null)) as Record<string, unknown>,
  };
}

describe("the page's routes", () => {
  it('signs in with a session cookie and answers a read-only customer token for the demo customer', async () => {
    const signIn = await call('/session/token', { method: 'POST' });
    expect(signIn.status).toBe(200);
    expect(signIn.body).toMatchObject({ customerId: 'cus_page', expiresIn: 900 });
    const cookie = signIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^tally_demo_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    const token = signIn.body.token as string;
    expect(token).not.toContain(KEY);
    const auth = { authorization: `Bearer ${token}` };

    const own = await call('/v1/credit-accounts?customerId=cus_page', { headers: auth });
    expect(own.body).toMatchObject({ data: [{ currency: 'credits', balance: '100' }] });
    const other = await call('/v1/credit-accounts?customerId=cus_someone_else', { headers: auth });
    expect([other.status, (other.body.error as { code: string }).code]).toEqual([403, 'forbidden']);
    const write = await call('/v1/usage', {
      method: 'POST',
      headers: auth,
      body: { customerId: 'cus_page', feature: 'ai-generation', quantity: 1 },
    });
    expect(write.status).toBe(403);

    // The same session signs in as the same customer again.
    const again = await call('/session/token', {
      method: 'POST',
      headers: { cookie: cookie.split(';')[0]! },
    });
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(again.body.customerId).toBe('cus_page');
  });

  it("meters /ai/generate and buys credits for the session's customer, and neither without a session", async () => {
    const signIn = await call('/session/token', { method: 'POST' });
    const cookie = { cookie: (signIn.headers.get('set-cookie') ?? '').split(';')[0]! };
    const before = (await service.ledger.creditAccounts({ customerId: 'cus_page' }))[0]!.balance;

    const generated = await call('/ai/generate', {
      method: 'POST',
      headers: cookie,
      body: { prompt: 'a fox' },
    });
    expect(generated.status).toBe(200);
    expect(generated.body).toMatchObject({
      output: 'a picture of a fox',
      cost: '10',
      balance: String(Number(before) - 10),
    });

    const bought = await call('/demo/purchase', { method: 'POST', headers: cookie, body: {} });
    expect(bought.status).toBe(201);
    const grants = await service.ledger.grants({ customerId: 'cus_page' });
    const purchase = grants.find((g) => g.grantId === bought.body.grantId);
    expect(purchase).toMatchObject({
      source: 'purchase',
      amount: '100',
      price: { amount: '10.00', currency: 'USD' },
      paymentId: expect.stringMatching(/^demo_pay_/),
    });
    expect((await service.ledger.creditAccounts({ customerId: 'cus_page' }))[0]!.balance).toBe(
      String(Number(before) + 90),
    );

    expect(
      (await call('/ai/generate', { method: 'POST', body: { customerId: 'cus_page', prompt: 'x' } })).status,
    ).toBe(401);
    expect((await call('/demo/purchase', { method: 'POST', body: {} })).status).toBe(401);
    const forged = { cookie: 'tally_demo_session=not-a-session' };
    expect((await call('/demo/purchase', { method: 'POST', headers: forged, body: {} })).status).toBe(401);
  });

  it('says how to build the page when it is not built', async () => {
    const res = await fetch(`${service.url}/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('build:web');
  });
});
