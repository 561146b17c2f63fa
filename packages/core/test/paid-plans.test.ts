import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { defineCatalog } from '../src/index.js';
import { DAY, expectRefused, expectTallyError, iso, setup } from './support.js';

const USD = (amount: string) => ({ amount, currency: 'USD' });

const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [
    { id: 'free', interval: 'month', price: USD('0.00'), grants: [{ currency: 'credits', amount: '100' }] },
    { id: 'pro', interval: 'month', price: USD('20.00'), grants: [{ currency: 'credits', amount: '1000' }] },
    {
      id: 'pro-grace',
      interval: 'month',
      price: USD('20.00'),
      gracePeriodDays: 3,
      grants: [{ currency: 'credits', amount: '1000' }],
    },
  ],
});

async function customer(planId: string) {
  const s = setup({ catalog });
  await s.ledger.createCustomer({ customerId: 'cus_1' });
  const sub = await s.ledger.subscribe({ customerId: 'cus_1', planId });
  return { ...s, sub };
}
const balance = async (s: Awaited<ReturnType<typeof customer>>) =>
  (await s.ledger.creditAccounts({ customerId: 'cus_1' }))[0]?.balance ?? '0';

describe('paid plans', () => {
  test('a free plan (a price of zero) is active at once and grants its credits, as before', async () => {
    const s = await customer('free');
    expect(s.sub).toMatchObject({
      status: 'active',
      salesMotion: 'self_serve',
      collectionMethod: 'charge_automatically',
    });
    expect(await balance(s)).toBe('100');
  });

  test('a paid plan starts incomplete, granting nothing, until its payment is confirmed', async () => {
    const s = await customer('pro');
    expect(s.sub).toMatchObject({
      status: 'incomplete',
      activatedAt: null,
      currentPeriodStart: null,
      grantIds: [],
    });
    expect(await balance(s)).toBe('0');
    s.clock.advance(60_000);
    const paid = await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_1',
      amount: USD('20.00'),
    });
    expect(paid).toMatchObject({
      status: 'active',
      paymentId: 'in_1',
      activatedAt: s.clock.iso,
      currentPeriodStart: s.clock.iso,
    });
    expect(paid.grantIds).toHaveLength(1);
    expect(await balance(s)).toBe('1000');
  });

  test('a payment id seen twice activates once: the repeat answers as the first and writes nothing', async () => {
    const s = await customer('pro');
    const confirm = () =>
      s.ledger.confirmPayment({
        customerId: 'cus_1',
        subscriptionId: s.sub.subscriptionId,
        paymentId: 'in_1',
        amount: USD('20.00'),
      });
    await confirm();
    const events = (await s.store.readAll()).length;
    const again = await confirm();
    expect(again.status).toBe('active');
    expect(await s.store.readAll()).toHaveLength(events);
    expect(await balance(s)).toBe('1000');
  });

  test('a payment of another amount, one not due, or on a free plan is refused and writes nothing', async () => {
    const s = await customer('pro');
    const input = { customerId: 'cus_1', subscriptionId: s.sub.subscriptionId, paymentId: 'in_1' };
    await expectRefused(
      s.store,
      () => s.ledger.confirmPayment({ ...input, amount: USD('19.99') }),
      'invalid_amount',
      'amount',
    );
    await expectRefused(
      s.store,
      () => s.ledger.confirmPayment({ ...input, amount: { amount: '20.00', currency: 'EUR' } }),
      'invalid_amount',
      'amount',
    );
    await s.ledger.confirmPayment({ ...input, amount: USD('20.00') });
    await expectRefused(
      s.store,
      () => s.ledger.confirmPayment({ ...input, paymentId: 'in_2', amount: USD('20.00') }),
      'payment_not_due',
    );
    const free = await s.ledger.subscribe({ customerId: 'cus_1', planId: 'free' });
    await expectRefused(
      s.store,
      () =>
        s.ledger.confirmPayment({
          ...input,
          subscriptionId: free.subscriptionId,
          paymentId: 'in_3',
          amount: USD('0.00'),
        }),
      'payment_not_due',
    );
  });

  test('a renewal is past due, granting nothing, until its payment; then credits dated at the confirmation expire at the cycle end', async () => {
    const s = await customer('pro');
    await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_1',
      amount: USD('20.00'),
    });
    s.clock.advance(29 * DAY); // Jan 31 + 29 days: past the Feb 28 renewal
    const [renewed] = await s.ledger.subscriptions({ customerId: 'cus_1' });
    expect(renewed!.status).toBe('past_due');
    expect(await balance(s)).toBe('0'); // January's credits expired, February's wait
    const paid = await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_2',
      amount: USD('20.00'),
    });
    expect(paid.status).toBe('active');
    const [grant] = (await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' })).filter((g) =>
      paid.grantIds.includes(g.grantId),
    );
    expect(grant).toMatchObject({
      amount: '1000',
      effectiveAt: s.clock.iso,
      expiresAt: renewed!.currentPeriodEnd,
    });
    expect(await balance(s)).toBe('1000');
  });

  test('with a grace period, a renewal grants up front, and takes the credits back if it is not paid by the end of it', async () => {
    const s = await customer('pro-grace');
    await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_1',
      amount: USD('20.00'),
    });
    s.clock.set(Date.parse('2025-02-28T10:00:00.000Z') + 60_000);
    expect((await s.ledger.subscriptions({ customerId: 'cus_1' }))[0]!.status).toBe('past_due');
    expect(await balance(s)).toBe('1000');
    s.clock.advance(3 * DAY);
    expect(await balance(s)).toBe('0');
    const expiry = (await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' })).at(-1);
    expect(expiry).toMatchObject({
      kind: 'expiry',
      amount: '-1000',
      at: iso(Date.parse('2025-02-28T10:00:00.000Z') + 3 * DAY),
    });
    // Paid late: the cycle's credits come back for the rest of it.
    await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_2',
      amount: USD('20.00'),
    });
    expect(await balance(s)).toBe('1000');
  });

  test('paid within the grace period, the credits granted up front stay and nothing is granted twice', async () => {
    const s = await customer('pro-grace');
    await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_1',
      amount: USD('20.00'),
    });
    s.clock.set(Date.parse('2025-02-28T10:00:00.000Z') + DAY);
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 10 });
    const paid = await s.ledger.confirmPayment({
      customerId: 'cus_1',
      subscriptionId: s.sub.subscriptionId,
      paymentId: 'in_2',
      amount: USD('20.00'),
    });
    expect(paid).toMatchObject({ status: 'active', grantIds: [] });
    s.clock.advance(5 * DAY);
    expect(await balance(s)).toBe('900');
  });

  test('an incomplete subscription blocks subscribing to its plan again, and can be canceled', async () => {
    const s = await customer('pro');
    await expectTallyError(s.ledger.subscribe({ customerId: 'cus_1', planId: 'pro' }), 'already_subscribed');
    const canceled = await s.ledger.cancelSubscription({ customerId: 'cus_1' });
    expect(canceled.status).toBe('canceled');
  });
});

describe('purchased credits', () => {
  test('record what was paid, and a refund of the unused remainder its share of the price', async () => {
    const s = setup({ catalog });
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    const bought = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '300',
      source: 'purchase',
      price: USD('9.00'),
      paymentId: 'pi_1',
    });
    expect(bought).toMatchObject({ source: 'purchase', price: USD('9.00'), paymentId: 'pi_1' });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 10 });
    const voided = await s.ledger.voidGrant({
      customerId: 'cus_1',
      grantId: bought.grantId,
      reason: 'refund',
      refund: true,
    });
    expect(voided).toMatchObject({ status: 'voided', remaining: '0' });
    const stream = await s.store.readStream('customer-cus_1');
    const refund = stream.find((e) => e.type === 'grant_voided')!.data.refund;
    expect(refund).toEqual({ credits: '200', money: USD('6.00') });
  });

  test('a purchase needs its price and payment id; a payment recorded twice makes one grant', async () => {
    const s = setup({ catalog });
    await s.ledger.createCustomer({ customerId: 'cus_1' });
    const base = { customerId: 'cus_1', currency: 'credits', amount: '100' };
    await expectRefused(
      s.store,
      () => s.ledger.grant({ ...base, source: 'purchase', price: USD('1.00') }),
      'invalid_input',
      'paymentId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.grant({ ...base, price: USD('1.00') }),
      'invalid_input',
      'price',
    );
    const first = await s.ledger.grant({
      ...base,
      source: 'purchase',
      price: USD('3.00'),
      paymentId: 'pi_1',
    });
    const again = await s.ledger.grant({
      ...base,
      source: 'purchase',
      price: USD('3.00'),
      paymentId: 'pi_1',
    });
    expect(again.grantId).toBe(first.grantId);
    expect((await s.ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('100');
    const { grantId } = await s.ledger.grant({ ...base, source: 'top_up' });
    await expectRefused(
      s.store,
      () => s.ledger.voidGrant({ customerId: 'cus_1', grantId, refund: true }),
      'invalid_input',
      'refund',
    );
  });
});
