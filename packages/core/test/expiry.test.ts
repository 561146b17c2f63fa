import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, DAY, iso, setup, T0 } from './support.js';

describe('expiry is time-driven', () => {
  test('from its expiresAt on a grant no longer counts, without any job having run', async () => {
    const s = setup();
    await customerWith(s);
    const expiresAt = iso(T0 + DAY);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '50', expiresAt });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    const written = (await s.store.readAll()).length;

    s.clock.set(T0 + DAY - 1);
    expect((await balanceOf(s.ledger))!.balance).toBe('30');
    s.clock.set(T0 + DAY);
    expect((await balanceOf(s.ledger))!.balance).toBe('0');
    expect((await s.store.readAll()).length).toBe(written);
    const [grant] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grant).toMatchObject({ status: 'expired', remaining: '0', amount: '50', expiresAt });
  });

  test('the expiry is its own entry: the unused remainder, negative, dated at the expiry instant', async () => {
    const s = setup();
    await customerWith(s);
    const expiresAt = iso(T0 + DAY);
    const { grantId } = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '50',
      expiresAt,
    });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '5' });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    s.clock.advance(2 * DAY);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['grant', '50', '50', iso(T0)],
      ['grant', '5', '55', iso(T0)],
      ['usage', '-20', '35', iso(T0)],
      ['expiry', '-30', '5', expiresAt],
    ]);
    expect(entries.at(-1)!.grantId).toBe(grantId);
    expect(entries.at(-1)!.balance).toBe((await balanceOf(s.ledger))!.balance);
  });

  test('a grant spent in full expires without an entry', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '10',
      expiresAt: iso(T0 + DAY),
    });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    s.clock.advance(2 * DAY);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => e.kind)).toEqual(['grant', 'usage']);
    const [grant] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    // Past its expiresAt a grant reads as expired even if nothing was left to take.
    expect(grant).toMatchObject({ status: 'expired', remaining: '0' });
  });

  test('plan credits expire at the cycle end by default and the renewal replaces them', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 4 });
    s.clock.set('2025-02-28T10:00:00.000Z');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.slice(-2).map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['expiry', '-60', '0', '2025-02-28T10:00:00.000Z'],
      ['grant', '100', '100', '2025-02-28T10:00:00.000Z'],
    ]);
  });

  test("credits of a plan rule with expires: 'never' outlive the cycle", async () => {
    const s = setup();
    await customerWith(s, 'team');
    s.clock.set('2025-04-01T00:00:00.000Z');
    // 5.00 usd each cycle, never expiring: activation + Feb 28 + Mar 31 renewals.
    expect((await balanceOf(s.ledger, 'cus_1', 'usd'))!.balance).toBe('15.00');
    expect((await balanceOf(s.ledger, 'cus_1', 'credits'))!.balance).toBe('500');
    const usd = await s.ledger.grants({ customerId: 'cus_1', currency: 'usd' });
    expect(usd.every((g) => g.expiresAt === null && g.status === 'active')).toBe(true);
  });

  test('an expired grant cannot pay: a deduction at the instant of expiry is refused', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '50',
      expiresAt: iso(T0 + DAY),
    });
    s.clock.set(T0 + DAY);
    await expect(
      s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 }),
    ).rejects.toMatchObject({ code: 'insufficient_credits' });
  });
});
