import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, expectRefused, setup } from './support.js';

describe('trackUsage', () => {
  test('deducts the resolved cost and answers with usageId, cost, allocations and the balance', async () => {
    const s = setup();
    const sub = await customerWith(s, 'free');
    const usage = await s.ledger.trackUsage({
      customerId: 'cus_1',
      feature: 'ai-generation',
      quantity: 2,
      metadata: { job: 'j1' },
    });
    expect(usage).toEqual({
      usageId: expect.stringMatching(/^usage_/),
      feature: 'ai-generation',
      quantity: 2,
      currency: 'credits',
      cost: '20',
      exactCost: '20',
      allocations: [{ grantId: sub!.grantIds[0], amount: '20' }],
      debt: '0',
      account: {
        currency: 'credits',
        balance: '80',
        held: '0',
        available: '80',
        creditLimit: '0',
        debt: '0',
        scoped: [],
      },
      balance: '80',
    });
    expect(Object.isFrozen(usage)).toBe(true);
    const [, line] = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(line).toMatchObject({
      kind: 'usage',
      amount: '-20',
      balance: '80',
      usageId: usage.usageId,
      feature: 'ai-generation',
      quantity: 2,
    });
    const stored = (await s.store.readAll()).find((e) => e.type === 'credits_deducted')!;
    expect(stored.data).toMatchObject({ cost: '20', metadata: { job: 'j1' } });
  });

  test('fractional quantities are allowed', async () => {
    const s = setup();
    await customerWith(s, 'free');
    expect(
      (await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 0.25 })).cost,
    ).toBe('3');
  });

  test('unknown features, customers and currencies are refused with their codes, writing nothing', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'teleport', quantity: 1 }),
      'unknown_feature',
      'feature',
    );
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_404', feature: 'ai-generation', quantity: 1 }),
      'unknown_customer',
      'customerId',
    );
  });
});

describe('check', () => {
  test('answers allowed, cost and available, and writes nothing', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const before = (await s.store.readAll()).length;
    expect(await s.ledger.check({ customerId: 'cus_1', feature: 'ai-generation', quantity: 10 })).toEqual({
      allowed: true,
      currency: 'credits',
      cost: '100',
      available: '100',
      spendable: '100',
    });
    expect(
      await s.ledger.check({ customerId: 'cus_1', feature: 'ai-generation', quantity: 11 }),
    ).toMatchObject({
      allowed: false,
      cost: '110',
    });
    expect((await s.store.readAll()).length).toBe(before);
  });

  test('counts holds and overdraft', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 6, idempotencyKey: 'h' });
    await s.ledger.setCreditLimit({ customerId: 'cus_1', currency: 'credits', limit: '25' });
    const check = await s.ledger.check({ customerId: 'cus_1', feature: 'ai-generation', quantity: 6 });
    expect(check).toEqual({
      allowed: true,
      currency: 'credits',
      cost: '60',
      available: '40',
      spendable: '65',
    });
    expect(
      (await s.ledger.check({ customerId: 'cus_1', feature: 'ai-generation', quantity: 7 })).allowed,
    ).toBe(false);
  });

  test('agrees with trackUsage at the same instant', async () => {
    const s = setup();
    await customerWith(s, 'free');
    for (const quantity of [3, 5, 3, 1]) {
      const { allowed } = await s.ledger.check({ customerId: 'cus_1', feature: 'ai-generation', quantity });
      const done = await s.ledger
        .trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity })
        .then(
          () => true,
          () => false,
        );
      expect(done).toBe(allowed);
    }
    expect((await balanceOf(s.ledger))!.balance).toBe('10');
  });

  test('a customer with no account in the currency has nothing available', async () => {
    const s = setup();
    await customerWith(s);
    expect(await s.ledger.check({ customerId: 'cus_1', feature: 'tokens', quantity: 1 })).toEqual({
      allowed: false,
      currency: 'usd',
      cost: '0.02',
      available: '0.00',
      spendable: '0.00',
    });
  });
});

describe('the live path and a replay agree on which accounts exist', () => {
  test('a usage that rounds to a zero cost in a currency the customer never held', async () => {
    const s = setup();
    await customerWith(s);
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'tokens', quantity: 0.1 });
    expect(usage).toMatchObject({ cost: '0.00', balance: '0.00' });
    const live = await s.ledger.creditAccounts({ customerId: 'cus_1' });
    expect(live.map((a) => a.currency)).toEqual(['usd']);
    expect(await s.cold().creditAccounts({ customerId: 'cus_1' })).toEqual(live);
  });

  test('a refused usage decided in the same batch as an accepted write leaves no trace', async () => {
    const s = setup();
    await customerWith(s);
    // The first write goes alone; the two that arrive while it is in flight are decided as one batch.
    const [, refused, granted] = await Promise.allSettled([
      s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1' }),
      s.ledger.trackUsage({ customerId: 'cus_1', feature: 'tokens', quantity: 100 }),
      s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '5' }),
    ]);
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'insufficient_credits' } });
    expect(granted.status).toBe('fulfilled');
    const live = await s.ledger.creditAccounts({ customerId: 'cus_1' });
    expect(live.map((a) => a.currency)).toEqual(['credits']);
    expect(await s.cold().creditAccounts({ customerId: 'cus_1' })).toEqual(live);
  });
});
