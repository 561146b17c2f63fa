import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ConsumerStore,
  createLedger,
  createProcessor,
  type EventStore,
  type FeedBatch,
  ledgerDue,
  type NewEvent,
  type Processor,
  type StoredEvent,
} from '@tally/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalog } from '../reliability/support/catalog.js';
import { type OpenedStore, storeTargets } from '../support/stores.js';

/**
 * The feed's processor on every store: every event delivered in order, the checkpoint saved after the
 * handler and never moved back, a failed batch delivered again as it was, one active instance per
 * name with takeover, live delivery, and time-driven facts in the feed with no customer activity.
 */

const raw = (id: string): NewEvent => ({
  id,
  type: 'feed.test',
  schemaVersion: 1,
  at: new Date().toISOString(),
  data: { id },
  metadata: {},
});

/** Runs rounds until `done` holds (Postgres' readAll may wait for other transactions on the server). */
async function drain(processors: readonly Processor[], done: () => boolean, rounds = 400): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    let handled = 0;
    for (const p of processors) handled += await p.runOnce().catch(() => 0);
    if (handled === 0 && !done()) await sleep(25);
  }
  expect(done(), 'the processors caught up').toBe(true);
}

/** The store with its checkpoint saves recorded, to check they never go back. */
function recordingSaves(store: EventStore): { store: EventStore; saves: bigint[] } {
  const saves: bigint[] = [];
  const consumers: ConsumerStore = {
    ...store.consumers!,
    saveCheckpoint: async (name, partition, position) => {
      saves.push(position);
      await store.consumers!.saveCheckpoint(name, partition, position);
    },
  };
  return { store: { ...store, consumers }, saves };
}

const ids = (events: readonly StoredEvent[]) => events.map((e) => e.id);

for (const target of await storeTargets()) {
  describe(`${target.name}: feed processor`, () => {
    let opened: OpenedStore;
    let store: EventStore;
    const running: Processor[] = [];

    beforeEach(async () => {
      opened = await target.open();
      store = opened.store;
    });
    afterEach(async () => {
      for (const p of running.splice(0)) await p.stop();
      await opened.close();
    });

    async function writeSome(prefix: string, customers: number): Promise<void> {
      const ledger = createLedger({ catalog, store });
      for (let c = 0; c < customers; c++) {
        const customerId = `${prefix}-${c}`;
        await ledger.createCustomer({ customerId });
        await ledger.grant({ customerId, currency: 'credits', amount: '100', source: 'top_up' });
      }
      for (let i = 0; i < 3; i++) {
        await Promise.all(
          Array.from({ length: customers }, (_, c) =>
            ledger.trackUsage({ customerId: `${prefix}-${c}`, feature: 'unit', quantity: 1 + i }),
          ),
        );
        await store.append(`raw-${prefix}`, [raw(`${prefix}-raw-${i}`)], { expectedVersion: i });
      }
    }

    it('delivers every event once, in the global order and so in order per customer, in batches of batchSize', async () => {
      await writeSome('a', 4);
      const batches: FeedBatch[] = [];
      const p = createProcessor({
        store,
        name: 'all',
        batchSize: 7,
        handle: async (b) => void batches.push(b),
      });
      const expected = await store.readAll();
      const delivered = () => batches.flatMap((b) => b.events);
      await drain([p], () => delivered().length >= expected.length);
      expect(ids(delivered())).toEqual(ids(expected));
      expect(batches.every((b) => b.events.length <= 7 && b.partition === 'all')).toBe(true);
      const versions = new Map<string, number>();
      for (const e of delivered()) {
        expect(e.version, `${e.streamId} in order`).toBe((versions.get(e.streamId) ?? 0) + 1);
        versions.set(e.streamId, e.version);
      }
      // Caught up: nothing more, and the checkpoint is at the last event.
      expect(await p.runOnce()).toBe(0);
      expect((await store.consumers!.loadCheckpoint('all')).get('all')).toBe(expected.at(-1)!.position);
    });

    it('re-delivers a failed batch exactly as it was, before anything after it, and never moves the checkpoint back', async () => {
      await writeSome('b', 3);
      const expected = await store.readAll();
      const recorded = recordingSaves(store);
      const attempts: { ids: string[]; ok: boolean }[] = [];
      let calls = 0;
      const p = createProcessor({
        store: recorded.store,
        name: 'flaky',
        batchSize: 4,
        handle: async (b) => {
          calls += 1;
          const ok = calls % 3 !== 0; // every third call fails
          attempts.push({ ids: ids(b.events), ok });
          if (!ok) throw new Error('handler failed');
        },
      });
      const handled = () => attempts.filter((a) => a.ok).flatMap((a) => a.ids);
      await drain([p], () => handled().length >= expected.length);
      expect(attempts.some((a) => !a.ok)).toBe(true);
      attempts.forEach((a, i) => {
        if (!a.ok) expect(attempts[i + 1]?.ids, `attempt ${i + 1} is the failed batch again`).toEqual(a.ids);
      });
      expect(handled()).toEqual(ids(expected)); // none skipped, none twice after success
      expect(recorded.saves.length).toBeGreaterThan(1);
      recorded.saves.forEach((s, i) => {
        if (i > 0) expect(s > recorded.saves[i - 1]!).toBe(true);
      });
    });

    it('rejects runOnce with the handler error, keeps the checkpoint where it was', async () => {
      await writeSome('c', 1);
      const p = createProcessor({
        store,
        name: 'always-fails',
        handle: async () => {
          throw new Error('nope');
        },
      });
      await expect(p.runOnce()).rejects.toThrow('nope');
      expect([...(await store.consumers!.loadCheckpoint('always-fails'))]).toEqual([]);
    });

    it('runs one instance per name: the other delivers nothing until the holder stops, then goes on from its checkpoint', async () => {
      await writeSome('d', 2);
      const seen: { by: string; id: string }[] = [];
      const make = (by: string) =>
        createProcessor({
          store,
          name: 'single',
          batchSize: 5,
          handle: async (b) => {
            for (const e of b.events) seen.push({ by, id: e.id });
          },
        });
      const a = make('a');
      const b = make('b');
      const expected = await store.readAll();
      await drain([a], () => seen.length >= 5);
      expect(a.active).toBe(true);
      for (let i = 0; i < 3; i++) {
        expect(await b.runOnce()).toBe(0);
        expect(b.active).toBe(false);
      }
      await a.runOnce();
      const byA = seen.length;
      await a.stop(); // gives the lease up
      await drain([b], () => seen.length >= expected.length);
      expect(b.active).toBe(true);
      expect(seen.slice(0, byA).every((s) => s.by === 'a')).toBe(true);
      expect(seen.slice(byA).every((s) => s.by === 'b')).toBe(true);
      expect(seen.map((s) => s.id)).toEqual(ids(expected)); // b went on exactly where a stopped
    });

    it('lets another instance take over when the holder stops renewing, and goes on from its checkpoint', async () => {
      await writeSome('e', 2);
      const seen: string[] = [];
      const make = () =>
        createProcessor({
          store,
          name: 'takeover',
          batchSize: 3,
          leaseTtlMs: 300,
          handle: async (b) => void seen.push(...ids(b.events)),
        });
      const holder = make();
      const other = make();
      const expected = await store.readAll();
      await drain([holder], () => seen.length >= 3);
      const lastByHolder = seen.length;
      expect(await other.runOnce()).toBe(0); // the holder's lease has not lapsed
      // The holder is gone without a word (as if killed): it never renews again.
      await drain([other], () => seen.length >= expected.length);
      expect(other.active).toBe(true);
      expect(seen).toEqual(ids(expected));
      expect(lastByHolder).toBeLessThan(expected.length);
      // The old holder coming back finds the lease taken.
      expect(await holder.runOnce()).toBe(0);
      expect(holder.active).toBe(false);
    });

    it('delivers live: a started processor picks up events written after it started, and stop ends it', async () => {
      const seen: string[] = [];
      const p = createProcessor({
        store,
        name: 'live',
        pollInterval: { min: 5, max: 50 },
        handle: async (b) => void seen.push(...ids(b.events)),
      });
      running.push(p);
      p.start();
      for (let i = 0; i < 5; i++) {
        await store.append('live-stream', [raw(`live-${i}`)], { expectedVersion: i });
        await sleep(20);
      }
      for (let i = 0; i < 400 && seen.length < 5; i++) await sleep(25);
      expect(seen).toEqual(['live-0', 'live-1', 'live-2', 'live-3', 'live-4']);
      await p.stop();
      running.length = 0;
      // Stopped: its lease was given up, so another holder gets it at once.
      expect(await store.consumers!.acquireLease('live', 'someone-else', 60_000)).toBe(true);
    });

    it('puts time-driven facts in the feed at their instant with no activity on the customer', async () => {
      let nowMs = Date.parse('2025-01-01T00:00:00.000Z');
      const clock = () => new Date(nowMs);
      const ledger = createLedger({ catalog, store, clock });
      await ledger.createCustomer({ customerId: 'cus_expiring' });
      const expiresAt = '2025-01-01T06:00:00.000Z';
      const { grantId } = await ledger.grant({
        customerId: 'cus_expiring',
        currency: 'credits',
        amount: '50',
        source: 'promotion',
        expiresAt,
      });
      await ledger.createCustomer({ customerId: 'cus_plan' });
      await ledger.subscribe({ customerId: 'cus_plan', planId: 'free' });
      await ledger.createCustomer({ customerId: 'cus_idle' });

      const seen: StoredEvent[] = [];
      const p = createProcessor({
        store,
        name: 'due-watch',
        clock,
        due: ledgerDue({ ledger, store }),
        handle: async (b) => void seen.push(...b.events),
      });
      const written = (await store.readAll()).length;
      await drain([p], () => seen.length >= written);
      const dueTypes = ['grant_expired', 'subscription_renewed', 'hold_released'];
      expect(seen.filter((e) => dueTypes.includes(e.type))).toEqual([]);

      nowMs = Date.parse('2025-01-01T07:00:00.000Z'); // past the expiry; nobody touches the customer
      await drain([p], () => seen.some((e) => e.type === 'grant_expired'));
      const expired = seen.find((e) => e.type === 'grant_expired')!;
      expect(expired.streamId).toBe('customer-cus_expiring');
      expect(expired.at).toBe(expiresAt);
      expect(expired.data.grantId).toBe(grantId);

      nowMs = Date.parse('2025-02-01T00:00:01.000Z'); // the free plan's renewal
      await drain([p], () => seen.some((e) => e.type === 'subscription_renewed'));
      const renewed = seen.find((e) => e.type === 'subscription_renewed')!;
      expect(renewed.streamId).toBe('customer-cus_plan');
      expect(renewed.at).toBe('2025-02-01T00:00:00.000Z');
      // Once each, and nothing for the customer with nothing scheduled.
      await p.runOnce();
      const of = (customer: string) =>
        seen
          .filter((e) => e.streamId === `customer-${customer}` && dueTypes.includes(e.type))
          .map((e) => e.type);
      expect(of('cus_expiring')).toEqual(['grant_expired']);
      // The first cycle's credits expire at the renewal, which grants the next cycle's.
      expect(of('cus_plan')).toEqual(['grant_expired', 'subscription_renewed']);
      expect(seen.filter((e) => e.streamId === 'customer-cus_idle').map((e) => e.type)).toEqual([
        'customer_created',
      ]);
      // What the feed delivered is what the ledger reads: the stream holds the expiry.
      const stream = await store.readStream('customer-cus_expiring');
      expect(stream.map((e) => e.id)).toContain(expired.id);
    });

    it('refuses a store without consumers and bad options', () => {
      const { consumers: _, ...bare } = store;
      expect(() => createProcessor({ store: bare, name: 'x', handle: async () => {} })).toThrow(
        /keeps no consumers/,
      );
      expect(() => createProcessor({ store, name: '', handle: async () => {} })).toThrow(
        expect.objectContaining({ code: 'invalid_input', field: 'name' }),
      );
      expect(() =>
        createProcessor({ store, name: 'x', pollInterval: { min: 10, max: 5 }, handle: async () => {} }),
      ).toThrow(expect.objectContaining({ code: 'invalid_input', field: 'pollInterval.min' }));
    });
  });
}

describe('ledger.settleDue', () => {
  it('refuses unknown fields and unknown customers, writing nothing; stores only what is due, once', async () => {
    const { memoryStore } = await import('@tally/store-memory');
    const store = memoryStore();
    let nowMs = Date.parse('2025-01-01T00:00:00.000Z');
    const ledger = createLedger({ catalog, store, clock: () => new Date(nowMs) });
    await expect(ledger.settleDue({ customerId: 'nobody' })).rejects.toMatchObject({
      code: 'unknown_customer',
    });
    await expect(
      ledger.settleDue({ customerId: 'cus_1', extra: 1 } as unknown as { customerId: string }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '5',
      source: 'promotion',
      expiresAt: '2025-01-02T00:00:00.000Z',
    });
    const before = (await store.readAll()).length;
    expect(await ledger.settleDue({ customerId: 'cus_1' })).toMatchObject({
      settled: 0,
      nextDueAt: '2025-01-02T00:00:00.000Z',
    });
    expect(await store.readAll()).toHaveLength(before);
    nowMs = Date.parse('2025-01-03T00:00:00.000Z');
    expect(await ledger.settleDue({ customerId: 'cus_1' })).toMatchObject({ settled: 1, nextDueAt: null });
    expect(await ledger.settleDue({ customerId: 'cus_1' })).toMatchObject({ settled: 0, nextDueAt: null });
    expect((await store.readAll()).map((e) => e.type).slice(before)).toEqual(['grant_expired']);
  });
});

describe('a store with several partitions (a store sharded by customer)', () => {
  it('reads each partition in its own order from its own checkpoint position', async () => {
    const { memoryStore } = await import('@tally/store-memory');
    const inner = memoryStore();
    const partitionOf = (streamId: string) =>
      streamId.charCodeAt(streamId.length - 1) % 2 === 0 ? 'even' : 'odd';
    // Positions of a partition are its own sequence: each shard numbers its events from 1.
    const sharded: EventStore = {
      ...inner,
      partitions: async () => ['even', 'odd'],
      async readAll(options = {}) {
        const partition = options.partition ?? 'even';
        const mine = (await inner.readAll())
          .filter((e) => partitionOf(e.streamId) === partition)
          .map((e, i) => ({ ...e, position: BigInt(i + 1) }));
        return mine.filter((e) => e.position > (options.after ?? 0n)).slice(0, options.limit ?? mine.length);
      },
    };
    for (let i = 0; i < 30; i++) {
      const streamId = `s${i % 5}`;
      await inner.append(streamId, [raw(`e${i}`)], { expectedVersion: Math.floor(i / 5) });
    }
    const batches: FeedBatch[] = [];
    const p = createProcessor({
      store: sharded,
      name: 'sharded',
      batchSize: 4,
      handle: async (b) => void batches.push(b),
    });
    while ((await p.runOnce()) > 0);
    for (const partition of ['even', 'odd']) {
      const got = batches.filter((b) => b.partition === partition).flatMap((b) => ids(b.events));
      expect(got).toEqual(ids(await sharded.readAll({ partition })));
    }
    expect(new Map(await sharded.consumers!.loadCheckpoint('sharded'))).toEqual(
      new Map([
        ['even', BigInt((await sharded.readAll({ partition: 'even' })).length)],
        ['odd', BigInt((await sharded.readAll({ partition: 'odd' })).length)],
      ]),
    );
  });
});

describe('the time index beside a customer that cannot be read', () => {
  it('reports it and still puts the other customers’ due facts in the feed', async () => {
    const { memoryStore } = await import('@tally/store-memory');
    const store = memoryStore();
    let nowMs = Date.parse('2025-01-01T00:00:00.000Z');
    const clock = () => new Date(nowMs);
    const ledger = createLedger({ catalog, store, clock });
    await store.append('customer-broken', [raw('not-a-ledger-event')], { expectedVersion: 0 });
    await ledger.createCustomer({ customerId: 'cus_ok' });
    await ledger.grant({
      customerId: 'cus_ok',
      currency: 'credits',
      amount: '5',
      source: 'promotion',
      expiresAt: '2025-01-01T01:00:00.000Z',
    });
    const reported: unknown[] = [];
    const seen: StoredEvent[] = [];
    const p = createProcessor({
      store,
      name: 'beside-broken',
      clock,
      due: ledgerDue({ ledger, store, onError: (error) => reported.push(error) }),
      handle: async (b) => void seen.push(...b.events),
    });
    await p.runOnce();
    nowMs = Date.parse('2025-01-01T02:00:00.000Z');
    await p.runOnce();
    await p.runOnce();
    expect(seen.filter((e) => e.type === 'grant_expired').map((e) => e.streamId)).toEqual([
      'customer-cus_ok',
    ]);
    expect(reported.length).toBeGreaterThan(0);
    expect(reported[0]).toMatchObject({ code: expect.stringMatching(/unknown_event|corrupt_stream/) });
  });
});
