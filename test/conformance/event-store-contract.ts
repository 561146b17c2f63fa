import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type NewEvent,
  partitionsOf,
  type StoredEvent,
} from '@tally/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fcOptions, fcRuns } from '../support/fast-check.js';
import type { OpenedStore, StoreTarget } from '../support/stores.js';
import { describeAppendManyContract } from './append-many-contract.js';
import { batch, streamSuffix } from './arbitraries.js';
import { appendWithRetry, event, readAllSettled } from './helpers.js';
import { globalOrderProblems, readEveryPartition, readEverything, readPartition } from './partitions.js';

/**
 * The behaviour every `EventStore` must have, run once per adapter. Each test gets an empty store of
 * its own from `target.open()`, closed (and removed) after it.
 */
export function describeEventStoreContract(target: StoreTarget): void {
  describeAppendManyContract(target);
  describe(`${target.name}: EventStore contract`, () => {
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

    it('appends with a guard only while the guard stream is at the version given, else writes nothing', async () => {
      await store.append('catalog-g', [event('c1')], { expectedVersion: 0, guarding: true });
      await store.append('s-g', [event('a')], {
        expectedVersion: 0,
        guard: { streamId: 'catalog-g', version: 1 },
      });
      await store.append('catalog-g', [event('c2')], { expectedVersion: 1, guarding: true });
      const refused = await store
        .append('s-g', [event('b')], { expectedVersion: 1, guard: { streamId: 'catalog-g', version: 1 } })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConcurrencyConflictError);
      expect(await store.readStream('s-g')).toHaveLength(1);
      // A guard on a stream that does not exist yet holds at version 0.
      await store.append('s-h', [event('x')], {
        expectedVersion: 0,
        guard: { streamId: 'none-yet', version: 0 },
      });
      await store.append('s-g', [event('b')], {
        expectedVersion: 1,
        guard: { streamId: 'catalog-g', version: 2 },
      });
      expect((await store.readStream('s-g')).map((e) => e.id)).toEqual(['a', 'b']);
    });

    it('appends to a new stream and reads it back in order', async () => {
      const events = [event('a'), event('b'), event('c')];
      const result = await store.append('s-1', events, { expectedVersion: 0 });
      const read = await store.readStream('s-1');

      expect(read).toEqual(events.map((e, i) => stored(e, 's-1', i + 1, read[i]!.position)));
      expectIncreasing(read.map((e) => e.position));
      expect(result).toEqual({ nextVersion: 3, lastPosition: read[2]!.position });

      const more = await store.append('s-1', [event('d'), event('e')], { expectedVersion: 3 });
      expect(more.nextVersion).toBe(5);
      expect((await store.readStream('s-1', { fromVersion: 4 })).map((e) => [e.version, e.id])).toEqual([
        [4, 'd'],
        [5, 'e'],
      ]);
      expect(await store.readStream('unknown')).toEqual([]);
    });

    it('reads a range of versions with fromVersion and toVersion', async () => {
      await store.append(
        's-r',
        ['a', 'b', 'c', 'd', 'e'].map((id) => event(id)),
        { expectedVersion: 0 },
      );
      const ids = async (options: { fromVersion?: number; toVersion?: number }) =>
        (await store.readStream('s-r', options)).map((e) => e.id);
      expect(await ids({ fromVersion: 2, toVersion: 4 })).toEqual(['b', 'c', 'd']);
      expect(await ids({ toVersion: 2 })).toEqual(['a', 'b']);
      expect(await ids({ fromVersion: 3, toVersion: 3 })).toEqual(['c']);
      expect(await ids({ fromVersion: 4, toVersion: 9 })).toEqual(['d', 'e']);
      expect(await ids({ fromVersion: 4, toVersion: 3 })).toEqual([]);
      expect(await ids({ fromVersion: 6 })).toEqual([]);
    });

    it('rejects a stale or a future expected version and writes nothing of the batch', async () => {
      await store.append('s-1', [event('a'), event('b')], { expectedVersion: 0 });
      for (const expectedVersion of [0, 1, 3]) {
        const error = await rejection(store.append('s-1', [event('x'), event('y')], { expectedVersion }));
        expect(error).toBeInstanceOf(ConcurrencyConflictError);
        expect(error).toMatchObject({ streamId: 's-1', expectedVersion, actualVersion: 2 });
      }
      await expect(store.append('s-new', [event('z')], { expectedVersion: 1 })).rejects.toBeInstanceOf(
        ConcurrencyConflictError,
      );
      expect((await store.readStream('s-1')).map((e) => e.id)).toEqual(['a', 'b']);
      expect((await readAllSettled(store, 2)).map((e) => e.id)).toEqual(['a', 'b']);
    });

    it('refuses malformed appends before touching storage', async () => {
      await expect(store.append('s-1', [], { expectedVersion: 0 })).rejects.toBeInstanceOf(TypeError);
      await expect(store.append('', [event('a')], { expectedVersion: 0 })).rejects.toBeInstanceOf(TypeError);
      await expect(store.append('s-1', [event('a')], { expectedVersion: -1 })).rejects.toBeInstanceOf(
        TypeError,
      );
      expect(await readEverything(store)).toEqual([]);
    });

    it('writes a batch whole or not at all', async () => {
      await store.append('s-1', [event('a', 'key-1')], { expectedVersion: 0 });
      // The last event of the batch collides: the events before it must not stay behind.
      const failing = [event('b'), event('c', 'key-2'), event('d', 'key-1')];
      await expect(store.append('s-1', failing, { expectedVersion: 1 })).rejects.toBeInstanceOf(
        DuplicateIdempotencyKeyError,
      );
      expect((await store.readStream('s-1')).map((e) => e.id)).toEqual(['a']);
      expect(await store.findByIdempotencyKey('s-1', 'key-2')).toBeNull();

      // The failed batch took nothing: the same version is still free.
      const result = await store.append('s-1', [event('b'), event('c', 'key-2')], { expectedVersion: 1 });
      expect(result.nextVersion).toBe(3);
      expect((await readAllSettled(store, 3)).map((e) => [e.streamId, e.version, e.id])).toEqual([
        ['s-1', 1, 'a'],
        ['s-1', 2, 'b'],
        ['s-1', 3, 'c'],
      ]);
    });

    it('reads all streams in global order and pages with after and limit', async () => {
      const appends: [string, string[]][] = [
        ['s-a', ['a1', 'a2']],
        ['s-b', ['b1']],
        ['s-a', ['a3']],
        ['s-c', ['c1', 'c2', 'c3']],
        ['s-b', ['b2']],
      ];
      const versions = new Map<string, number>();
      for (const [streamId, ids] of appends) {
        const expectedVersion = versions.get(streamId) ?? 0;
        const { nextVersion } = await store.append(
          streamId,
          ids.map((id) => event(id)),
          { expectedVersion },
        );
        versions.set(streamId, nextVersion);
      }

      await readAllSettled(store, 8);
      const partitions = await partitionsOf(store);
      const read = await readEveryPartition(store);
      // One writer appending one batch after another: the order of each partition is the order of the
      // appends (with one partition, the global order is exactly that).
      expect(
        globalOrderProblems(
          read,
          appends.flatMap(([, ids]) => ids),
        ),
      ).toEqual([]);
      expect(read.flat().sort(byStreamAndVersion)).toEqual(
        [
          ...(await store.readStream('s-a')),
          ...(await store.readStream('s-b')),
          ...(await store.readStream('s-c')),
        ].sort(byStreamAndVersion),
      );

      for (const [p, partition] of partitions.entries()) {
        const all = read[p]!;
        for (const limit of [1, 2, 3, 5, 8, 100]) {
          expect(await readInPages(store, partition, limit)).toEqual(all);
        }
        for (let i = 0; i < all.length; i++) {
          expect(await readPartition(store, partition, { after: all[i]!.position })).toEqual(
            all.slice(i + 1),
          );
          expect(await readPartition(store, partition, { after: all[i]!.position, limit: 2 })).toEqual(
            all.slice(i + 1, i + 3),
          );
        }
        expect(await readPartition(store, partition, { limit: 0 })).toEqual([]);
      }
    });

    it('loses no event and skips none while many callers append to many streams at once', async () => {
      const writers = 12;
      const appendsPerWriter = 12;
      const streams = ['c-0', 'c-1', 'c-2', 'c-3', 'c-4'];
      const acknowledged: { streamId: string; ids: string[]; nextVersion: number }[] = [];
      let writing = true;

      // A reader catching up page by page while the writers run, with one position per partition: a
      // skipped event would never come back.
      const partitions = await partitionsOf(store);
      const seen: StoredEvent[][] = partitions.map(() => []);
      const catchUp = async (limit: number): Promise<number> => {
        let read = 0;
        for (const [p, partition] of partitions.entries()) {
          const page = await readPartition(store, partition, {
            after: seen[p]!.at(-1)?.position ?? 0n,
            limit,
          });
          seen[p]!.push(...page);
          read += page.length;
        }
        return read;
      };
      const poll = async (): Promise<void> => {
        while (writing) {
          await catchUp(7);
          await sleep(1);
        }
      };
      const write = async (writer: number): Promise<void> => {
        for (let n = 0; n < appendsPerWriter; n++) {
          const streamId = streams[(writer + n) % streams.length]!;
          const ids = Array.from({ length: 1 + ((writer + n) % 3) }, (_, i) => `w${writer}-n${n}-e${i}`);
          const result = await appendWithRetry(
            store,
            streamId,
            ids.map((id) => event(id)),
          );
          acknowledged.push({ streamId, ids, nextVersion: result.nextVersion });
        }
      };
      const polling = poll();
      await Promise.all(Array.from({ length: writers }, (_, writer) => write(writer)));
      writing = false;
      await polling;

      const total = acknowledged.reduce((sum, a) => sum + a.ids.length, 0);
      const deadline = Date.now() + 10_000;
      while (seen.flat().length < total && Date.now() < deadline) {
        if ((await catchUp(50)) === 0) await sleep(10);
      }

      expect(seen).toEqual(await readEveryPartition(store));
      expect(seen.flat()).toHaveLength(total);
      expect(new Set(seen.flat().map((e) => e.id)).size).toBe(total);
      for (const events of seen) expectIncreasing(events.map((e) => e.position));
      for (const streamId of streams) {
        const stream = await store.readStream(streamId);
        expect(stream.map((e) => e.version)).toEqual(stream.map((_, i) => i + 1));
        const mine = acknowledged.filter((a) => a.streamId === streamId);
        expect(stream).toHaveLength(mine.reduce((sum, a) => sum + a.ids.length, 0));
        // Every acknowledged batch sits where its append said, contiguous.
        for (const a of mine) {
          const first = a.nextVersion - a.ids.length;
          expect(stream.slice(first, a.nextVersion).map((e) => e.id)).toEqual(a.ids);
        }
      }
    });

    it('keeps an idempotency key unique per stream, and free in other streams', async () => {
      await store.append('s-1', [event('a', 'pay-1')], { expectedVersion: 0 });
      await store.append('s-2', [event('b', 'pay-1')], { expectedVersion: 0 });

      const error = await rejection(
        store.append('s-1', [event('c'), event('d', 'pay-1')], { expectedVersion: 1 }),
      );
      expect(error).toBeInstanceOf(DuplicateIdempotencyKeyError);
      expect(error).toMatchObject({ streamId: 's-1', idempotencyKey: 'pay-1' });
      expect((await store.readStream('s-1')).map((e) => e.id)).toEqual(['a']);
      expect((await store.readStream('s-2')).map((e) => e.id)).toEqual(['b']);
    });

    it('rejects a batch that repeats an idempotency key, writing nothing', async () => {
      const error = await rejection(
        store.append('s-1', [event('a', 'k'), event('b'), event('c', 'k')], { expectedVersion: 0 }),
      );
      expect(error).toBeInstanceOf(DuplicateIdempotencyKeyError);
      expect(error).toMatchObject({ streamId: 's-1', idempotencyKey: 'k' });
      expect(await store.readStream('s-1')).toEqual([]);
      expect(await readEverything(store)).toEqual([]);
    });

    it('finds an event by its idempotency key within its stream', async () => {
      await store.append('s-1', [event('a'), event('b', 'order-7'), event('c', 'order-8')], {
        expectedVersion: 0,
      });
      const [, b] = await store.readStream('s-1');
      expect(await store.findByIdempotencyKey('s-1', 'order-7')).toEqual(b);
      expect(await store.findByIdempotencyKey('s-2', 'order-7')).toBeNull();
      expect(await store.findByIdempotencyKey('s-1', 'order-9')).toBeNull();
    });

    it(`hands back exactly the events it was given (property, ${fcRuns(200)} runs)`, async () => {
      const written: StoredEvent[] = [];
      let run = 0;
      await fc.assert(
        fc.asyncProperty(streamSuffix, batch, async (suffix, events) => {
          const streamId = `prop-${run++}-${suffix}`;
          const result = await store.append(streamId, events, { expectedVersion: 0 });
          const read = await store.readStream(streamId);
          expect(read).toEqual(events.map((e, i) => stored(e, streamId, i + 1, read[i]!.position)));
          expect(result.lastPosition).toBe(read.at(-1)!.position);
          for (const e of read) {
            const key = e.metadata.idempotencyKey;
            if (key !== undefined) expect(await store.findByIdempotencyKey(streamId, key)).toEqual(e);
          }
          written.push(...read);
        }),
        fcOptions({ runs: 200 }),
      );
      await readAllSettled(store, written.length);
      const read = await readEveryPartition(store);
      expect(
        globalOrderProblems(
          read,
          written.map((e) => e.id),
        ),
      ).toEqual([]);
      const byId = new Map(written.map((e) => [e.id, e]));
      for (const events of read) expect(events).toEqual(events.map((e) => byId.get(e.id)));
    });

    it('keeps what it stored: changing an event after append or after read changes nothing stored', async () => {
      const original = event('a', 'k');
      const input = { ...original, data: { amount: '1.00', nested: { list: [1, 2] } } };
      await store.append('s-1', [input], { expectedVersion: 0 });
      input.data.nested.list.push(3);
      const stored = { amount: '1.00', nested: { list: [1, 2] } };
      // A read is a fresh copy (changing it is allowed) or the stored event frozen (changing it throws).
      const change = (action: () => void) => {
        try {
          action();
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
      };
      const [first] = await store.readStream('s-1');
      change(() => {
        (first!.data as { amount: string }).amount = 'changed';
      });
      change(() => (first!.data as typeof stored).nested.list.push(4));
      // Settled: Postgres's readAll may lag a commit while a transaction runs elsewhere on the server.
      const [all] = await readAllSettled(store, 1);
      expect(all?.id).toBe('a'); // a missing event must fail here, not as a TypeError `change` accepts
      change(() => {
        (all!.data as { amount: string }).amount = 'changed too';
      });
      const found = await store.findByIdempotencyKey('s-1', 'k');
      change(() => (found!.data as typeof stored).nested.list.pop());
      expect((await store.readStream('s-1'))[0]!.data).toEqual(stored);
      expect((await readAllSettled(store, 1))[0]!.data).toEqual(stored);
      expect((await store.findByIdempotencyKey('s-1', 'k'))!.data).toEqual(stored);
    });

    it('keeps a key named __proto__ as data, as JSON.parse reads it', async () => {
      const data = JSON.parse('{"__proto__":{"polluted":true},"amount":"1.00"}') as Record<string, unknown>;
      await store.append('s-1', [{ ...event('a'), data }], { expectedVersion: 0 });
      for (const [read] of [await store.readStream('s-1'), await readAllSettled(store, 1)]) {
        expect(read?.id).toBe('a');
        expect(Object.getPrototypeOf(read!.data)).toBe(Object.prototype);
        expect(Object.hasOwn(read!.data, '__proto__')).toBe(true);
        expect(JSON.stringify(read!.data)).toBe('{"__proto__":{"polluted":true},"amount":"1.00"}');
      }
    });

    it('keeps the newest snapshot of each stream', async () => {
      expect(await store.readSnapshot('s-1')).toBeNull();
      const state = { balance: '12.50', grants: [{ id: 'g-1', left: '2.5' }], note: 'é 🧾', none: null };
      await store.writeSnapshot({ streamId: 's-1', version: 3, schemaVersion: 2, state });
      expect(await store.readSnapshot('s-1')).toEqual({
        streamId: 's-1',
        version: 3,
        schemaVersion: 2,
        state,
      });

      // Older or equal versions never replace what is there.
      await store.writeSnapshot({ streamId: 's-1', version: 2, schemaVersion: 2, state: 'older' });
      await store.writeSnapshot({ streamId: 's-1', version: 3, schemaVersion: 9, state: 'same version' });
      expect(await store.readSnapshot('s-1')).toEqual({
        streamId: 's-1',
        version: 3,
        schemaVersion: 2,
        state,
      });

      await store.writeSnapshot({ streamId: 's-1', version: 5, schemaVersion: 3, state: [1, 'two'] });
      expect(await store.readSnapshot('s-1')).toEqual({
        streamId: 's-1',
        version: 5,
        schemaVersion: 3,
        state: [1, 'two'],
      });
      expect(await store.readSnapshot('s-2')).toBeNull();
    });
  });
}

function stored(e: NewEvent, streamId: string, version: number, position: bigint): StoredEvent {
  return { ...e, streamId, version, position };
}

async function readInPages(store: EventStore, partition: string, limit: number): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (;;) {
    const page = await readPartition(store, partition, { after: all.at(-1)?.position ?? 0n, limit });
    expect(page.length).toBeLessThanOrEqual(limit);
    if (page.length === 0) return all;
    all.push(...page);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

// Positions of different partitions may be equal: a stream and a version name an event everywhere.
function byStreamAndVersion(x: StoredEvent, y: StoredEvent): number {
  return x.streamId < y.streamId ? -1 : x.streamId > y.streamId ? 1 : x.version - y.version;
}

function expectIncreasing(positions: bigint[]): void {
  for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
}
