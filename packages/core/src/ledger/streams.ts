import { TallyError } from '../errors.js';
import type { EventStore, StoredEvent } from '../event-store.js';
import type { RecordedEvent } from '../events.js';
import { applyEvent } from '../evolve.js';
import { GENESIS_HASH } from '../hash-chain.js';
import { findUsages, recallNeeds } from '../recall.js';
import {
  type CustomerState,
  cloneState,
  forgetRecalled,
  fromSnapshotState,
  initialState,
  recall,
  STATE_SCHEMA_VERSION,
  toSnapshotState,
  type UsageRecord,
} from '../state.js';
import { upcast } from '../upcast.js';

export const streamIdOf = (customerId: string): string => `customer-${customerId}`;

/**
 * A customer's folded state and the hash at its head, at the stream version the state says.
 * `state` holds only what is in play (its `recalled` is empty between calls); `history`, once some
 * call needed it, is the whole stream folded with every finished grant and hold, kept at the same
 * version.
 */
export interface StreamHead {
  readonly state: CustomerState;
  hash: string;
  history?: CustomerState | undefined;
}

interface SnapshotPayload {
  readonly state: unknown;
  readonly hash: string;
}

/** What `StreamCache.lookUp` found in the history of a stream, at the version asked for. */
export interface Lookup {
  readonly history: CustomerState;
  readonly usages: ReadonlyMap<string, UsageRecord>;
}

/** Keeps folded states of recently used customers, and brings them up to date with the store on demand. */
export class StreamCache {
  private readonly heads = new Map<string, StreamHead>();

  constructor(
    private readonly store: EventStore,
    private readonly capacity: number,
  ) {}

  /**
   * The head as of the latest event in the store: cached state plus whatever other writers appended.
   * A tail that names a grant finished before the cached state (a void or a reversal of it) recalls it
   * from the history first, or, without a history yet, folds the whole stream once.
   */
  async load(customerId: string): Promise<StreamHead> {
    const streamId = streamIdOf(customerId);
    const head = this.heads.get(customerId) ?? (await this.fromSnapshot(streamId));
    const stored = await this.store.readStream(streamId, { fromVersion: head.state.version + 1 });
    // From here to the fold nothing awaits, so no other load can move this head underneath.
    const fresh = stored.filter((event) => event.version > head.state.version);
    if (fresh.length === 0) return this.remember(customerId, head);
    const tail = decode(head.state.version, fresh);
    const needs = recallNeeds(head.state, tail.events);
    if (needs.length > 0 && head.history === undefined)
      return this.remember(customerId, await this.whole(customerId));
    try {
      if (head.history !== undefined) {
        recall(head.state, head.history, { grants: needs });
        foldAll(head.history, tail.events);
      }
      forgetRecalled(foldAll(head.state, tail.events));
    } catch (error) {
      this.heads.delete(customerId);
      throw error;
    }
    head.hash = tail.hash ?? head.hash;
    return this.remember(customerId, head);
  }

  /**
   * The history of the stream at exactly `head`'s version: every grant and hold, finished ones included,
   * and the usages asked for. Reads the stream only for what the head does not hold yet (a history is
   * kept on the head once made, and stays in step with it).
   */
  async lookUp(customerId: string, head: StreamHead, usageIds: readonly string[] = []): Promise<Lookup> {
    const version = head.state.version;
    if (head.history !== undefined && usageIds.length === 0)
      return { history: head.history, usages: new Map() };
    const stored = await this.store.readStream(streamIdOf(customerId));
    const events = decode(
      0,
      stored.filter((event) => event.version <= version),
    ).events;
    const usages = findUsages(events, usageIds);
    if (head.history !== undefined && head.history.version === version)
      return { history: head.history, usages };
    const history = foldAll(initialState(), events);
    // Kept only while the head is still where it was (another load may have moved it meanwhile).
    if (head.state.version === version && this.heads.get(customerId) === head) head.history = history;
    return { history, usages };
  }

  /** The cached head as it is, without asking the store whether other writers moved on. */
  peek(customerId: string): StreamHead | undefined {
    return this.heads.get(customerId);
  }

  /** Keeps `head` as the customer's latest, evicting the least recently used past the capacity. */
  remember(customerId: string, head: StreamHead): StreamHead {
    this.heads.delete(customerId);
    this.heads.set(customerId, head);
    if (this.heads.size > this.capacity) this.heads.delete(this.heads.keys().next().value!);
    return head;
  }

  forget(customerId: string): void {
    this.heads.delete(customerId);
  }

  async writeSnapshot(customerId: string, head: StreamHead): Promise<void> {
    const payload: SnapshotPayload = { state: toSnapshotState(head.state), hash: head.hash };
    await this.store.writeSnapshot({
      streamId: streamIdOf(customerId),
      version: head.state.version,
      schemaVersion: STATE_SCHEMA_VERSION,
      state: payload,
    });
  }

  /** The whole stream folded: the state in play, and the history beside it. */
  private async whole(customerId: string): Promise<StreamHead> {
    const stored = await this.store.readStream(streamIdOf(customerId));
    const { events, hash } = decode(0, stored);
    const history = foldAll(initialState(), events);
    return { state: forgetRecalled(cloneState(history)), hash: hash ?? GENESIS_HASH, history };
  }

  private async fromSnapshot(streamId: string): Promise<StreamHead> {
    const snapshot = await this.store.readSnapshot(streamId);
    // A snapshot is a cache: one of another shape is ignored, and the next one written replaces it.
    if (snapshot === null || snapshot.schemaVersion !== STATE_SCHEMA_VERSION) return fresh();
    const payload = snapshot.state as SnapshotPayload;
    return { state: fromSnapshotState(payload.state), hash: payload.hash };
  }
}

const fresh = (): StreamHead => ({ state: initialState(), hash: GENESIS_HASH });

/**
 * Stored events as the fold reads them, checking on the way in what the writer checked on the way out:
 * versions follow on from `version` without gaps, and every event is one this code understands. Also
 * the hash at the last event, if it carries one.
 */
export function decode(
  version: number,
  stored: readonly StoredEvent[],
): { events: RecordedEvent[]; hash: string | undefined } {
  let hash: string | undefined;
  const events = stored.map((event, i) => {
    if (event.version !== version + i + 1) {
      throw new TallyError(
        'corrupt_stream',
        `stream ${event.streamId} jumps from version ${version + i} to ${event.version}`,
        { details: { eventId: event.id } },
      );
    }
    if (typeof event.metadata.hash === 'string') hash = event.metadata.hash;
    return upcast(event);
  });
  return { events, hash };
}

/** `applyEvent` over `events`, with a malformed event's TypeError turned into a typed error naming it. */
export function foldAll(state: CustomerState, events: readonly RecordedEvent[]): CustomerState {
  for (const event of events) {
    try {
      applyEvent(state, event);
    } catch (error) {
      if (error instanceof TallyError) throw error;
      throw new TallyError(
        'corrupt_stream',
        `event ${event.id} (${event.type}) cannot be read: ${String(error)}`,
        { details: { eventId: event.id, type: event.type }, cause: error },
      );
    }
  }
  return state;
}

/** All events of a stream as the fold reads them. */
export async function readRecorded(store: EventStore, customerId: string): Promise<RecordedEvent[]> {
  return decode(0, await store.readStream(streamIdOf(customerId))).events;
}
