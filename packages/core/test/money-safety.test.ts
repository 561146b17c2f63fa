import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fcOptions } from '../../../test/support/fast-check.js';
import { allEntries } from '../../../test/support/statement.js';
import { createLedger, defineCatalog, type Ledger } from '../src/index.js';
import { commands } from '../src/pure.js';
import {
  catalog,
  customerWith,
  expectRefused,
  expectTallyError,
  memoryStore,
  setup,
  TestClock,
} from './support.js';

/**
 * The traps a billing library is judged by: each test is named after the money it protects, and
 * failed before the fix it pins.
 */

describe('an early expiry ends spent grants too, so a reversal cannot revive dead credit', () => {
  test.each([
    [
      'cancelSubscription with expireCredits',
      (l: Ledger) => l.cancelSubscription({ customerId: 'cus_1', at: 'now', expireCredits: true }),
    ],
    ['changePlan', (l: Ledger) => l.changePlan({ customerId: 'cus_1', planId: 'weekly' })],
  ])('after %s, a reversal of the usage that spent the plan grant forfeits it', async (_name, end) => {
    const s = setup();
    const sub = await customerWith(s, 'free');
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 10 });
    await end(s.ledger);
    const [grant] = (await s.ledger.grants({ customerId: 'cus_1' })).filter(
      (g) => g.grantId === sub!.grantIds[0],
    );
    expect(grant).toMatchObject({ status: 'expired', remaining: '0' });
    const before = (await s.ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance;
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
    expect(reversed).toMatchObject({ returned: '0', forfeited: '100' });
    expect((await s.ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe(before);
    // The spent grant's expiry moved nothing, so the statement shows no line for it.
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.filter((e) => e.kind === 'expiry' && e.grantId === sub!.grantIds[0])).toEqual([]);
    // And a cold ledger, from the stream alone, agrees.
    expect(await s.cold().grants({ customerId: 'cus_1' })).toEqual(
      await s.ledger.grants({ customerId: 'cus_1' }),
    );
  });
});

describe('a typo never passes silently: every method refuses a field it does not know', () => {
  test('trackUsage with idempotency_key (for idempotencyKey) is refused, so a retry cannot charge twice', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const input = { customerId: 'cus_1', feature: 'ai-generation', quantity: 1, idempotency_key: 'once' };
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage(input as never),
      'invalid_input',
      'idempotency_key',
    );
  });

  test('grant with expires_at (for expiresAt) is refused, so no never-expiring grant is made by mistake', async () => {
    const s = setup();
    await customerWith(s);
    const input = {
      customerId: 'cus_1',
      currency: 'credits',
      amount: '5',
      expires_at: '2020-01-01T00:00:00Z',
    };
    await expectRefused(s.store, () => s.ledger.grant(input as never), 'invalid_input', 'expires_at');
  });

  test('trackUsage with a cost is refused: the catalog prices usage, the caller cannot', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const input = { customerId: 'cus_1', feature: 'ai-generation', quantity: 1, cost: '0' };
    await expectRefused(s.store, () => s.ledger.trackUsage(input as never), 'invalid_input', 'cost');
  });

  test('every method refuses an unknown field beside a valid input, naming it, and writes nothing', async () => {
    const s = setup();
    const sub = await customerWith(s, 'free');
    const c = { customerId: 'cus_1' };
    const { grantId } = await s.ledger.grant({ ...c, currency: 'credits', amount: '5' });
    const { usageId } = await s.ledger.trackUsage({ ...c, feature: 'ai-generation', quantity: 1 });
    const { holdId } = await s.ledger.hold({ ...c, feature: 'ai-generation', quantity: 1 });
    const valid: Record<string, Record<string, unknown>> = {
      createCustomer: { customerId: 'cus_2' },
      subscribe: { ...c, planId: 'weekly' },
      cancelSubscription: { ...c, subscriptionId: sub!.subscriptionId },
      changePlan: { ...c, planId: 'weekly' },
      confirmPayment: {
        ...c,
        subscriptionId: sub!.subscriptionId,
        paymentId: 'p1',
        amount: { amount: '1.00', currency: 'USD' },
      },
      grant: { ...c, currency: 'credits', amount: '5' },
      voidGrant: { ...c, grantId },
      trackUsage: { ...c, feature: 'ai-generation', quantity: 1 },
      reverseUsage: { ...c, usageId },
      hold: { ...c, feature: 'ai-generation', quantity: 1 },
      captureHold: { ...c, holdId },
      releaseHold: { ...c, holdId },
      setCreditLimit: { ...c, currency: 'credits', limit: '5' },
      setBalanceAlert: { ...c, currency: 'credits', thresholds: ['5'] },
      evaluateAlerts: c,
      setAutoTopUp: { ...c, currency: 'credits', threshold: '5', amount: '10' },
      completeAutoTopUp: {
        ...c,
        currency: 'credits',
        requestId: 'r1',
        paymentId: 'p9',
        price: { amount: '1.00', currency: 'USD' },
      },
      failAutoTopUp: { ...c, currency: 'credits', requestId: 'r1', error: 'declined' },
      check: { ...c, feature: 'ai-generation', quantity: 1 },
      customer: c,
      creditAccounts: c,
      entries: c,
      grants: c,
      holds: c,
      subscriptions: c,
      verify: c,
    };
    // Every command is in the table: a new one must be added here too.
    for (const name of Object.keys(commands)) expect(valid).toHaveProperty(name);
    for (const [method, input] of Object.entries(valid)) {
      const call = s.ledger[method as keyof Ledger] as (input: unknown) => Promise<unknown>;
      await expectRefused(
        s.store,
        () => call.call(s.ledger, { ...input, colour: 'red' }),
        'invalid_input',
        'colour',
      );
    }
  });
});

describe('subscribing again never doubles the credits', () => {
  test('the same plan while it runs is already_subscribed, writing nothing; another plan runs beside it', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const error = await expectRefused(
      s.store,
      () => s.ledger.subscribe({ customerId: 'cus_1', planId: 'free' }),
      'already_subscribed',
      'planId',
    );
    expect(error.message).toMatch(/already has plan "free"/);
    const weekly = await s.ledger.subscribe({ customerId: 'cus_1', planId: 'weekly' });
    expect((await s.ledger.subscriptions({ customerId: 'cus_1' })).map((x) => x.planId)).toEqual([
      'free',
      'weekly',
    ]);
    // With two running, cancelling one needs its id.
    await expectTallyError(
      s.ledger.cancelSubscription({ customerId: 'cus_1' }),
      'invalid_input',
      'subscriptionId',
    );
    await s.ledger.cancelSubscription({ customerId: 'cus_1', subscriptionId: weekly.subscriptionId });
    // Once a subscription has ended, the plan may be taken again.
    await s.ledger.cancelSubscription({ customerId: 'cus_1' });
    await s.ledger.subscribe({ customerId: 'cus_1', planId: 'free' });
  });
});

describe('rounding never makes small usage free, nor drifts', () => {
  const tokens = (
    roundOn: 'running_total' | 'each_call',
    rounding: 'half_up' | 'half_even' | 'up' | 'down',
  ) =>
    defineCatalog({
      currencies: [{ code: 'usd', decimals: 2, rounding }],
      features: [{ key: 'tok', cost: { currency: 'usd', perUnit: '0.0015', roundOn } }],
      plans: [],
    });
  /** Minor units of a decimal string. */
  const cents = (amount: string) => Number(amount.replace('.', ''));

  test('one token per call at 0.0015 a token is charged: 1,000 calls cost 1.50, not 0.00', async () => {
    const ledger = createLedger({ catalog: tokens('running_total', 'half_up'), store: memoryStore() });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '10.00' });
    for (let i = 0; i < 1000; i++)
      await ledger.trackUsage({ customerId: 'cus_1', feature: 'tok', quantity: 1 });
    expect((await ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('8.50');
  });

  test('per-call rounding stays available: each call is rounded on its own', async () => {
    const ledger = createLedger({ catalog: tokens('each_call', 'half_up'), store: memoryStore() });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '10.00' });
    for (let i = 0; i < 10; i++)
      await ledger.trackUsage({ customerId: 'cus_1', feature: 'tok', quantity: 1 });
    expect((await ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('10.00');
  });

  test('over random usage and reversals, what stays charged is the exact total rounded once, within one cent', async () => {
    const rounding = fc.constantFrom(
      'half_up' as const,
      'half_even' as const,
      'up' as const,
      'down' as const,
    );
    const call = fc.record({
      quantity: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0.01, max: 50, noNaN: true })),
      reverse: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(rounding, fc.array(call, { minLength: 1, maxLength: 40 }), async (rule, calls) => {
        const ledger = createLedger({ catalog: tokens('running_total', rule), store: memoryStore() });
        await ledger.createCustomer({ customerId: 'cus_1' });
        await ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '1000000.00' });
        let exact = 0;
        let charged = 0;
        for (const { quantity, reverse } of calls) {
          const usage = await ledger.trackUsage({ customerId: 'cus_1', feature: 'tok', quantity });
          // Cents charged always equal what the account lost, and never below zero.
          expect(cents(usage.cost)).toBeGreaterThanOrEqual(0);
          if (reverse) {
            const reversal = await ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
            // A reversal gives back exactly what was charged.
            expect(reversal.returned).toBe(usage.cost);
          } else {
            exact += Number(usage.exactCost) * 100;
            charged += cents(usage.cost);
          }
        }
        const balance = cents((await ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance);
        expect(100_000_000 - balance).toBe(charged);
        expect(Math.abs(charged - Math.round(exact))).toBeLessThanOrEqual(1);
      }),
      fcOptions({ runs: 150 }),
    );
  });
});

describe('messages that say what to do', () => {
  test('a time without an offset is refused saying that an offset is required', async () => {
    const s = setup();
    await customerWith(s);
    const error = await expectTallyError(
      s.ledger.grant({
        customerId: 'cus_1',
        currency: 'credits',
        amount: '1',
        expiresAt: '2026-12-01T10:00',
      }),
      'invalid_time',
      'expiresAt',
    );
    expect(error.message).toMatch(/no offset.*Z for UTC/);
  });

  test('an impossible date and a non-time get different messages; null means none', async () => {
    const s = setup();
    await customerWith(s);
    const impossible = await expectTallyError(
      s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1', expiresAt: '2027-02-30' }),
      'invalid_time',
    );
    const notATime = await expectTallyError(
      s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1', expiresAt: 5 as never }),
      'invalid_time',
    );
    expect(impossible.message).toMatch(/not a calendar date/);
    expect(notATime.message).not.toBe(impossible.message);
    const none = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '1',
      expiresAt: null,
    });
    expect(none.expiresAt).toBeNull();
  });

  test('a catalog error names its field once', () => {
    let message = '';
    try {
      defineCatalog({
        currencies: [{ code: 'c', decimals: 0 }],
        features: [],
        plans: [{ id: 'p', interval: 'month', grants: [{ currency: 'c', amount: '1.5' }] }],
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('plans[0].grants[0].amount')).toHaveLength(2);
  });

  test('a call after close() is ledger_closed, not a store failure', async () => {
    const ledger = createLedger({ catalog, store: memoryStore(), clock: new TestClock().now });
    await ledger.close();
    await expectTallyError(ledger.createCustomer({ customerId: 'cus_1' }), 'ledger_closed');
    await expectTallyError(ledger.creditAccounts({ customerId: 'cus_1' }), 'ledger_closed');
  });
});
