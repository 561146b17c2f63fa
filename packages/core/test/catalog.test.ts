import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { type CatalogInput, createLedger, defineCatalog } from '../src/index.js';
import { catalog, expectTallyError, memoryStore, TestClock } from './support.js';

// biome-ignore lint/suspicious/noExplicitAny: these cases feed the API what its types forbid
type Loose = any;

const valid: CatalogInput = {
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
};

/** `valid` with one part replaced. */
const withPart = (part: Partial<CatalogInput>): CatalogInput => ({ ...valid, ...part });

describe('defineCatalog', () => {
  test('fills the defaults: half_up rounding, priority 50, expiry at cycle end, no rollover, no price', () => {
    const c = defineCatalog(valid);
    expect(c.currencies.get('credits')).toEqual({ code: 'credits', decimals: 0, rounding: 'half_up' });
    expect(c.features.get('ai-generation')).toEqual({
      key: 'ai-generation',
      currency: 'credits',
      perUnit: '10',
      roundOn: 'running_total',
    });
    expect(c.plans.get('free')).toEqual({
      id: 'free',
      version: 1,
      archived: false,
      price: null,
      interval: 'month',
      gracePeriodDays: 0,
      grants: [
        {
          currency: 'credits',
          amount: '100',
          priority: 50,
          expires: 'cycle_end',
          rollover: null,
          appliesTo: null,
        },
      ],
    });
  });

  test('freezes what it returns', () => {
    const c = defineCatalog(valid);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.plans.get('free'))).toBe(true);
    expect(Object.isFrozen(c.plans.get('free')!.grants[0])).toBe(true);
    expect(Object.isFrozen(c.currencies.get('credits'))).toBe(true);
  });

  test('accepts several currencies, each with its decimals and rounding, and every interval', () => {
    const c = defineCatalog({
      currencies: [
        { code: 'credits', decimals: 0 },
        { code: 'usd', decimals: 2, rounding: 'half_even' },
        { code: 'wei', decimals: 18, rounding: 'down' },
      ],
      features: [{ key: 'tokens', cost: { currency: 'usd', perUnit: '0.000015' } }],
      plans: (['day', 'week', 'month', 'year'] as const).map((interval) => ({
        id: interval,
        interval,
        grants: [{ currency: 'usd', amount: '1.50', rollover: { max: '0.50' } }],
      })),
    });
    expect(c.currencies.get('wei')!.decimals).toBe(18);
    expect(c.plans.size).toBe(4);
  });

  const bad: [string, CatalogInput, string][] = [
    [
      'a decimals above 18',
      withPart({ currencies: [{ code: 'credits', decimals: 19 }] }),
      'currencies[0].decimals',
    ],
    [
      'fractional decimals',
      withPart({ currencies: [{ code: 'credits', decimals: 1.5 }] }),
      'currencies[0].decimals',
    ],
    [
      'an unknown rounding',
      withPart({ currencies: [{ code: 'credits', decimals: 0, rounding: 'nearest' as Loose }] }),
      'currencies[0].rounding',
    ],
    [
      'a duplicate currency',
      withPart({
        currencies: [
          { code: 'credits', decimals: 0 },
          { code: 'credits', decimals: 2 },
        ],
      }),
      'currencies[1].code',
    ],
    [
      'a bad currency code',
      withPart({ currencies: [{ code: 'cr edits', decimals: 0 }] }),
      'currencies[0].code',
    ],
    [
      'a feature in an unknown currency',
      withPart({ features: [{ key: 'ai-generation', cost: { currency: 'gold', perUnit: '1' } }] }),
      'features[0].cost.currency',
    ],
    [
      'a negative perUnit',
      withPart({ features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '-1' } }] }),
      'features[0].cost.perUnit',
    ],
    [
      'a numeric perUnit',
      withPart({ features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: 10 as Loose } }] }),
      'features[0].cost.perUnit',
    ],
    [
      'a duplicate feature',
      withPart({
        features: [
          { key: 'x', cost: { currency: 'credits', perUnit: '1' } },
          { key: 'x', cost: { currency: 'credits', perUnit: '2' } },
        ],
      }),
      'features[1].key',
    ],
    [
      'an unknown interval',
      withPart({ plans: [{ id: 'free', interval: 'fortnight' as Loose, grants: [] }] }),
      'plans[0].interval',
    ],
    [
      'a grant amount finer than its currency',
      withPart({
        plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '1.5' }] }],
      }),
      'plans[0].grants[0].amount',
    ],
    [
      'a negative priority',
      withPart({
        plans: [
          { id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '1', priority: -1 }] },
        ],
      }),
      'plans[0].grants[0].priority',
    ],
    [
      'an unknown expiry',
      withPart({
        plans: [
          {
            id: 'free',
            interval: 'month',
            grants: [{ currency: 'credits', amount: '1', expires: 'soon' as Loose }],
          },
        ],
      }),
      'plans[0].grants[0].expires',
    ],
    [
      'a rollover on credits that never expire',
      withPart({
        plans: [
          {
            id: 'free',
            interval: 'month',
            grants: [{ currency: 'credits', amount: '1', expires: 'never', rollover: { max: '1' } }],
          },
        ],
      }),
      'plans[0].grants[0].rollover',
    ],
    [
      'a rollover max finer than its currency',
      withPart({
        plans: [
          {
            id: 'free',
            interval: 'month',
            grants: [{ currency: 'credits', amount: '1', rollover: { max: '0.5' } }],
          },
        ],
      }),
      'plans[0].grants[0].rollover.max',
    ],
    [
      'a plan grant in an unknown currency',
      withPart({ plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'gold', amount: '1' }] }] }),
      'plans[0].grants[0].currency',
    ],
    [
      'a duplicate plan',
      withPart({
        plans: [
          { id: 'free', interval: 'month', grants: [] },
          { id: 'free', interval: 'year', grants: [] },
        ],
      }),
      'plans[1].id',
    ],
    ['currencies that are not a list', withPart({ currencies: {} as Loose }), 'currencies'],
  ];

  test.each(bad)('refuses %s with invalid_catalog naming the field', async (_name, input, field) => {
    const error = await expectTallyError(() => defineCatalog(input), 'invalid_catalog', field);
    expect(error.message).toContain(field);
  });
});

describe('events are facts: replay never consults the catalog', () => {
  test('a subscription keeps the plan terms it was activated with, even under a changed catalog', async () => {
    const store = memoryStore();
    const clock = new TestClock();
    const before = createLedger({ catalog, store, clock: clock.now });
    await before.createCustomer({ customerId: 'cus_1' });
    await before.subscribe({ customerId: 'cus_1', planId: 'free' });
    await before.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });

    // The same ids, different terms: the free plan now grants 500 and ai-generation costs 99.
    const changed = defineCatalog({
      currencies: [{ code: 'credits', decimals: 0 }],
      features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '99' } }],
      plans: [{ id: 'free', interval: 'week', grants: [{ currency: 'credits', amount: '500' }] }],
    });
    const after = createLedger({ catalog: changed, store, clock: clock.now });
    expect((await after.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('90');
    clock.set('2025-03-01T00:00:00.000Z'); // past the Feb 28 renewal of the original monthly plan
    const grants = await after.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grants.map((g) => [g.amount, g.effectiveAt])).toEqual([
      ['100', '2025-01-31T10:00:00.000Z'],
      ['100', '2025-02-28T10:00:00.000Z'],
    ]);
    const entries = await allEntries(after, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.find((e) => e.kind === 'usage')!.amount).toBe('-10');
  });
});

describe('limits', () => {
  test('a plan with more than 100 grant rules is refused, naming the plan', () => {
    const grants = Array.from({ length: 101 }, () => ({ currency: 'credits', amount: '1' }));
    expect(() =>
      defineCatalog({
        currencies: [{ code: 'credits', decimals: 0 }],
        features: [],
        plans: [{ id: 'huge', interval: 'month', grants }],
      }),
    ).toThrow(expect.objectContaining({ code: 'invalid_catalog', field: 'plans[0].grants' }));
  });
});
