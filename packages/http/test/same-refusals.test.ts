import { createLedger, isTallyError, type Ledger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import * as fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fcOptions } from '../../../test/support/fast-check.js';
import { statusOf } from '../src/index.js';
import { catalog, startServer } from './server.js';

/**
 * One error model everywhere: the same bad value is refused with the same code and field by the
 * library and over HTTP. Each case mutates one field of a valid call to a JSON value (what a body can
 * carry) and sends it both ways, to ledgers in the same state.
 */

const CUSTOMER = 'cus_123';

interface Call {
  readonly method: keyof Ledger;
  readonly route: (ids: Ids) => { readonly verb: 'GET' | 'POST'; readonly path: string };
  readonly valid: (ids: Ids) => Record<string, unknown>;
  /** Fields the route puts in its path: never mutated in the body. */
  readonly inPath?: readonly string[];
}

interface Ids {
  readonly grantId: string;
  readonly usageId: string;
  readonly holdId: string;
}

const CALLS: readonly Call[] = [
  { method: 'createCustomer', route: () => post('/v1/customers'), valid: () => ({ customerId: 'cus_new' }) },
  {
    method: 'subscribe',
    route: () => post('/v1/subscriptions'),
    valid: () => ({ customerId: CUSTOMER, planId: 'free' }),
  },
  {
    method: 'trackUsage',
    route: () => post('/v1/usage'),
    valid: () => ({ customerId: CUSTOMER, feature: 'ai-generation', quantity: 1, metadata: { a: 'b' } }),
  },
  {
    method: 'grant',
    route: () => post('/v1/grants'),
    valid: () => ({ customerId: CUSTOMER, currency: 'credits', amount: '5', source: 'top_up', priority: 10 }),
  },
  {
    method: 'voidGrant',
    route: (ids) => post(`/v1/grants/${ids.grantId}/void`),
    valid: (ids) => ({ customerId: CUSTOMER, grantId: ids.grantId, reason: 'x' }),
    inPath: ['grantId'],
  },
  {
    method: 'reverseUsage',
    route: (ids) => post(`/v1/usage/${ids.usageId}/reverse`),
    valid: (ids) => ({ customerId: CUSTOMER, usageId: ids.usageId }),
    inPath: ['usageId'],
  },
  {
    method: 'hold',
    route: () => post('/v1/holds'),
    valid: () => ({ customerId: CUSTOMER, feature: 'ai-generation', quantity: 1 }),
  },
  {
    method: 'captureHold',
    route: (ids) => post(`/v1/holds/${ids.holdId}/capture`),
    valid: (ids) => ({ customerId: CUSTOMER, holdId: ids.holdId, quantity: 1 }),
    inPath: ['holdId'],
  },
  {
    method: 'setCreditLimit',
    route: () => post('/v1/credit-limits'),
    valid: () => ({ customerId: CUSTOMER, currency: 'credits', limit: '10' }),
  },
  {
    method: 'setBalanceAlert',
    route: () => post('/v1/balance-alerts'),
    valid: () => ({
      customerId: CUSTOMER,
      currency: 'credits',
      thresholds: ['10', { percent: 20 }],
      expiringWithin: '3d',
    }),
  },
  {
    method: 'setAutoTopUp',
    route: () => post('/v1/auto-top-ups'),
    valid: () => ({
      customerId: CUSTOMER,
      currency: 'credits',
      threshold: '0',
      amount: '10',
      maxPerPeriod: { count: 2, period: '1d' },
      cooldown: '1h',
    }),
  },
  {
    method: 'cancelSubscription',
    route: () => post('/v1/subscriptions/cancel'),
    valid: () => ({ customerId: CUSTOMER, at: 'cycle_end', expireCredits: false }),
  },
  {
    method: 'check',
    route: () => post('/v1/check'),
    valid: () => ({ customerId: CUSTOMER, feature: 'ai-generation', quantity: 1 }),
  },
];

const post = (path: string) => ({ verb: 'POST' as const, path });

/** A customer with something of everything, made the same way on each ledger. */
async function fixture(ledger: Ledger): Promise<Ids> {
  await ledger.createCustomer({ customerId: CUSTOMER });
  await ledger.subscribe({ customerId: CUSTOMER, planId: 'free' });
  const { grantId } = await ledger.grant({ customerId: CUSTOMER, currency: 'credits', amount: '50' });
  const { usageId } = await ledger.trackUsage({
    customerId: CUSTOMER,
    feature: 'ai-generation',
    quantity: 1,
  });
  const { holdId } = await ledger.hold({ customerId: CUSTOMER, feature: 'ai-generation', quantity: 1 });
  return { grantId, usageId, holdId };
}

/** What a refusal says, or null for an accepted call. */
type Refusal = { code: string; field: string | undefined } | null;

describe('the library and HTTP refuse the same input the same way', () => {
  let ids: Ids;

  // Ids come from a counter, so every ledger the cases make gives its fixture these same ones.
  beforeAll(async () => {
    const ledger = createLedger({ catalog, store: memoryStore(), ids: counter() });
    ids = await fixture(ledger);
    await ledger.close();
  });

  it.each(CALLS.map((c) => [c.method, c] as const))('%s: one bad field', async (_name, spec) => {
    // Each case runs on fresh ledgers made alike, so an accepted mutation cannot skew the next.
    const bad = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(
        '',
        ' ',
        '1',
        '-1',
        '0',
        '1.234',
        'yesterday',
        'cus 1',
        '__proto__',
        null,
        -1,
        0,
        1.5,
        true,
      ),
    );
    const fields = Object.keys(spec.valid(ids)).filter((f) => !spec.inPath?.includes(f));
    const mutation = fc.oneof(
      fc.tuple(fc.constantFrom(...fields), bad),
      // An unknown field, spelt as a typo would be.
      fc.tuple(fc.constantFrom('idempotency_key', 'expires_at', 'cost', 'customer_id'), bad),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async ([field, value]) => {
        const input = { ...spec.valid(ids), [field]: value };
        const library = createLedger({ catalog, store: memoryStore(), ids: counter() });
        const remote = await startServer({
          ledger: createLedger({ catalog, store: memoryStore(), ids: counter() }),
        });
        try {
          await fixture(library);
          await fixture(remote.ledger);
          const viaLibrary = await refusalOf(() =>
            (library[spec.method] as (i: unknown) => Promise<unknown>).call(library, input),
          );
          const { verb, path } = spec.route(ids);
          const body = Object.fromEntries(Object.entries(input).filter(([k]) => !spec.inPath?.includes(k)));
          const res = await remote.call(verb, path, { body });
          const error = (res.body as { error?: { code: string; field?: string } }).error;
          const viaHttp: Refusal = res.status < 300 ? null : { code: error!.code, field: error!.field };
          expect(viaHttp, `${spec.method} ${JSON.stringify(input)}`).toEqual(viaLibrary);
          if (viaLibrary !== null) expect(res.status).toBe(statusOf(viaLibrary.code));
        } finally {
          await library.close();
          await remote.close();
        }
      }),
      fcOptions({ runs: 40 }),
    );
  });
});

function counter() {
  let n = 0;
  return (kind: string) => `${kind}_${++n}`;
}

async function refusalOf(run: () => Promise<unknown>): Promise<Refusal> {
  try {
    await run();
    return null;
  } catch (error) {
    if (!isTallyError(error)) throw error;
    return { code: error.code, field: error.field };
  }
}
