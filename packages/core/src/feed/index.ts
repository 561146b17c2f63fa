/**
 * The feed: named consumers of the store's global order, and the time index that puts due facts in it.
 *
 * ```ts
 * interface FeedBatch { readonly partition: string; readonly events: readonly StoredEvent[] }
 * interface ProcessorOptions {
 *   store: EventStore;                 // needs store.consumers (memory, SQLite, Postgres have it)
 *   name: string;                      // the consumer: its checkpoint and its lease
 *   handle(batch: FeedBatch): Promise<void>; // at least once; the checkpoint is saved after it resolves;
 *                                      // a rejection retries the same batch with backoff, never skips
 *   batchSize?: number;                // default 100
 *   pollInterval?: { min: number; max: number }; // idle backoff, ms; default { min: 50, max: 1000 }
 *   leaseTtlMs?: number;               // default 10000; takeover within ttl + ttl/2 of the holder dying
 *   retryInterval?: { min: number; max: number }; // failing handler backoff; default { 100, 30000 }
 *   due?: DueSource;                   // ledgerDue({ ledger, store }): settle what is due each round
 *   clock?: () => Date; holder?: string; onError?: (error: unknown) => void;
 * }
 * function createProcessor(o: ProcessorOptions): {
 *   start(): void; stop(): Promise<void>; runOnce(): Promise<number>; // events handled
 *   readonly active: boolean; readonly holder: string;
 * };
 * interface DueSource { settle(now: Date): Promise<number> } // events stored
 * function ledgerDue(o: { ledger; store; name?; leaseTtlMs?; limit?; onError? }): DueSource;
 * ```
 *
 * Storage is `store.consumers` (`ConsumerStore`): checkpoints per partition that never move back,
 * leases, and the time index (`setDue`/`dueBy`). `ledger.settleDue({ customerId })` stores what is
 * due for one customer and answers its next due instant.
 */
export { type DueSource, type LedgerDueOptions, ledgerDue } from './due.js';
export { createProcessor, type FeedBatch, type Processor, type ProcessorOptions } from './processor.js';
