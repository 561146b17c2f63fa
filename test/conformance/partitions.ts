import { type EventStore, partitionsOf, SINGLE_PARTITION, type StoredEvent } from '@tally/core';

/**
 * The global order in its per-partition form, for stores of one partition (memory, SQLite, one
 * Postgres server) and of many (Citus: one per shard) alike. No test runner in here: the worker
 * processes import it too.
 */

/** `readAll` of one partition; the one partition of a single-order store is read as it always was. */
export function readPartition(
  store: EventStore,
  partition: string,
  options: { after?: bigint; limit?: number } = {},
): Promise<StoredEvent[]> {
  return partition === SINGLE_PARTITION ? store.readAll(options) : store.readAll({ ...options, partition });
}

/** Every partition read whole, in the order `partitions()` lists them. */
export async function readEveryPartition(store: EventStore): Promise<StoredEvent[][]> {
  const partitions = await partitionsOf(store);
  return Promise.all(partitions.map((partition) => readPartition(store, partition)));
}

/** Every event of the store: the partitions one after the other, each in its own order. */
export async function readEverything(store: EventStore): Promise<StoredEvent[]> {
  return (await readEveryPartition(store)).flat();
}

/**
 * Whether the partitions hold exactly `appended` (by event id, each once), each partition in the
 * order of `appended` restricted to it: what "in global order" means per partition. With one
 * partition it is `partition === appended`. Returns the problems found, empty when it holds.
 */
export function globalOrderProblems(
  partitions: readonly StoredEvent[][],
  appended: readonly string[],
): string[] {
  const problems = completenessProblems(partitions, appended);
  const rank = new Map(appended.map((id, i) => [id, i]));
  partitions.forEach((events, p) => {
    for (let i = 1; i < events.length; i++) {
      const [before, event] = [events[i - 1]!, events[i]!];
      if ((rank.get(event.id) ?? -1) < (rank.get(before.id) ?? -1)) {
        problems.push(`partition ${p}: ${event.id} read after ${before.id}, appended before it`);
      }
    }
  });
  return problems;
}

/**
 * What holds whatever the order of concurrent appends: the partitions hold exactly `appended`, each
 * event once; positions increase within each partition, and so do the versions of each stream in it.
 */
export function completenessProblems(
  partitions: readonly StoredEvent[][],
  appended: readonly string[],
): string[] {
  const problems: string[] = [];
  const ids = new Set(appended);
  let total = 0;
  partitions.forEach((events, p) => {
    total += events.length;
    const versions = new Map<string, number>();
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (!ids.has(event.id)) problems.push(`partition ${p} holds ${event.id}, never appended`);
      if (i > 0 && event.position <= events[i - 1]!.position) {
        problems.push(`partition ${p}: position ${event.position} after ${events[i - 1]!.position}`);
      }
      if (event.version <= (versions.get(event.streamId) ?? 0)) {
        problems.push(`partition ${p}: ${event.streamId} version ${event.version} after a later one`);
      }
      versions.set(event.streamId, event.version);
    }
  });
  const seen = new Set(partitions.flat().map((e) => e.id));
  if (seen.size !== total) problems.push(`${total - seen.size} events read twice`);
  for (const id of appended) if (!seen.has(id)) problems.push(`${id} is missing`);
  return problems;
}
