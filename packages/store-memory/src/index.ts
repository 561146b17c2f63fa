import {
  type AppendOptions,
  type AppendResult,
  assertAppendable,
  assertBatchAppendable,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type NewEvent,
  type Snapshot,
  type StoredEvent,
  type StreamAppend,
  type StreamAppendOutcome,
} from '@tally/core';
import { checkOptions } from '@tally/core/pure';
import { memoryConsumers } from './consumers.js';

export { memoryConsumers } from './consumers.js';

/**
 * The reference `EventStore`: everything in process memory, gone when the process ends.
 * Events are deep-copied in and deeply frozen, so callers can never change what was stored, and
 * reads hand out the stored events themselves: a read costs no copy (a copy per event was most of a
 * cold read's time). Snapshots are copied in and out.
 *
 * @example
 * const ledger = createLedger({ catalog, store: memoryStore() });
 */
export function memoryStore(options: Readonly<Record<string, never>> = {}): EventStore {
  // It takes no options; one passed anyway (from JavaScript, or a spread) is a mistake said at once.
  checkOptions(options, {}, { factory: 'memoryStore' });
  const streams = new Map<string, StoredEvent[]>();
  const keys = new Map<string, Map<string, StoredEvent>>();
  /** Each stream's snapshot as JSON text, as the other stores keep one (a snapshot is JSON data). */
  const snapshots = new Map<string, { readonly version: number; readonly json: string }>();
  const all: StoredEvent[] = [];
  let position = 0n;

  /** Throws the conflict that keeps `events` out of the stream; changes nothing. */
  const check = (
    streamId: string,
    events: readonly NewEvent[],
    options: Pick<AppendOptions, 'expectedVersion' | 'guard'>,
  ): void => {
    const length = streams.get(streamId)?.length ?? 0;
    if (length !== options.expectedVersion) {
      throw new ConcurrencyConflictError(streamId, options.expectedVersion, length);
    }
    if (options.guard !== undefined) {
      const guarded = streams.get(options.guard.streamId)?.length ?? 0;
      if (guarded !== options.guard.version) {
        throw new ConcurrencyConflictError(options.guard.streamId, options.guard.version, guarded);
      }
    }
    const streamKeys = keys.get(streamId);
    if (streamKeys === undefined) return;
    for (const event of events) {
      const key = event.metadata.idempotencyKey;
      if (key !== undefined && streamKeys.has(key)) throw new DuplicateIdempotencyKeyError(streamId, key);
    }
  };

  /** Stores `copies` (checked, and the store's own) at the end of the stream. */
  const commit = (streamId: string, copies: readonly NewEvent[]): AppendResult => {
    const stream = streams.get(streamId) ?? [];
    const streamKeys = keys.get(streamId) ?? new Map<string, StoredEvent>();
    let version = stream.length;
    for (const event of copies) {
      position += 1n;
      version += 1;
      // Its contents were frozen with the copy (`ownCopy`); only this new top level is left. Field by
      // field, as the other stores keep an event (their columns), and since on Node 20's V8 a spread
      // followed by keys it lacks takes the runtime's slow path (about 1 µs an event).
      const stored: StoredEvent = Object.freeze({
        id: event.id,
        type: event.type,
        schemaVersion: event.schemaVersion,
        at: event.at,
        data: event.data,
        metadata: event.metadata,
        streamId,
        version,
        position,
      });
      stream.push(stored);
      all.push(stored);
      const key = event.metadata.idempotencyKey;
      if (key !== undefined) streamKeys.set(key, stored);
    }
    streams.set(streamId, stream);
    keys.set(streamId, streamKeys);
    return { nextVersion: version, lastPosition: position };
  };

  return {
    consumers: memoryConsumers(),

    async append(
      streamId: string,
      events: readonly NewEvent[],
      options: AppendOptions,
    ): Promise<AppendResult> {
      assertAppendable(streamId, events, options);
      // Copy the whole batch before changing anything: the copy throws on a value it cannot keep (a
      // function, a Date), and a throw halfway through must leave nothing of the batch behind.
      const copies = events.map(ownCopy);
      check(streamId, copies, options);
      return commit(streamId, copies);
    },

    async appendMany(batch: readonly StreamAppend[]): Promise<StreamAppendOutcome[]> {
      assertBatchAppendable(batch);
      const copies = batch.map((part) => part.events.map(ownCopy));
      // Synchronous from the first check to the last commit: no other append can come in between,
      // which is all a transaction would add here.
      return batch.map((part, i): StreamAppendOutcome => {
        try {
          check(part.streamId, copies[i]!, part);
        } catch (error) {
          if (error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError)
            return { ok: false, error };
          throw error;
        }
        return { ok: true, result: commit(part.streamId, copies[i]!) };
      });
    },

    async readStream(streamId, options = {}) {
      const from = Math.max(1, options.fromVersion ?? 1);
      const to = options.toVersion ?? Number.POSITIVE_INFINITY;
      const stream = streams.get(streamId) ?? [];
      return stream.slice(from - 1, Number.isFinite(to) ? Math.max(from - 1, to) : stream.length);
    },

    async readAll(options = {}) {
      const after = options.after ?? 0n;
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      const result: StoredEvent[] = [];
      // Positions are dense here (position n is at index n - 1), so start right after `after`; a
      // negative `after` means from the start (a negative index would read undefined entries).
      const start = after < 0n ? 0 : Number(after);
      for (let i = start; i < all.length && result.length < limit; i++) result.push(all[i]!);
      return result;
    },

    async findByIdempotencyKey(streamId, idempotencyKey) {
      const found = keys.get(streamId)?.get(idempotencyKey);
      return found ?? null;
    },

    // Kept as JSON text, as the SQLite and Postgres stores keep it (a snapshot is JSON data: see
    // `Snapshot`): each read is a copy of its own, at a third of what structuredClone in and out cost
    // (JSON.stringify 4.4 vs structuredClone 13.4 µs for a small customer's snapshot; the parse 5.5).
    async readSnapshot(streamId) {
      const snapshot = snapshots.get(streamId);
      return snapshot === undefined ? null : (JSON.parse(snapshot.json) as Snapshot);
    },

    async writeSnapshot(snapshot) {
      const current = snapshots.get(snapshot.streamId);
      if (current === undefined || current.version < snapshot.version) {
        snapshots.set(snapshot.streamId, { version: snapshot.version, json: JSON.stringify(snapshot) });
      }
    },

    async close() {},
  };
}

/**
 * The store's copy of an event, frozen all through. It throws on a value it cannot copy (a function,
 * a symbol, a bigint) or could not keep unchanged once frozen (a `Date`, a `Map`, a typed array: their
 * contents stay writable), before anything of the batch is stored. Events are JSON values, as the other
 * stores keep them.
 */
const ownCopy = (event: NewEvent): NewEvent => frozenCopy(event, 0) as NewEvent;

/** Deeper than any event: a value nested further is refused (a cyclic one would never end). */
const MAX_DEPTH = 1_000;

/**
 * A copy of `value` and everything in it, each level frozen as it is made: one walk, where a
 * `structuredClone` and then a walk to freeze were two (and the clone 10% of a memory-store command).
 */
function frozenCopy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      throw new TypeError(`the memory store keeps JSON values only: a ${typeof value} cannot be stored`);
    }
    return value;
  }
  if (depth >= MAX_DEPTH) {
    throw new TypeError(`the memory store keeps values nested at most ${MAX_DEPTH} deep (or one is cyclic)`);
  }
  if (Array.isArray(value)) {
    const list = value as readonly unknown[];
    const copy = new Array<unknown>(list.length);
    for (let i = 0; i < list.length; i++) copy[i] = frozenCopy(list[i], depth + 1);
    return Object.freeze(copy);
  }
  const prototype = Object.getPrototypeOf(value);
  // Beyond plain objects, an instance of a class is kept as its own fields, as structuredClone and
  // JSON.stringify read it; a built-in with contents of its own, or a value with toJSON, is refused.
  if (
    prototype !== Object.prototype &&
    prototype !== null &&
    (Object.prototype.toString.call(value) !== '[object Object]' ||
      typeof (value as { toJSON?: unknown }).toJSON === 'function')
  ) {
    throw new TypeError(
      `the memory store keeps JSON values only: ${Object.prototype.toString.call(value)} cannot be stored`,
    );
  }
  const copy: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const inner = frozenCopy((value as Record<string, unknown>)[key], depth + 1);
    // An own `__proto__` key (JSON.parse makes one) is data: assigned, it would set the prototype.
    if (key === '__proto__') {
      Object.defineProperty(copy, key, {
        value: inner,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else copy[key] = inner;
  }
  return Object.freeze(copy);
}
