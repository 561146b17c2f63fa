import {
  appendAll,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type NewEvent,
  type StreamAppend,
  type StreamAppendOutcome,
} from '@tally/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fcOptions, fcRuns } from '../support/fast-check.js';
import type { OpenedStore, StoreTarget } from '../support/stores.js';
import { event, readAllSettled } from './helpers.js';
import { readEveryPartition, readEverything } from './partitions.js';

/**
 * `appendMany`, the batch append across streams (group commit), as every store must do it: each part
 * checked on its own as `append` checks it, the parts that pass stored whole, a part that fails left
 * out with its typed conflict and nothing of it written, outcomes in the batch's order.
 */
export function describeAppendManyContract(target: StoreTarget): void {
  describe(`${target.name}: appendMany`, () => {
    let opened: OpenedStore | undefined;
    let store: EventStore;

    beforeEach(async () => {
      opened = await target.open();
      store = opened.store;
    });
    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    it('is implemented, so the ledger gets one transaction per batch', () => {
      expect(store.appendMany).toBeTypeOf('function');
    });

    it('stores every part, each at its own versions, and answers in the batch order', async () => {
      await store.append('m-b', [event('b0')], { expectedVersion: 0 });
      const outcomes = await appendAll(store, [
        { streamId: 'm-c', events: [event('c1'), event('c2')], expectedVersion: 0 },
        { streamId: 'm-a', events: [event('a1')], expectedVersion: 0 },
        { streamId: 'm-b', events: [event('b1'), event('b2'), event('b3')], expectedVersion: 1 },
      ]);
      const [c, a, b] = outcomes.map(okResult);
      expect([c!.nextVersion, a!.nextVersion, b!.nextVersion]).toEqual([2, 1, 4]);
      const streams = {
        a: await store.readStream('m-a'),
        b: await store.readStream('m-b'),
        c: await store.readStream('m-c'),
      };
      expect(streams.c.map((e) => [e.version, e.id])).toEqual([
        [1, 'c1'],
        [2, 'c2'],
      ]);
      expect(streams.b.map((e) => e.id)).toEqual(['b0', 'b1', 'b2', 'b3']);
      expect(c!.lastPosition).toBe(streams.c.at(-1)!.position);
      expect(a!.lastPosition).toBe(streams.a.at(-1)!.position);
      expect(b!.lastPosition).toBe(streams.b.at(-1)!.position);
      // Within a stream, positions follow versions; in the global order every event is there once.
      expectIncreasing(streams.b.map((e) => e.position));
      const all = await readAllSettled(store, 7);
      expect(all.map((e) => e.id).sort()).toEqual(['a1', 'b0', 'b1', 'b2', 'b3', 'c1', 'c2']);
      // Positions increase within each partition of the global order (one, on a single server).
      for (const partition of await readEveryPartition(store))
        expectIncreasing(partition.map((e) => e.position));
      expect(await appendAll(store, [])).toEqual([]);
    });

    it('leaves out only the part whose expected version is stale or ahead, writing nothing of it', async () => {
      await store.append('m-1', [event('x1'), event('x2')], { expectedVersion: 0 });
      const outcomes = await appendAll(store, [
        { streamId: 'm-0', events: [event('ok0')], expectedVersion: 0 },
        { streamId: 'm-1', events: [event('stale')], expectedVersion: 1 },
        { streamId: 'm-2', events: [event('ahead')], expectedVersion: 3 },
        { streamId: 'm-3', events: [event('ok3'), event('ok3b')], expectedVersion: 0 },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
      expect(errorOf(outcomes[1]!)).toBeInstanceOf(ConcurrencyConflictError);
      expect(errorOf(outcomes[1]!)).toMatchObject({ streamId: 'm-1', expectedVersion: 1, actualVersion: 2 });
      expect(errorOf(outcomes[2]!)).toMatchObject({ streamId: 'm-2', expectedVersion: 3, actualVersion: 0 });
      expect((await store.readStream('m-1')).map((e) => e.id)).toEqual(['x1', 'x2']);
      expect(await store.readStream('m-2')).toEqual([]);
      expect((await store.readStream('m-3')).map((e) => e.id)).toEqual(['ok3', 'ok3b']);
      expect((await readEverything(store)).map((e) => e.id).sort()).toEqual([
        'ok0',
        'ok3',
        'ok3b',
        'x1',
        'x2',
      ]);
    });

    it('leaves out a part whose idempotency key is already in its stream, and only that part', async () => {
      await store.append('k-1', [event('first', 'pay-1')], { expectedVersion: 0 });
      const outcomes = await appendAll(store, [
        { streamId: 'k-1', events: [event('again'), event('dup', 'pay-1')], expectedVersion: 1 },
        // The same key in another stream is free, in the store and inside the batch.
        { streamId: 'k-2', events: [event('other', 'pay-1')], expectedVersion: 0 },
        { streamId: 'k-3', events: [event('also', 'pay-1')], expectedVersion: 0 },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([false, true, true]);
      expect(errorOf(outcomes[0]!)).toBeInstanceOf(DuplicateIdempotencyKeyError);
      expect(errorOf(outcomes[0]!)).toMatchObject({ streamId: 'k-1', idempotencyKey: 'pay-1' });
      expect((await store.readStream('k-1')).map((e) => e.id)).toEqual(['first']);
      expect((await store.findByIdempotencyKey('k-2', 'pay-1'))?.id).toBe('other');
      expect((await store.findByIdempotencyKey('k-3', 'pay-1'))?.id).toBe('also');
    });

    // SQLite writes a long part in several statements (256 rows each): its last one failing must take
    // the earlier ones with it, in a batch and in a lone append alike.
    it('leaves out a long part whose last event has a taken key, and nothing of it stays', async () => {
      await store.append('long-1', [event('first', 'taken')], { expectedVersion: 0 });
      const long = Array.from({ length: 600 }, (_, i) => event(`long-${i}`, i === 599 ? 'taken' : `k-${i}`));
      const outcomes = await appendAll(store, [
        { streamId: 'long-0', events: [event('beside')], expectedVersion: 0 },
        { streamId: 'long-1', events: long, expectedVersion: 1 },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, false]);
      expect(errorOf(outcomes[1]!)).toMatchObject({ streamId: 'long-1', idempotencyKey: 'taken' });
      await expect(store.append('long-1', long, { expectedVersion: 1 })).rejects.toBeInstanceOf(
        DuplicateIdempotencyKeyError,
      );
      expect((await store.readStream('long-1')).map((e) => e.id)).toEqual(['first']);
      expect(await store.findByIdempotencyKey('long-1', 'k-0')).toBeNull();
      expect((await readEverything(store)).map((e) => e.id).sort()).toEqual(['beside', 'first']);
    });

    it('refuses a malformed batch whole, before writing any of it', async () => {
      const good = (): StreamAppend => ({ streamId: 'r-ok', events: [event('fine')], expectedVersion: 0 });
      const malformed: StreamAppend[][] = [
        // A key twice in one part: the batch itself is wrong, not the store's state.
        [good(), { streamId: 'r-1', events: [event('a', 'k'), event('b', 'k')], expectedVersion: 0 }],
        [good(), { streamId: 'r-ok', events: [event('twice')], expectedVersion: 0 }],
        [good(), { streamId: 'r-2', events: [], expectedVersion: 0 }],
        [good(), { streamId: '', events: [event('a')], expectedVersion: 0 }],
        [good(), { streamId: 'r-3', events: [event('a')], expectedVersion: -1 }],
      ];
      for (const batch of malformed) {
        await expect(store.appendMany!(batch)).rejects.toThrow();
      }
      expect(await readEverything(store)).toEqual([]);
    });

    it('holds a part with a guard only while its guard stream is at that version', async () => {
      await store.append('catalog-m', [event('c1'), event('c2')], { expectedVersion: 0, guarding: true });
      const outcomes = await appendAll(store, [
        {
          streamId: 'g-1',
          events: [event('held')],
          expectedVersion: 0,
          guard: { streamId: 'catalog-m', version: 2 },
        },
        {
          streamId: 'g-2',
          events: [event('old')],
          expectedVersion: 0,
          guard: { streamId: 'catalog-m', version: 1 },
        },
        {
          streamId: 'g-3',
          events: [event('new')],
          expectedVersion: 0,
          guard: { streamId: 'none-yet', version: 0 },
        },
        { streamId: 'g-4', events: [event('free')], expectedVersion: 0 },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true]);
      expect(errorOf(outcomes[1]!)).toBeInstanceOf(ConcurrencyConflictError);
      expect(errorOf(outcomes[1]!)).toMatchObject({
        streamId: 'catalog-m',
        expectedVersion: 1,
        actualVersion: 2,
      });
      expect(await store.readStream('g-2')).toEqual([]);
    });

    it(`agrees with one append per part, whatever mix of conflicts a batch holds (property, ${fcRuns(100)} runs)`, async () => {
      // A model of the store: each stream's events and keys. Every batch's outcomes must be what
      // appending its parts one by one would give, and the streams what the model holds.
      const model = new Map<string, { ids: string[]; keys: Set<string> }>();
      let round = 0;
      const part = fc.record({
        stream: fc.integer({ min: 0, max: 5 }),
        drift: fc.constantFrom(0, 0, 0, -1, 1),
        events: fc.array(fc.option(fc.constantFrom('k1', 'k2', 'k3', 'k4'), { nil: undefined }), {
          minLength: 1,
          maxLength: 4,
        }),
      });
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(part, { selector: (p) => p.stream, maxLength: 5 }), async (parts) => {
          round += 1;
          const batch: StreamAppend[] = parts.map((p) => {
            const length = model.get(`p-${p.stream}`)?.ids.length ?? 0;
            const keys = [...new Set(p.events)];
            return {
              streamId: `p-${p.stream}`,
              expectedVersion: Math.max(0, length + p.drift),
              events: p.events.map((_, i) => event(`r${round}-s${p.stream}-${i}`, keys[i])),
            };
          });
          const outcomes = await appendAll(store, batch);
          batch.forEach((p, i) => {
            const entry = model.get(p.streamId) ?? { ids: [], keys: new Set<string>() };
            const outcome = outcomes[i]!;
            const keys = p.events.flatMap((e) => e.metadata.idempotencyKey ?? []);
            if (p.expectedVersion !== entry.ids.length) {
              expect(errorOf(outcome)).toBeInstanceOf(ConcurrencyConflictError);
            } else if (keys.some((key) => entry.keys.has(key))) {
              expect(errorOf(outcome)).toBeInstanceOf(DuplicateIdempotencyKeyError);
            } else {
              expect(okResult(outcome).nextVersion).toBe(entry.ids.length + p.events.length);
              entry.ids.push(...p.events.map((e) => e.id));
              for (const key of keys) entry.keys.add(key);
              model.set(p.streamId, entry);
            }
          });
          for (const p of batch) {
            const stored = await store.readStream(p.streamId);
            expect(stored.map((e) => e.id)).toEqual(model.get(p.streamId)?.ids ?? []);
            expect(stored.map((e) => e.version)).toEqual(stored.map((_, i) => i + 1));
          }
        }),
        fcOptions({ runs: 100 }),
      );
    });

    it('loses nothing while many callers send overlapping batches at once, each retrying its conflicts', async () => {
      const streams = ['o-0', 'o-1', 'o-2', 'o-3', 'o-4', 'o-5'];
      const versions = new Map<string, number>();
      const acknowledged = new Map<string, string[]>();
      const caller = async (c: number): Promise<void> => {
        for (let n = 0; n < 8; n++) {
          // Each caller's parts in its own order: batches share streams in every order.
          let pending: { streamId: string; events: NewEvent[] }[] = [0, 1, 2].map((k) => {
            const streamId = streams[(c * 5 + n + k * (1 + (c % 2))) % streams.length]!;
            return { streamId, events: [event(`c${c}-n${n}-k${k}-a`), event(`c${c}-n${n}-k${k}-b`)] };
          });
          pending = pending.filter((p, i) => pending.findIndex((q) => q.streamId === p.streamId) === i);
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 200) throw new Error('a batch kept conflicting');
            const batch = pending.map((p) => ({ ...p, expectedVersion: versions.get(p.streamId) ?? 0 }));
            const outcomes = await appendAll(store, batch);
            const retry: typeof pending = [];
            for (const [i, outcome] of outcomes.entries()) {
              const p = pending[i]!;
              if (outcome.ok) {
                versions.set(p.streamId, outcome.result.nextVersion);
                acknowledged.set(p.streamId, [
                  ...(acknowledged.get(p.streamId) ?? []),
                  ...p.events.map((e) => e.id),
                ]);
              } else {
                expect(outcome.error).toBeInstanceOf(ConcurrencyConflictError);
                versions.set(p.streamId, (await store.readStream(p.streamId)).length);
                retry.push(p);
              }
            }
            pending = retry;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, c) => caller(c)));
      let total = 0;
      for (const streamId of streams) {
        const stored = await store.readStream(streamId);
        total += stored.length;
        expect(stored.map((e) => e.version)).toEqual(stored.map((_, i) => i + 1));
        expect(stored.map((e) => e.id).sort()).toEqual([...(acknowledged.get(streamId) ?? [])].sort());
      }
      expect(await readAllSettled(store, total)).toHaveLength(total);
    });
  });
}

function okResult(outcome: StreamAppendOutcome) {
  if (!outcome.ok) throw new Error(`expected the part to be stored, got ${outcome.error.name}`);
  return outcome.result;
}

function errorOf(outcome: StreamAppendOutcome): Error {
  if (outcome.ok) throw new Error('expected the part to be left out');
  return outcome.error;
}

function expectIncreasing(positions: bigint[]): void {
  for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
}
