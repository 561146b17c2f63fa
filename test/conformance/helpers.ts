import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencyConflictError, type EventStore, type NewEvent, type StoredEvent } from '@tally/core';
import { readEverything } from './partitions.js';

/** Helpers shared by the contract and the worker processes; no test runner in here. */

let eventCount = 0;

/** A small valid event; `key` becomes its idempotency key. */
export function event(id: string, key?: string): NewEvent {
  eventCount += 1;
  return {
    id,
    type: 'test.happened',
    schemaVersion: 1,
    at: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, eventCount)).toISOString(),
    data: { n: eventCount, amount: '0.10' },
    metadata: key === undefined ? { source: 'contract' } : { source: 'contract', idempotencyKey: key },
  };
}

/**
 * Appends at the stream's current version, reading it again after each conflict (at most 500 tries).
 * `decideMs` is a pause between reading and appending, as a ledger deciding would take: it widens
 * the window in which another writer can get there first.
 */
export async function appendWithRetry(
  store: EventStore,
  streamId: string,
  events: readonly NewEvent[],
  decideMs = 0,
) {
  for (let attempt = 1; ; attempt++) {
    const expectedVersion = (await store.readStream(streamId)).length;
    if (decideMs > 0) await sleep(decideMs);
    try {
      return { ...(await store.append(streamId, events, { expectedVersion })), conflicts: attempt - 1 };
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError) || attempt >= 500) throw error;
    }
  }
}

/**
 * `readAll` may lag behind a commit (Postgres waits for older transactions still running anywhere
 * on the server, other test files included); it must never skip. Waits, bounded, for `count` events.
 * A store of several partitions (Citus) gives them one after the other, each in its own order.
 */
export async function readAllSettled(store: EventStore, count: number): Promise<StoredEvent[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const all = await readEverything(store);
    if (all.length >= count || Date.now() > deadline) return all;
    await sleep(5);
  }
}
