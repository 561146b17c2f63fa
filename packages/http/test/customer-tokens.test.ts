import { createHmac } from 'node:crypto';
import { createLedger, isTallyError, type Ledger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { createWebhooks } from '@tally/webhooks';
import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { fcOptions } from '../../../test/support/fast-check.js';
import { createCustomerToken, createHttpHandler, type HttpHandlerOptions } from '../src/index.js';
import { routes } from '../src/routes.js';
import { API_KEY } from './server.js';

const SECRET = 'tally-test-token-secret-0123456789abcdef';
const OTHER_SECRET = 'another-host-secret-0123456789abcdefghij';
const ALL_SCOPES = ['read', 'trackUsage', 'hold', 'captureHold', 'releaseHold'] as const;

const plan = (amount: string) => ({ interval: 'month' as const, grants: [{ currency: 'credits', amount }] });
const catalogInput = {
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [
    { id: 'free', ...plan('100') },
    { id: 'pro', ...plan('1000'), price: { amount: '20.00', currency: 'USD' } },
    { id: 'team', ...plan('500') },
  ],
};

interface World {
  readonly ledger: Ledger;
  readonly handler: (request: Request) => Promise<Response>;
  readonly events: () => Promise<number>;
  readonly ids: {
    freeSub: string;
    proSub: string;
    usageId: string;
    grantId: string;
    holdId: string;
    topUpRequestId: string;
    deliveryId: string;
  };
}

/**
 * A fresh ledger with its catalog in the store and two customers: cus_a (the token's own, with a
 * usage, a top-up, a hold and an unpaid pro subscription) and cus_b.
 */
async function world(options: Partial<HttpHandlerOptions> = {}): Promise<World> {
  const store = memoryStore();
  const ledger = createLedger({ store });
  await ledger.syncCatalog(catalogInput);
  const ids: Record<string, string> = {};
  for (const customerId of ['cus_a', 'cus_b']) {
    await ledger.createCustomer({ customerId });
    const sub = await ledger.subscribe({ customerId, planId: 'free' });
    if (customerId === 'cus_a') ids.freeSub = sub.subscriptionId;
  }
  ids.proSub = (await ledger.subscribe({ customerId: 'cus_a', planId: 'pro' })).subscriptionId;
  ids.usageId = (
    await ledger.trackUsage({ customerId: 'cus_a', feature: 'ai-generation', quantity: 1 })
  ).usageId;
  ids.grantId = (
    await ledger.grant({ customerId: 'cus_a', currency: 'credits', amount: '50', source: 'top_up' })
  ).grantId;
  ids.holdId = (await ledger.hold({ customerId: 'cus_a', feature: 'ai-generation', quantity: 1 })).holdId;
  // A rule set below its threshold asks for a top-up at once: the request the host completes or fails.
  await ledger.setAutoTopUp({ customerId: 'cus_a', currency: 'credits', threshold: '1000', amount: '100' });
  const [rule] = (await ledger.evaluateAlerts({ customerId: 'cus_a' })).autoTopUps;
  ids.topUpRequestId = rule!.pending!.requestId;
  // Webhooks with one endpoint and one delivery made (to a receiver that takes everything).
  const webhooks = createWebhooks({ store, fetch: async () => new Response('') });
  await webhooks.registerEndpoint({
    id: 'billing',
    url: 'https://example.com/hooks',
    eventTypes: ['customer_created'],
  });
  await webhooks.handle({ partition: 'all', events: await store.readAll() });
  await webhooks.deliverDue();
  ids.deliveryId = (await webhooks.deliveries({ endpointId: 'billing' }))[0]!.id;
  const handler = createHttpHandler({
    ledger,
    apiKeys: [API_KEY],
    customerTokens: { secret: SECRET },
    webhooks,
    ...options,
  });
  return {
    ledger,
    handler,
    events: async () => (await store.readAll({ limit: 1_000_000 })).length,
    ids: ids as World['ids'],
  };
}

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

async function send(w: World, { method, path, body }: Sent, authorization: string | null, headers = {}) {
  const res = await w.handler(
    new Request(`http://tally.test${path}`, {
      method,
      headers: {
        ...(authorization === null ? {} : { authorization }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  const text = await res.text();
  // An export answers CSV or NDJSON; everything else, and every refusal, is JSON.
  const json = res.headers.get('content-type')?.startsWith('application/json') ?? false;
  return {
    status: res.status,
    body: text === '' ? null : json ? JSON.parse(text) : text,
    headers: res.headers,
  };
}

const bearer = (token: string) => `Bearer ${token}`;
const tokenFor = (customerId: string, scopes: readonly (typeof ALL_SCOPES)[number][] = ALL_SCOPES) =>
  createCustomerToken({ customerId, scopes, expiresIn: '10m' }, SECRET);

/** The request each route is sent, about cus_a; every one succeeds with a secret key. */
const requests: Record<string, (ids: World['ids']) => Sent> = {
  'POST /v1/customers': () => ({ method: 'POST', path: '/v1/customers', body: { customerId: 'cus_a2' } }),
  'GET /v1/customers/:customerId': () => ({ method: 'GET', path: '/v1/customers/cus_a' }),
  'GET /v1/customers/:customerId/verify': () => ({ method: 'GET', path: '/v1/customers/cus_a/verify' }),
  'POST /v1/subscriptions': () => ({
    method: 'POST',
    path: '/v1/subscriptions',
    body: { customerId: 'cus_a', planId: 'team' },
  }),
  'POST /v1/subscriptions/cancel': (ids) => ({
    method: 'POST',
    path: '/v1/subscriptions/cancel',
    body: { customerId: 'cus_a', subscriptionId: ids.freeSub },
  }),
  'POST /v1/subscriptions/change-plan': (ids) => ({
    method: 'POST',
    path: '/v1/subscriptions/change-plan',
    body: { customerId: 'cus_a', subscriptionId: ids.freeSub, planId: 'team' },
  }),
  'POST /v1/subscriptions/:subscriptionId/confirm-payment': (ids) => ({
    method: 'POST',
    path: `/v1/subscriptions/${ids.proSub}/confirm-payment`,
    body: { customerId: 'cus_a', paymentId: 'in_1', amount: { amount: '20.00', currency: 'USD' } },
  }),
  'GET /v1/subscriptions': () => ({ method: 'GET', path: '/v1/subscriptions?customerId=cus_a' }),
  'POST /v1/usage': () => ({
    method: 'POST',
    path: '/v1/usage',
    body: { customerId: 'cus_a', feature: 'ai-generation', quantity: 1 },
  }),
  'POST /v1/usage/:usageId/reverse': (ids) => ({
    method: 'POST',
    path: `/v1/usage/${ids.usageId}/reverse`,
    body: { customerId: 'cus_a' },
  }),
  'POST /v1/check': () => ({
    method: 'POST',
    path: '/v1/check',
    body: { customerId: 'cus_a', feature: 'ai-generation', quantity: 1 },
  }),
  'POST /v1/grants': () => ({
    method: 'POST',
    path: '/v1/grants',
    body: { customerId: 'cus_a', currency: 'credits', amount: '50', source: 'top_up' },
  }),
  'POST /v1/grants/:grantId/void': (ids) => ({
    method: 'POST',
    path: `/v1/grants/${ids.grantId}/void`,
    body: { customerId: 'cus_a' },
  }),
  'GET /v1/grants': () => ({ method: 'GET', path: '/v1/grants?customerId=cus_a' }),
  'POST /v1/holds': () => ({
    method: 'POST',
    path: '/v1/holds',
    body: { customerId: 'cus_a', feature: 'ai-generation', quantity: 1 },
  }),
  'POST /v1/holds/:holdId/capture': (ids) => ({
    method: 'POST',
    path: `/v1/holds/${ids.holdId}/capture`,
    body: { customerId: 'cus_a' },
  }),
  'POST /v1/holds/:holdId/release': (ids) => ({
    method: 'POST',
    path: `/v1/holds/${ids.holdId}/release`,
    body: { customerId: 'cus_a' },
  }),
  'GET /v1/holds': () => ({ method: 'GET', path: '/v1/holds?customerId=cus_a' }),
  'POST /v1/credit-limits': () => ({
    method: 'POST',
    path: '/v1/credit-limits',
    body: { customerId: 'cus_a', currency: 'credits', limit: '50' },
  }),
  'POST /v1/balance-alerts': () => ({
    method: 'POST',
    path: '/v1/balance-alerts',
    body: { customerId: 'cus_a', currency: 'credits', thresholds: ['20'] },
  }),
  'POST /v1/balance-alerts/evaluate': () => ({
    method: 'POST',
    path: '/v1/balance-alerts/evaluate',
    body: { customerId: 'cus_a' },
  }),
  'POST /v1/auto-top-ups': () => ({
    method: 'POST',
    path: '/v1/auto-top-ups',
    body: { customerId: 'cus_a', currency: 'credits', threshold: '1000', amount: '200' },
  }),
  'POST /v1/auto-top-ups/:requestId/complete': (ids) => ({
    method: 'POST',
    path: `/v1/auto-top-ups/${ids.topUpRequestId}/complete`,
    body: {
      customerId: 'cus_a',
      currency: 'credits',
      paymentId: 'pi_1',
      price: { amount: '5.00', currency: 'USD' },
    },
  }),
  'POST /v1/auto-top-ups/:requestId/fail': (ids) => ({
    method: 'POST',
    path: `/v1/auto-top-ups/${ids.topUpRequestId}/fail`,
    body: { customerId: 'cus_a', currency: 'credits', error: 'card declined' },
  }),
  'POST /v1/webhook-endpoints': () => ({
    method: 'POST',
    path: '/v1/webhook-endpoints',
    body: { url: 'https://example.com/other', eventTypes: ['*'] },
  }),
  'GET /v1/webhook-endpoints': () => ({ method: 'GET', path: '/v1/webhook-endpoints' }),
  'PATCH /v1/webhook-endpoints/:endpointId': () => ({
    method: 'PATCH',
    path: '/v1/webhook-endpoints/billing',
    body: { enabled: false },
  }),
  'GET /v1/webhook-endpoints/:endpointId/deliveries': () => ({
    method: 'GET',
    path: '/v1/webhook-endpoints/billing/deliveries',
  }),
  'POST /v1/webhook-deliveries/:deliveryId/replay': (ids) => ({
    method: 'POST',
    path: `/v1/webhook-deliveries/${encodeURIComponent(ids.deliveryId)}/replay`,
  }),
  'GET /v1/credit-accounts': () => ({ method: 'GET', path: '/v1/credit-accounts?customerId=cus_a' }),
  'GET /v1/ledger': () => ({ method: 'GET', path: '/v1/ledger?customerId=cus_a&currency=credits' }),
  'GET /v1/ledger/export': () => ({
    method: 'GET',
    path: '/v1/ledger/export?customerId=cus_a&format=ndjson',
  }),
  'GET /v1/usage/summary': () => ({
    method: 'GET',
    path: '/v1/usage/summary?customerId=cus_a&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&groupBy=feature',
  }),
  'GET /v1/catalog': () => ({ method: 'GET', path: '/v1/catalog' }),
  'PUT /v1/catalog': () => ({ method: 'PUT', path: '/v1/catalog', body: catalogInput }),
  'POST /v1/credit-currencies': () => ({
    method: 'POST',
    path: '/v1/credit-currencies',
    body: { code: 'gems', decimals: 0 },
  }),
  'GET /v1/credit-currencies': () => ({ method: 'GET', path: '/v1/credit-currencies' }),
  'POST /v1/features': () => ({
    method: 'POST',
    path: '/v1/features',
    body: { key: 'image-generation', cost: { currency: 'credits', perUnit: '5' } },
  }),
  'PATCH /v1/features/:key': () => ({
    method: 'PATCH',
    path: '/v1/features/ai-generation',
    body: { perUnit: '12' },
  }),
  'GET /v1/features': () => ({ method: 'GET', path: '/v1/features' }),
  'POST /v1/plans': () => ({ method: 'POST', path: '/v1/plans', body: { id: 'max', ...plan('5000') } }),
  'POST /v1/plans/:planId/versions': () => ({
    method: 'POST',
    path: '/v1/plans/free/versions',
    body: plan('150'),
  }),
  'POST /v1/plans/:planId/archive': () => ({ method: 'POST', path: '/v1/plans/team/archive', body: {} }),
  'GET /v1/plans': () => ({ method: 'GET', path: '/v1/plans' }),
};

const CASES = [
  'no auth',
  'secret key',
  'own token',
  "other customer's token",
  'expired token',
  'wrong signature',
  'read-only token',
] as const;
type Case = (typeof CASES)[number];

/**
 * The status every route answers each caller with, written out by hand (not read from the route
 * table's declarations): 401 for no or a bad credential, 403 for a valid token asking too much.
 */
const expected: Record<string, readonly [number, number, number, number, number, number, number]> = {
  //                                                     none secret own  other expired forged readonly
  'POST /v1/customers': /*                          */ [401, 201, 403, 403, 401, 401, 403],
  'GET /v1/customers/:customerId': /*               */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/customers/:customerId/verify': /*        */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/subscriptions': /*                      */ [401, 201, 403, 403, 401, 401, 403],
  'POST /v1/subscriptions/cancel': /*               */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/subscriptions/change-plan': /*          */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/subscriptions/:subscriptionId/confirm-payment': [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/subscriptions': /*                       */ [401, 200, 200, 403, 401, 401, 200],
  'POST /v1/usage': /*                              */ [401, 201, 201, 403, 401, 401, 403],
  'POST /v1/usage/:usageId/reverse': /*             */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/check': /*                              */ [401, 200, 200, 403, 401, 401, 200],
  'POST /v1/grants': /*                             */ [401, 201, 403, 403, 401, 401, 403],
  'POST /v1/grants/:grantId/void': /*               */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/grants': /*                              */ [401, 200, 200, 403, 401, 401, 200],
  'POST /v1/holds': /*                              */ [401, 201, 201, 403, 401, 401, 403],
  'POST /v1/holds/:holdId/capture': /*              */ [401, 200, 200, 403, 401, 401, 403],
  'POST /v1/holds/:holdId/release': /*              */ [401, 200, 200, 403, 401, 401, 403],
  'GET /v1/holds': /*                               */ [401, 200, 200, 403, 401, 401, 200],
  'POST /v1/credit-limits': /*                      */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/balance-alerts': /*                     */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/balance-alerts/evaluate': /*            */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/auto-top-ups': /*                       */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/auto-top-ups/:requestId/complete': /*   */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/auto-top-ups/:requestId/fail': /*       */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/webhook-endpoints': /*                  */ [401, 201, 403, 403, 401, 401, 403],
  'GET /v1/webhook-endpoints': /*                   */ [401, 200, 403, 403, 401, 401, 403],
  'PATCH /v1/webhook-endpoints/:endpointId': /*     */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/webhook-endpoints/:endpointId/deliveries': [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/webhook-deliveries/:deliveryId/replay': [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/credit-accounts': /*                     */ [401, 200, 200, 403, 401, 401, 200],
  'GET /v1/ledger': /*                              */ [401, 200, 200, 403, 401, 401, 200],
  'GET /v1/ledger/export': /*                       */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/usage/summary': /*                       */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/catalog': /*                             */ [401, 200, 403, 403, 401, 401, 403],
  'PUT /v1/catalog': /*                             */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/credit-currencies': /*                  */ [401, 201, 403, 403, 401, 401, 403],
  'GET /v1/credit-currencies': /*                   */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/features': /*                           */ [401, 201, 403, 403, 401, 401, 403],
  'PATCH /v1/features/:key': /*                     */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/features': /*                            */ [401, 200, 403, 403, 401, 401, 403],
  'POST /v1/plans': /*                              */ [401, 201, 403, 403, 401, 401, 403],
  'POST /v1/plans/:planId/versions': /*             */ [401, 201, 403, 403, 401, 401, 403],
  'POST /v1/plans/:planId/archive': /*              */ [401, 200, 403, 403, 401, 401, 403],
  'GET /v1/plans': /*                               */ [401, 200, 403, 403, 401, 401, 403],
};

const WRITE_NOTHING_WHEN_DONE = new Set([
  'POST /v1/check',
  'PUT /v1/catalog',
  'POST /v1/balance-alerts/evaluate',
]);

async function credential(c: Case): Promise<string | null> {
  switch (c) {
    case 'no auth':
      return null;
    case 'secret key':
      return bearer(API_KEY);
    case 'own token':
      return bearer(await tokenFor('cus_a'));
    case "other customer's token":
      return bearer(await tokenFor('cus_b'));
    case 'expired token':
      return bearer(
        await createCustomerToken({ customerId: 'cus_a', scopes: [...ALL_SCOPES], expiresIn: 60 }, SECRET, {
          now: new Date(Date.now() - 3_600_000),
        }),
      );
    case 'wrong signature':
      return bearer(
        await createCustomerToken({ customerId: 'cus_a', scopes: [...ALL_SCOPES] }, OTHER_SECRET),
      );
    case 'read-only token':
      return bearer(await tokenFor('cus_a', ['read']));
  }
}

const routeKeys = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);

describe('every route × every kind of caller', () => {
  it('the table names every route of the handler, and only those', () => {
    expect(Object.keys(expected).sort()).toEqual([...routeKeys].sort());
    expect(Object.keys(requests).sort()).toEqual([...routeKeys].sort());
  });

  it.each(routeKeys)('%s', async (key) => {
    const got: Record<string, number> = {};
    const want: Record<string, number> = {};
    for (const [i, c] of CASES.entries()) {
      const w = await world();
      const request = requests[key]!(w.ids);
      const before = await w.events();
      const res = await send(w, request, await credential(c));
      got[c] = res.status;
      want[c] = expected[key]![i]!;
      if (res.status === 401) {
        expect(res.body.error.code).toBe('unauthorized');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tally"/);
      }
      if (res.status === 403) expect(res.body.error.code).toBe('forbidden');
      // A refused request writes nothing.
      if (res.status >= 400) expect(await w.events()).toBe(before);
      // (A check is a question, a sync of the same catalog and an evaluation with nothing due write nothing.)
      else if (request.method !== 'GET' && !WRITE_NOTHING_WHEN_DONE.has(key)) {
        expect(await w.events()).toBeGreaterThan(before);
      }
    }
    expect(got).toEqual(want);
  });
});

describe('a customer token', () => {
  it('reaches its own customer when the request names none, and refuses to name another', async () => {
    const w = await world();
    const token = bearer(await tokenFor('cus_a'));
    const accounts = await send(w, { method: 'GET', path: '/v1/credit-accounts' }, token);
    expect(accounts.status).toBe(200);
    expect(accounts.body.data).toEqual(
      JSON.parse(JSON.stringify(await w.ledger.creditAccounts({ customerId: 'cus_a' }))),
    );
    const usage = await send(
      w,
      { method: 'POST', path: '/v1/usage', body: { feature: 'ai-generation', quantity: 1 } },
      token,
    );
    expect(usage).toMatchObject({ status: 201, body: { cost: '10' } });
    expect((await w.ledger.entries({ customerId: 'cus_a', order: 'newest_first' })).data[0]?.kind).toBe(
      'usage',
    );

    const other = await send(w, { method: 'GET', path: '/v1/ledger?customerId=cus_b' }, token);
    expect(other).toMatchObject({ status: 403, body: { error: { code: 'forbidden', field: 'customerId' } } });
    // Not a string at all is another customer too, not something for the ledger to read.
    const odd = await send(
      w,
      {
        method: 'POST',
        path: '/v1/check',
        body: { customerId: ['cus_a'], feature: 'ai-generation', quantity: 1 },
      },
      token,
    );
    expect(odd).toMatchObject({ status: 403, body: { error: { code: 'forbidden', field: 'customerId' } } });
  });

  it("cannot reach another customer's hold through its id", async () => {
    const w = await world();
    const bHold = await w.ledger.hold({ customerId: 'cus_b', feature: 'ai-generation', quantity: 1 });
    const before = await w.events();
    const res = await send(
      w,
      { method: 'POST', path: `/v1/holds/${bHold.holdId}/capture`, body: {} },
      bearer(await tokenFor('cus_a')),
    );
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'unknown_hold' } } });
    expect(await w.events()).toBe(before);
    expect(await w.ledger.holds({ customerId: 'cus_b' })).toMatchObject([
      { holdId: bHold.holdId, status: 'active' },
    ]);
  });

  it('names what it lacks: a write scope, or a secret key', async () => {
    const w = await world();
    const readOnly = bearer(await tokenFor('cus_a', ['read']));
    const usage = await send(
      w,
      { method: 'POST', path: '/v1/usage', body: { feature: 'ai-generation', quantity: 1 } },
      readOnly,
    );
    expect(usage.body.error.message).toContain('"trackUsage"');
    const writeOnly = bearer(await tokenFor('cus_a', ['trackUsage']));
    expect((await send(w, { method: 'GET', path: '/v1/credit-accounts' }, writeOnly)).status).toBe(403);
    const grant = await send(
      w,
      { method: 'POST', path: '/v1/grants', body: { currency: 'credits', amount: '1' } },
      bearer(await tokenFor('cus_a')),
    );
    expect(grant.body.error.message).toContain('secret API key');
  });

  it('is a JWT with the customer, its scopes, an audience and a lifetime', async () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const token = await createCustomerToken(
      { customerId: 'cus_a', scopes: ['read', 'trackUsage', 'read'], expiresIn: '15m' },
      { kid: 'k1', secret: SECRET },
      { now },
    );
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
    expect(decodeJwt(token)).toEqual({
      sub: 'cus_a',
      scope: 'read trackUsage',
      aud: 'tally',
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + 900,
    });
    const plain = decodeJwt(await createCustomerToken({ customerId: 'cus_a' }, SECRET, { now }));
    expect(plain).toMatchObject({ scope: 'read', exp: now.getTime() / 1000 + 900 });
    expect(
      decodeProtectedHeader(await createCustomerToken({ customerId: 'cus_a' }, SECRET)),
    ).not.toHaveProperty('kid');
  });

  it('refuses bad claims and short secrets with a TallyError naming the field', async () => {
    const refusal = async (claims: unknown, secret: unknown = SECRET) => {
      const error = await createCustomerToken(claims as never, secret as never).catch((e: unknown) => e);
      return isTallyError(error) ? { code: error.code, field: error.field } : error;
    };
    expect(await refusal({ customerId: 'has space' })).toEqual({ code: 'invalid_id', field: 'customerId' });
    expect(await refusal({ customerId: 'cus_a', scope: 'read' })).toEqual({
      code: 'invalid_input',
      field: 'scope',
    });
    expect(await refusal({ customerId: 'cus_a', scopes: ['grant'] })).toEqual({
      code: 'invalid_input',
      field: 'scopes[0]',
    });
    expect(await refusal({ customerId: 'cus_a', scopes: [] })).toEqual({
      code: 'invalid_input',
      field: 'scopes',
    });
    for (const expiresIn of [0, -5, 1.5, 86_401, '2 days', '15 minutes ago', '']) {
      expect(await refusal({ customerId: 'cus_a', expiresIn })).toEqual({
        code: 'invalid_input',
        field: 'expiresIn',
      });
    }
    expect(await refusal({ customerId: 'cus_a' }, 'short')).toEqual({
      code: 'invalid_input',
      field: 'secret',
    });
    expect(await refusal({ customerId: 'cus_a' }, { kid: '', secret: SECRET })).toEqual({
      code: 'invalid_input',
      field: 'secret.kid',
    });
    expect(await refusal(null)).toEqual({ code: 'invalid_input', field: 'claims' });
  });
});

describe('the handler checking tokens', () => {
  const accounts: Sent = { method: 'GET', path: '/v1/credit-accounts?customerId=cus_a' };
  const mint = (key: Parameters<typeof createCustomerToken>[1], now?: Date) =>
    createCustomerToken({ customerId: 'cus_a' }, key, now === undefined ? {} : { now });

  it('rotates secrets by key id: every listed id is accepted, an unlisted or missing one is not', async () => {
    const w = await world({ customerTokens: { secrets: { new: SECRET, old: OTHER_SECRET } } });
    const status = async (token: string) => (await send(w, accounts, bearer(token))).status;
    expect(await status(await mint({ kid: 'new', secret: SECRET }))).toBe(200);
    expect(await status(await mint({ kid: 'old', secret: OTHER_SECRET }))).toBe(200);
    expect(await status(await mint({ kid: 'old', secret: SECRET }))).toBe(401);
    expect(await status(await mint({ kid: 'gone', secret: SECRET }))).toBe(401);
    expect(await status(await mint({ kid: 'constructor', secret: SECRET }))).toBe(401);
    expect(await status(await mint(SECRET))).toBe(401);
    const both = await world({ customerTokens: { secret: OTHER_SECRET, secrets: { new: SECRET } } });
    expect((await send(both, accounts, bearer(await mint(OTHER_SECRET)))).status).toBe(200);
    expect(
      (await send(both, accounts, bearer(await mint({ kid: 'new', secret: OTHER_SECRET })))).status,
    ).toBe(401);
  });

  it('allows the configured clock skew past expiry, and no more', async () => {
    const expiredAgo = (seconds: number) =>
      createCustomerToken({ customerId: 'cus_a', expiresIn: 60 }, SECRET, {
        now: new Date(Date.now() - (60 + seconds) * 1000),
      });
    const lenient = await world();
    expect((await send(lenient, accounts, bearer(await expiredAgo(10)))).status).toBe(200);
    expect((await send(lenient, accounts, bearer(await expiredAgo(90)))).status).toBe(401);
    const strict = await world({ customerTokens: { secret: SECRET, clockTolerance: 0 } });
    expect((await send(strict, accounts, bearer(await expiredAgo(10)))).status).toBe(401);
  });

  it('accepts only the algorithms it lists', async () => {
    const hs512 = await mint({ kid: 'k', secret: SECRET, algorithm: 'HS512' });
    const only256 = await world({ customerTokens: { secrets: { k: SECRET } } });
    expect((await send(only256, accounts, bearer(hs512))).status).toBe(401);
    const with512 = await world({
      customerTokens: { secrets: { k: SECRET }, algorithms: ['HS256', 'HS512'] },
    });
    expect((await send(with512, accounts, bearer(hs512))).status).toBe(200);
  });

  it('refuses bad options when created', async () => {
    const ledger = createLedger({ store: memoryStore() });
    const make = (customerTokens: unknown) => () =>
      createHttpHandler({ ledger, apiKeys: [API_KEY], customerTokens: customerTokens as never });
    expect(make({ secret: 'short' })).toThrow(/at least 32 bytes/);
    expect(make({})).toThrow(/secret or secrets/);
    expect(make({ secrets: { k: 'short' } })).toThrow(/at least 32 bytes/);
    expect(make({ secret: SECRET, clockTolerance: -1 })).toThrow(/clockTolerance/);
    expect(make({ secret: SECRET, algorithms: ['none'] })).toThrow(/algorithms/);
    expect(make({ secret: SECRET, algorithms: ['RS256'] })).toThrow(/algorithms/);
    await ledger.close();
  });

  it('without the option, a valid token is just a bad key', async () => {
    const w = await world({ customerTokens: undefined });
    const res = await send(w, accounts, bearer(await tokenFor('cus_a')));
    expect(res.status).toBe(401);
  });
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A token signed by hand with HMAC-SHA256, for claims and headers createCustomerToken never makes. */
const handSigned = (header: unknown, payload: unknown, secret: string) => {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
};

describe('fuzzing token strings', () => {
  it('no token the handler did not sign for gets past auth, on a read or a write', async () => {
    const w = await world();
    const valid = await tokenFor('cus_a');
    const [h, p, s] = valid.split('.') as [string, string, string];
    const claims = decodeJwt(valid);
    const nowS = Math.floor(Date.now() / 1000);
    // The untouched token gets in: the property below is about what differs from it.
    expect((await send(w, { method: 'GET', path: '/v1/credit-accounts' }, bearer(valid))).status).toBe(200);

    const b64chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
    const segment = fc.string({ unit: b64chars, maxLength: 60 });
    const mutatedClaims = fc.record(
      {
        sub: fc.constantFrom('cus_a', 'cus_b', '', 'cus_a '),
        scope: fc.constantFrom('read', 'read trackUsage grant', 'admin', ''),
        aud: fc.constantFrom('tally', 'other', ['tally']),
        exp: fc.integer({ min: nowS - 10_000, max: nowS + 10_000 }),
        iat: fc.integer({ min: nowS - 10_000, max: nowS }),
      },
      { requiredKeys: [] },
    );
    const token = fc.oneof(
      // Anything at all.
      fc.string({ minLength: 1, maxLength: 200, unit: fc.constantFrom(...'abcXYZ019-_.+/=~!') }),
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      // The valid token cut short, or with a segment swapped for random text.
      fc.integer({ min: 1, max: valid.length - 1 }).map((n) => valid.slice(0, n)),
      fc
        .tuple(fc.nat(2), segment)
        .map(([i, seg]) => {
          const parts = [h, p, s];
          parts[i] = seg;
          return parts.join('.');
        })
        .filter((t) => t !== valid),
      // Its payload changed, keeping its signature.
      mutatedClaims.map((c) => `${h}.${b64({ ...claims, ...c })}.${s}`).filter((t) => t !== valid),
      // alg: none, with or without a signature.
      fc
        .tuple(mutatedClaims, fc.boolean())
        .map(
          ([c, signed]) =>
            `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, ...c })}.${signed ? s : ''}`,
        ),
      // Signed properly, by a key the handler does not hold.
      fc
        .tuple(
          mutatedClaims,
          fc.string({ minLength: 32, maxLength: 40 }).filter((k) => k !== SECRET),
        )
        .map(([c, key]) => handSigned({ alg: 'HS256', typ: 'JWT' }, { ...claims, ...c }, key)),
      // Signed with the right key but claims the handler must refuse.
      fc.constantFrom(
        handSigned({ alg: 'HS256' }, { sub: 'cus_a', scope: 'read', aud: 'tally', iat: nowS }, SECRET), // no exp
        handSigned({ alg: 'HS256' }, { sub: 'cus_a', scope: 'read', iat: nowS, exp: nowS + 600 }, SECRET), // no aud
        handSigned({ alg: 'HS256' }, { scope: 'read', aud: 'tally', iat: nowS, exp: nowS + 600 }, SECRET), // no sub
        handSigned({ alg: 'HS256' }, { sub: 'cus_a', aud: 'tally', iat: nowS, exp: nowS + 600 }, SECRET), // no scope
        handSigned(
          { alg: 'HS256' },
          { sub: 'cus_a', scope: 'read admin', aud: 'tally', iat: nowS, exp: nowS + 600 },
          SECRET,
        ),
        handSigned(
          { alg: 'HS256' },
          { sub: 'cus a', scope: 'read', aud: 'tally', iat: nowS, exp: nowS + 600 },
          SECRET,
        ),
        handSigned(
          { alg: 'HS256' },
          { sub: 'cus_a', scope: 'read', aud: 'tally', iat: nowS - 7200, exp: nowS - 3600 },
          SECRET,
        ),
        handSigned(
          { alg: 'HS256', crit: ['b64'], b64: false },
          { sub: 'cus_a', scope: 'read', aud: 'tally', iat: nowS, exp: nowS + 600 },
          SECRET,
        ),
      ),
    );
    const before = await w.events();
    await fc.assert(
      fc.asyncProperty(token, fc.boolean(), async (t, write) => {
        const request: Sent = write
          ? { method: 'POST', path: '/v1/usage', body: { feature: 'ai-generation', quantity: 1 } }
          : { method: 'GET', path: '/v1/credit-accounts' };
        const res = await send(w, request, `Bearer ${t}`);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('unauthorized');
      }),
      fcOptions({ runs: 300 }),
    );
    expect(await w.events()).toBe(before);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) => ({
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type, idempotency-key',
  });

  it('answers a preflight from a configured origin, and the request after it', async () => {
    const w = await world({ cors: { origins: ['https://app.example.com'] } });
    const res = await send(
      w,
      { method: 'OPTIONS', path: '/v1/usage' },
      null,
      preflight('https://app.example.com'),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
    const token = bearer(await tokenFor('cus_a'));
    const read = await send(w, { method: 'GET', path: '/v1/credit-accounts' }, token, {
      origin: 'https://app.example.com',
    });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    // A refusal is readable by the page too.
    const refused = await send(w, { method: 'GET', path: '/v1/credit-accounts' }, null, {
      origin: 'https://app.example.com',
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });

  it('allows no other origin, and none at all when off', async () => {
    const w = await world({ cors: { origins: ['https://app.example.com'] } });
    for (const origin of [
      'https://evil.example.com',
      'https://app.example.com.evil.com',
      'http://app.example.com',
    ]) {
      const res = await send(w, { method: 'OPTIONS', path: '/v1/usage' }, null, preflight(origin));
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    const off = await world();
    const res = await send(
      off,
      { method: 'OPTIONS', path: '/v1/usage' },
      null,
      preflight('https://app.example.com'),
    );
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.status).toBe(401);
  });

  it('refuses an origin that is not one', async () => {
    const ledger = createLedger({ store: memoryStore() });
    for (const origin of ['*', 'https://app.example.com/', 'app.example.com']) {
      expect(() => createHttpHandler({ ledger, apiKeys: [API_KEY], cors: { origins: [origin] } })).toThrow(
        /cors.origins/,
      );
    }
    expect(() => createHttpHandler({ ledger, apiKeys: [API_KEY], cors: { origins: [] } })).toThrow(
      /cors.origins/,
    );
    await ledger.close();
  });
});
