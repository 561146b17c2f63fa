import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, DAY, expectRefused, iso, setup, T0 } from './support.js';

async function inDebt(limit = '50', quantity = 3) {
  const s = setup();
  await customerWith(s);
  const account = await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit });
  expect(account).toMatchObject({ creditLimit: limit, balance: '0' });
  const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity });
  return { s, usage };
}

describe('creditLimit lets the balance go negative down to -limit', () => {
  test('usage beyond the grants becomes debt', async () => {
    const { s, usage } = await inDebt('50', 3);
    expect(usage).toMatchObject({ cost: '30', debt: '30', balance: '-30', allocations: [] });
    expect(await balanceOf(s.ledger)).toMatchObject({
      balance: '-30',
      debt: '30',
      available: '-30',
      creditLimit: '50',
    });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.balance])).toEqual([['usage', '-30', '-30']]);
  });

  test('below -limit is refused whole and writes nothing', async () => {
    const { s } = await inDebt('50', 3);
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 }),
      'insufficient_credits',
    );
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    expect((await balanceOf(s.ledger))!.balance).toBe('-50');
  });

  test('a deduction takes the grants first and only the shortfall becomes debt', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '50' });
    const { grantId } = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '10' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 });
    expect(usage).toMatchObject({ allocations: [{ grantId, amount: '10' }], debt: '20', balance: '-20' });
  });

  test('holds count against the limit too', async () => {
    const { s } = await inDebt('50', 3);
    await expectRefused(
      s.store,
      () => s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 }),
      'insufficient_credits',
    );
    const hold = await s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    expect(hold.account).toMatchObject({ balance: '-30', held: '20', available: '-50' });
  });

  test('lowering the limit below the debt is allowed and only blocks new spending', async () => {
    const { s } = await inDebt('50', 3);
    const account = await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '10' });
    expect(account).toMatchObject({ balance: '-30', creditLimit: '10', debt: '30' });
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'image', quantity: 1 }),
      'insufficient_credits',
    );
  });
});

describe('debt is settled first from the next credit', () => {
  test('a grant pays the debt at once, recorded in the ledger as a settlement', async () => {
    const { s } = await inDebt('50', 3);
    s.clock.advance(1000);
    const grant = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
    expect(grant).toMatchObject({ remaining: '70', account: { balance: '70', debt: '0' } });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['usage', '-30', '-30', iso(T0)],
      ['grant', '100', '70', iso(T0 + 1000)],
      ['debt_settlement', '0', '70', iso(T0 + 1000)],
    ]);
  });

  test('a grant smaller than the debt pays what it can', async () => {
    const { s } = await inDebt('50', 3);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '12' });
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '-18', debt: '18' });
    const [grant] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grant).toMatchObject({ remaining: '0', status: 'depleted' });
  });

  test('a future grant settles the debt when it becomes effective, with no write', async () => {
    const { s } = await inDebt('50', 3);
    const effectiveAt = iso(T0 + DAY);
    const grant = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '100',
      effectiveAt,
    });
    expect(grant.account).toMatchObject({ balance: '-30', debt: '30' });
    const written = (await s.store.readAll()).length;
    s.clock.set(T0 + DAY - 1);
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '-30', debt: '30' });
    s.clock.set(T0 + DAY);
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '70', debt: '0' });
    const [g] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(g!.remaining).toBe('70');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.slice(1).map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['grant', '100', '70', effectiveAt],
      ['debt_settlement', '0', '70', effectiveAt],
    ]);
    expect((await s.store.readAll()).length).toBe(written);

    // Writing later stores the settlement that was read, at the instant it was read at.
    s.clock.set(T0 + 2 * DAY);
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    const settled = (await s.store.readAll()).find((e) => e.type === 'debt_settled')!;
    expect(settled.at).toBe(effectiveAt);
    expect(await allEntries(s.cold(), { customerId: 'cus_1', currency: 'credits', at: effectiveAt })).toEqual(
      entries,
    );
  });

  test('a plan renewal settles debt at the boundary', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '50' });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 13 });
    expect((await balanceOf(s.ledger))!.balance).toBe('-30');
    s.clock.set('2025-02-28T10:00:00.000Z');
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '70', debt: '0' });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.slice(-2).map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['grant', '100', '70'],
      ['debt_settlement', '0', '70'],
    ]);
  });

  test('a subscription activated while in debt settles it', async () => {
    const { s } = await inDebt('50', 3);
    const sub = await s.ledger.subscribe({ customerId: 'cus_1', planId: 'free' });
    expect(sub.grantIds).toHaveLength(1);
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '70', debt: '0' });
  });

  test('credit a reversal gives back pays the debt first', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '100' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '20' });
    const first = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 });
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '-30', debt: '30' });
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: first.usageId });
    expect(reversed.account).toMatchObject({ balance: '-10', debt: '10' });
    const [grant] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grant!.remaining).toBe('0');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.slice(-2).map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['reversal', '20', '-10'],
      ['debt_settlement', '0', '-10'],
    ]);
  });

  test('credit in one currency never pays debt in another', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'usd', limit: '10' });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'tokens', quantity: 100 });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
    expect(
      (await s.ledger.creditAccounts({ customerId: 'cus_1' })).map((a) => [a.currency, a.balance]),
    ).toEqual([
      ['credits', '100'],
      ['usd', '-1.50'],
    ]);
  });
});

describe('the statement shows debt moving', () => {
  test('usage into debt, a partial settlement and a reversal change the debt column by what they owe', async () => {
    const { s, usage } = await inDebt('50', 3);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '10' });
    await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId, reason: 'refund' });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.debt, e.balance])).toEqual([
      ['usage', '-30', '30', '-30'],
      ['grant', '10', '0', '-20'],
      ['debt_settlement', '0', '-10', '-20'],
      ['reversal', '20', '-20', '0'],
      ['grant', '10', '0', '10'],
    ]);
    const owed = entries.reduce((sum, e) => sum + Number(e.debt), 0);
    expect(String(owed)).toBe((await balanceOf(s.ledger))!.debt);
  });
});
