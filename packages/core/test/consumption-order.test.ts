import { describe, expect, test } from 'vitest';
import { consumptionOrder } from '../src/pure.js';
import type { GrantState } from '../src/state.js';
import { balanceOf, customerWith, DAY, expectRefused, grantState, iso, setup, T0 } from './support.js';

const grant = (grantId: string, priority: number, expiresAtMs: number, effectiveAtMs = 0): GrantState =>
  grantState({ grantId, priority, expiresAtMs, effectiveAtMs });

describe('consumptionOrder', () => {
  test('lower priority number, then soonest expiry (never last), then oldest effective, then grant id', () => {
    const never = Number.POSITIVE_INFINITY;
    const grants = [
      grant('g_never', 10, never),
      grant('g_b_late', 10, 2000, 5),
      grant('g_prio50', 50, 1000),
      grant('g_a_late', 10, 2000, 5),
      grant('g_soon', 10, 1000),
      grant('g_early', 10, 2000, 1),
      grant('g_prio0_never', 0, never),
    ];
    expect(grants.sort(consumptionOrder).map((g) => g.grantId)).toEqual([
      'g_prio0_never',
      'g_soon',
      'g_early',
      'g_a_late',
      'g_b_late',
      'g_never',
      'g_prio50',
    ]);
  });

  test('is a total order: only a grant compares equal to itself', () => {
    const a = grant('a', 1, 1);
    expect(consumptionOrder(a, a)).toBe(0);
    expect(Math.sign(consumptionOrder(a, grant('b', 1, 1)))).toBe(-1);
    expect(Math.sign(consumptionOrder(grant('b', 1, 1), a))).toBe(1);
  });
});

describe('deductions take from grants in consumption order', () => {
  async function fourGrants() {
    const s = setup();
    await customerWith(s);
    const add = async (amount: string, priority: number, expiresAt?: string) =>
      (
        await s.ledger.grant({
          customerId: 'cus_1',
          currency: 'credits',
          amount,
          priority,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        })
      ).grantId;
    const never = await add('10', 10);
    const late = await add('10', 10, iso(T0 + 20 * DAY));
    const soon = await add('10', 10, iso(T0 + 10 * DAY));
    const low = await add('10', 5);
    const high = await add('10', 90, iso(T0 + DAY));
    return { s, never, late, soon, low, high };
  }

  test('each grant is drained before the next is touched', async () => {
    const { s, never, late, soon, low, high } = await fourGrants();
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'image', quantity: 10 }); // 25
    expect(usage.allocations).toEqual([
      { grantId: low, amount: '10' },
      { grantId: soon, amount: '10' },
      { grantId: late, amount: '5' },
    ]);
    const remaining = Object.fromEntries(
      (await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' })).map((g) => [
        g.grantId,
        g.remaining,
      ]),
    );
    expect(remaining).toEqual({ [low]: '0', [soon]: '0', [late]: '5', [never]: '10', [high]: '10' });
    const more = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    expect(more.allocations).toEqual([
      { grantId: late, amount: '5' },
      { grantId: never, amount: '10' },
      { grantId: high, amount: '5' },
    ]);
  });

  test('the same priority and expiry go oldest effective first', async () => {
    const s = setup();
    await customerWith(s);
    const first = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '10' });
    s.clock.advance(1000);
    const second = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '10' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1.5 });
    expect(usage.allocations).toEqual([
      { grantId: first.grantId, amount: '10' },
      { grantId: second.grantId, amount: '5' },
    ]);
  });

  test('grants not yet effective and grants already expired are not used', async () => {
    const s = setup();
    await customerWith(s);
    const future = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '100',
      priority: 0,
      effectiveAt: iso(T0 + DAY),
    });
    const expiring = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '100',
      priority: 0,
      expiresAt: iso(T0 + 1000),
    });
    const plain = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '20' });
    s.clock.advance(1000);
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    expect(usage.allocations).toEqual([{ grantId: plain.grantId, amount: '10' }]);
    expect(future.grantId).not.toBe(expiring.grantId);
  });

  test('a deduction the live grants cannot cover is refused whole and writes nothing', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 9 });
    const error = await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 }),
      'insufficient_credits',
    );
    expect(error.details).toEqual({ cost: '20', available: '10', currency: 'credits' });
    expect((await balanceOf(s.ledger))!.balance).toBe('10');
    const [g] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(g!.remaining).toBe('10');
  });
});
