import { assertConsumerName, type ConsumerStore, type DueEntry } from '@tally/core';

/**
 * Consumer storage in process memory, beside the memory store's events: checkpoints, leases timed by
 * `now` (the system clock by default) and the time index.
 *
 * @example
 * const consumers = memoryConsumers();
 * await consumers.acquireLease('emails', 'worker-1', 10_000); // true
 */
export function memoryConsumers(now: () => number = Date.now): ConsumerStore {
  const checkpoints = new Map<string, Map<string, bigint>>();
  const leases = new Map<string, { holder: string; expiresAtMs: number }>();
  const due = new Map<string, DueEntry>();
  return {
    async loadCheckpoint(name) {
      assertConsumerName(name);
      return new Map(checkpoints.get(name) ?? []);
    },
    async saveCheckpoint(name, partition, position) {
      assertConsumerName(name);
      assertConsumerName(partition, 'partition');
      const positions = checkpoints.get(name) ?? new Map<string, bigint>();
      const current = positions.get(partition);
      if (current === undefined || current < position) positions.set(partition, position);
      checkpoints.set(name, positions);
    },
    async acquireLease(name, holder, ttlMs) {
      assertConsumerName(name);
      assertConsumerName(holder, 'lease holder');
      const at = now();
      const lease = leases.get(name);
      if (lease !== undefined && lease.holder !== holder && lease.expiresAtMs > at) return false;
      leases.set(name, { holder, expiresAtMs: at + ttlMs });
      return true;
    },
    async releaseLease(name, holder) {
      if (leases.get(name)?.holder === holder) leases.delete(name);
    },
    async setDue(entry) {
      const current = due.get(entry.streamId);
      if (current === undefined || current.version <= entry.version) due.set(entry.streamId, { ...entry });
    },
    async dueBy(atMs, limit) {
      return [...due.values()]
        .filter(
          (entry): entry is DueEntry & { dueAtMs: number } => entry.dueAtMs !== null && entry.dueAtMs <= atMs,
        )
        .sort((a, b) => a.dueAtMs - b.dueAtMs || (a.streamId < b.streamId ? -1 : 1))
        .slice(0, limit)
        .map((entry) => ({ ...entry }));
    },
  };
}
