import { randomUUID } from 'node:crypto';
import type { ConsumerStore } from '../consumer-store.js';
import { type EventStore, partitionsOf, type StoredEvent } from '../event-store.js';
import {
  checkOptions,
  type OptionRule,
  type OptionRules,
  option,
  optionRefusal,
  required,
  withMethods,
} from '../input/options.js';
import { eventStoreRule } from '../ledger/ledger-options.js';
import type { DueSource } from './due.js';

/**
 * Events of one partition of the global order, in that partition's order, handed to a consumer's
 * handler at once. Each event carries its stable `id`, so a handler can be idempotent.
 *
 * @example
 * const handle = async ({ partition, events }: FeedBatch) => {
 *   for (const event of events) logger.info({ partition, id: event.id, type: event.type });
 * };
 */
export interface FeedBatch {
  readonly partition: string;
  readonly events: readonly StoredEvent[];
}

/**
 * A named consumer of the feed: what it does with each batch and how it waits for more.
 *
 * @example
 * const options: ProcessorOptions = {
 *   store, name: 'emails', handle: async (batch) => logger.info(batch.events.length),
 *   batchSize: 100, pollInterval: { min: 50, max: 1_000 }, leaseTtlMs: 10_000,
 * };
 */
export interface ProcessorOptions {
  /** The store to read; it must keep consumers (`store.consumers`): memory, SQLite and Postgres do. */
  readonly store: EventStore;
  /** The consumer's name: its checkpoint and its lease. One instance per name is active at a time. */
  readonly name: string;
  /**
   * Handles one batch. Delivery is at least once: the checkpoint is saved after it resolves, so a
   * crash before that delivers the batch again. A rejection retries the same batch with backoff;
   * nothing after it is delivered until it succeeds.
   */
  handle(batch: FeedBatch): Promise<void>;
  /** Most events per batch; default 100. */
  readonly batchSize?: number;
  /**
   * How long a caught-up consumer waits before looking again, ms: from `min` after it found events,
   * doubling to `max` while it finds none; default `{ min: 50, max: 1_000 }`. New events reach it
   * within `max` (plus a batch's handling).
   */
  readonly pollInterval?: { readonly min: number; readonly max: number };
  /**
   * How long the lease lasts without renewal, ms; default 10,000. The holder renews it every third
   * of that; when it dies another instance takes over within `leaseTtlMs` plus half of it.
   */
  readonly leaseTtlMs?: number;
  /** Backoff of a failing handler, ms: from `min`, doubling to `max`; default `{ min: 100, max: 30_000 }`. */
  readonly retryInterval?: { readonly min: number; readonly max: number };
  /** What has fallen due by now is materialized before each look at the feed (see `ledgerDue`). */
  readonly due?: DueSource;
  /** The "now" given to `due`; default the system clock. */
  readonly clock?: () => Date;
  /** This instance's id in the lease; default a random UUID. */
  readonly holder?: string;
  /** Told of each failure the running loop retries (a handler's, the store's, `due`'s). */
  readonly onError?: (error: unknown) => void;
}

/**
 * A running consumer: `start` runs it until `stop`; `runOnce` does one round by hand (tests, cron).
 *
 * @example
 * const processor: Processor = createProcessor({ store, name: 'emails', handle: async () => {} });
 * processor.start();
 * // ...
 * await processor.stop();
 */
export interface Processor {
  /** Runs the loop in the background: take the lease, deliver batches, wait, repeat. */
  start(): void;
  /** Ends the loop after the batch in hand, and gives the lease up so another instance takes over now. */
  stop(): Promise<void>;
  /**
   * One round: take or renew the lease (0 if another instance has it), materialize what is due, then
   * hand at most one batch per partition. Resolves to the events handled; rejects with the handler's
   * error (the batch is kept, and is what the next round delivers first).
   */
  runOnce(): Promise<number>;
  /** Whether this instance held the lease at its last round. */
  readonly active: boolean;
  /** This instance's id in the lease. */
  readonly holder: string;
}

const DEFAULTS = {
  batchSize: 100,
  pollInterval: { min: 50, max: 1_000 },
  leaseTtlMs: 10_000,
  retryInterval: { min: 100, max: 30_000 },
} as const;

/**
 * A consumer of the store's global order: it reads each partition from its stored checkpoint, hands
 * the events to `handle` in order (per customer and within each partition), saves the checkpoint
 * after `handle` resolves, and never skips an event. One instance per `name` runs at a time across
 * processes (a lease in the store); the others wait and take over when it stops or dies. An unknown
 * option or a bad value is refused with `invalid_input` naming it (`pollInterval.min`).
 *
 * @example
 * const processor = createProcessor({
 *   store,
 *   name: 'emails',
 *   handle: async ({ events }) => {
 *     for (const event of events) if (event.type === 'grant_expired') logger.info({ id: event.id, ...event.data });
 *   },
 *   due: ledgerDue({ ledger, store }), // expiries and renewals reach the feed at their instant
 * });
 * processor.start();
 */
export function createProcessor(options: ProcessorOptions): Processor {
  checkOptions(options, PROCESSOR_OPTION_RULES, { factory: 'createProcessor' });
  const { store, name, handle } = options;
  const consumers = consumerStoreOf(store, 'createProcessor');
  const batchSize = options.batchSize ?? DEFAULTS.batchSize;
  const poll = ordered(options.pollInterval ?? DEFAULTS.pollInterval, 'pollInterval');
  const retry = ordered(options.retryInterval ?? DEFAULTS.retryInterval, 'retryInterval');
  const ttl = options.leaseTtlMs ?? DEFAULTS.leaseTtlMs;
  const clock = options.clock ?? (() => new Date());
  const holder = options.holder ?? randomUUID();
  const onError = options.onError ?? (() => {});

  let active = false;
  /** A batch the handler failed: delivered again, exactly, before anything else of its partition. */
  let pending: FeedBatch | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;

  /** Until when (performance.now) the lease is surely still ours without asking the store again. */
  let renewAfter = 0;
  const renew = async (): Promise<boolean> => {
    // A lease runs `ttl` from when the store granted it, which is after `asked`: renewing every third
    // of it keeps it with a margin, without a write to the store on every poll.
    if (active && performance.now() < renewAfter) return true;
    const asked = performance.now();
    active = await consumers.acquireLease(name, holder, ttl);
    renewAfter = asked + ttl / 3;
    return active;
  };

  /** Hands `batch` over while renewing the lease every third of its ttl, then saves the checkpoint. */
  async function deliver(batch: FeedBatch): Promise<void> {
    const keepAlive = setInterval(() => void renew().catch(onError), Math.max(1, Math.floor(ttl / 3)));
    try {
      await handle(batch);
    } catch (error) {
      pending = batch;
      throw error;
    } finally {
      clearInterval(keepAlive);
    }
    pending = undefined;
    await consumers.saveCheckpoint(name, batch.partition, batch.events.at(-1)!.position);
  }

  async function runOnce(): Promise<number> {
    if (!(await renew())) return 0;
    if (options.due !== undefined) {
      // What has fallen due goes into the store first, so this round can already deliver it; a
      // failure here must not hold back delivery of what is already there.
      await options.due.settle(clock()).catch(onError);
    }
    const checkpoint = await consumers.loadCheckpoint(name);
    let handled = 0;
    for (const partition of await partitionsOf(store)) {
      const after = checkpoint.get(partition) ?? 0n;
      let batch: FeedBatch;
      if (pending?.partition === partition && pending.events.at(-1)!.position <= after) pending = undefined;
      if (
        pending !== undefined &&
        pending.partition === partition &&
        pending.events.at(-1)!.position > after
      ) {
        batch = pending;
      } else {
        // Defensive: a store must give only positions after `after`, but one that did not would
        // otherwise move the checkpoint back into what was already handled.
        const events = (await store.readAll({ partition, after, limit: batchSize })).filter(
          (event) => event.position > after,
        );
        if (events.length === 0) continue;
        batch = { partition, events };
      }
      await deliver(batch);
      handled += batch.events.length;
    }
    return handled;
  }

  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function loop(): Promise<void> {
    let idle = poll.min;
    let failures = 0;
    while (!stopping) {
      try {
        const handled = await runOnce();
        failures = 0;
        if (handled > 0) {
          idle = poll.min;
          continue; // more may be waiting: look again at once
        }
        // Not the holder: look again in time to take over soon after the holder's lease lapses.
        await pause(active ? idle : Math.min(poll.max, ttl / 2));
        idle = Math.min(idle * 2, poll.max);
      } catch (error) {
        onError(error);
        failures += 1;
        await pause(Math.min(retry.max, retry.min * 2 ** (failures - 1)));
      }
    }
  }

  return {
    get active() {
      return active;
    },
    holder,
    runOnce,
    start() {
      if (running !== undefined) return;
      stopping = false;
      running = loop();
    },
    async stop() {
      stopping = true;
      wake?.();
      await running;
      running = undefined;
      if (active) {
        active = false;
        await consumers.releaseLease(name, holder).catch(onError);
      }
    },
  };
}

/** The store's consumers, or a refusal naming `store` when it keeps none. */
export function consumerStoreOf(store: EventStore, factory: string): ConsumerStore {
  if (store.consumers === undefined) {
    throw optionRefusal(
      factory,
      'store',
      'keeps no consumers (store.consumers): the feed needs one that does (memory, SQLite, Postgres)',
    );
  }
  return store.consumers;
}

/** An interval whose bounds are each valid (see the rules) and in order. */
function ordered(value: { readonly min: number; readonly max: number }, what: string) {
  if (value.min > value.max) {
    throw optionRefusal(
      'createProcessor',
      `${what}.min`,
      `must not exceed ${what}.max (${value.max}), got ${value.min}`,
    );
  }
  return value;
}

const interval: OptionRule = {
  ...option.object,
  fields: { min: required(option.positiveNumber), max: required(option.positiveNumber) },
};

/** What `createProcessor` accepts; `ledgerDue` passes its own subset through. */
const PROCESSOR_OPTION_RULES: OptionRules = {
  store: required(eventStoreRule),
  name: required(option.nonEmptyString),
  handle: required(option.function),
  batchSize: option.positiveInteger,
  pollInterval: interval,
  leaseTtlMs: option.positiveNumber,
  retryInterval: interval,
  due: withMethods('a DueSource (with settle(now), e.g. ledgerDue(…))', ['settle']),
  clock: option.function,
  holder: option.nonEmptyString,
  onError: option.function,
};
