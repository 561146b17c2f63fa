import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { createLedger, type EventStore, type Ledger } from '../src/index.js';
import { DAY, expectRefused, expectTallyError, HOUR, memoryStore, T0, TestClock } from './support.js';

/** A ledger whose catalog lives in `store`, with a clock the test moves. */
function storedLedger(store: EventStore = memoryStore(), clock = new TestClock()) {
  return { ledger: createLedger({ store, clock: clock.now }), store, clock };
}

/** The quickstart's catalog, built through the API. */
async function quickstartCatalog(ledger: Ledger) {
  await ledger.defineCurrency({ code: 'credits', decimals: 0 });
  await ledger.defineFeature({ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } });
  await ledger.definePlan({
    id: 'free',
    interval: 'month',
    grants: [{ currency: 'credits', amount: '100' }],
  });
}

const statement = async (ledger: Ledger, customerId = 'cus_123') =>
  (await allEntries(ledger, { customerId, currency: 'credits' })).map((e) => [e.kind, e.amount, e.balance]);

describe('a catalog kept in the store', () => {
  test('is built through the API from an empty store, and runs the walkthrough', async () => {
    const { ledger } = storedLedger();
    await quickstartCatalog(ledger);
    await ledger.createCustomer({ customerId: 'cus_123' });
    await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
    await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
    expect(await statement(ledger)).toEqual([
      ['grant', '100', '100'],
      ['usage', '-10', '90'],
    ]);
    const catalog = await ledger.catalog();
    expect(catalog.version).toBe(3);
    expect(catalog.plans.map((p) => [p.id, p.version])).toEqual([['free', 1]]);
  });

  test('prices usage by the price in force at its instant, and records the catalog version it used', async () => {
    const { ledger, store, clock } = storedLedger();
    await quickstartCatalog(ledger);
    await ledger.createCustomer({ customerId: 'cus_123' });
    await ledger.grant({ customerId: 'cus_123', currency: 'credits', amount: '1000' });
    const changesAt = T0 + DAY;
    await ledger.updateFeature({ key: 'ai-generation', perUnit: '12', effectiveAt: new Date(changesAt) });
    const before = await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
    clock.set(changesAt);
    const after = await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
    expect([before.cost, after.cost]).toEqual(['10', '12']);
    const deductions = (await store.readStream('customer-cus_123')).filter(
      (e) => e.type === 'credits_deducted',
    );
    expect(deductions.map((e) => e.data.catalogVersion)).toEqual([4, 4]);
    // The catalog reads as of an instant too: yesterday's price, then today's.
    expect((await ledger.catalog({ at: new Date(changesAt - 1) })).features[0]!.perUnit).toBe('10');
    expect((await ledger.catalog({ at: new Date(changesAt) })).features[0]!.perUnit).toBe('12');
  });

  test('another process sees a price change at its next write, without a restart', async () => {
    const store = memoryStore();
    const clock = new TestClock();
    const a = createLedger({ store, clock: clock.now });
    const b = createLedger({ store, clock: clock.now });
    await quickstartCatalog(a);
    await b.createCustomer({ customerId: 'cus_123' });
    await b.grant({ customerId: 'cus_123', currency: 'credits', amount: '1000' });
    expect((await b.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })).cost).toBe(
      '10',
    );
    clock.advance(1000);
    await a.updateFeature({ key: 'ai-generation', perUnit: '7' });
    clock.advance(1000);
    // b's cached catalog is one version behind: its append is refused by the guard, and it decides again.
    expect((await b.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })).cost).toBe(
      '7',
    );
    expect((await b.check({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })).cost).toBe('7');
  });

  test('a plan version for new subscriptions leaves running ones alone; one for renewals is adopted at the next renewal', async () => {
    const { ledger, clock } = storedLedger();
    await quickstartCatalog(ledger);
    await ledger.createCustomer({ customerId: 'old' });
    await ledger.subscribe({ customerId: 'old', planId: 'free' });
    await ledger.publishPlanVersion({
      planId: 'free',
      interval: 'month',
      grants: [{ currency: 'credits', amount: '150' }],
    });
    await ledger.createCustomer({ customerId: 'new' });
    const fresh = await ledger.subscribe({ customerId: 'new', planId: 'free' });
    expect(fresh.planVersion).toBe(2);
    clock.advance(31 * DAY);
    const renewed = async (customerId: string) =>
      (await ledger.grants({ customerId, currency: 'credits' })).map((g) => g.amount);
    expect(await renewed('old')).toEqual(['100', '100']);
    expect(await renewed('new')).toEqual(['150', '150']);
    await ledger.publishPlanVersion({
      planId: 'free',
      interval: 'month',
      grants: [{ currency: 'credits', amount: '200' }],
      appliesTo: 'renewals',
    });
    clock.advance(31 * DAY);
    expect(await renewed('old')).toEqual(['100', '100', '200']);
    const [sub] = await ledger.subscriptions({ customerId: 'old' });
    expect(sub!.planVersion).toBe(3);
    // A version for renewals cannot change the interval: cycles are counted in it.
    await expectTallyError(
      ledger.publishPlanVersion({ planId: 'free', interval: 'week', grants: [], appliesTo: 'renewals' }),
      'invalid_catalog',
      'interval',
    );
  });

  test('an archived plan takes no new subscriptions; running ones renew', async () => {
    const { ledger, clock } = storedLedger();
    await quickstartCatalog(ledger);
    await ledger.createCustomer({ customerId: 'a' });
    await ledger.subscribe({ customerId: 'a', planId: 'free' });
    await ledger.archivePlan({ planId: 'free' });
    await ledger.createCustomer({ customerId: 'b' });
    await expectTallyError(ledger.subscribe({ customerId: 'b', planId: 'free' }), 'plan_archived', 'planId');
    clock.advance(31 * DAY);
    expect(await ledger.grants({ customerId: 'a', currency: 'credits' })).toHaveLength(2);
  });

  test('refuses a change that would rewrite history, or take effect in the past, and writes nothing', async () => {
    const { ledger, store } = storedLedger();
    await quickstartCatalog(ledger);
    await expectRefused(
      store,
      () => ledger.defineCurrency({ code: 'credits', decimals: 2 }),
      'invalid_catalog',
      'decimals',
    );
    await expectRefused(
      store,
      () => ledger.defineFeature({ key: 'img', cost: { currency: 'euro', perUnit: '1' } }),
      'invalid_catalog',
      'cost.currency',
    );
    await expectRefused(
      store,
      () => ledger.updateFeature({ key: 'ai-generation', perUnit: '9', effectiveAt: new Date(T0 - HOUR) }),
      'invalid_time',
      'effectiveAt',
    );
    await expectRefused(
      store,
      () => ledger.defineCurrency({ code: 'x', decimals: 2, colour: 'red' } as never),
      'invalid_catalog',
      'colour',
    );
    // The same definition again is no change: it writes nothing.
    const before = (await store.readAll()).length;
    await ledger.defineCurrency({ code: 'credits', decimals: 0 });
    await ledger.definePlan({
      id: 'free',
      interval: 'month',
      grants: [{ currency: 'credits', amount: '100' }],
    });
    expect(await store.readAll()).toHaveLength(before);
  });

  test('syncCatalog brings a catalog from code in, idempotently, and refuses to change a used currency', async () => {
    const { ledger, store, clock } = storedLedger();
    const code = {
      currencies: [{ code: 'credits', decimals: 0 }],
      features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
      plans: [{ id: 'free', interval: 'month' as const, grants: [{ currency: 'credits', amount: '100' }] }],
    };
    await ledger.syncCatalog(code);
    const once = (await store.readAll()).length;
    await ledger.syncCatalog(code);
    expect(await store.readAll()).toHaveLength(once);
    clock.advance(HOUR);
    const repriced = await ledger.syncCatalog({
      ...code,
      features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '11' } }],
    });
    expect(repriced.features[0]!.perUnit).toBe('11');
    expect(await store.readAll()).toHaveLength(once + 1);
    await expectRefused(
      store,
      () => ledger.syncCatalog({ ...code, currencies: [{ code: 'credits', decimals: 2 }] }),
      'invalid_catalog',
      'currencies[0].decimals',
    );
  });

  test('a ledger with a catalog in code refuses catalog changes', async () => {
    const { catalog } = await import('./support.js');
    const ledger = createLedger({ catalog, store: memoryStore() });
    await expectTallyError(ledger.defineCurrency({ code: 'x', decimals: 0 }), 'invalid_catalog');
    expect((await ledger.catalog()).version).toBe(0);
  });

  test('a cold ledger replays customers priced by many catalog versions to the same books', async () => {
    const { ledger, store, clock } = storedLedger();
    await quickstartCatalog(ledger);
    await ledger.createCustomer({ customerId: 'cus_123' });
    await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
    for (let i = 1; i <= 20; i++) {
      clock.advance(HOUR);
      await ledger.updateFeature({ key: 'ai-generation', perUnit: String(i) });
      await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 0.25 });
    }
    const cold = createLedger({ store, clock: clock.now });
    expect(await allEntries(cold, { customerId: 'cus_123' })).toEqual(
      await allEntries(ledger, { customerId: 'cus_123' }),
    );
    expect(await cold.creditAccounts({ customerId: 'cus_123' })).toEqual(
      await ledger.creditAccounts({ customerId: 'cus_123' }),
    );
  });
});
