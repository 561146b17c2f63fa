import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { createLedger, type NewEvent } from '../src/index.js';
import { CURRENT_SCHEMA_VERSIONS, upcast } from '../src/pure.js';
import { catalog, expectTallyError, iso, memoryStore, T0, TestClock } from './support.js';

/** A credits_deducted as the first release wrote it: no debt, holdId or metadata. */
const v1Deduction = (grantId: string): NewEvent => ({
  id: 'evt_v1',
  type: 'credits_deducted',
  schemaVersion: 1,
  at: iso(T0 + 1000),
  data: {
    usageId: 'usage_v1',
    currency: 'credits',
    feature: 'ai-generation',
    quantity: 1,
    cost: '10',
    allocations: [{ grantId, amount: '10' }],
  },
  metadata: {},
});

async function streamWithV1Deduction() {
  const store = memoryStore();
  const clock = new TestClock();
  const writer = createLedger({ catalog, store, clock: clock.now });
  await writer.createCustomer({ customerId: 'cus_1' });
  const { grantId } = await writer.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
  const [first] = await store.readAll();
  clock.advance(1000);
  await store.append(first!.streamId, [v1Deduction(grantId)], { expectedVersion: 2 });
  clock.advance(1000);
  return { store, clock, grantId, ledger: createLedger({ catalog, store, clock: clock.now }) };
}

describe('upcast', () => {
  test('credits_deducted v1 gains debt 0, holdId null and empty metadata, then its cost as exact and no carry', () => {
    expect(CURRENT_SCHEMA_VERSIONS.credits_deducted).toBe(3);
    const event = upcast(v1Deduction('grant_1'));
    expect(event).toEqual({
      type: 'credits_deducted',
      id: 'evt_v1',
      at: iso(T0 + 1000),
      data: {
        ...v1Deduction('grant_1').data,
        debt: '0',
        holdId: null,
        metadata: {},
        exactCost: '10',
        carry: null,
        catalogVersion: 0,
      },
    });
  });

  test('usage_reversed v1 gains no feature and no carry', () => {
    expect(CURRENT_SCHEMA_VERSIONS.usage_reversed).toBe(2);
    const data = {
      usageId: 'u',
      currency: 'credits',
      restored: [],
      debtCleared: '0',
      forfeited: '0',
      reason: '',
    };
    const event = upcast({ ...v1Deduction('g'), type: 'usage_reversed', data });
    expect(event.data).toEqual({ ...data, feature: null, carry: null });
  });

  test('the debt of an upcast deduction keeps the currency places of its cost', () => {
    const event = upcast({
      ...v1Deduction('g'),
      data: { ...v1Deduction('g').data, cost: '0.10', currency: 'usd' },
    });
    expect((event.data as { debt: string }).debt).toBe('0.00');
  });

  test('a stored v1 deduction reads correctly through the ledger', async () => {
    const { ledger, grantId } = await streamWithV1Deduction();
    expect((await ledger.creditAccounts({ customerId: 'cus_1' }))[0]).toMatchObject({
      balance: '90',
      debt: '0',
    });
    const entries = await allEntries(ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.balance, e.usageId, e.holdId])).toEqual([
      ['grant', '100', '100', null, null],
      ['usage', '-10', '90', 'usage_v1', null],
    ]);
    const [grant] = await ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grant).toMatchObject({ grantId, remaining: '90' });
  });

  test('a stored v1 deduction can be reversed and built upon', async () => {
    const { ledger } = await streamWithV1Deduction();
    const reversed = await ledger.reverseUsage({ customerId: 'cus_1', usageId: 'usage_v1' });
    expect(reversed).toMatchObject({ returned: '10', account: { balance: '100' } });
    await ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    expect((await ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('80');
  });

  test('an unknown event type is unknown_event', async () => {
    const error = await expectTallyError(
      () => upcast({ ...v1Deduction('g'), type: 'credits_teleported' }),
      'unknown_event',
    );
    expect(error.details).toMatchObject({ eventId: 'evt_v1', type: 'credits_teleported' });
  });

  test.each([4, 0, 1.5])(
    'schema version %s of credits_deducted is unknown_event, never misread',
    async (v) => {
      await expectTallyError(() => upcast({ ...v1Deduction('g'), schemaVersion: v }), 'unknown_event');
    },
  );

  test('a future schema version in a stream refuses reads and writes of that customer', async () => {
    const store = memoryStore();
    const clock = new TestClock();
    const ledger = createLedger({ catalog, store, clock: clock.now });
    await ledger.createCustomer({ customerId: 'cus_1' });
    const { grantId } = await ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
    const [first] = await store.readAll();
    await store.append(first!.streamId, [{ ...v1Deduction(grantId), schemaVersion: 4 }], {
      expectedVersion: 2,
    });
    const fresh = createLedger({ catalog, store, clock: clock.now });
    await expectTallyError(fresh.creditAccounts({ customerId: 'cus_1' }), 'unknown_event');
    await expectTallyError(
      fresh.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 }),
      'unknown_event',
    );
    expect(await store.readAll()).toHaveLength(3);
  });
});
