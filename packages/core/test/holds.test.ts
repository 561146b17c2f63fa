import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, expectRefused, HOUR, iso, setup, T0 } from './support.js';

async function withHold(quantity = 5, expiresAt?: string) {
  const s = setup();
  await customerWith(s, 'free');
  const hold = await s.ledger.hold({
    customerId: 'cus_1',
    feature: 'ai-generation',
    quantity,
    idempotencyKey: 'job-1',
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });
  return { s, hold };
}

describe('hold', () => {
  test('reserves credit: available drops, balance does not', async () => {
    const { s, hold } = await withHold(5);
    expect(hold).toMatchObject({
      holdId: expect.stringMatching(/^hold_/),
      currency: 'credits',
      amount: '50',
      feature: 'ai-generation',
      quantity: 5,
      expiresAt: null,
      status: 'active',
      account: { balance: '100', held: '50', available: '50' },
    });
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '100', held: '50', available: '50' });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({
      kind: 'hold',
      amount: '0',
      held: '50',
      balance: '100',
      holdId: hold.holdId,
    });
    expect(await s.ledger.holds({ customerId: 'cus_1' })).toEqual([
      expect.objectContaining({ holdId: hold.holdId }),
    ]);
  });

  test('held credit cannot be spent by other usage', async () => {
    const { s } = await withHold(8);
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 }),
      'insufficient_credits',
    );
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '80', held: '80', available: '0' });
  });

  test('a hold larger than what is available is refused and writes nothing', async () => {
    const { s } = await withHold(6);
    await expectRefused(
      s.store,
      () => s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 5 }),
      'insufficient_credits',
    );
  });

  test('a hold of a currency amount', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '10' });
    const hold = await s.ledger.hold({ customerId: 'cus_1', currency: 'usd', amount: '2.50' });
    expect(hold).toMatchObject({ amount: '2.50', feature: null, quantity: null });
    expect(await balanceOf(s.ledger, 'cus_1', 'usd')).toMatchObject({ balance: '10.00', available: '7.50' });
    const captured = await s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, amount: '1.25' });
    expect(captured).toMatchObject({ cost: '1.25', balance: '8.75', account: { held: '0.00' } });
  });
});

describe('captureHold', () => {
  test('deducts the actual cost and releases the rest', async () => {
    const { s, hold } = await withHold(5);
    const usage = await s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, quantity: 3 });
    expect(usage).toMatchObject({
      feature: 'ai-generation',
      quantity: 3,
      cost: '30',
      balance: '70',
      account: { balance: '70', held: '0', available: '70' },
    });
    expect((await s.ledger.holds({ customerId: 'cus_1' }))[0]!.status).toBe('captured');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.slice(-2).map((e) => [e.kind, e.amount, e.held, e.balance])).toEqual([
      ['hold_release', '0', '-50', '100'],
      ['usage', '-30', '0', '70'],
    ]);
    expect(entries.at(-1)!.holdId).toBe(hold.holdId);
  });

  test('with no quantity it charges the held amount', async () => {
    const { s, hold } = await withHold(5);
    expect(await s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId })).toMatchObject({
      cost: '50',
      balance: '50',
    });
  });

  test('may charge more than held when the account covers the excess', async () => {
    const { s, hold } = await withHold(5);
    expect(
      await s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, quantity: 9 }),
    ).toMatchObject({
      cost: '90',
      balance: '10',
    });
  });

  test('charging more than the hold plus what is available is refused, the hold stays', async () => {
    const { s, hold } = await withHold(5);
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 4 });
    await expectRefused(
      s.store,
      () => s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, quantity: 7 }),
      'insufficient_credits',
    );
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '60', held: '50', available: '10' });
    await s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, quantity: 6 });
  });

  test('an amount hold cannot be captured by quantity', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const hold = await s.ledger.hold({ customerId: 'cus_1', currency: 'credits', amount: '10' });
    await expectRefused(
      s.store,
      () => s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId, quantity: 1 }),
      'invalid_input',
      'quantity',
    );
  });
});

describe('releaseHold and expiry', () => {
  test('release frees the reserved credit', async () => {
    const { s, hold } = await withHold(5);
    const released = await s.ledger.releaseHold({ customerId: 'cus_1', holdId: hold.holdId });
    expect(released).toMatchObject({
      status: 'released',
      account: { balance: '100', held: '0', available: '100' },
    });
    await expectRefused(
      s.store,
      () => s.ledger.releaseHold({ customerId: 'cus_1', holdId: hold.holdId }),
      'hold_not_active',
      'holdId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId }),
      'hold_not_active',
      'holdId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.releaseHold({ customerId: 'cus_1', holdId: 'hold_nope' }),
      'unknown_hold',
      'holdId',
    );
  });

  test('an expired hold frees itself at expiresAt, with no write, and can no longer be captured', async () => {
    const expiresAt = iso(T0 + HOUR);
    const { s, hold } = await withHold(5, expiresAt);
    const written = (await s.store.readAll()).length;
    s.clock.set(T0 + HOUR - 1);
    expect((await balanceOf(s.ledger))!.available).toBe('50');
    s.clock.set(T0 + HOUR);
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '100', held: '0', available: '100' });
    expect((await s.ledger.holds({ customerId: 'cus_1' }))[0]!.status).toBe('expired');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({
      kind: 'hold_release',
      reason: 'expired',
      held: '-50',
      at: expiresAt,
    });
    expect((await s.store.readAll()).length).toBe(written);
    await expectRefused(
      s.store,
      () => s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId }),
      'hold_not_active',
      'holdId',
    );
  });

  test('a hold expiring in the past is invalid_time', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await expectRefused(
      s.store,
      () => s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1, expiresAt: iso(T0) }),
      'invalid_time',
      'expiresAt',
    );
  });

  test('a hold does not stop the credit under it from expiring: available goes negative, capture is refused', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '50',
      expiresAt: iso(T0 + HOUR),
    });
    const hold = await s.ledger.hold({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 });
    s.clock.set(T0 + HOUR);
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '0', held: '30', available: '-30' });
    await expectRefused(
      s.store,
      () => s.ledger.captureHold({ customerId: 'cus_1', holdId: hold.holdId }),
      'insufficient_credits',
    );
    await s.ledger.releaseHold({ customerId: 'cus_1', holdId: hold.holdId });
    expect(await balanceOf(s.ledger)).toMatchObject({ balance: '0', held: '0', available: '0' });
  });
});
