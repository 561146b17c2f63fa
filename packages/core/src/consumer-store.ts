/**
 * What a store keeps for the feed's consumers (see `createProcessor`): where each named consumer is
 * in each partition of the global order, which process may run it, and the time index of the instant
 * each customer next has something due. Every adapter (memory, SQLite, Postgres) passes the same
 * contract in `test/conformance/consumer-contract.ts`.
 */

/**
 * Where a consumer is: per partition of the global order (see `EventStore.partitions`), the position
 * of the last event it handled. A partition it has not started is absent (read it from the start).
 *
 * @example
 * const checkpoint: Checkpoint = new Map([['all', 1234n]]);
 * const after = checkpoint.get('all') ?? 0n; // readAll({ partition: 'all', after })
 */
export type Checkpoint = ReadonlyMap<string, bigint>;

/**
 * One customer's entry in the time index: the instant its next scheduled fact (an expiry, a renewal,
 * a hold timing out, debt settled by credit becoming effective) falls due, as folded at `version`.
 *
 * @example
 * const entry: DueEntry = { streamId: 'customer-cus_1', version: 12, dueAtMs: Date.parse('2025-02-01T00:00:00Z') };
 */
export interface DueEntry {
  readonly streamId: string;
  /** The stream version the instant was computed at; an entry never goes back to an older version. */
  readonly version: number;
  /** Epoch milliseconds; null when nothing is scheduled. */
  readonly dueAtMs: number | null;
}

/**
 * Consumer storage. Checkpoints only move forward; a lease is held by one holder at a time until it
 * lapses (`ttlMs` after it was last taken or renewed, by the store's own clock where it has one) or is
 * released.
 *
 * @example
 * const consumers = store.consumers!;
 * if (await consumers.acquireLease('emails', 'host-1:4242', 10_000)) {
 *   const checkpoint = await consumers.loadCheckpoint('emails');
 *   // ...handle events after checkpoint.get('all') ?? 0n, then
 *   await consumers.saveCheckpoint('emails', 'all', 1234n);
 * }
 */
export interface ConsumerStore {
  /** The consumer's positions, one per partition it has saved. Empty for a consumer never seen. */
  loadCheckpoint(name: string): Promise<Checkpoint>;
  /** Stores `position` for the partition unless the stored one is already at or past it (never backwards). */
  saveCheckpoint(name: string, partition: string, position: bigint): Promise<void>;
  /**
   * Takes the lease on `name` for `holder`, or renews it if `holder` has it: true if `holder` holds it
   * for the next `ttlMs`. False while another holder's lease has not lapsed.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `holder` has it, so another process may take it at once. */
  releaseLease(name: string, holder: string): Promise<void>;
  /** Records `entry` unless the index holds the stream at a newer version. */
  setDue(entry: DueEntry): Promise<void>;
  /** Streams whose next due instant is at or before `atMs`, soonest first, at most `limit`. */
  dueBy(atMs: number, limit: number): Promise<DueEntry[]>;
}

/**
 * Checks a consumer or lease name and holder the way every adapter must: non-empty strings.
 *
 * @example
 * assertConsumerName('emails'); // throws TypeError for ''
 */
export function assertConsumerName(name: string, what = 'consumer name'): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError(`${what} must be a non-empty string`);
}
