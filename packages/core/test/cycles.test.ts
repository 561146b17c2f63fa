import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, DAY, setup } from './support.js';

const effective = async (s: ReturnType<typeof setup>, at?: string) =>
  (await s.ledger.grants(at === undefined ? { customerId: 'cus_1' } : { customerId: 'cus_1', at })).map(
    (g) => g.effectiveAt,
  );

describe('calendar months in UTC, anchored on the activation instant, day clamped', () => {
  test('activated Jan 31 renews Feb 28, Mar 31, Apr 30, May 31 (at the activation time of day)', async () => {
    const s = setup({ start: Date.parse('2025-01-31T10:00:00.000Z') });
    await customerWith(s, 'free');
    s.clock.set('2025-06-01T00:00:00.000Z');
    expect(await effective(s)).toEqual([
      '2025-01-31T10:00:00.000Z',
      '2025-02-28T10:00:00.000Z',
      '2025-03-31T10:00:00.000Z',
      '2025-04-30T10:00:00.000Z',
      '2025-05-31T10:00:00.000Z',
    ]);
    const grants = await s.ledger.grants({ customerId: 'cus_1' });
    expect(grants.map((g) => g.expiresAt)).toEqual([
      '2025-02-28T10:00:00.000Z',
      '2025-03-31T10:00:00.000Z',
      '2025-04-30T10:00:00.000Z',
      '2025-05-31T10:00:00.000Z',
      '2025-06-30T10:00:00.000Z',
    ]);
  });

  test('in a leap year Jan 31 renews Feb 29', async () => {
    const s = setup({ start: Date.parse('2024-01-31T00:00:00.000Z') });
    await customerWith(s, 'free');
    s.clock.set('2024-04-01T00:00:00.000Z');
    expect(await effective(s)).toEqual([
      '2024-01-31T00:00:00.000Z',
      '2024-02-29T00:00:00.000Z',
      '2024-03-31T00:00:00.000Z',
    ]);
  });

  test('the anchor, not the previous boundary, sets the day: Feb 28 does not drift to the 28th', async () => {
    const s = setup({ start: Date.parse('2025-01-30T23:59:59.999Z') });
    await customerWith(s, 'free');
    s.clock.set('2025-05-01T00:00:00.000Z');
    expect(await effective(s)).toEqual([
      '2025-01-30T23:59:59.999Z',
      '2025-02-28T23:59:59.999Z',
      '2025-03-30T23:59:59.999Z',
      '2025-04-30T23:59:59.999Z',
    ]);
  });

  test('a yearly plan anchored Feb 29 renews Feb 28 in common years, Feb 29 in leap years', async () => {
    const s = setup({ start: Date.parse('2024-02-29T12:00:00.000Z') });
    await customerWith(s, 'yearly');
    s.clock.set('2028-03-01T00:00:00.000Z');
    expect(await effective(s)).toEqual([
      '2024-02-29T12:00:00.000Z',
      '2025-02-28T12:00:00.000Z',
      '2026-02-28T12:00:00.000Z',
      '2027-02-28T12:00:00.000Z',
      '2028-02-29T12:00:00.000Z',
    ]);
  });

  test('weekly and daily plans renew every 7 days and every day', async () => {
    const s = setup({ start: Date.parse('2025-03-01T08:00:00.000Z') });
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    await s.ledger.subscribe({ customerId: 'cus_1', planId: 'weekly' });
    await s.ledger.subscribe({ customerId: 'cus_1', planId: 'daily' });
    s.clock.advance(14 * DAY);
    const grants = await s.ledger.grants({ customerId: 'cus_1' });
    expect(grants.filter((g) => g.amount === '50').map((g) => g.effectiveAt)).toEqual([
      '2025-03-01T08:00:00.000Z',
      '2025-03-08T08:00:00.000Z',
      '2025-03-15T08:00:00.000Z',
    ]);
    expect(grants.filter((g) => g.amount === '10')).toHaveLength(15);
    // The daily credit of one cycle plus the weekly credit of the current one.
    expect((await balanceOf(s.ledger))!.balance).toBe('60');
  });

  test('the subscription view shows the current period as of the read', async () => {
    const s = setup({ start: Date.parse('2025-01-31T10:00:00.000Z') });
    await customerWith(s, 'free');
    s.clock.set('2025-03-15T00:00:00.000Z');
    const [sub] = await s.ledger.subscriptions({ customerId: 'cus_1' });
    expect(sub).toMatchObject({
      status: 'active',
      activatedAt: '2025-01-31T10:00:00.000Z',
      currentPeriodStart: '2025-02-28T10:00:00.000Z',
      currentPeriodEnd: '2025-03-31T10:00:00.000Z',
      endsAt: null,
    });
    const [past] = await s.ledger.subscriptions({ customerId: 'cus_1', at: '2025-02-01T00:00:00.000Z' });
    expect(past).toMatchObject({
      currentPeriodStart: '2025-01-31T10:00:00.000Z',
      currentPeriodEnd: '2025-02-28T10:00:00.000Z',
    });
  });
});

describe('renewals need no scheduler', () => {
  test('a read at T shows every renewal due by T, each dated at its boundary, with nothing written', async () => {
    const s = setup({ start: Date.parse('2025-01-31T10:00:00.000Z') });
    await customerWith(s, 'free');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 });
    const written = (await s.store.readAll()).length;

    s.clock.set('2025-04-01T00:00:00.000Z');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['grant', '100', '100', '2025-01-31T10:00:00.000Z'],
      ['usage', '-30', '70', '2025-01-31T10:00:00.000Z'],
      ['expiry', '-70', '0', '2025-02-28T10:00:00.000Z'],
      ['grant', '100', '100', '2025-02-28T10:00:00.000Z'],
      ['expiry', '-100', '0', '2025-03-31T10:00:00.000Z'],
      ['grant', '100', '100', '2025-03-31T10:00:00.000Z'],
    ]);
    expect((await balanceOf(s.ledger))!.balance).toBe('100');
    expect((await s.store.readAll()).length).toBe(written);
  });

  test('the boundary instant belongs to the new cycle', async () => {
    const s = setup({ start: Date.parse('2025-01-31T10:00:00.000Z') });
    await customerWith(s, 'free');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    s.clock.set('2025-02-28T09:59:59.999Z');
    expect((await balanceOf(s.ledger))!.balance).toBe('90');
    s.clock.set('2025-02-28T10:00:00.000Z');
    expect((await balanceOf(s.ledger))!.balance).toBe('100');
  });

  test('writing later stores exactly the renewals that were read (materialization is invisible)', async () => {
    const s = setup({ start: Date.parse('2025-01-31T10:00:00.000Z') });
    await customerWith(s, 'free');
    s.clock.set('2025-04-01T00:00:00.000Z');
    const at = s.clock.iso;
    const read = {
      entries: await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' }),
      grants: await s.ledger.grants({ customerId: 'cus_1' }),
      accounts: await s.ledger.creditAccounts({ customerId: 'cus_1' }),
      subscriptions: await s.ledger.subscriptions({ customerId: 'cus_1' }),
    };
    s.clock.set('2025-04-02T00:00:00.000Z');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });

    const stored = await s.store.readAll();
    expect(stored.filter((e) => e.type === 'subscription_renewed').map((e) => e.at)).toEqual([
      '2025-02-28T10:00:00.000Z',
      '2025-03-31T10:00:00.000Z',
    ]);
    for (const ledger of [s.ledger, s.cold()]) {
      expect(await allEntries(ledger, { customerId: 'cus_1', currency: 'credits', at })).toEqual(
        read.entries,
      );
      expect(await ledger.grants({ customerId: 'cus_1', at })).toEqual(read.grants);
      expect(await ledger.creditAccounts({ customerId: 'cus_1', at })).toEqual(read.accounts);
      expect(await ledger.subscriptions({ customerId: 'cus_1', at })).toEqual(read.subscriptions);
    }
  });

  test('a daily plan left alone for a year is caught up in one read', async () => {
    const s = setup({ start: Date.parse('2025-01-01T00:00:00.000Z') });
    await customerWith(s, 'daily');
    s.clock.set('2026-01-01T00:00:00.000Z');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.filter((e) => e.kind === 'grant')).toHaveLength(366);
    expect(entries.at(-1)!.balance).toBe('10');
    expect((await balanceOf(s.ledger))!.balance).toBe('10');
  });
});
