import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { DAY, expectTallyError, HOUR, iso, setup, T0 } from './support.js';

/** A customer with a month of activity: plan credit, top-ups, usage, a hold, a void, a renewal. */
async function busyMonth() {
  const s = setup({ start: Date.parse('2025-01-01T00:00:00.000Z') });
  const id = { customerId: 'cus_1' };
  await s.ledger.createCustomer(id);
  await s.ledger.subscribe({ ...id, planId: 'free' });
  s.clock.set('2025-01-05T00:00:00.000Z');
  await s.ledger.trackUsage({ ...id, feature: 'ai-generation', quantity: 2 });
  s.clock.set('2025-01-10T00:00:00.000Z');
  const topUp = await s.ledger.grant({ ...id, currency: 'credits', amount: '40', source: 'top_up' });
  await s.ledger.hold({
    ...id,
    feature: 'ai-generation',
    quantity: 1,
    expiresAt: '2025-01-20T00:00:00.000Z',
  });
  s.clock.set('2025-01-25T00:00:00.000Z');
  await s.ledger.trackUsage({ ...id, feature: 'ai-generation', quantity: 5 });
  s.clock.set('2025-02-03T00:00:00.000Z');
  await s.ledger.trackUsage({ ...id, feature: 'ai-generation', quantity: 1 });
  s.clock.set('2025-02-10T00:00:00.000Z');
  await s.ledger.voidGrant({ ...id, grantId: topUp.grantId, reason: 'refund' });
  return s;
}

describe('reads accept at and answer as of that instant', () => {
  test("a past month's statement is one call", async () => {
    const s = await busyMonth();
    const endOfJanuary = '2025-01-31T23:59:59.999Z';
    const january = await allEntries(s.ledger, {
      customerId: 'cus_1',
      currency: 'credits',
      at: endOfJanuary,
    });
    expect(january.map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['grant', '100', '100', '2025-01-01T00:00:00.000Z'],
      ['usage', '-20', '80', '2025-01-05T00:00:00.000Z'],
      ['grant', '40', '120', '2025-01-10T00:00:00.000Z'],
      ['hold', '0', '120', '2025-01-10T00:00:00.000Z'],
      ['hold_release', '0', '120', '2025-01-20T00:00:00.000Z'],
      ['usage', '-50', '70', '2025-01-25T00:00:00.000Z'],
    ]);
    expect(await s.ledger.creditAccounts({ customerId: 'cus_1', at: endOfJanuary })).toEqual([
      {
        currency: 'credits',
        balance: '70',
        held: '0',
        available: '70',
        creditLimit: '0',
        debt: '0',
        scoped: [],
      },
    ]);
    const grants = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits', at: endOfJanuary });
    expect(grants.map((g) => [g.source, g.remaining, g.status])).toEqual([
      ['plan', '30', 'active'],
      ['top_up', '40', 'active'],
    ]);
    // And today: February's renewal, usage and void are there.
    const now = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(now.slice(6).map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['expiry', '-30', '40'],
      ['grant', '100', '140'],
      ['usage', '-10', '130'],
      ['void', '-40', '90'],
    ]);
  });

  test('holds and subscriptions read at a past instant', async () => {
    const s = await busyMonth();
    const [hold] = await s.ledger.holds({ customerId: 'cus_1', at: '2025-01-15T00:00:00.000Z' });
    expect(hold!.status).toBe('active');
    expect(
      (await s.ledger.creditAccounts({ customerId: 'cus_1', at: '2025-01-15T00:00:00.000Z' }))[0],
    ).toMatchObject({
      balance: '120',
      held: '10',
      available: '110',
    });
    const [later] = await s.ledger.holds({ customerId: 'cus_1', at: '2025-01-21T00:00:00.000Z' });
    expect(later!.status).toBe('expired');
  });

  test('reads at T are identical before and after later writes, on a warm and a cold ledger', async () => {
    const s = setup();
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    await s.ledger.subscribe({ customerId: 'cus_1', planId: 'pro' });
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '100' });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 50 });
    await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '7',
      effectiveAt: iso(T0 + 40 * DAY),
    });
    await s.ledger.hold({
      customerId: 'cus_1',
      feature: 'ai-generation',
      quantity: 2,
      expiresAt: iso(T0 + 35 * DAY),
    });

    const instants = [T0, T0 + HOUR, T0 + 28 * DAY + 10 * HOUR, T0 + 35 * DAY, T0 + 40 * DAY, T0 + 59 * DAY];
    const readAll = async (ledger = s.ledger) => {
      const out = [];
      for (const ms of instants) {
        const ref = { customerId: 'cus_1', at: iso(ms) };
        out.push({
          accounts: await ledger.creditAccounts(ref),
          entries: await allEntries(ledger, ref),
          grants: await ledger.grants(ref),
          holds: await ledger.holds(ref),
          subscriptions: await ledger.subscriptions(ref),
        });
      }
      return out;
    };
    const before = [];
    for (const ms of instants) {
      s.clock.set(ms);
      before.push((await readAll()).at(instants.indexOf(ms))!);
    }
    s.clock.set(T0 + 60 * DAY);
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    const after = await readAll();
    const cold = await readAll(s.cold());
    for (const [i, ms] of instants.entries()) {
      expect(after[i], iso(ms)).toEqual(before[i]);
      expect(cold[i], iso(ms)).toEqual(before[i]);
    }
  });

  test('before the customer existed there is no customer', async () => {
    const s = await busyMonth();
    await expectTallyError(
      s.ledger.creditAccounts({ customerId: 'cus_1', at: '2024-12-31T00:00:00.000Z' }),
      'unknown_customer',
      'customerId',
    );
  });

  test('a read ahead of now projects what time alone will do', async () => {
    const s = setup();
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    await s.ledger.subscribe({ customerId: 'cus_1', planId: 'free' });
    const grants = await s.ledger.grants({ customerId: 'cus_1', at: '2025-03-01T00:00:00.000Z' });
    expect(grants).toHaveLength(2);
    expect((await s.store.readAll()).some((e) => e.type === 'subscription_renewed')).toBe(false);
  });

  test('an at that is not a time is invalid_time', async () => {
    const s = await busyMonth();
    await expectTallyError(
      s.ledger.entries({ customerId: 'cus_1', at: 'last tuesday' }),
      'invalid_time',
      'at',
    );
  });
});
