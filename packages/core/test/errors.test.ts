import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  ConcurrencyConflictError,
  createLedger,
  defineCatalog,
  type EventStore,
  type Ledger,
  TALLY_ERROR_CODES,
  TallyError,
  type TallyErrorCode,
} from '../src/index.js';
import {
  catalog,
  DAY,
  expectTallyError,
  iso,
  memoryStore,
  sameEvents,
  setup,
  T0,
  TestClock,
} from './support.js';

/**
 * One fixture with something of everything: a customer on the free plan with a reversed usage, a
 * released hold, a canceled subscription, an active hold, and a second active subscription.
 */
async function fixture() {
  const s = setup();
  const id = { customerId: 'cus_1' };
  await s.ledger.createCustomer(id);
  const ended = await s.ledger.subscribe({ ...id, planId: 'weekly' });
  await s.ledger.cancelSubscription({ ...id, subscriptionId: ended.subscriptionId });
  await s.ledger.subscribe({ ...id, planId: 'free' });
  await s.ledger.subscribe({ ...id, planId: 'daily' });
  const usage = await s.ledger.trackUsage({
    ...id,
    feature: 'ai-generation',
    quantity: 1,
    idempotencyKey: 'once',
  });
  await s.ledger.reverseUsage({ ...id, usageId: usage.usageId });
  const released = await s.ledger.hold({ ...id, feature: 'ai-generation', quantity: 1 });
  await s.ledger.releaseHold({ ...id, holdId: released.holdId });
  const amountHold = await s.ledger.hold({ ...id, currency: 'credits', amount: '5' });
  s.clock.advance(1000);
  return { ...s, id, ended, usage, released, amountHold };
}
type Fixture = Awaited<ReturnType<typeof fixture>>;

// biome-ignore lint/suspicious/noExplicitAny: these cases feed the API what its types forbid
type Loose = any;

const cases: [TallyErrorCode, string | undefined, string, (f: Fixture) => Promise<unknown>][] = [
  [
    'invalid_input',
    'input',
    'a write input that is not an object',
    (f) => f.ledger.createCustomer(null as Loose),
  ],
  ['invalid_input', 'input', 'a read input that is not an object', (f) => f.ledger.entries('cus_1' as Loose)],
  [
    'invalid_input',
    'at',
    'an unknown cancel mode',
    (f) => f.ledger.cancelSubscription({ ...f.id, at: 'later' as Loose }),
  ],
  [
    'invalid_input',
    'expireCredits',
    'a non-boolean expireCredits',
    (f) => f.ledger.cancelSubscription({ ...f.id, expireCredits: 'yes' as Loose }),
  ],
  [
    'invalid_input',
    'feature',
    'a hold of a currency with a quantity instead of an amount',
    (f) => f.ledger.hold({ ...f.id, currency: 'credits', quantity: 1 } as Loose),
  ],
  [
    'invalid_input',
    'currency',
    'a hold of a feature with an amount instead of a quantity',
    (f) => f.ledger.hold({ ...f.id, feature: 'ai-generation', amount: '10' } as Loose),
  ],
  [
    'invalid_input',
    'subscriptionId',
    'no subscriptionId with several active subscriptions',
    (f) => f.ledger.cancelSubscription(f.id),
  ],
  [
    'invalid_input',
    'priority',
    'a fractional priority',
    (f) => f.ledger.grant({ ...f.id, currency: 'credits', amount: '1', priority: 1.5 }),
  ],
  [
    'invalid_input',
    'source',
    'an unknown grant source',
    (f) => f.ledger.grant({ ...f.id, currency: 'credits', amount: '1', source: 'gift' as Loose }),
  ],
  [
    'invalid_input',
    'metadata.n',
    'a metadata value that is not a string',
    (f) =>
      f.ledger.trackUsage({ ...f.id, feature: 'ai-generation', quantity: 1, metadata: { n: 1 } as Loose }),
  ],
  [
    'invalid_input',
    'idempotencyKey',
    'an empty idempotency key',
    (f) => f.ledger.trackUsage({ ...f.id, feature: 'ai-generation', quantity: 1, idempotencyKey: '' }),
  ],
  [
    'invalid_input',
    'feature',
    'a hold with both a feature and a currency',
    (f) =>
      f.ledger.hold({ ...f.id, feature: 'ai-generation', quantity: 1, currency: 'credits', amount: '1' }),
  ],
  [
    'invalid_input',
    'amount',
    'a capture with both quantity and amount',
    (f) => f.ledger.captureHold({ ...f.id, holdId: f.amountHold.holdId, quantity: 1, amount: '1' }),
  ],
  [
    'invalid_input',
    'quantity',
    'a capture by quantity of an amount hold',
    (f) => f.ledger.captureHold({ ...f.id, holdId: f.amountHold.holdId, quantity: 1 }),
  ],
  [
    'invalid_input',
    'reason',
    'a reason that is not text',
    (f) => f.ledger.voidGrant({ ...f.id, grantId: 'g', reason: 5 as Loose }),
  ],
  [
    'invalid_amount',
    'amount',
    'an amount finer than the currency',
    (f) => f.ledger.grant({ ...f.id, currency: 'usd', amount: '1.234' }),
  ],
  [
    'invalid_amount',
    'amount',
    'a zero grant',
    (f) => f.ledger.grant({ ...f.id, currency: 'usd', amount: '0' }),
  ],
  [
    'invalid_amount',
    'limit',
    'a negative limit',
    (f) => f.ledger.setCreditLimit({ ...f.id, currency: 'credits', limit: '-1' }),
  ],
  [
    'invalid_amount',
    'amount',
    'a hold amount that is not a number',
    (f) => f.ledger.hold({ ...f.id, currency: 'credits', amount: 'x' }),
  ],
  [
    'invalid_quantity',
    'quantity',
    'a zero quantity',
    (f) => f.ledger.trackUsage({ ...f.id, feature: 'ai-generation', quantity: 0 }),
  ],
  [
    'invalid_quantity',
    'quantity',
    'a negative check',
    (f) => f.ledger.check({ ...f.id, feature: 'ai-generation', quantity: -1 }),
  ],
  [
    'invalid_quantity',
    'quantity',
    'a NaN hold',
    (f) => f.ledger.hold({ ...f.id, feature: 'ai-generation', quantity: Number.NaN }),
  ],
  [
    'invalid_time',
    'effectiveAt',
    'an effectiveAt that is not a time',
    (f) => f.ledger.grant({ ...f.id, currency: 'credits', amount: '1', effectiveAt: 'tomorrow' }),
  ],
  [
    'invalid_time',
    'effectiveAt',
    'an effectiveAt in the past',
    (f) => f.ledger.grant({ ...f.id, currency: 'credits', amount: '1', effectiveAt: iso(T0) }),
  ],
  [
    'invalid_time',
    'expiresAt',
    'a grant expiring in the past',
    (f) => f.ledger.grant({ ...f.id, currency: 'credits', amount: '1', expiresAt: iso(T0) }),
  ],
  [
    'invalid_time',
    'expiresAt',
    'a hold expiring in the past',
    (f) => f.ledger.hold({ ...f.id, feature: 'ai-generation', quantity: 1, expiresAt: iso(T0) }),
  ],
  [
    'invalid_time',
    'at',
    'a read at an invalid date',
    (f) => f.ledger.grants({ ...f.id, at: new Date(Number.NaN) }),
  ],
  [
    'invalid_id',
    'customerId',
    'a customer id with a space',
    (f) => f.ledger.createCustomer({ customerId: 'cus 1' }),
  ],
  [
    'invalid_id',
    'customerId',
    'a customer id of 129 characters',
    (f) => f.ledger.createCustomer({ customerId: 'c'.repeat(129) }),
  ],
  ['invalid_id', 'customerId', 'a read with no customer id', (f) => f.ledger.creditAccounts({} as Loose)],
  [
    'invalid_id',
    'subscriptionId',
    'an empty subscription id',
    (f) => f.ledger.cancelSubscription({ ...f.id, subscriptionId: '' }),
  ],
  [
    'unknown_customer',
    'customerId',
    'usage of an unknown customer',
    (f) => f.ledger.trackUsage({ customerId: 'cus_404', feature: 'ai-generation', quantity: 1 }),
  ],
  [
    'unknown_customer',
    'customerId',
    'a read of an unknown customer',
    (f) => f.ledger.creditAccounts({ customerId: 'cus_404' }),
  ],
  [
    'unknown_customer',
    'customerId',
    'a check of an unknown customer',
    (f) => f.ledger.check({ customerId: 'cus_404', feature: 'ai-generation', quantity: 1 }),
  ],
  [
    'unknown_feature',
    'feature',
    'usage of an unknown feature',
    (f) => f.ledger.trackUsage({ ...f.id, feature: 'teleport', quantity: 1 }),
  ],
  [
    'unknown_feature',
    'feature',
    'a malformed feature key',
    (f) => f.ledger.trackUsage({ ...f.id, feature: 'tele port', quantity: 1 }),
  ],
  [
    'unknown_feature',
    'feature',
    'a check of an unknown feature',
    (f) => f.ledger.check({ ...f.id, feature: 'teleport', quantity: 1 }),
  ],
  [
    'unknown_feature',
    'feature',
    'a hold of an unknown feature',
    (f) => f.ledger.hold({ ...f.id, feature: 'teleport', quantity: 1 }),
  ],
  [
    'unknown_plan',
    'planId',
    'subscribing to an unknown plan',
    (f) => f.ledger.subscribe({ ...f.id, planId: 'gold' }),
  ],
  [
    'unknown_plan',
    'planId',
    'changing to an unknown plan',
    (f) => f.ledger.changePlan({ ...f.id, planId: 'gold' }),
  ],
  [
    'unknown_currency',
    'currency',
    'a grant in an unknown currency',
    (f) => f.ledger.grant({ ...f.id, currency: 'gold', amount: '1' }),
  ],
  [
    'unknown_currency',
    'currency',
    'a limit in an unknown currency',
    (f) => f.ledger.setCreditLimit({ ...f.id, currency: 'gold', limit: '1' }),
  ],
  [
    'unknown_currency',
    'currency',
    'a hold in an unknown currency',
    (f) => f.ledger.hold({ ...f.id, currency: 'gold', amount: '1' }),
  ],
  [
    'unknown_currency',
    'currency',
    'entries of an unknown currency',
    (f) => f.ledger.entries({ ...f.id, currency: 'gold' }),
  ],
  [
    'unknown_subscription',
    'subscriptionId',
    'canceling an unknown subscription',
    (f) => f.ledger.cancelSubscription({ ...f.id, subscriptionId: 'sub_nope' }),
  ],
  [
    'unknown_grant',
    'grantId',
    'voiding an unknown grant',
    (f) => f.ledger.voidGrant({ ...f.id, grantId: 'grant_nope' }),
  ],
  [
    'unknown_usage',
    'usageId',
    'reversing an unknown usage',
    (f) => f.ledger.reverseUsage({ ...f.id, usageId: 'usage_nope' }),
  ],
  [
    'unknown_hold',
    'holdId',
    'releasing an unknown hold',
    (f) => f.ledger.releaseHold({ ...f.id, holdId: 'hold_nope' }),
  ],
  [
    'unknown_hold',
    'holdId',
    'capturing an unknown hold',
    (f) => f.ledger.captureHold({ ...f.id, holdId: 'hold_nope' }),
  ],
  ['customer_exists', 'customerId', 'creating a customer twice', (f) => f.ledger.createCustomer(f.id)],
  [
    'subscription_inactive',
    'subscriptionId',
    'canceling an ended subscription',
    (f) => f.ledger.cancelSubscription({ ...f.id, subscriptionId: f.ended.subscriptionId }),
  ],
  [
    'usage_already_reversed',
    'usageId',
    'reversing a usage twice',
    (f) => f.ledger.reverseUsage({ ...f.id, usageId: f.usage.usageId }),
  ],
  [
    'hold_not_active',
    'holdId',
    'releasing a released hold',
    (f) => f.ledger.releaseHold({ ...f.id, holdId: f.released.holdId }),
  ],
  [
    'hold_not_active',
    'holdId',
    'capturing a released hold',
    (f) => f.ledger.captureHold({ ...f.id, holdId: f.released.holdId }),
  ],
  [
    'insufficient_credits',
    undefined,
    'usage beyond the balance',
    (f) => f.ledger.trackUsage({ ...f.id, feature: 'ai-generation', quantity: 100 }),
  ],
  [
    'insufficient_credits',
    undefined,
    'a hold beyond the balance',
    (f) => f.ledger.hold({ ...f.id, currency: 'credits', amount: '1000' }),
  ],
  [
    'insufficient_credits',
    undefined,
    'a capture beyond the hold and the balance',
    (f) => f.ledger.captureHold({ ...f.id, holdId: f.amountHold.holdId, amount: '1000' }),
  ],
  [
    'idempotency_conflict',
    'idempotencyKey',
    'a key reused with another payload',
    (f) => f.ledger.trackUsage({ ...f.id, feature: 'ai-generation', quantity: 2, idempotencyKey: 'once' }),
  ],
];

describe('every refusal has a stable code, names the field, and writes nothing', () => {
  test.each(cases)('%s (%s): %s', async (code, field, _name, run) => {
    const f = await fixture();
    const before = await f.store.readAll();
    const error = await expectTallyError(() => run(f), code);
    expect(error).toBeInstanceOf(TallyError);
    expect(error.field).toBe(field);
    if (field !== undefined) {
      // The field itself, or the thing it identifies ('subscription' for subscriptionId).
      const named = field.split('.')[0]!.replace(/Id$/, '').toLowerCase();
      expect(error.message.toLowerCase().replace(/[^a-z]/g, '')).toContain(named);
    }
    expect(error.toJSON()).toMatchObject({ code, message: error.message });
    expect(sameEvents(before, await f.store.readAll())).toBe(true);
  });

  test('insufficient_credits carries the cost and what was available', async () => {
    const f = await fixture();
    const error = await expectTallyError(
      () => f.ledger.trackUsage({ ...f.id, feature: 'ai-generation', quantity: 100 }),
      'insufficient_credits',
    );
    // weekly 50 (canceled, still usable this cycle) + free 100 + daily 10 - 5 held
    expect(error.details).toEqual({ cost: '1000', available: '155', currency: 'credits' });
  });

  test('invalid_catalog names the catalog field', async () => {
    const error = await expectTallyError(
      () => defineCatalog({ currencies: [{ code: 'x', decimals: -1 }], features: [], plans: [] }),
      'invalid_catalog',
      'currencies[0].decimals',
    );
    expect(error.message).toContain('currencies[0].decimals');
  });
});

/** A memory store whose appends always lose the race. */
function alwaysConflicting(inner: EventStore): EventStore {
  return {
    ...inner,
    append: async (streamId, _events, options) => {
      throw new ConcurrencyConflictError(streamId, options.expectedVersion, options.expectedVersion + 1);
    },
  };
}

describe('store-level refusals', () => {
  test('concurrency_conflict after maxAttempts lost races, nothing written', async () => {
    const inner = memoryStore();
    const ledger = createLedger({
      catalog,
      store: alwaysConflicting(inner),
      clock: new TestClock().now,
      maxAttempts: 2,
    });
    await expectTallyError(ledger.createCustomer({ customerId: 'cus_1' }), 'concurrency_conflict');
    expect(await inner.readAll()).toEqual([]);
  });

  async function withStored(
    type: string,
    schemaVersion: number,
    data: Record<string, unknown>,
  ): Promise<Ledger> {
    const store = memoryStore();
    const clock = new TestClock();
    const ledger = createLedger({ catalog, store, clock: clock.now });
    await ledger.createCustomer({ customerId: 'cus_1' });
    const [first] = await store.readAll();
    await store.append(
      first!.streamId,
      [{ id: 'evt_bad', type, schemaVersion, at: iso(T0 + DAY), data, metadata: {} }],
      { expectedVersion: 1 },
    );
    return createLedger({ catalog, store, clock: clock.now });
  }

  test('unknown_event for an event type this version does not know', async () => {
    const ledger = await withStored('credits_teleported', 1, {});
    const error = await expectTallyError(ledger.creditAccounts({ customerId: 'cus_1' }), 'unknown_event');
    expect(error.details).toMatchObject({ eventId: 'evt_bad', type: 'credits_teleported' });
  });

  test('corrupt_stream for an event that breaks an invariant, naming the event', async () => {
    const ledger = await withStored('credits_deducted', 2, {
      usageId: 'usage_x',
      currency: 'credits',
      feature: 'ai-generation',
      quantity: 1,
      cost: '10',
      allocations: [{ grantId: 'grant_never_granted', amount: '10' }],
      debt: '0',
      holdId: null,
      metadata: {},
    });
    const error = await expectTallyError(ledger.creditAccounts({ customerId: 'cus_1' }), 'corrupt_stream');
    expect(error.message).toContain('evt_bad');
    // Writes are refused too rather than built on a corrupt history.
    await expectTallyError(
      ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1' }),
      'corrupt_stream',
    );
  });

  test('corrupt_stream for a stream whose versions jump', async () => {
    const inner = memoryStore();
    const s = setup({ store: inner });
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1' });
    const gappy: EventStore = {
      ...inner,
      readStream: async (streamId, options) =>
        (await inner.readStream(streamId, options)).map((e) => (e.version === 2 ? { ...e, version: 3 } : e)),
    };
    const cold = createLedger({ catalog, store: gappy, clock: s.clock.now });
    await expectTallyError(cold.creditAccounts({ customerId: 'cus_1' }), 'corrupt_stream');
  });
});

describe('the README', () => {
  test('lists every error code under Errors', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('### Options of'));
    expect(TALLY_ERROR_CODES.filter((code) => !section.includes(`\`${code}\``))).toEqual([]);
  });
});
