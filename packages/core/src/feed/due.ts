import { isTallyError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import { checkOptions, type OptionRules, option, required, withMethods } from '../input/options.js';
import type { Ledger } from '../ledger/create-ledger.js';
import { eventStoreRule } from '../ledger/ledger-options.js';
import { consumerStoreOf, createProcessor, type FeedBatch } from './processor.js';

/**
 * Puts what has fallen due by `now` into the store, so time-driven facts (a grant expiring, a
 * renewal, a hold timing out) are in the feed at their instant even when nothing else happens to the
 * customer. A processor given one calls it before each look at the feed.
 *
 * @example
 * const due: DueSource = ledgerDue({ ledger, store });
 * const stored = await due.settle(new Date()); // events appended, 0 if nothing was due
 */
export interface DueSource {
  /** Stores what has fallen due by `now`; resolves to the number of events stored. */
  settle(now: Date): Promise<number>;
}

/**
 * How `ledgerDue` finds and settles what is due.
 *
 * @example
 * const options: LedgerDueOptions = { ledger, store, name: 'tally:due', leaseTtlMs: 10_000 };
 */
export interface LedgerDueOptions {
  readonly ledger: Pick<Ledger, 'settleDue'>;
  /** The ledger's store; it must keep consumers (`store.consumers`). */
  readonly store: EventStore;
  /** The consumer that keeps the time index (its checkpoint and lease); default `'tally:due'`. */
  readonly name?: string;
  /** Its lease; default 10,000 ms. One process at a time keeps the index and settles. */
  readonly leaseTtlMs?: number;
  /** Customers settled per call, soonest first; default 100 (the rest wait for the next call). */
  readonly limit?: number;
  /**
   * Told of each customer that could not be settled: one the store failed on stays in the index and
   * is tried again; one that cannot be read (`corrupt_stream`, `unknown_event`) is left as it was.
   */
  readonly onError?: (error: unknown) => void;
}

const LEDGER_DUE_OPTION_RULES: OptionRules = {
  ledger: required(withMethods('a Ledger (createLedger), with settleDue', ['settleDue'])),
  store: required(eventStoreRule),
  name: option.nonEmptyString,
  leaseTtlMs: option.positiveNumber,
  limit: option.positiveInteger,
  onError: option.function,
};

/** Index batches read per `settle`, so one call catching up a long backlog still returns. */
const INDEX_ROUNDS = 20;
const CUSTOMER_STREAM = 'customer-';

/**
 * The ledger's time index: for every customer, the instant its next scheduled fact falls due, kept
 * in the store (`consumers.setDue`) by a consumer of the feed itself. Every event of a customer
 * reaches that consumer (at least once, like every consumer's), which settles the customer
 * (`ledger.settleDue`: stores anything already due) and records its next due instant before its
 * checkpoint moves; so the index is never behind an event the feed has delivered, survives crashes
 * and needs nothing from the write path. `settle(now)` then settles the customers whose instant has
 * passed, soonest first; the events they store go through the ledger's normal write path (versioned,
 * hash-chained, ids derived from what they are), so two processes can never store one twice.
 *
 * One process at a time does this (the index consumer's lease); in the others `settle` returns 0.
 *
 * @example
 * const due = ledgerDue({ ledger, store });
 * const processor = createProcessor({ store, name: 'emails', handle: async () => {}, due });
 * processor.start();
 */
export function ledgerDue(options: LedgerDueOptions): DueSource {
  checkOptions(options, LEDGER_DUE_OPTION_RULES, { factory: 'ledgerDue' });
  const { ledger, store } = options;
  const consumers = consumerStoreOf(store, 'ledgerDue');
  const limit = options.limit ?? 100;
  const onError = options.onError ?? (() => {});

  async function settleStream(streamId: string, seenVersion: number): Promise<number> {
    try {
      const result = await ledger.settleDue({ customerId: streamId.slice(CUSTOMER_STREAM.length) });
      const dueAtMs = result.nextDueAt === null ? null : Date.parse(result.nextDueAt);
      await consumers.setDue({ streamId, version: result.version, dueAtMs });
      return result.settled;
    } catch (error) {
      // A stream named like a customer's that holds no customer has nothing scheduled.
      if (isTallyError(error) && error.code === 'unknown_customer') {
        await consumers.setDue({ streamId, version: seenVersion, dueAtMs: null });
        return 0;
      }
      // A store that failed or a customer that kept changing: the batch is tried again. A customer
      // that cannot be read at all (corrupt_stream, unknown_event: every call on it fails the same
      // way until it is repaired) is reported and left out, rather than stall every other customer.
      if (isTallyError(error) && error.code !== 'store_error' && error.code !== 'concurrency_conflict') {
        onError(error);
        return 0;
      }
      throw error;
    }
  }

  const indexer = createProcessor({
    store,
    name: options.name ?? 'tally:due',
    batchSize: 500,
    ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
    async handle({ events }: FeedBatch) {
      const latest = new Map<string, number>();
      for (const event of events) {
        if (event.streamId.startsWith(CUSTOMER_STREAM)) latest.set(event.streamId, event.version);
      }
      for (const [streamId, version] of latest) await settleStream(streamId, version);
    },
  });

  return {
    async settle(now) {
      for (let round = 0; round < INDEX_ROUNDS && (await indexer.runOnce()) > 0; round++);
      if (!indexer.active) return 0;
      let settled = 0;
      for (const entry of await consumers.dueBy(now.getTime(), limit)) {
        settled += await settleStream(entry.streamId, entry.version).catch((error: unknown) => {
          onError(error);
          return 0;
        });
      }
      return settled;
    },
  };
}
