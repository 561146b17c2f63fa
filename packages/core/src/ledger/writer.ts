import { advance, advanceOwned, nextDueAt } from '../advance.js';
import { CATALOG_STREAM } from '../catalog/events.js';
import type { Command } from '../decide/commands.js';
import type { IdKind } from '../decide/context.js';
import { decideOn, definitionOf } from '../decide/index.js';
import { TallyError, unreachable } from '../errors.js';
import type { EventMetadata, EventStore } from '../event-store.js';
import type { RecordedEvent } from '../events.js';
import { applyEvent } from '../evolve.js';
import { requestHash, signEvents } from '../hash-chain.js';
import { Recorder } from '../recorder.js';
import { type CustomerState, cloneState, forgetRecalled, recall, type UsageRecord } from '../state.js';
import { iso } from '../time.js';
import type { CatalogSource } from './catalog-source.js';
import { GroupCommit } from './group-commit.js';
import { LostRaces, type RacePolicy } from './lost-races.js';
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
  readonly catalogs: CatalogSource;
  readonly clock: () => Date;
  readonly newId: (kind: IdKind) => string;
  /** When a batch that keeps losing races to other processes gives up with `concurrency_conflict`. */
  readonly races: RacePolicy;
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

/** What `Writer.settleDue` stored, and where the customer's time index stands after it. */
export interface SettledDue {
  /** Due events stored by this call (0 when another process had stored them, or none were due). */
  readonly events: number;
  /** The stream's version after them. */
  readonly version: number;
  /** When the customer next has something due, epoch ms; null when nothing is scheduled. */
  readonly nextDueAtMs: number | null;
}

/** History a batch looked up before it was decided: see `Writer.recallFor`. */
interface Recalled {
  readonly state: CustomerState;
  readonly version: number;
  readonly wanted: { readonly grants: string[]; readonly holds: string[] };
  readonly usages: ReadonlyMap<string, UsageRecord>;
}

/**
 * What one attempt at a batch came to: its commands appended (`left` are the ones that did not fit and
 * wait for the next batch); only due events stored, with the batch still to go (a long idle); or the
 * stream moved under it (another writer won), so the batch is decided again.
 */
type Attempt =
  | { readonly kind: 'appended'; readonly left: Job[] }
  | { readonly kind: 'caught_up' }
  | { readonly kind: 'conflict'; readonly stale: 'cache' | 'store' };

/**
 * Writes commands for one customer at a time. Commands that arrive while an append is in flight wait
 * and then go together, decided one after another against the evolving state and appended as one batch
 * (group commit): one round trip and one fsync for many commands, each still answered with its own
 * result or error. The appends of different customers that arrive together go to the store as one
 * `appendMany` (`GroupCommit`); a customer whose stream conflicts retries alone. Conflicts with other
 * processes are retried: re-read, re-decide, re-append.
 */
export class Writer {
  private readonly queues = new Map<string, Job[]>();
  /** The last batch had company: commands are arriving together, so let the next one gather. */
  private grouping = false;
  /** Appends of different customers that arrive together go to the store as one batch. */
  private readonly commits: GroupCommit;

  constructor(private readonly options: WriterOptions) {
    this.commits = new GroupCommit(options.store, MAX_EVENTS_PER_APPEND, () => this.queues.size > 1);
  }

  submit(command: Command, idempotencyKey: string | undefined): Promise<unknown> {
    const { customerId } = command;
    // Only a keyed command is ever compared with another; the hash costs a canonical JSON and a SHA-256.
    const hash = idempotencyKey === undefined ? '' : requestHash(command);
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
    const { cache } = this.options;
    const races = new LostRaces(this.options.races);
    // The first attempt trusts a cached head: the append's version check catches a stale one.
    let fromCache = cache.peek(customerId) !== undefined;
    for (;;) {
      let outcome: Attempt;
      try {
        outcome = await this.attempt(customerId, jobs, fromCache);
      } catch (error) {
        cache.forget(customerId);
        const failure = error instanceof TallyError ? error : storeFailure(error);
        for (const job of jobs) job.reject(failure);
        return [];
      }
      switch (outcome.kind) {
        case 'appended':
          return outcome.left;
        case 'caught_up':
          // Not a lost race: each round stores at least one due instant of a finite backlog.
          fromCache = true;
          continue;
        case 'conflict': {
          cache.forget(customerId);
          fromCache = false;
          // A cached head that turned out stale is no collision: retry at once, from the store. A lost
          // race backs off with full jitter, so writers in several processes stop colliding in step.
          if (outcome.stale === 'cache' ? races.stale() : await backOff(races)) continue;
          const error = new TallyError(
            'concurrency_conflict',
            `customer ${customerId} kept changing under this write; gave up after ${races.tried} attempts`,
          );
          for (const job of jobs) job.reject(error);
          return [];
        }
        default:
          return unreachable(outcome);
      }
    }
  }

  /**
   * Decides the batch and appends it, on the cached head as it is (without reading the tail: one round
   * trip less per write) or on the store's latest. An append proves the head was current (the store
   * checks the version); a batch that appends nothing reads the tail before answering.
   */
  private async attempt(customerId: string, jobs: readonly Job[], fromCache: boolean): Promise<Attempt> {
    const { store, cache } = this.options;
    const streamId = streamIdOf(customerId);
    const cached = fromCache ? cache.peek(customerId) : undefined;
    // A retry catches up with the catalog too: another process may have changed it (the guard on the
    // catalog version, below, is what turned its change into this retry).
    if (cached === undefined) await this.options.catalogs.refresh();
    const loaded = cached ?? (await cache.load(customerId));
    const stale = cached === undefined ? 'store' : 'cache';
    const settled = new Map<Job, { ok: true; result: unknown } | { ok: false; error: unknown }>();

    // A key already in the store answers with the stored result and writes nothing.
    const firstWithKey = new Map<string, Job>();
    for (const job of jobs) {
      if (job.idempotencyKey === undefined || firstWithKey.has(job.idempotencyKey)) continue;
      firstWithKey.set(job.idempotencyKey, job);
      const stored = await store.findByIdempotencyKey(streamId, job.idempotencyKey);
      if (stored !== null) settled.set(job, replay(job, stored.metadata));
    }
    const recalling = this.recallFor(
      customerId,
      loaded,
      settled.size === 0 ? jobs : jobs.filter((job) => !settled.has(job)),
    );
    // Nearly every batch needs no history: no promise to wait for, no turn of the microtask queue.
    const history = recalling === null ? null : await recalling;

    // Everything from here to the append's call is synchronous, so the head cannot move underneath.
    const base = loaded.state;
    if (history !== null && history.version !== base.version) return { kind: 'conflict', stale };
    const expectedVersion = base.version;
    const nowMs = Math.max(this.options.clock().getTime(), base.lastAt === '' ? 0 : Date.parse(base.lastAt));
    const now = iso(nowMs);
    const catalog = this.options.catalogs.at(nowMs);
    const context = { catalog, nowMs, now, newId: this.options.newId };
    const start = cloneState(base);
    if (history !== null) {
      recall(start, history.state, history.wanted);
      for (const [id, usage] of history.usages) start.recalled.usages.set(id, usage);
    }
    const due = advanceOwned(start, nowMs, { maxEvents: MAX_DUE_PER_APPEND, catalog });
    if (!due.complete) {
      // A long idle left more due events than one append should carry: store this prefix on its own.
      const appended = await this.append(
        customerId,
        due.events.map((event) => ({ event, metadata: {} })),
        loaded,
        due.state,
        expectedVersion,
        catalog.version,
      );
      return appended ? { kind: 'caught_up' } : { kind: 'conflict', stale };
    }
    const written: { event: RecordedEvent; metadata: EventMetadata }[] = due.events.map((event) => ({
      event,
      metadata: {},
    }));
    const dueCount = written.length;
    // One recorder for the whole batch: a decision refuses before it records anything, so a refused
    // command leaves the working state as it found it. It takes the id source as it is: an arrow made
    // here per batch was 2.6% of a memory-store command where the source runs through tsx (esbuild's
    // keepNames names each one as it is made), and one made per Writer added 13 µs to opening a ledger.
    const recorder = new Recorder(due.state, { newId: this.options.newId, now });
    let decided = 0;
    for (const job of jobs) {
      if (settled.has(job)) continue;
      const first = job.idempotencyKey === undefined ? job : firstWithKey.get(job.idempotencyKey)!;
      if (first !== job) continue; // decided below, from its first copy's outcome
      // A full append leaves the rest for the next batch; the first command always goes, so batches progress.
      if (decided > 0 && written.length >= MAX_EVENTS_PER_APPEND - MAX_EVENTS_PER_COMMAND) continue;
      decided += 1;
      const before = recorder.events.length;
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
        if (!(error instanceof TallyError)) throw error;
        settled.set(job, { ok: false, error });
      }
    }

    // A command that exists to store what fell due appends it even when it records nothing itself.
    const storesDue =
      dueCount > 0 &&
      jobs.some((job) => settled.get(job)?.ok === true && definitionOf(job.command).storesDue === true);
    if (written.length > dueCount || storesDue) {
      if (!(await this.append(customerId, written, loaded, recorder.state, expectedVersion, catalog.version)))
        return { kind: 'conflict', stale };
    } else if (cached !== undefined) {
      // Nothing appended, so nothing proved the cached head current: refusals must not rest on a stale
      // state. If the stream moved, decide again (from the store) instead of answering.
      const latest = await cache.load(customerId);
      if (latest.state.version !== expectedVersion) return { kind: 'conflict', stale };
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
    return { kind: 'appended', left };
  }

  /**
   * Stores what time alone has made due for the customer by now, with no command (reads fold it
   * without writing), so that it reaches the feed at its instant; answers the events stored and when
   * the next falls due. A lost race is decided again, as a command's is.
   */
  async settleDue(customerId: string): Promise<SettledDue> {
    const { cache, catalogs, clock } = this.options;
    const races = new LostRaces(this.options.races);
    let events = 0;
    for (;;) {
      await catalogs.refresh();
      const loaded = await cache.load(customerId);
      const base = loaded.state;
      if (base.customer === null) {
        throw new TallyError('unknown_customer', `no customer ${JSON.stringify(customerId)}`, {
          field: 'customerId',
        });
      }
      const nowMs = Math.max(clock().getTime(), base.lastAt === '' ? 0 : Date.parse(base.lastAt));
      const catalog = catalogs.at(nowMs);
      const due = advance(base, nowMs, { maxEvents: MAX_DUE_PER_APPEND, catalog });
      if (due.events.length === 0)
        return { events, version: base.version, nextDueAtMs: nextDueAt(base, nowMs) };
      const written = due.events.map((event) => ({ event, metadata: {} }));
      if (await this.append(customerId, written, loaded, due.state, base.version, catalog.version)) {
        events += due.events.length;
        continue; // the next round finds nothing left (or the rest of a long idle) and answers
      }
      cache.forget(customerId);
      if (!(await backOff(races))) {
        throw new TallyError(
          'concurrency_conflict',
          `customer ${customerId} kept changing while its due events were stored; gave up after ${races.tried} attempts`,
        );
      }
    }
  }

  /**
   * The history the batch's commands name (their `recall`), looked up before anything is decided, so
   * that a decision never finds out halfway that it needs the store. Null when every command works on
   * what is in play, as nearly all do (then without a promise).
   */
  private recallFor(customerId: string, head: StreamHead, jobs: readonly Job[]): Promise<Recalled> | null {
    // Made only for a command that names history: `trackUsage`, the commonest, names none.
    let wanted: { grants: string[]; holds: string[]; usages: string[] } | null = null;
    for (const job of jobs) {
      const asked = definitionOf(job.command).recall?.(job.command, head.state);
      if (asked === undefined) continue;
      wanted ??= { grants: [], holds: [], usages: [] };
      wanted.grants.push(...(asked.grants ?? []).filter((id) => !head.state.grants.has(id)));
      wanted.holds.push(...(asked.holds ?? []).filter((id) => !head.state.holds.has(id)));
      wanted.usages.push(...(asked.usages ?? []));
    }
    if (wanted === null || wanted.grants.length + wanted.holds.length + wanted.usages.length === 0)
      return null;
    return this.lookUp(customerId, head, wanted);
  }

  private async lookUp(
    customerId: string,
    head: StreamHead,
    wanted: { grants: string[]; holds: string[]; usages: string[] },
  ): Promise<Recalled> {
    const found = await this.options.cache.lookUp(customerId, head, wanted.usages);
    // A reversal may restore the grants that paid the usage: recall those too.
    for (const usage of found.usages.values())
      for (const allocation of usage.deduction.allocations) wanted.grants.push(allocation.grantId);
    return { state: found.history, version: found.history.version, wanted, usages: found.usages };
  }

  /**
   * Signs `written` onto the hash chain and appends it; on success makes the result the cached head
   * (and keeps its history in step) and returns true. False when another writer got there first.
   */
  private async append(
    customerId: string,
    written: readonly { event: RecordedEvent; metadata: EventMetadata }[],
    loaded: StreamHead,
    state: CustomerState,
    expectedVersion: number,
    catalogVersion: number,
  ): Promise<boolean> {
    const { cache, catalogs } = this.options;
    const { events, hash } = signEvents(loaded.hash, written);
    const streamId = streamIdOf(customerId);
    // Priced by a stored catalog: the append holds only if the catalog is still at that version.
    const outcome = await this.commits.append(
      catalogs.stored
        ? { streamId, events, expectedVersion, guard: { streamId: CATALOG_STREAM, version: catalogVersion } }
        : { streamId, events, expectedVersion },
    );
    if (!outcome.ok) return false;
    const history = loaded.history?.version === expectedVersion ? loaded.history : undefined;
    if (history !== undefined) for (const { event } of written) applyEvent(history, event);
    const head: StreamHead = { state: forgetRecalled(state), hash, history };
    cache.remember(customerId, head);
    const { snapshotEvery } = this.options;
    if (Math.floor(state.version / snapshotEvery) > Math.floor(expectedVersion / snapshotEvery)) {
      // A failed snapshot only costs the next cold read some replay; the write itself succeeded.
      await cache.writeSnapshot(customerId, head).catch(() => undefined);
    }
    return true;
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

/** After a lost race: waits out the backoff and answers true, or answers false when the bound is reached. */
async function backOff(races: LostRaces): Promise<boolean> {
  const wait = races.lose();
  if (wait === null) return false;
  await sleep(wait);
  return true;
}
