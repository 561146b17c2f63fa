import { advance } from '../advance.js';
import { ArchiveNeeded } from '../archive.js';
import type { Catalog } from '../catalog.js';
import type { Command } from '../decide/commands.js';
import type { IdKind } from '../decide/context.js';
import { decideOn } from '../decide/index.js';
import { TallyError } from '../errors.js';
import {
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventMetadata,
  type EventStore,
} from '../event-store.js';
import type { RecordedEvent } from '../events.js';
import { requestHash, signEvents } from '../hash-chain.js';
import { Recorder } from '../recorder.js';
import { iso } from '../time.js';
import { type StreamCache, type StreamHead, streamIdOf } from './streams.js';

interface Job {
  readonly command: Command;
  readonly idempotencyKey: string | undefined;
  readonly requestHash: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface WriterOptions {
  readonly store: EventStore;
  readonly cache: StreamCache;
  readonly catalog: Catalog;
  readonly clock: () => Date;
  readonly newId: (kind: IdKind) => string;
  /** Appends tried per batch before giving up with `concurrency_conflict`. */
  readonly maxAttempts: number;
  readonly snapshotEvery: number;
}

/** Most commands decided into one append; bounds the latency of the last command in a burst. */
const MAX_BATCH = 256;

/**
 * Most events one append carries. Stores must take at least `MAX_EVENTS_PER_APPEND` (Postgres takes 8192);
 * the writer stays under it by storing a long catch-up of due events in several appends (cut between
 * instants) and by leaving commands for the next batch once an append is full.
 *
 * @example
 * // A custom store checks that it takes the largest append the ledger makes.
 * await myStore.append('customer-cus_1', batch.slice(0, MAX_EVENTS_PER_APPEND), { expectedVersion: 0 });
 */
export const MAX_EVENTS_PER_APPEND = 4096;
const MAX_DUE_PER_APPEND = 2048;
/** Most events one command makes: a plan change with the catalog's most grant rules (see MAX_PLAN_GRANTS). */
const MAX_EVENTS_PER_COMMAND = 512;

/** Marks an attempt that only stored due events: the batch goes on, it did not lose a race. */
class CaughtUp {}

/**
 * Writes commands for one customer at a time. Commands that arrive while an append is in flight wait
 * and then go together, decided one after another against the evolving state and appended as one batch
 * (group commit): one round trip and one fsync for many commands, each still answered with its own
 * result or error. Conflicts with other processes are retried: re-read, re-decide, re-append.
 */
export class Writer {
  private readonly queues = new Map<string, Job[]>();
  /** The last batch had company: commands are arriving together, so let the next one gather. */
  private grouping = false;

  constructor(private readonly options: WriterOptions) {}

  submit(customerId: string, command: Command, idempotencyKey: string | undefined): Promise<unknown> {
    const { type: _type, ...payload } = command;
    // Only a keyed command is ever compared with another; the hash costs a canonical JSON and a SHA-256.
    const hash =
      idempotencyKey === undefined
        ? ''
        : requestHash({ type: command.type, customerId, ...stripLookups(payload) });
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(customerId);
      const job = { command, idempotencyKey, requestHash: hash, resolve, reject };
      if (queue !== undefined) {
        queue.push(job);
        return;
      }
      this.queues.set(customerId, [job]);
      void this.drain(customerId);
    });
  }

  private async drain(customerId: string): Promise<void> {
    const queue = this.queues.get(customerId)!;
    try {
      while (queue.length > 0) {
        // When commands arrive together, wait one turn of the event loop before taking the batch, so
        // that they, and the callers the last batch just answered, go into this append instead of one
        // by one. A lone caller does not wait.
        if (this.grouping || queue.length > 1) await new Promise((resolve) => setImmediate(resolve));
        const jobs = queue.splice(0, MAX_BATCH);
        this.grouping = jobs.length > 1;
        const deferred = await this.runBatch(customerId, jobs);
        queue.unshift(...deferred);
      }
    } finally {
      this.queues.delete(customerId);
    }
  }

  /** Decides and appends `jobs`, retrying lost races; returns the jobs left for the next batch. */
  private async runBatch(customerId: string, jobs: Job[]): Promise<Job[]> {
    const { maxAttempts } = this.options;
    // Set once a decision needed a grant or hold out of play that the state's snapshot left out.
    let whole = false;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      // The first attempt trusts a cached head: the append's version check catches a stale one.
      const fromCache = attempt === 1 && !whole && this.options.cache.peek(customerId) !== undefined;
      try {
        return await this.attempt(customerId, jobs, fromCache ? 'cache' : whole ? 'whole' : 'store');
      } catch (error) {
        if (error instanceof CaughtUp) {
          // Bounded: each round stores at least one due instant of a finite backlog.
          attempt -= 1;
          continue;
        }
        if (error instanceof ArchiveNeeded && !whole) {
          // Voiding or restoring a grant spent before the snapshot, or naming a hold finished before it:
          // decide again on the state of the whole stream, which holds everything, so once a batch.
          whole = true;
          attempt -= 1;
          continue;
        }
        const retryable =
          error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError;
        if (!retryable) {
          this.options.cache.forget(customerId);
          const failure = error instanceof TallyError ? error : storeFailure(error);
          for (const job of jobs) job.reject(failure);
          return [];
        }
        this.options.cache.forget(customerId);
        // Back off with jitter so writers in several processes stop colliding in lockstep. A cached
        // head that turned out stale is no collision: retry at once, from the store.
        if (!fromCache) await sleep(Math.random() * Math.min(50, 2 ** attempt));
      }
    }
    const error = new TallyError(
      'concurrency_conflict',
      `customer ${customerId} kept changing under this write; gave up after ${maxAttempts} attempts`,
    );
    for (const job of jobs) job.reject(error);
    return [];
  }

  /**
   * Decides the batch and appends it, on the head `from` says: the cached one as it is, without reading
   * the tail (one round trip less per write); the store's latest; or the latest with every grant and
   * hold out of play (see `StreamCache.load`). An append proves the head was current (the store checks the
   * version); a batch that appends nothing reads the tail before answering, and retries if it moved.
   */
  private async attempt(
    customerId: string,
    jobs: readonly Job[],
    from: 'cache' | 'store' | 'whole',
  ): Promise<Job[]> {
    const { store, cache } = this.options;
    const streamId = streamIdOf(customerId);
    const cached = from === 'cache' ? cache.peek(customerId) : undefined;
    const loaded = cached ?? (await cache.load(customerId, { complete: from === 'whole' }));
    const settled = new Map<Job, { ok: true; result: unknown } | { ok: false; error: unknown }>();

    // A key already in the store answers with the stored result and writes nothing.
    const firstWithKey = new Map<string, Job>();
    for (const job of jobs) {
      if (job.idempotencyKey === undefined) continue;
      const first = firstWithKey.get(job.idempotencyKey);
      if (first !== undefined) continue;
      firstWithKey.set(job.idempotencyKey, job);
      const stored = await store.findByIdempotencyKey(streamId, job.idempotencyKey);
      if (stored !== null) settled.set(job, replay(job, stored.metadata));
    }

    // Everything from here to the append's call is synchronous, so the head cannot move underneath.
    const base = loaded.state;
    const expectedVersion = base.version;
    const nowMs = Math.max(this.options.clock().getTime(), base.lastAt === '' ? 0 : Date.parse(base.lastAt));
    const context = { catalog: this.options.catalog, nowMs, now: iso(nowMs), newId: this.options.newId };
    const due = advance(base, nowMs, { maxEvents: MAX_DUE_PER_APPEND });
    if (!due.complete) {
      // A long idle left more due events than one append should carry: store this prefix on its own.
      await this.append(
        customerId,
        due.events.map((event) => ({ event, metadata: {} })),
        loaded.hash,
        due.state,
        expectedVersion,
      );
      throw new CaughtUp();
    }
    const working = due.state;
    const written: { event: RecordedEvent; metadata: EventMetadata }[] = due.events.map((event) => ({
      event,
      metadata: {},
    }));
    const dueCount = written.length;
    // One recorder for the whole batch: decisions refuse before they record anything, so a refused
    // command leaves the working state as it found it (checked below).
    const recorder = new Recorder(working);
    let decided = 0;
    for (const job of jobs) {
      if (settled.has(job)) continue;
      const first = job.idempotencyKey === undefined ? job : firstWithKey.get(job.idempotencyKey)!;
      if (first !== job) continue; // decided below, from its first copy's outcome
      // A full append leaves the rest for the next batch; the first command always goes, so batches progress.
      if (decided > 0 && written.length >= MAX_EVENTS_PER_APPEND - MAX_EVENTS_PER_COMMAND) continue;
      decided += 1;
      const before = recorder.events.length;
      const accountsBefore = recorder.state.accounts.size;
      try {
        const result = decideOn(recorder, job.command, context);
        const metadata: EventMetadata =
          job.idempotencyKey === undefined
            ? { command: job.command.type }
            : {
                command: job.command.type,
                idempotencyKey: job.idempotencyKey,
                requestHash: job.requestHash,
                result,
              };
        const made = recorder.events.slice(before);
        made.forEach((event, i) => {
          written.push({ event, metadata: i === made.length - 1 ? metadata : { command: job.command.type } });
        });
        settled.set(job, { ok: true, result });
      } catch (error) {
        if (!(error instanceof TallyError) || recorder.events.length !== before) throw error;
        // A refused decision may have opened an empty account to look at; the batch's state must stay
        // what its events fold to, so close it again (accounts keep insertion order: it is the last).
        for (const code of [...recorder.state.accounts.keys()].slice(accountsBefore))
          recorder.state.accounts.delete(code);
        settled.set(job, { ok: false, error });
      }
    }

    if (written.length > dueCount) {
      await this.append(customerId, written, loaded.hash, working, expectedVersion);
    } else if (cached !== undefined) {
      // Nothing appended, so nothing proved the cached head current: refusals must not rest on a stale
      // state. If the stream moved, retry (from the store) instead of answering.
      const latest = await cache.load(customerId);
      if (latest.state.version !== expectedVersion) {
        throw new ConcurrencyConflictError(streamId, expectedVersion, latest.state.version);
      }
    }

    const left: Job[] = [];
    for (const job of jobs) {
      const first = job.idempotencyKey === undefined ? job : firstWithKey.get(job.idempotencyKey)!;
      const outcome = settled.get(first);
      if (outcome === undefined)
        left.push(job); // its first copy was deferred: so is it
      else if (first !== job && first.requestHash !== job.requestHash) job.reject(conflict(job));
      else if (outcome.ok) job.resolve(outcome.result);
      else job.reject(outcome.error);
    }
    return left;
  }

  /** Signs `written` onto the hash chain, appends it, and makes the result the cached head. */
  private async append(
    customerId: string,
    written: readonly { event: RecordedEvent; metadata: EventMetadata }[],
    previousHash: string,
    state: StreamHead['state'],
    expectedVersion: number,
  ): Promise<void> {
    const { store, cache } = this.options;
    const { events, hash } = signEvents(previousHash, written);
    const head: StreamHead = { state, hash };
    await store.append(streamIdOf(customerId), events, { expectedVersion });
    cache.remember(customerId, head);
    const { snapshotEvery } = this.options;
    if (Math.floor(state.version / snapshotEvery) > Math.floor(expectedVersion / snapshotEvery)) {
      // A failed snapshot only costs the next cold read some replay; the write itself succeeded.
      await cache.writeSnapshot(customerId, head).catch(() => undefined);
    }
  }
}

function replay(
  job: Job,
  metadata: EventMetadata,
): { ok: true; result: unknown } | { ok: false; error: unknown } {
  if (metadata.requestHash !== job.requestHash) return { ok: false, error: conflict(job) };
  return { ok: true, result: metadata.result };
}

function conflict(job: Job): TallyError {
  return new TallyError(
    'idempotency_conflict',
    `idempotency key ${JSON.stringify(job.idempotencyKey)} was already used with a different request`,
    { field: 'idempotencyKey' },
  );
}

/** The request hash covers what the caller asked, not what the ledger looked up to answer it. */
function stripLookups(payload: Record<string, unknown>): Record<string, unknown> {
  const { usage: _usage, ...rest } = payload;
  return rest;
}

/**
 * A failure of the store itself (a lost connection, a full disk). If it came during the commit the
 * write may have landed, so the caller is told to retry with the same idempotency key, which is safe.
 */
function storeFailure(cause: unknown): TallyError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TallyError(
    'store_error',
    `the store failed (${reason}); if this happened during the commit the write may have been stored: retry with the same idempotencyKey`,
    { cause },
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
