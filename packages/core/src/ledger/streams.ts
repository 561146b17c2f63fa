import { ArchiveNeeded, sweepFinished } from '../archive.js';
import { TallyError } from '../errors.js';
import type { EventStore, StoredEvent } from '../event-store.js';
import type { RecordedEvent } from '../events.js';
import { applyEvent } from '../evolve.js';
import { GENESIS_HASH } from '../hash-chain.js';
import {
  type CustomerState,
  fromSnapshotState,
  initialState,
  READABLE_STATE_SCHEMA_VERSIONS,
  STATE_SCHEMA_VERSION,
  toSnapshotState,
} from '../state.js';
import { upcast } from '../upcast.js';

export const streamIdOf = (customerId: string): string => `customer-${customerId}`;

/** A customer's folded state and the hash at its head, at the stream version the state says. */
export interface StreamHead {
  state: CustomerState;
  hash: string;
}

interface SnapshotPayload {
  readonly state: unknown;
  readonly hash: string;
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
   * A head loaded from a snapshot lacks the grants and holds out of play (see `toSnapshotState`);
   * `complete` asks for them, at the cost of replaying the stream once (the cache keeps the result).
   */
  async load(customerId: string, options: { complete?: boolean } = {}): Promise<StreamHead> {
    const streamId = streamIdOf(customerId);
    let head = this.heads.get(customerId) ?? (await this.fromSnapshot(streamId));
    if (options.complete === true && !head.state.archive.complete) head = fresh();
    try {
      await this.catchUp(streamId, head);
    } catch (error) {
      this.heads.delete(customerId);
      // An event that names a grant the snapshot left out: fold the whole stream instead.
      if (!(error instanceof ArchiveNeeded)) throw error;
      head = fresh();
      await this.catchUp(streamId, head);
    }
    this.remember(customerId, head);
    return head;
  }

  private async catchUp(streamId: string, head: StreamHead): Promise<void> {
    const tail = await this.store.readStream(streamId, { fromVersion: head.state.version + 1 });
    // Another load may have folded part of this tail into the same head while we awaited.
    foldStored(
      head,
      tail.filter((event) => event.version > head.state.version),
    );
  }

  /** The cached head as it is, without asking the store whether other writers moved on. */
  peek(customerId: string): StreamHead | undefined {
    return this.heads.get(customerId);
  }

  /** Keeps `head` as the customer's latest, with what is out of play moved to its archive now and then. */
  remember(customerId: string, head: StreamHead): void {
    sweepFinished(head.state);
    this.heads.delete(customerId);
    this.heads.set(customerId, head);
    if (this.heads.size > this.capacity) this.heads.delete(this.heads.keys().next().value!);
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

  private async fromSnapshot(streamId: string): Promise<StreamHead> {
    const snapshot = await this.store.readSnapshot(streamId);
    if (snapshot === null || !READABLE_STATE_SCHEMA_VERSIONS.has(snapshot.schemaVersion)) return fresh();
    const payload = snapshot.state as SnapshotPayload;
    return { state: fromSnapshotState(payload.state), hash: payload.hash };
  }
}

const fresh = (): StreamHead => ({ state: initialState(), hash: GENESIS_HASH });

/**
 * Folds stored events into `head`, checking on the way in what the writer checked on the way out:
 * versions follow on without gaps, and every event is one this code understands.
 */
export function foldStored(head: StreamHead, events: readonly StoredEvent[]): void {
  for (const stored of events) {
    if (stored.version !== head.state.version + 1) {
      throw new TallyError(
        'corrupt_stream',
        `stream ${stored.streamId} jumps from version ${head.state.version} to ${stored.version}`,
        { details: { eventId: stored.id } },
      );
    }
    applyRecorded(head.state, upcast(stored));
    const hash = stored.metadata.hash;
    if (typeof hash === 'string') head.hash = hash;
  }
}

/** `applyEvent`, with a malformed event's TypeError turned into a typed error naming the event. */
export function applyRecorded(state: CustomerState, event: RecordedEvent): void {
  try {
    applyEvent(state, event);
  } catch (error) {
    if (error instanceof TallyError || error instanceof ArchiveNeeded) throw error;
    throw new TallyError(
      'corrupt_stream',
      `event ${event.id} (${event.type}) cannot be read: ${String(error)}`,
      {
        details: { eventId: event.id, type: event.type },
        cause: error,
      },
    );
  }
}

/** All events of a stream as the fold reads them. */
export async function readRecorded(store: EventStore, customerId: string): Promise<RecordedEvent[]> {
  return (await store.readStream(streamIdOf(customerId))).map(upcast);
}
