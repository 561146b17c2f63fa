import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, DAY, expectRefused, iso, setup, T0 } from './support.js';

describe('reverseUsage', () => {
  test('gives the credits back to the grants they came from, with a reversal entry', async () => {
    const s = setup();
    await customerWith(s);
    const a = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '15', priority: 1 });
    const b = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '50', priority: 2 });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 });
    expect(usage.allocations).toEqual([
      { grantId: a.grantId, amount: '15' },
      { grantId: b.grantId, amount: '15' },
    ]);
    s.clock.advance(1000);
    const reversed = await s.ledger.reverseUsage({
      customerId: 'cus_1',
      usageId: usage.usageId,
      reason: 'failed job',
    });
    expect(reversed).toMatchObject({
      usageId: usage.usageId,
      currency: 'credits',
      returned: '30',
      forfeited: '0',
    });
    expect(reversed.account.balance).toBe('65');
    const grants = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grants.map((g) => g.remaining)).toEqual(['15', '50']);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({
      kind: 'reversal',
      amount: '30',
      balance: '65',
      usageId: usage.usageId,
      reason: 'failed job',
      at: iso(T0 + 1000),
    });
  });

  test('a grant that has since expired does not come back to life: its share is forfeited', async () => {
    const s = setup();
    await customerWith(s);
    const expiring = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '10',
      priority: 1,
      expiresAt: iso(T0 + DAY),
    });
    const lasting = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    s.clock.set(T0 + DAY);
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
    expect(reversed).toMatchObject({ returned: '10', forfeited: '10' });
    const grants = Object.fromEntries(
      (await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' })).map((g) => [g.grantId, g]),
    );
    expect(grants[expiring.grantId]).toMatchObject({ remaining: '0', status: 'expired' });
    expect(grants[lasting.grantId]).toMatchObject({ remaining: '100' });
    expect((await balanceOf(s.ledger))!.balance).toBe('100');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({ kind: 'reversal', amount: '10', balance: '100' });
  });

  test('a voided grant does not come back either', async () => {
    const s = setup();
    await customerWith(s);
    const g = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '30' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    await s.ledger.voidGrant({ customerId: 'cus_1', grantId: g.grantId });
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
    expect(reversed).toMatchObject({ returned: '0', forfeited: '10' });
    expect((await balanceOf(s.ledger))!.balance).toBe('0');
  });

  test('the overdraft part of a deduction cancels debt still owed', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '100' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '5' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    expect(usage).toMatchObject({ debt: '15', balance: '-15' });
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
    expect(reversed).toMatchObject({ returned: '20', forfeited: '0' });
    expect(reversed.account).toMatchObject({ balance: '5', debt: '0' });
  });

  test('debt already paid off by later credit comes back as a reversal grant', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '100' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '50' }); // settles the 20 debt
    expect((await balanceOf(s.ledger))!).toMatchObject({ balance: '30', debt: '0' });
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
    expect(reversed).toMatchObject({ returned: '20' });
    expect(reversed.account.balance).toBe('50');
    const grants = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grants.at(-1)).toMatchObject({ source: 'reversal', amount: '20', priority: 0, expiresAt: null });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)!.balance).toBe('50');
  });

  test('reversing a captured hold returns the captured cost', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const hold = await s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 5 });
    const captured = await s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, quantity: 3 });
    const reversed = await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: captured.usageId });
    expect(reversed).toMatchObject({ returned: '30' });
    expect(reversed.account).toMatchObject({ balance: '100', held: '0', available: '100' });
  });

  test('reversing twice or an unknown usage is refused and writes nothing', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    await s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId });
    await expectRefused(
      s.store,
      () => s.ledger.reverseUsage({ customerId: 'cus_1', usageId: usage.usageId }),
      'usage_already_reversed',
      'usageId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.reverseUsage({ customerId: 'cus_1', usageId: 'usage_nope' }),
      'unknown_usage',
      'usageId',
    );
  });

  test("one customer cannot reverse another's usage", async () => {
    const s = setup();
    await customerWith(s, 'free');
    await customerWith(s, 'free', 'cus_2');
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    await expectRefused(
      s.store,
      () => s.ledger.reverseUsage({ customerId: 'cus_2', usageId: usage.usageId }),
      'unknown_usage',
      'usageId',
    );
  });
});
