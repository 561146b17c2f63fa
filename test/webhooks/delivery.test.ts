/**
 * Webhook delivery against real receivers on localhost, on every store (memory, a SQLite file,
 * Postgres): the outbox is streams of the store, so what one sender recorded is what the next one
 * (a restart) continues from. Time is a hand-moved clock shared by the ledger, the sender and the
 * receiver's verifyWebhook; the HTTP requests are real.
 */
import { isTallyError } from '@tally/core';
import { createWebhooks, type Webhooks, type WebhooksOptions } from '@tally/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpenedStore, storeTargets } from '../support/stores.js';
import { pump } from './support/feed.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { customerEvents, deliveryProblems, writeHistories } from './support/workload.js';

const targets = await storeTargets();

/** A clock the test moves, and a seeded draw for the backoff's jitter. */
function manualTime() {
  let nowMs = Date.parse('2026-01-01T00:00:00.000Z');
  let seed = 42;
  return {
    clock: () => new Date(nowMs),
    advance: (ms: number) => {
      nowMs += ms;
    },
    random: () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(target: (typeof targets)[number]) {
  const opened: OpenedStore = await target.open();
  cleanups.push(opened.close);
  const time = manualTime();
  let secret = '';
  const receiverOptions = { secret: () => secret, now: time.clock };
  const sender = (options: Partial<WebhooksOptions> = {}): Webhooks => {
    const webhooks = createWebhooks({
      store: opened.store,
      clock: time.clock,
      random: time.random,
      maxAttempts: 30,
      backoff: { baseMs: 1_000, maxMs: 60_000 },
      timeoutMs: 5_000,
      ...options,
    });
    cleanups.push(() => webhooks.stop());
    return webhooks;
  };
  return {
    store: opened.store,
    time,
    sender,
    receiverOptions,
    setSecret: (s: string) => {
      secret = s;
    },
    async receiver(respond?: Parameters<typeof startReceiver>[0]['respond']): Promise<Receiver> {
      const receiver = await startReceiver({ ...receiverOptions, ...(respond ? { respond } : {}) });
      cleanups.push(receiver.close);
      return receiver;
    },
  };
}

/** Passes of the sender, the clock moved past any backoff between them, until nothing is pending. */
async function drain(webhooks: Webhooks, advance: (ms: number) => void, endpointId: string, maxPasses = 200) {
  for (let pass = 0; pass < maxPasses; pass++) {
    await webhooks.deliverDue();
    const pending = await webhooks.deliveries({ endpointId, status: 'pending' });
    if (pending.length === 0) return pass;
    advance(61_000);
  }
  throw new Error(`deliveries still pending after ${maxPasses} passes`);
}

describe.each(targets)('webhooks on $name', (target) => {
  it('receiver down for a while then up: every event delivered once up, same ids, valid signatures, in each customer order, after a restart of the sender', async () => {
    const t = await setUp(target);
    const receiver = await t.receiver();
    const first = t.sender();
    const { id: endpointId, secret } = await first.registerEndpoint({ url: receiver.url, eventTypes: ['*'] });
    t.setSecret(secret);
    await receiver.down();

    const customers = ['cus_a', 'cus_b', 'cus_c'];
    await writeHistories(t.store, { customers, usages: 4, clock: t.time.clock });
    const position = await pump(t.store, first.handle);
    const byCustomer = await customerEvents(t.store);
    const total = [...byCustomer.values()].reduce((n, events) => n + events.length, 0);
    expect(total).toBe(customers.length * 6);
    // Handing the same events again (the feed is at least once) enqueues nothing more.
    await pump(t.store, first.handle);
    expect(await first.deliveries({ endpointId })).toHaveLength(total);

    // Down: each pass tries only the first event of each customer, and fails; retries back off.
    for (let pass = 0; pass < 5; pass++) {
      const result = await first.deliverDue();
      expect(result.succeeded).toBe(0);
      t.time.advance(61_000);
    }
    const pending = await first.deliveries({ endpointId, status: 'pending' });
    expect(pending).toHaveLength(total);
    const tried = pending.filter((d) => d.attempts > 0);
    expect(tried.map((d) => d.customerId).sort()).toEqual(customers);
    for (const d of tried) {
      expect(d.attempts).toBe(5);
      expect(d.lastResponseStatus).toBeNull();
      expect(d.lastError).not.toBeNull();
    }
    expect(receiver.received).toHaveLength(0);

    // A new sender (a restart) over the same store, and the receiver is back.
    await receiver.up();
    const second = t.sender();
    const passes = await drain(second, t.time.advance, endpointId);
    expect(passes).toBeLessThan(50);

    expect(deliveryProblems(byCustomer, receiver.received)).toEqual([]);
    expect(receiver.received).toHaveLength(total); // no failure once up, so nothing twice
    const delivered = await second.deliveries({ endpointId });
    expect(delivered.every((d) => d.status === 'succeeded' && d.lastResponseStatus === 200)).toBe(true);
    // The first events of each customer: 5 failed attempts while down, the 6th got through.
    expect(delivered.filter((d) => d.totalAttempts === 6)).toHaveLength(customers.length);
    expect(receiver.received.filter((r) => r.attempt === 6)).toHaveLength(customers.length);

    // Nothing new: the sender's own streams are not handed on, and a pass does nothing.
    await pump(t.store, second.handle, position);
    expect(await second.deliveries({ endpointId })).toHaveLength(total);
    expect(await second.deliverDue()).toEqual({ attempted: 0, succeeded: 0, failed: 0, deadLettered: 0 });
  });

  it("a customer's failing event holds back that customer's later events only, until it gets through", async () => {
    const t = await setUp(target);
    let failing: string | null = null;
    const receiver = await t.receiver((r) => (r.eventId === failing ? 503 : 200));
    const webhooks = t.sender();
    const { id: endpointId, secret } = await webhooks.registerEndpoint({
      url: receiver.url,
      eventTypes: ['credits_deducted'],
    });
    t.setSecret(secret);
    await writeHistories(t.store, { customers: ['cus_a', 'cus_b'], usages: 5, clock: t.time.clock });
    const byCustomer = await customerEvents(t.store);
    for (const [customer, events] of byCustomer) {
      byCustomer.set(
        customer,
        events.filter((e) => e.type === 'credits_deducted'),
      );
    }
    const blocked = byCustomer.get('cus_a')![1]!; // cus_a's second usage
    failing = blocked.id;
    await pump(t.store, webhooks.handle);

    for (let pass = 0; pass < 12; pass++) {
      await webhooks.deliverDue();
      t.time.advance(61_000);
    }
    const got = (customer: string) =>
      receiver.received.filter(
        (r) => r.verified.ok && r.status === 200 && r.verified.customerId === customer,
      );
    // cus_b: all five; cus_a: only the first, then its second failing again and again.
    expect(got('cus_b').map((r) => r.eventId)).toEqual(byCustomer.get('cus_b')!.map((e) => e.id));
    expect(got('cus_a').map((r) => r.eventId)).toEqual([byCustomer.get('cus_a')![0]!.id]);
    const attemptsOfBlocked = receiver.received.filter((r) => r.eventId === blocked.id);
    // The first pass delivered cus_a's first usage; each later pass tried the blocked one once more.
    expect(attemptsOfBlocked.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    failing = null;
    await drain(webhooks, t.time.advance, endpointId);
    expect(deliveryProblems(byCustomer, receiver.received)).toEqual([]);
    expect(got('cus_a').map((r) => r.eventId)).toEqual(byCustomer.get('cus_a')!.map((e) => e.id));
  });

  it('backs off exponentially with jitter between attempts, within the bounds', async () => {
    const t = await setUp(target);
    const receiver = await t.receiver(() => 500);
    const webhooks = t.sender({ backoff: { baseMs: 1_000, maxMs: 16_000 } });
    const { id: endpointId, secret } = await webhooks.registerEndpoint({
      url: receiver.url,
      eventTypes: ['*'],
    });
    t.setSecret(secret);
    await writeHistories(t.store, { customers: ['cus_a'], usages: 0, clock: t.time.clock });
    await pump(t.store, webhooks.handle);
    const gaps: number[] = [];
    let last = t.time.clock().getTime();
    for (let attempt = 1; attempt <= 7; attempt++) {
      // Step the clock a second at a time: the attempt is made at the first pass where it is due.
      for (;;) {
        const { attempted } = await webhooks.deliverDue();
        if (attempted > 0) break;
        t.time.advance(250);
      }
      const now = t.time.clock().getTime();
      if (attempt > 1) gaps.push(now - last);
      last = now;
    }
    const [head] = await webhooks.deliveries({ endpointId });
    expect(head!.attempts).toBe(7);
    expect(head!.lastResponseStatus).toBe(500);
    // After failed attempt n the wait is drawn from [c/2, c], c = min(16 s, 1 s * 2^(n-1)); the clock
    // moves in 250 ms steps, so a gap is at most 250 ms over its draw.
    gaps.forEach((gap, i) => {
      const ceiling = Math.min(16_000, 1_000 * 2 ** i);
      expect(gap).toBeGreaterThanOrEqual(ceiling / 2);
      expect(gap).toBeLessThanOrEqual(ceiling + 250);
    });
    expect(new Set(gaps).size).toBeGreaterThan(1);
  });

  it('dead-letters after N attempts, lets the customer go on, and replays the dead letter with the same id', async () => {
    const t = await setUp(target);
    let refuse: string | null = null;
    const receiver = await t.receiver((r) => (r.eventId === refuse ? 500 : 200));
    const webhooks = t.sender({ maxAttempts: 3 });
    const { id: endpointId, secret } = await webhooks.registerEndpoint({
      url: receiver.url,
      eventTypes: ['credits_granted', 'credits_deducted'],
    });
    t.setSecret(secret);
    await writeHistories(t.store, { customers: ['cus_a'], usages: 2, clock: t.time.clock });
    const events = (await customerEvents(t.store))
      .get('cus_a')!
      .filter((e) => e.type === 'credits_granted' || e.type === 'credits_deducted');
    refuse = events[0]!.id;
    await pump(t.store, webhooks.handle);
    await drain(webhooks, t.time.advance, endpointId);

    const dead = await webhooks.deliveries({ endpointId, status: 'dead_lettered' });
    expect(dead.map((d) => d.eventId)).toEqual([refuse]);
    expect(dead[0]).toMatchObject({ attempts: 3, lastResponseStatus: 500, nextAttemptAt: null });
    expect(receiver.received.filter((r) => r.eventId === refuse)).toHaveLength(3);
    // The customer's later events went on once the first was given up on.
    expect((await webhooks.deliveries({ endpointId, status: 'succeeded' })).map((d) => d.eventId)).toEqual(
      events.slice(1).map((e) => e.id),
    );

    refuse = null;
    const replayed = await webhooks.replayDelivery({ deliveryId: dead[0]!.id });
    expect(replayed).toMatchObject({ status: 'pending', attempts: 0, totalAttempts: 3 });
    // Replaying a pending delivery changes nothing.
    expect(await webhooks.replayDelivery({ deliveryId: dead[0]!.id })).toMatchObject({ status: 'pending' });
    await drain(webhooks, t.time.advance, endpointId);
    const last = receiver.received.at(-1)!;
    expect(last).toMatchObject({ eventId: events[0]!.id, status: 200, attempt: 1, verified: { ok: true } });
    expect(receiver.received.filter((r) => r.eventId === events[0]!.id).map((r) => r.body)).toEqual(
      Array(4).fill(last.body),
    );
    expect((await webhooks.deliveries({ endpointId, status: 'dead_lettered' })).length).toBe(0);

    // A restarted sender reads the same history from the store.
    const after = await t.sender().deliveries({ endpointId });
    expect(after.map((d) => [d.eventId, d.status, d.totalAttempts])).toEqual(
      events.map((e) => [e.id, 'succeeded', e.id === events[0]!.id ? 4 : 1]),
    );

    const refusal = await webhooks.replayDelivery({ deliveryId: `${endpointId}.evt_nope` }).catch((e) => e);
    expect(isTallyError(refusal, 'unknown_webhook_delivery') && refusal.field).toBe('deliveryId');
    const extra = await webhooks.replayDelivery({ deliveryId: dead[0]!.id, force: true }).catch((e) => e);
    expect(isTallyError(extra, 'invalid_input') && extra.field).toBe('force');
  });

  it('rotating the secret signs with both secrets for the grace period, then with the new one only', async () => {
    const t = await setUp(target);
    const receiver = await t.receiver();
    const webhooks = t.sender({ rotationGraceSeconds: 3_600 });
    const { id: endpointId, secret: old } = await webhooks.registerEndpoint({
      url: receiver.url,
      eventTypes: ['customer_created'],
    });
    t.setSecret(old);
    const rotated = await webhooks.updateEndpoint({ endpointId, secret: 'whsec_rotated_0123456789' });
    expect(rotated).toMatchObject({ secret: 'whsec_rotated_0123456789' });
    await writeHistories(t.store, { customers: ['cus_a'], usages: 0, clock: t.time.clock });
    await pump(t.store, webhooks.handle);
    await webhooks.deliverDue();
    // Within the grace period: a receiver still on the old secret accepts it.
    expect(receiver.received.map((r) => [r.verified.ok, r.signature.split('v1=').length - 1])).toEqual([
      [true, 2],
    ]);

    t.time.advance(3_601_000);
    await writeHistories(t.store, { customers: ['cus_b'], usages: 0, clock: t.time.clock });
    await pump(t.store, webhooks.handle);
    await webhooks.deliverDue();
    expect(receiver.received[1]).toMatchObject({ verified: { ok: false, reason: 'no_valid_signature' } });
    t.setSecret('whsec_rotated_0123456789');
    await drain(webhooks, t.time.advance, endpointId);
    expect(receiver.received.at(-1)).toMatchObject({ verified: { ok: true }, status: 200 });
    expect(receiver.received.at(-1)!.signature.split('v1=')).toHaveLength(2);
  });

  it('registers, lists, updates and disables endpoints, refusing bad input with code and field', async () => {
    const t = await setUp(target);
    const webhooks = t.sender();
    const made = await webhooks.registerEndpoint({
      id: 'billing',
      url: 'https://example.com/hooks',
      eventTypes: ['credits_deducted', 'credits_deducted'],
    });
    expect(made).toMatchObject({ id: 'billing', enabled: true, eventTypes: ['credits_deducted'] });
    expect(made.secret).toMatch(/^whsec_[0-9a-f]{48}$/);
    const listed = await t.sender().endpoints();
    const { secret: _secret, ...shown } = made;
    expect(listed).toEqual([shown]);
    expect(listed[0]).not.toHaveProperty('secret');
    expect(await webhooks.disableEndpoint({ endpointId: 'billing' })).toMatchObject({ enabled: false });
    expect(
      await webhooks.updateEndpoint({ endpointId: 'billing', enabled: true, eventTypes: ['*'] }),
    ).toEqual(expect.objectContaining({ enabled: true, eventTypes: ['*'] }));

    const refused = async (call: Promise<unknown>) => {
      const error = await call.then(
        () => null,
        (e: unknown) => e,
      );
      if (!isTallyError(error)) throw new Error(`expected a TallyError, got ${String(error)}`);
      return [error.code, error.field];
    };
    expect(
      await refused(webhooks.registerEndpoint({ id: 'billing', url: 'https://x.io', eventTypes: ['*'] })),
    ).toEqual(['webhook_endpoint_exists', 'id']);
    expect(await refused(webhooks.registerEndpoint({ url: 'ftp://x.io', eventTypes: ['*'] }))).toEqual([
      'invalid_input',
      'url',
    ]);
    expect(
      await refused(webhooks.registerEndpoint({ url: 'https://x.io', eventTypes: ['credit_deducted'] })),
    ).toEqual(['invalid_input', 'eventTypes[0]']);
    expect(
      await refused(webhooks.registerEndpoint({ url: 'https://x.io', eventTypes: ['*'], secret: 'short' })),
    ).toEqual(['invalid_input', 'secret']);
    expect(
      await refused(webhooks.registerEndpoint({ url: 'https://x.io', eventTypes: ['*'], extra: 1 })),
    ).toEqual(['invalid_input', 'extra']);
    expect(await refused(webhooks.updateEndpoint({ endpointId: 'nope', enabled: false }))).toEqual([
      'unknown_webhook_endpoint',
      'endpointId',
    ]);
    expect(await refused(webhooks.deliveries({ endpointId: 'billing', status: 'lost' }))).toEqual([
      'invalid_input',
      'status',
    ]);
    // Nothing refused was written.
    expect((await webhooks.endpoints()).map((e) => e.id)).toEqual(['billing']);
  });
});
