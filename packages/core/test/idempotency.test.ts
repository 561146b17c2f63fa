import { describe, expect, test } from 'vitest';
import { balanceOf, customerWith, DAY, expectRefused, iso, setup, T0 } from './support.js';

describe('idempotency keys', () => {
  test('every write repeated with the same key and payload returns the first result and writes nothing', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const id = { customerId: 'cus_1' };
    const writes: [string, () => Promise<unknown>][] = [
      ['createCustomer', () => s.ledger.createCustomer({ customerId: 'cus_2', idempotencyKey: 'k1' })],
      ['subscribe', () => s.ledger.subscribe({ ...id, planId: 'weekly', idempotencyKey: 'k2' })],
      ['grant', () => s.ledger.grant({ ...id, currency: 'credits', amount: '5', idempotencyKey: 'k3' })],
      [
        'trackUsage',
        () => s.ledger.trackUsage({ ...id, feature: 'ai-generation', quantity: 1, idempotencyKey: 'k4' }),
      ],
      ['hold', () => s.ledger.hold({ ...id, feature: 'ai-generation', quantity: 1, idempotencyKey: 'k5' })],
      [
        'setCreditLimit',
        () => s.ledger.setCreditLimit({ ...id, currency: 'credits', limit: '5', idempotencyKey: 'k6' }),
      ],
    ];
    for (const [name, write] of writes) {
      const first = await write();
      const written = await s.store.readAll();
      s.clock.advance(1000);
      const again = await write();
      expect(again, name).toEqual(first);
      expect((await s.store.readAll()).length, name).toBe(written.length);
    }
  });

  test('keyed captures, releases, voids, reversals, cancels and plan changes are idempotent too', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const id = { customerId: 'cus_1' };
    const h1 = await s.ledger.hold({ ...id, feature: 'ai-generation', quantity: 1 });
    const h2 = await s.ledger.hold({ ...id, feature: 'ai-generation', quantity: 1 });
    const usage = await s.ledger.trackUsage({ ...id, feature: 'ai-generation', quantity: 1 });
    const g = await s.ledger.grant({ ...id, currency: 'credits', amount: '5' });
    const writes: [string, () => Promise<unknown>][] = [
      [
        'captureHold',
        () => s.ledger.captureHold({ ...id, holdId: h1.holdId, quantity: 1, idempotencyKey: 'c' }),
      ],
      ['releaseHold', () => s.ledger.releaseHold({ ...id, holdId: h2.holdId, idempotencyKey: 'r' })],
      ['voidGrant', () => s.ledger.voidGrant({ ...id, grantId: g.grantId, idempotencyKey: 'v' })],
      ['reverseUsage', () => s.ledger.reverseUsage({ ...id, usageId: usage.usageId, idempotencyKey: 'u' })],
      ['changePlan', () => s.ledger.changePlan({ ...id, planId: 'pro', idempotencyKey: 'p' })],
      ['cancelSubscription', () => s.ledger.cancelSubscription({ ...id, idempotencyKey: 'x' })],
    ];
    for (const [name, write] of writes) {
      const first = await write();
      const written = (await s.store.readAll()).length;
      const again = await write();
      expect(again, name).toEqual(first);
      expect((await s.store.readAll()).length, name).toBe(written);
    }
  });

  test('the same key with a different payload is idempotency_conflict and writes nothing', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await s.ledger.trackUsage({
      customerId: 'cus_1',
      feature: 'ai-generation',
      quantity: 1,
      idempotencyKey: 'k',
    });
    await expectRefused(
      s.store,
      () =>
        s.ledger.trackUsage({
          customerId: 'cus_1',
          feature: 'ai-generation',
          quantity: 2,
          idempotencyKey: 'k',
        }),
      'idempotency_conflict',
      'idempotencyKey',
    );
    await expectRefused(
      s.store,
      () => s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1', idempotencyKey: 'k' }),
      'idempotency_conflict',
      'idempotencyKey',
    );
  });

  test('the retry answers with the first result even after time changed what it would decide', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const first = await s.ledger.trackUsage({
      customerId: 'cus_1',
      feature: 'ai-generation',
      quantity: 10,
      idempotencyKey: 'all',
    });
    s.clock.set('2025-03-05T00:00:00.000Z'); // two renewals later
    const again = await s.ledger.trackUsage({
      customerId: 'cus_1',
      feature: 'ai-generation',
      quantity: 10,
      idempotencyKey: 'all',
    });
    expect(again).toEqual(first);
    expect((await balanceOf(s.ledger))!.balance).toBe('100');
  });

  test('a refused keyed command stores nothing, so its retry is decided afresh', async () => {
    const s = setup();
    await customerWith(s);
    const usage = { customerId: 'cus_1', feature: 'ai-generation', quantity: 1, idempotencyKey: 'k' };
    await expectRefused(s.store, () => s.ledger.trackUsage(usage), 'insufficient_credits');
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '10' });
    expect(await s.ledger.trackUsage(usage)).toMatchObject({ balance: '0' });
  });

  test('concurrent duplicates write once and all get the same result', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const input = { customerId: 'cus_1', feature: 'ai-generation', quantity: 1, idempotencyKey: 'burst' };
    const results = await Promise.all([1, 2, 3, 4].map(() => s.ledger.trackUsage(input)));
    for (const r of results) expect(r).toEqual(results[0]);
    const deductions = (await s.store.readAll()).filter((e) => e.type === 'credits_deducted');
    expect(deductions).toHaveLength(1);
    const conflicting = await Promise.allSettled([
      s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1', idempotencyKey: 'x' }),
      s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '2', idempotencyKey: 'x' }),
    ]);
    expect(conflicting.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((conflicting[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'idempotency_conflict' });
  });

  test('keys are per customer', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await customerWith(s, 'free', 'cus_2');
    await s.ledger.trackUsage({
      customerId: 'cus_1',
      feature: 'ai-generation',
      quantity: 1,
      idempotencyKey: 'k',
    });
    await s.ledger.trackUsage({
      customerId: 'cus_2',
      feature: 'ai-generation',
      quantity: 2,
      idempotencyKey: 'k',
    });
    expect((await balanceOf(s.ledger, 'cus_2'))!.balance).toBe('80');
  });

  test('a future grant retried after it became effective still answers as first decided', async () => {
    const s = setup();
    await customerWith(s);
    const input = {
      customerId: 'cus_1',
      currency: 'credits',
      amount: '10',
      effectiveAt: iso(T0 + DAY),
      idempotencyKey: 'future',
    };
    const first = await s.ledger.grant(input);
    s.clock.advance(2 * DAY);
    expect(await s.ledger.grant(input)).toEqual(first);
    expect(await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' })).toHaveLength(1);
  });
});
