import {
  appendAll,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type StreamAppend,
  type StreamAppendOutcome,
} from '../event-store.js';

/**
 * A store call that kept the event loop this long (ms) before returning its promise blocked it: a
 * synchronous store (better-sqlite3) commits and fsyncs inside the call.
 */
const BLOCKING_MS = 0.25;

interface Pending {
  readonly part: StreamAppend;
  readonly resolve: (outcome: StreamAppendOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit across streams: appends that arrive together (in the same turn of the event loop, or
 * while a batch is in flight) go to the store as one `appendMany`, one transaction and one fsync for
 * all, each still answered with its own outcome. One batch is in flight at a time; what arrives
 * meanwhile is the next batch. A lone writer on a store that answers asynchronously is not held back:
 * its append goes at once, alone, through `append`, unless the last batch had company or other writers
 * are busy (`busy`). After a store call that blocked the event loop (`blocked`: on SQLite with
 * `synchronous: 'FULL'` that is every commit, since the fsync runs inside the call) an append waits one
 * turn so the callers read meanwhile join it; a lone writer there pays that one turn.
 */
export class GroupCommit {
  private pending: Pending[] = [];
  private flushing = false;
  private scheduled = false;
  /** The last batch had several streams: appends are arriving together. */
  private together = false;
  /**
   * The last store call blocked the event loop. Whatever reached the process meanwhile (requests on
   * an HTTP server's connections) is read only after it, each in a callback of its own, so each would
   * find the writer idle and go alone, one fsync apiece: after a blocking call, an append waits one
   * turn, and those arriving in the callbacks of that turn join it.
   */
  private blocked = false;

  constructor(
    private readonly store: EventStore,
    /** Most events in one batch (one append's worth: what every store must take at once). */
    private readonly maxEvents: number,
    /** Whether other writers are at work, so that appends from them are on their way. */
    private readonly busy: () => boolean,
  ) {}

  append(part: StreamAppend): Promise<StreamAppendOutcome> {
    return this.flushing || this.scheduled || this.together || this.blocked
      ? this.enqueue(part)
      : this.maybeAlone(part);
  }

  /**
   * Appends alone, unless other writers turn out to be busy one microtask on: writers that started
   * in the same turn reach their appends by then, and go together.
   */
  private async maybeAlone(part: StreamAppend): Promise<StreamAppendOutcome> {
    await undefined;
    return this.flushing || this.scheduled || this.busy() ? this.enqueue(part) : this.alone(part);
  }

  private enqueue(part: StreamAppend): Promise<StreamAppendOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ part, resolve, reject });
      if (this.flushing || this.scheduled) return;
      if (this.together || this.blocked || this.busy()) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.flush();
        });
      } else void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.take();
        this.together = batch.length > 1;
        try {
          const outcomes =
            batch.length === 1
              ? [await this.appendOne(batch[0]!.part)]
              : await this.timed(() =>
                  appendAll(
                    this.store,
                    batch.map((p) => p.part),
                  ),
                );
          batch.forEach((p, i) => {
            p.resolve(outcomes[i]!);
          });
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
        // The writers just answered send their next appends within this turn: let them join the next batch.
        if (this.together) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.flushing = false;
    }
  }

  /** A lone writer's append, straight to the store; what arrives meanwhile waits for it, as for a batch. */
  private async alone(part: StreamAppend): Promise<StreamAppendOutcome> {
    this.flushing = true;
    try {
      return await this.appendOne(part);
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) void this.flush();
    }
  }

  /** The next batch: in arrival order, each stream once, at most `maxEvents` events (at least one part). */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const streams = new Set<string>();
    let events = 0;
    for (const p of this.pending) {
      const fits = batch.length === 0 || events + p.part.events.length <= this.maxEvents;
      if (!fits || streams.has(p.part.streamId)) {
        rest.push(p);
        continue;
      }
      batch.push(p);
      streams.add(p.part.streamId);
      events += p.part.events.length;
    }
    this.pending = rest;
    return batch;
  }

  /** Calls the store, noting whether the call held the event loop (see `blocked`). */
  private timed<T>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return call();
    } finally {
      this.blocked = performance.now() - started >= BLOCKING_MS;
    }
  }

  private async appendOne(part: StreamAppend): Promise<StreamAppendOutcome> {
    const { streamId, events, expectedVersion, guard } = part;
    try {
      const options = guard === undefined ? { expectedVersion } : { expectedVersion, guard };
      return { ok: true, result: await this.timed(() => this.store.append(streamId, events, options)) };
    } catch (error) {
      if (error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError)
        return { ok: false, error };
      throw error;
    }
  }
}
