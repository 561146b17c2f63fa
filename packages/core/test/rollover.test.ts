import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, setup } from './support.js';

const FEB28 = '2025-02-28T10:00:00.000Z';
const MAR31 = '2025-03-31T10:00:00.000Z';
const APR30 = '2025-04-30T10:00:00.000Z';

async function proCustomerUsing(credits: number) {
  const s = setup();
  const sub = await customerWith(s, 'pro');
  if (credits > 0)
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: credits / 10 });
  return { s, sub: sub! };
}

describe('rollover: { max } carries unused plan credit into the next cycle', () => {
  test('up to max carries as a rollover grant expiring at the next cycle end; the rest expires', async () => {
    const { s, sub } = await proCustomerUsing(100);
    s.clock.set(FEB28);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.slice(2).map((e) => [e.kind, e.source, e.amount, e.balance, e.at])).toEqual([
      ['expiry', null, '-900', '0', FEB28],
      ['grant', 'plan', '1000', '1000', FEB28],
      ['grant', 'rollover', '300', '1300', FEB28],
    ]);
    const rollover = (await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' })).find(
      (g) => g.source === 'rollover',
    );
    expect(rollover).toMatchObject({
      amount: '300',
      remaining: '300',
      priority: 40,
      effectiveAt: FEB28,
      expiresAt: MAR31,
      subscriptionId: sub.subscriptionId,
      status: 'active',
    });
    expect((await balanceOf(s.ledger))!.balance).toBe('1300');
  });

  test('less unused than max carries all of it', async () => {
    const { s } = await proCustomerUsing(800);
    s.clock.set(FEB28);
    const grants = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grants.filter((g) => g.source === 'rollover').map((g) => g.amount)).toEqual(['200']);
    expect((await balanceOf(s.ledger))!.balance).toBe('1200');
  });

  test('nothing unused carries nothing', async () => {
    const { s } = await proCustomerUsing(1000);
    s.clock.set(FEB28);
    const grants = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grants.map((g) => g.source)).toEqual(['plan', 'plan']);
  });

  test('rolled-over credit counts toward the next rollover, still capped at max', async () => {
    const { s } = await proCustomerUsing(0);
    s.clock.set(APR30);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits', at: MAR31 });
    expect(entries.filter((e) => e.at === MAR31).map((e) => [e.kind, e.amount])).toEqual([
      ['expiry', '-1000'],
      ['expiry', '-300'],
      ['grant', '1000'],
      ['grant', '300'],
    ]);
    expect((await balanceOf(s.ledger))!.balance).toBe('1300');
    expect(entries.at(-1)!.balance).toBe('1300');
  });

  test('rollover credit is spent in consumption order with the plan credit of its cycle', async () => {
    const { s } = await proCustomerUsing(100);
    s.clock.set(FEB28);
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 105 });
    // Same priority and expiry and effective time: the grant id decides, plan grant (…_g0) before rollover (…_r0).
    expect(usage.allocations.map((a) => a.amount)).toEqual(['1000', '50']);
    expect(usage.allocations[1]!.grantId).toMatch(/_c1_r0$/);
  });

  test('a subscription canceled at cycle end rolls nothing over and renews nothing', async () => {
    const { s } = await proCustomerUsing(100);
    await s.ledger.cancelSubscription({ customerId: 'cus_1', at: 'cycle_end' });
    s.clock.set(MAR31);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.at])).toEqual([
      ['grant', '1000', '2025-01-31T10:00:00.000Z'],
      ['usage', '-100', '2025-01-31T10:00:00.000Z'],
      ['expiry', '-900', FEB28],
    ]);
    expect((await balanceOf(s.ledger))!.balance).toBe('0');
  });
});
