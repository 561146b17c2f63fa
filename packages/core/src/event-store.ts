import type { ConsumerStore } from './consumer-store.js';

/**
 * The storage contract. The ledger talks to storage only through this interface; every adapter
 * (memory, SQLite, Postgres) passes the same conformance suite in `test/conformance`.
 */

/**
 * An event as the ledger writes it. `data` and `metadata` are JSON-safe values.
 *
 * @example
 * const event: NewEvent = {
 *   id: 'evt_01J…', type: 'credit_limit_set', schemaVersion: 1, at: '2025-01-01T00:00:00.000Z',
 *   data: { currency: 'credits', limit: '50' }, metadata: { idempotencyKey: 'limit-cus_123' },
 * };
 */
export interface NewEvent {
  /** Unique id of the event (the ledger uses ULIDs; events derived from time use deterministic ids). */
  readonly id: string;
  readonly type: string;
  /** Version of the shape of `data` for this `type`; old versions are upcast on read. */
  readonly schemaVersion: number;
  /** When the fact happened, ISO-8601 in UTC with milliseconds (`Date#toISOString`). */
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly metadata: EventMetadata;
}

/**
 * What is stored beside an event's data. Only `idempotencyKey` means something to the store; other
 * keys (the ledger adds its hash chain's `hash`, for one) are kept as given.
 *
 * @example
 * const metadata: EventMetadata = { idempotencyKey: 'order-1234', source: 'checkout' };
 */
export interface EventMetadata {
  /**
   * Unique per stream at the storage level: a second append carrying a key already in the stream
   * fails with `DuplicateIdempotencyKeyError`, even from another process.
   */
  readonly idempotencyKey?: string;
  readonly [key: string]: unknown;
}

/**
 * An event as the store gives it back: what was written, plus where it sits in its stream and in
 * the store's global order.
 *
 * @example
 * const page = await store.readAll({ after: lastPosition, limit: 100 });
 * for (const event of page) console.log(event.streamId, event.version, event.position, event.type);
 */
export interface StoredEvent extends NewEvent {
  readonly streamId: string;
  /** 1-based position within its stream, without gaps. */
  readonly version: number;
  /**
   * Position in the store's global order, increasing. Gaps are allowed; a reader catching up with
   * `readAll({ after })` never misses an event committed behind one it already saw.
   */
  readonly position: bigint;
}

/**
 * Optimistic concurrency for an append: it succeeds only if the stream is still at the version the
 * writer decided on, so two writers can never both build on the same state.
 *
 * @example
 * await store.append('stream-1', batch, { expectedVersion: 0 }); // only if the stream is new
 */
export interface AppendOptions {
  /** The stream's current version as the writer saw it; 0 for a new stream. */
  readonly expectedVersion: number;
  /**
   * Another stream the decision read (the stored catalog a usage was priced by): the append commits
   * only if that stream is still at this version when it commits, else `ConcurrencyConflictError`
   * (naming the guard stream) and nothing is written.
   */
  readonly guard?: { readonly streamId: string; readonly version: number };
  /**
   * This stream guards others' appends: an append to it must not commit while an append guarded on
   * it is between its check and its commit (a store that takes one writer at a time has nothing to
   * do; a concurrent one serializes the two, e.g. with a lock).
   */
  readonly guarding?: boolean;
}

/**
 * What a successful append reports: the stream's new version (the next `expectedVersion`) and where
 * its last event sits in the global order.
 *
 * @example
 * const { nextVersion } = await store.append('stream-1', batch, { expectedVersion: 3 });
 * // nextVersion === 3 + batch.length
 */
export interface AppendResult {
  /** Version of the last event written. */
  readonly nextVersion: number;
  readonly lastPosition: bigint;
}

/**
 * A stream's folded state saved at a version, so loading the stream replays only the events after it.
 * The store keeps the newest one per stream and never looks inside `state`, which is JSON data: what
 * `JSON.stringify` keeps is what comes back (the ledger writes its states so, amounts as strings), as
 * every store here keeps a snapshot as JSON text.
 *
 * @example
 * await store.writeSnapshot({ streamId: 'stream-1', version: 500, schemaVersion: 1, state: { n: 90 } });
 * const snapshot = await store.readSnapshot('stream-1'); // then readStream from version 501
 */
export interface Snapshot {
  readonly streamId: string;
  /** Stream version the state was folded up to. */
  readonly version: number;
  /** Shape version of `state`; a snapshot with another version is ignored. */
  readonly schemaVersion: number;
  readonly state: unknown;
}

/**
 * One stream's part of a batch append (see `EventStore.appendMany`).
 *
 * @example
 * const part: StreamAppend = { streamId: 'customer-cus_1', events: batch, expectedVersion: 3 };
 */
export interface StreamAppend {
  readonly streamId: string;
  readonly events: readonly NewEvent[];
  readonly expectedVersion: number;
  /** As `AppendOptions.guard`: this stream's part commits only while the guard stream is at that version. */
  readonly guard?: AppendOptions['guard'];
}

/**
 * What `appendMany` answers for one stream of a batch: the append's result, or the conflict that kept
 * that stream out (nothing of it was written; the other streams are unaffected).
 *
 * @example
 * const [outcome] = await appendAll(store, [{ streamId: 'customer-cus_1', events: batch, expectedVersion: 3 }]);
 * if (!outcome!.ok) console.log(outcome!.error.name); // 'ConcurrencyConflictError'
 */
export type StreamAppendOutcome =
  | { readonly ok: true; readonly result: AppendResult }
  | { readonly ok: false; readonly error: ConcurrencyConflictError | DuplicateIdempotencyKeyError };

/**
 * The one partition of a store whose global order is a single sequence (every store on one server):
 * what `partitions` returns when a store does not say otherwise, and what `readAll` reads by default.
 *
 * @example
 * const page = await store.readAll({ partition: SINGLE_PARTITION, after: 0n, limit: 100 });
 */
export const SINGLE_PARTITION = 'all';

/**
 * Where the ledger keeps its events: append-only streams with optimistic concurrency, idempotency
 * keys unique per stream, a global order and one snapshot per stream. Implement it to store elsewhere.
 * What a caller hands in or reads out never changes what is stored: a store copies events in, and
 * reads give fresh objects (a database's rows) or the stored ones deeply frozen (the memory store).
 * The ledger never changes an event it read.
 *
 * @example
 * const store: EventStore = memoryStore(); // or sqliteStore(...), postgresStore(...)
 * const ledger = createLedger({ catalog, store });
 */
export interface EventStore {
  /**
   * Appends all events or none. Throws `ConcurrencyConflictError` if the stream is not at
   * `expectedVersion`, and `DuplicateIdempotencyKeyError` if an idempotency key is already in the stream.
   */
  append(streamId: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /**
   * Optional: appends to several streams at once, in one transaction where the store can (one round
   * trip, one fsync: group commit across customers). Each stream is checked on its own, as `append`
   * checks it; the streams that pass are stored together, each whole, and a stream that fails is left
   * out with its conflict in its outcome (outcomes in the batch's order). A failure of the store
   * itself throws, and then either every stream that passed was stored or none was. One stream
   * appears at most once in a batch and none is `guarding` (`assertBatchAppendable` checks a batch);
   * the ledger's batches carry at most `MAX_EVENTS_PER_APPEND` events in all, as one append does.
   * Without it the ledger calls `append` once per stream (`appendAll`).
   */
  appendMany?(batch: readonly StreamAppend[]): Promise<StreamAppendOutcome[]>;
  /**
   * Events of one stream with version >= `fromVersion` (default 1) and, if given, <= `toVersion`, in
   * order: a page of a long stream costs its own length, not the stream's.
   */
  readStream(
    streamId: string,
    options?: { fromVersion?: number; toVersion?: number },
  ): Promise<StoredEvent[]>;
  /**
   * Events of all streams of one partition of the global order (default `SINGLE_PARTITION`) with
   * position > `after` (default 0), in that partition's order, at most `limit`. A reader paging through
   * it with `after` never skips an event committed behind one it already saw.
   */
  readAll(options?: { after?: bigint; limit?: number; partition?: string }): Promise<StoredEvent[]>;
  /**
   * Optional: the partitions of the global order. A store on one server has one (the default,
   * `[SINGLE_PARTITION]`); a store distributed by stream (Citus) has one per shard, each ordered on its
   * own: within a stream the order is total, across streams it holds within a partition. Positions
   * are comparable only within a partition, so a reader keeps one position per partition.
   */
  partitions?(): Promise<readonly string[]>;
  /**
   * Optional: storage for the feed's consumers (checkpoints, leases, the time index of due instants),
   * in the same database as the events. `createProcessor` needs it.
   */
  readonly consumers?: ConsumerStore;
  /** The event of `streamId` whose metadata carries `idempotencyKey`, if any. */
  findByIdempotencyKey(streamId: string, idempotencyKey: string): Promise<StoredEvent | null>;
  readSnapshot(streamId: string): Promise<Snapshot | null>;
  /** Replaces the stream's snapshot if `snapshot.version` is newer than the stored one. */
  writeSnapshot(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}

/**
 * The stream was not at the expected version: another writer got there first. Nothing was written.
 *
 * @example
 * await store.append('stream-1', batch, { expectedVersion: 3 }).catch((error) => {
 *   if (!(error instanceof ConcurrencyConflictError)) throw error;
 *   // another writer appended first: read the stream again, decide again, retry
 * });
 */
export class ConcurrencyConflictError extends Error {
  override readonly name = 'ConcurrencyConflictError';
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | undefined,
  ) {
    super(
      `stream ${streamId} is at version ${actualVersion ?? 'unknown'}, the append expected ${expectedVersion}`,
    );
  }
}

/**
 * An idempotency key was already used in this stream. Nothing was written.
 *
 * @example
 * await store.append('stream-1', batch, { expectedVersion: 3 }).catch((error) => {
 *   if (!(error instanceof DuplicateIdempotencyKeyError)) throw error;
 *   return store.findByIdempotencyKey('stream-1', error.idempotencyKey); // the earlier write
 * });
 */
export class DuplicateIdempotencyKeyError extends Error {
  override readonly name = 'DuplicateIdempotencyKeyError';
  constructor(
    readonly streamId: string,
    readonly idempotencyKey: string,
  ) {
    super(`idempotency key ${JSON.stringify(idempotencyKey)} is already used in stream ${streamId}`);
  }
}

/**
 * Checks what every adapter must check before writing, so the rules live in one place: a non-empty
 * stream id, a non-negative `expectedVersion`, at least one event and no idempotency key twice in
 * the batch. Throws `TypeError` or `DuplicateIdempotencyKeyError`.
 *
 * @example
 * function append(streamId: string, events: readonly NewEvent[], options: AppendOptions) {
 *   assertAppendable(streamId, events, options); // throws before anything is written
 *   // ...write all of `events` or none
 * }
 */
export function assertAppendable(
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
): void {
  if (streamId.length === 0) throw new TypeError('streamId must not be empty');
  if (!Number.isSafeInteger(options.expectedVersion) || options.expectedVersion < 0) {
    throw new TypeError(`expectedVersion must be a non-negative integer, got ${options.expectedVersion}`);
  }
  if (events.length === 0) throw new TypeError('append needs at least one event');
  const keys = new Set<string>();
  for (const event of events) {
    const key = event.metadata.idempotencyKey;
    if (key === undefined) continue;
    if (keys.has(key)) throw new DuplicateIdempotencyKeyError(streamId, key);
    keys.add(key);
  }
}

/**
 * Checks a batch for `appendMany` before anything is written: every part as `assertAppendable`
 * checks an append, and no stream twice. Throws `TypeError` or `DuplicateIdempotencyKeyError`.
 *
 * @example
 * async function appendMany(batch: readonly StreamAppend[]) {
 *   assertBatchAppendable(batch); // throws before anything is written
 *   // ...one transaction: each stream checked and written on its own
 * }
 */
export function assertBatchAppendable(batch: readonly StreamAppend[]): void {
  const streams = new Set<string>();
  for (const part of batch) {
    assertAppendable(part.streamId, part.events, part);
    if (streams.has(part.streamId)) throw new TypeError(`stream ${part.streamId} appears twice in the batch`);
    streams.add(part.streamId);
  }
}

/**
 * `store.appendMany(batch)`, or one `store.append` per stream for a store without it (each its own
 * transaction, so a failure of the store can leave the earlier streams stored).
 *
 * @example
 * const outcomes = await appendAll(store, [
 *   { streamId: 'customer-cus_1', events: batch, expectedVersion: 3 },
 *   { streamId: 'customer-cus_2', events: batch, expectedVersion: 0 },
 * ]);
 */
export async function appendAll(
  store: EventStore,
  batch: readonly StreamAppend[],
): Promise<StreamAppendOutcome[]> {
  if (store.appendMany !== undefined) return store.appendMany(batch);
  const outcomes: StreamAppendOutcome[] = [];
  for (const { streamId, events, expectedVersion, guard } of batch) {
    const options = guard === undefined ? { expectedVersion } : { expectedVersion, guard };
    try {
      outcomes.push({ ok: true, result: await store.append(streamId, events, options) });
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError))
        throw error;
      outcomes.push({ ok: false, error });
    }
  }
  return outcomes;
}

/**
 * The partitions of a store's global order: `store.partitions()`, or the one partition of a store
 * that does not say.
 *
 * @example
 * for (const partition of await partitionsOf(store)) console.log(await store.readAll({ partition, limit: 10 }));
 */
export async function partitionsOf(store: EventStore): Promise<readonly string[]> {
  return store.partitions === undefined ? [SINGLE_PARTITION] : store.partitions();
}
