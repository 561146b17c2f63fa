/**
 * The storage contract. The ledger talks to storage only through this interface; every adapter
 * (memory, SQLite, Postgres) passes the same conformance suite in `test/conformance`.
 */

/** An event as the ledger writes it. `data` and `metadata` are JSON-safe values. */
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

export interface EventMetadata {
  /**
   * Unique per stream at the storage level: a second append carrying a key already in the stream
   * fails with `DuplicateIdempotencyKeyError`, even from another process.
   */
  readonly idempotencyKey?: string;
  readonly [key: string]: unknown;
}

/** An event as the store gives it back. */
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

export interface AppendOptions {
  /** The stream's current version as the writer saw it; 0 for a new stream. */
  readonly expectedVersion: number;
}

export interface AppendResult {
  /** Version of the last event written. */
  readonly nextVersion: number;
  readonly lastPosition: bigint;
}

export interface Snapshot {
  readonly streamId: string;
  /** Stream version the state was folded up to. */
  readonly version: number;
  /** Shape version of `state`; a snapshot with another version is ignored. */
  readonly schemaVersion: number;
  readonly state: unknown;
}

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

/** The stream was not at the expected version: another writer got there first. Nothing was written. */
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

/** An idempotency key was already used in this stream. Nothing was written. */
export class DuplicateIdempotencyKeyError extends Error {
  override readonly name = 'DuplicateIdempotencyKeyError';
  constructor(
    readonly streamId: string,
    readonly idempotencyKey: string,
  ) {
    super(`idempotency key ${JSON.stringify(idempotencyKey)} is already used in stream ${streamId}`);
  }
}

/** Checks what every adapter must check before writing, so the rules live in one place. */
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
