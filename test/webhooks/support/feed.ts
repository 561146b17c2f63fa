/**
 * A stand-in for the feed processor in the tests: reads the store's global order from `after` and
 * hands it to `handle` in batches, as the processor would, returning the last position handed.
 */
import type { EventStore, FeedBatch } from '@tally/core';

export async function pump(
  store: EventStore,
  handle: (batch: FeedBatch) => Promise<void>,
  after = 0n,
  batchSize = 50,
): Promise<bigint> {
  for (;;) {
    const events = await store.readAll({ after, limit: batchSize });
    if (events.length === 0) return after;
    await handle({ partition: 'all', events });
    after = events[events.length - 1]!.position;
  }
}
