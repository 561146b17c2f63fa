import { describe, expect, test } from 'vitest';
import { type Purchased, type PurchaseRequest, type RecordedEvent, runAutoTopUps } from '../src/index.js';
import { upcast } from '../src/pure.js';
import { customerWith, DAY, expectRefused, HOUR, iso, type Setup, setup, T0 } from './support.js';

/** The host's payment API as Stripe keeps it: one charge per idempotency key, whatever the retries. */
function fakeHost(options: { failFirst?: number } = {}) {
  const charges = new Map<string, Purchased & { amount: string }>();
  const calls: PurchaseRequest[] = [];
  let failures = options.failFirst ?? 0;
  const purchase = async (request: PurchaseRequest): Promise<Purchased> => {
    calls.push(request);
    if (failures > 0) {
      failures -= 1;
      throw new Error('card declined');
    }
    let charge = charges.get(request.idempotencyKey);
    if (charge === undefined) {
      charge = {
        paymentId: `pay_${charges.size + 1}`,
        price: { amount: `${request.amount}.00`, currency: 'USD' },
        amount: request.amount,
      };
      charges.set(request.idempotencyKey, charge);
    }
    return { paymentId: charge.paymentId, price: charge.price };
  };
  return { purchase, charges, calls };
}

const C = { customerId: 'cus_1' };
const streamOf = async (s: Setup) => (await s.store.readStream('customer-cus_1')).map(upcast);
const ofType = <T extends RecordedEvent['type']>(events: readonly RecordedEvent[], type: T) =>
  events.filter((e): e is Extract<RecordedEvent, { type: T }> => e.type === type);
const balance = async (s: Setup) =>
  (await s.ledger.creditAccounts(C)).find((a) => a.currency === 'credits')!.available;
const use = (s: Setup, quantity: number) => s.ledger.trackUsage({ ...C, feature: 'ai-generation', quantity });

describe('auto top-up', () => {
  test('a crossing records one request in the usage append; a second crossing while it is in flight does nothing', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ ...C, currency: 'credits', amount: '150' });
    await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '100', amount: '500' });
    const before = (await s.store.readAll()).length;
    const usage = await use(s, 6); // 90
    const appended = (await s.store.readAll()).slice(before);
    expect(appended.map((e) => e.type)).toEqual(['credits_deducted', 'auto_top_up_requested']);
    await use(s, 5); // 40: still below, one in flight
    const [request] = ofType(await streamOf(s), 'auto_top_up_requested');
    expect(ofType(await streamOf(s), 'auto_top_up_requested')).toHaveLength(1);
    expect(request!.data).toMatchObject({ amount: '500', available: '90' });
    // Derived from the event that crossed: the usage's deduction.
    expect(request!.data.triggeredBy).toBe(appended[0]!.id);
    expect(request!.data.idempotencyKey).toContain(appended[0]!.id);
    expect(usage.balance).toBe('90');

    const host = fakeHost();
    const outcomes = await runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' });
    expect(outcomes.map((o) => o.outcome)).toEqual(['granted']);
    expect(host.calls).toEqual([
      {
        customerId: 'cus_1',
        currency: 'credits',
        amount: '500',
        idempotencyKey: request!.data.idempotencyKey,
      },
    ]);
    expect(await balance(s)).toBe('540');
    const grants = await s.ledger.grants({ ...C, currency: 'credits' });
    expect(grants.at(-1)).toMatchObject({ source: 'purchase', amount: '500', paymentId: 'pay_1' });
    // Nothing in flight: running again buys nothing.
    expect(await runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' })).toEqual(
      [],
    );
    expect(host.calls).toHaveLength(1);
  });

  test('a deficit of 3.5 increments is one purchase of 4; a target buys exactly the gap', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ ...C, currency: 'credits', limit: '1000' });
    await s.ledger.grant({ ...C, currency: 'credits', amount: '100' });
    await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '100', amount: '100' });
    await use(s, 35); // 100 - 350 = -250: 350 below the threshold, 3.5 increments
    const host = fakeHost();
    await runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' });
    expect(host.calls.map((c) => c.amount)).toEqual(['400']);
    expect(await balance(s)).toBe('150');

    await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '100', target: '1000' });
    await use(s, 7); // 80
    await runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' });
    expect(host.calls.map((c) => c.amount)).toEqual(['400', '920']);
    expect(await balance(s)).toBe('1000');
  });

  test('a crash after the purchase and before the grant: the restart retries with the same key, the host charges once, the credits arrive', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ ...C, currency: 'credits', amount: '100' });
    await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '50', amount: '200' });
    await use(s, 6);
    const host = fakeHost();
    // The executor that crashed: it read the request and charged, and died before recording it.
    const { autoTopUps } = await s.ledger.evaluateAlerts(C);
    const pending = autoTopUps[0]!.pending!;
    await host.purchase({
      customerId: 'cus_1',
      currency: 'credits',
      amount: pending.amount,
      idempotencyKey: pending.idempotencyKey,
    });
    // Another process, starting cold, finds the request still in flight.
    await runAutoTopUps({ ledger: s.cold(), purchase: host.purchase, customerId: 'cus_1' });
    expect(host.calls.map((c) => c.idempotencyKey)).toEqual([pending.idempotencyKey, pending.idempotencyKey]);
    expect(host.charges.size).toBe(1);
    expect(await balance(s)).toBe('240');
    expect(
      ofType(await streamOf(s), 'credits_granted').filter((e) => e.data.source === 'purchase'),
    ).toHaveLength(1);
  });

  test('two executors finishing the same request grant once', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ ...C, currency: 'credits', amount: '100' });
    await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '50', amount: '200' });
    await use(s, 6);
    const host = fakeHost();
    await Promise.all([
      runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' }),
      runAutoTopUps({ ledger: s.cold(), purchase: host.purchase, customerId: 'cus_1' }),
    ]);
    expect(host.charges.size).toBe(1);
    expect(ofType(await streamOf(s), 'auto_top_up_completed')).toHaveLength(1);
    expect(await balance(s)).toBe('240');
  });

  test('a failed purchase is recorded and retried after a doubling backoff with the same key; the rule pauses after maxFailures', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ ...C, currency: 'credits', amount: '100' });
    await s.ledger.setAutoTopUp({
      ...C,
      currency: 'credits',
      threshold: '50',
      amount: '200',
      maxFailures: 3,
      retryBackoff: '1m',
    });
    await use(s, 6);
    const host = fakeHost({ failFirst: 3 });
    const run = () => runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' });
    expect((await run()).map((o) => o.outcome)).toEqual(['failed']);
    expect(await run()).toEqual([]); // waiting out the first minute
    s.clock.advance(60_000);
    expect((await run()).map((o) => o.outcome)).toEqual(['failed']);
    s.clock.advance(60_000);
    expect(await run()).toEqual([]); // the second wait is two minutes
    s.clock.advance(60_000);
    expect((await run()).map((o) => o.outcome)).toEqual(['failed']);
    const failed = ofType(await streamOf(s), 'auto_top_up_failed');
    expect(failed.map((e) => [e.data.attempt, e.data.paused, e.data.retryAt])).toEqual([
      [1, false, iso(T0 + 60_000)],
      [2, false, iso(T0 + 3 * 60_000)],
      [3, true, null],
    ]);
    expect(new Set(host.calls.map((c) => c.idempotencyKey)).size).toBe(1);
    // Paused: a further crossing asks for nothing.
    await use(s, 1);
    expect(ofType(await streamOf(s), 'auto_top_up_requested')).toHaveLength(1);
    // Set again, unpaused: the balance is below, so a new request is made at once, with a new key.
    const rule = await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '50', amount: '200' });
    expect(rule.paused).toBe(false);
    expect(rule.pending?.idempotencyKey).not.toBe(host.calls[0]!.idempotencyKey);
    expect((await run()).map((o) => o.outcome)).toEqual(['granted']);
    expect(host.charges.size).toBe(1);
  });

  test('maxPerPeriod counts requests in the period; the next is asked for at the instant the period frees it', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ ...C, currency: 'credits', amount: '150' });
    await s.ledger.setAutoTopUp({
      ...C,
      currency: 'credits',
      threshold: '100',
      amount: '100',
      maxPerPeriod: { count: 2, period: '1d' },
    });
    const host = fakeHost();
    const run = () => runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' });
    for (let i = 0; i < 3; i++) {
      await use(s, i === 0 ? 6 : 10); // 90 each time: below the threshold
      await run();
      s.clock.advance(HOUR);
    }
    expect(host.calls).toHaveLength(2);
    // A day after the first request, with nothing else happening, time alone asks for the third.
    s.clock.set(T0 + DAY + HOUR);
    await run();
    const requests = ofType(await streamOf(s), 'auto_top_up_requested');
    expect(requests.map((e) => e.at)).toEqual([iso(T0), iso(T0 + HOUR), iso(T0 + DAY)]);
    expect(host.calls).toHaveLength(3);
  });

  test('an amount cap holds a request back until it fits; a cooldown spaces requests', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.setCreditLimit({ ...C, currency: 'credits', limit: '10000' });
    await s.ledger.grant({ ...C, currency: 'credits', amount: '100' });
    await s.ledger.setAutoTopUp({
      ...C,
      currency: 'credits',
      threshold: '100',
      amount: '100',
      maxPerPeriod: { amount: '300', period: '1d' },
      cooldown: '2h',
    });
    const host = fakeHost();
    const run = () => runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' });
    await use(s, 30); // -200: 300 below, 3 increments: exactly the cap
    await run();
    expect(host.calls.map((c) => c.amount)).toEqual(['300']);
    s.clock.advance(HOUR);
    await use(s, 1); // 90: below, but within the cooldown and the cap
    await run();
    s.clock.set(T0 + 3 * HOUR);
    await run(); // the cooldown is over, the cap is not
    expect(host.calls).toHaveLength(1);
    s.clock.set(T0 + DAY + 1);
    await run();
    expect(host.calls.map((c) => c.amount)).toEqual(['300', '100']);
    expect(ofType(await streamOf(s), 'auto_top_up_requested').map((e) => e.at)).toEqual([
      iso(T0),
      iso(T0 + DAY),
    ]);
  });

  test('concurrent usages crossing at once, through two ledgers: one request, one purchase', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ ...C, currency: 'credits', amount: '200' });
    await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '150', amount: '500' });
    const other = s.cold();
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? s.ledger : other).trackUsage({ ...C, feature: 'ai-generation', quantity: 1 }),
      ),
    );
    const host = fakeHost();
    await Promise.all([
      runAutoTopUps({ ledger: s.ledger, purchase: host.purchase, customerId: 'cus_1' }),
      runAutoTopUps({ ledger: other, purchase: host.purchase, customerId: 'cus_1' }),
    ]);
    expect(ofType(await streamOf(s), 'auto_top_up_requested')).toHaveLength(1);
    expect(host.charges.size).toBe(1);
    expect(await balance(s)).toBe('620');
  });

  test('a rule set while the balance is below asks at once, triggered by the rule itself', async () => {
    const s = setup();
    await customerWith(s);
    const rule = await s.ledger.setAutoTopUp({ ...C, currency: 'credits', threshold: '100', amount: '250' });
    const [set] = ofType(await streamOf(s), 'auto_top_up_set');
    expect(rule.pending).toMatchObject({ amount: '250', due: true });
    expect(ofType(await streamOf(s), 'auto_top_up_requested')[0]!.data.triggeredBy).toBe(set!.id);
  });

  test('bad rules and unknown fields are refused, writing nothing', async () => {
    const s = setup();
    await customerWith(s);
    const base = { ...C, currency: 'credits', threshold: '100' };
    const refuse = (input: unknown, code: Parameters<typeof expectRefused>[2], field: string) =>
      expectRefused(s.store, () => s.ledger.setAutoTopUp(input as never), code, field);
    await refuse(base, 'invalid_input', 'amount');
    await refuse({ ...base, amount: '10', target: '500' }, 'invalid_input', 'target');
    await refuse({ ...base, target: '100' }, 'invalid_amount', 'target');
    await refuse({ ...base, amount: '0' }, 'invalid_amount', 'amount');
    await refuse({ ...base, amount: '1.5' }, 'invalid_amount', 'amount');
    await refuse({ ...base, threshold: '-1', amount: '10' }, 'invalid_amount', 'threshold');
    await refuse({ ...base, amount: '10', maxPerPeriod: { period: '1d' } }, 'invalid_input', 'maxPerPeriod');
    await refuse(
      { ...base, amount: '10', maxPerPeriod: { count: 0, period: '1d' } },
      'invalid_input',
      'maxPerPeriod.count',
    );
    await refuse(
      { ...base, amount: '10', maxPerPeriod: { count: 1 } },
      'invalid_input',
      'maxPerPeriod.period',
    );
    await refuse({ ...base, amount: '10', cooldown: 'soon' }, 'invalid_input', 'cooldown');
    await refuse({ ...base, amount: '10', maxFailures: 0 }, 'invalid_input', 'maxFailures');
    await refuse({ ...base, amount: '10', thresold: '5' }, 'invalid_input', 'thresold');
    await refuse({ ...base, currency: 'gold', amount: '10' }, 'unknown_currency', 'currency');
    const complete = {
      ...C,
      currency: 'credits',
      requestId: 'evt_x',
      paymentId: 'pi_1',
      price: { amount: '1.00', currency: 'USD' },
    };
    await expectRefused(s.store, () => s.ledger.completeAutoTopUp(complete), 'invalid_input', 'currency');
    await s.ledger.setAutoTopUp({ ...base, amount: '10' });
    await expectRefused(s.store, () => s.ledger.completeAutoTopUp(complete), 'invalid_input', 'requestId');
    await expectRefused(
      s.store,
      () => s.ledger.failAutoTopUp({ ...C, currency: 'credits', requestId: 'evt_x', error: 'x' }),
      'invalid_input',
      'requestId',
    );
  });
});
