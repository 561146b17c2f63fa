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
 * The store keeps the newest one per stream and never looks inside `state`.
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
 * Where the ledger keeps its events: append-only streams with optimistic concurrency, idempotency
 * keys unique per stream, a global order and one snapshot per stream. Implement it to store elsewhere.
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
  /** Events of one stream with version >= `fromVersion` (default 1), in order. */
  readStream(streamId: string, options?: { fromVersion?: number }): Promise<StoredEvent[]>;
  /** Events of all streams with position > `after` (default 0), in global order, at most `limit`. */
  readAll(options?: { after?: bigint; limit?: number }): Promise<StoredEvent[]>;
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
