import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, DAY, expectRefused, iso, setup, T0 } from './support.js';

const FEB28 = '2025-02-28T10:00:00.000Z';

describe('subscribe', () => {
  test("grants the plan's credits on activation, one grant per rule", async () => {
    const s = setup();
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    const sub = await s.ledger.subscribe({ customerId: 'cus_1', planId: 'team' });
    expect(sub).toMatchObject({
      subscriptionId: expect.stringMatching(/^sub_/),
      planId: 'team',
      status: 'active',
      activatedAt: iso(T0),
      currentPeriodStart: iso(T0),
      currentPeriodEnd: FEB28,
      endsAt: null,
    });
    expect(sub.grantIds).toHaveLength(2);
    const accounts = await s.ledger.creditAccounts({ customerId: 'cus_1' });
    expect(accounts.map((a) => [a.currency, a.balance])).toEqual([
      ['credits', '500'],
      ['usd', '5.00'],
    ]);
    const stored = (await s.store.readAll()).find((e) => e.type === 'subscription_activated')!;
    // The plan's terms are snapshotted in the event.
    expect(stored.data).toMatchObject({ planId: 'team', interval: 'month', anchorAt: iso(T0) });
    expect((stored.data as { grants: unknown[] }).grants).toHaveLength(2);
  });

  test('unknown plan or customer is refused and writes nothing', async () => {
    const s = setup();
    await customerWith(s);
    await expectRefused(
      s.store,
      () => s.ledger.subscribe({ customerId: 'cus_1', planId: 'gold' }),
      'unknown_plan',
      'planId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.subscribe({ customerId: 'cus_2', planId: 'free' }),
      'unknown_customer',
      'customerId',
    );
  });
});

describe('cancelSubscription', () => {
  test("at: 'now' stops renewals at once; the cycle's credits stay usable until their own expiry", async () => {
    const s = setup();
    await customerWith(s, 'free');
    s.clock.advance(DAY);
    const canceled = await s.ledger.cancelSubscription({ customerId: 'cus_1' });
    expect(canceled).toMatchObject({ status: 'canceled', endsAt: iso(T0 + DAY) });
    expect((await balanceOf(s.ledger))!.balance).toBe('100');
    s.clock.set('2025-02-28T09:00:00.000Z');
    expect((await balanceOf(s.ledger))!.balance).toBe('100');
    s.clock.set('2025-05-01T00:00:00.000Z');
    expect((await balanceOf(s.ledger))!.balance).toBe('0');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.at])).toEqual([
      ['grant', '100', iso(T0)],
      ['expiry', '-100', FEB28],
    ]);
    expect(await s.ledger.subscriptions({ customerId: 'cus_1' })).toEqual([
      expect.objectContaining({ status: 'canceled', endsAt: iso(T0 + DAY) }),
    ]);
  });

  test("at: 'cycle_end' keeps the subscription active until the boundary, then renews no more", async () => {
    const s = setup();
    await customerWith(s, 'free');
    s.clock.advance(DAY);
    const canceled = await s.ledger.cancelSubscription({ customerId: 'cus_1', at: 'cycle_end' });
    expect(canceled).toMatchObject({ status: 'active', endsAt: FEB28, currentPeriodEnd: FEB28 });
    s.clock.set(Date.parse(FEB28) - 1);
    expect((await s.ledger.subscriptions({ customerId: 'cus_1' }))[0]!.status).toBe('active');
    s.clock.set(FEB28);
    expect((await s.ledger.subscriptions({ customerId: 'cus_1' }))[0]!.status).toBe('canceled');
    expect((await balanceOf(s.ledger))!.balance).toBe('0');
    s.clock.set('2025-06-01T00:00:00.000Z');
    expect(await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' })).toHaveLength(1);
  });

  test('expireCredits expires the unused plan credit now, as an entry', async () => {
    const s = setup();
    await customerWith(s, 'team');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 5 });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '7', source: 'top_up' });
    s.clock.advance(DAY);
    await s.ledger.cancelSubscription({ customerId: 'cus_1', expireCredits: true });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({ kind: 'expiry', amount: '-450', balance: '7', at: iso(T0 + DAY) });
    // Top-ups are not the plan's to take back; credits that never expire stay too.
    expect((await balanceOf(s.ledger))!.balance).toBe('7');
    expect((await balanceOf(s.ledger, 'cus_1', 'usd'))!.balance).toBe('5.00');
  });

  test('canceling an ended subscription is refused and writes nothing', async () => {
    const s = setup();
    const sub = await customerWith(s, 'free');
    await s.ledger.cancelSubscription({ customerId: 'cus_1' });
    s.clock.advance(1);
    await expectRefused(
      s.store,
      () => s.ledger.cancelSubscription({ customerId: 'cus_1', subscriptionId: sub!.subscriptionId }),
      'subscription_inactive',
      'subscriptionId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.cancelSubscription({ customerId: 'cus_1' }),
      'unknown_subscription',
      'subscriptionId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.cancelSubscription({ customerId: 'cus_1', subscriptionId: 'sub_nope' }),
      'unknown_subscription',
      'subscriptionId',
    );
  });

  test('with several active subscriptions, the subscriptionId is required', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const weekly = await s.ledger.subscribe({ customerId: 'cus_1', planId: 'weekly' });
    await expectRefused(
      s.store,
      () => s.ledger.cancelSubscription({ customerId: 'cus_1' }),
      'invalid_input',
      'subscriptionId',
    );
    const canceled = await s.ledger.cancelSubscription({
      customerId: 'cus_1',
      subscriptionId: weekly.subscriptionId,
    });
    expect(canceled.planId).toBe('weekly');
  });
});

describe('changePlan', () => {
  test("takes effect now: the old cycle's plan credits expire, the new plan grants with a new anchor", async () => {
    const s = setup();
    const old = await customerWith(s, 'free');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 3 });
    s.clock.set('2025-02-10T00:00:00.000Z');
    const changed = await s.ledger.changePlan({ customerId: 'cus_1', planId: 'pro' });
    expect(changed).toMatchObject({
      planId: 'pro',
      status: 'active',
      activatedAt: '2025-02-10T00:00:00.000Z',
      currentPeriodEnd: '2025-03-10T00:00:00.000Z',
    });
    expect(changed.subscriptionId).not.toBe(old!.subscriptionId);
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.balance, e.at])).toEqual([
      ['grant', '100', '100', iso(T0)],
      ['usage', '-30', '70', iso(T0)],
      ['expiry', '-70', '0', '2025-02-10T00:00:00.000Z'],
      ['grant', '1000', '1000', '2025-02-10T00:00:00.000Z'],
    ]);
    const subs = await s.ledger.subscriptions({ customerId: 'cus_1' });
    expect(subs.map((x) => [x.planId, x.status, x.endsAt])).toEqual([
      ['free', 'canceled', '2025-02-10T00:00:00.000Z'],
      ['pro', 'active', null],
    ]);
    // The old plan renews no more; the new one renews on its own anchor.
    s.clock.set('2025-03-10T00:00:00.000Z');
    const grants = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grants.map((g) => [g.amount, g.effectiveAt])).toEqual([
      ['100', iso(T0)],
      ['1000', '2025-02-10T00:00:00.000Z'],
      ['1000', '2025-03-10T00:00:00.000Z'],
      ['300', '2025-03-10T00:00:00.000Z'],
    ]);
  });

  test('an unknown plan, or no subscription to change, is refused and writes nothing', async () => {
    const s = setup();
    await customerWith(s);
    await expectRefused(
      s.store,
      () => s.ledger.changePlan({ customerId: 'cus_1', planId: 'pro' }),
      'unknown_subscription',
    );
    await s.ledger.subscribe({ customerId: 'cus_1', planId: 'free' });
    await expectRefused(
      s.store,
      () => s.ledger.changePlan({ customerId: 'cus_1', planId: 'gold' }),
      'unknown_plan',
      'planId',
    );
  });
});
