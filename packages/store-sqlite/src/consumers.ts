import { assertConsumerName, type ConsumerStore, type DueEntry } from '@tally/core';
import type Database from 'better-sqlite3';

/**
 * The tables of the feed's consumers, applied with the store's own (`IF NOT EXISTS`, like them).
 *
 * @example
 * new Database('ledger.db').exec(sqliteSchemaSql + sqliteConsumersSchemaSql); // in a migration
 */
export const sqliteConsumersSchemaSql = `
CREATE TABLE IF NOT EXISTS consumer_checkpoints (
  name      TEXT    NOT NULL,
  partition TEXT    NOT NULL,
  position  INTEGER NOT NULL,
  PRIMARY KEY (name, partition)
);
CREATE TABLE IF NOT EXISTS consumer_leases (
  name          TEXT    PRIMARY KEY,
  holder        TEXT    NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS due_index (
  stream_id TEXT    PRIMARY KEY,
  version   INTEGER NOT NULL,
  due_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS due_index_due_at ON due_index (due_at_ms) WHERE due_at_ms IS NOT NULL;
`;

interface DueRow {
  readonly stream_id: string;
  readonly version: bigint;
  readonly due_at_ms: bigint | null;
}

/**
 * Consumer storage in the store's SQLite file. Every write is its own `BEGIN IMMEDIATE` transaction,
 * so a lease is taken under the database's write lock: two processes never both see it free. Lease
 * times are this machine's clock (every process on one SQLite file shares it).
 *
 * `syncsEveryCommit`: the store runs at `synchronous = FULL`. These writes then commit at NORMAL, as
 * snapshots do: a checkpoint lost to a power cut only delivers its batch again (delivery is at least
 * once), a lost lease renewal only lets the lease lapse, and a lost due entry is written again when
 * the index consumer, whose checkpoint went with it, reads the event again. An fsync each would
 * make every poll of every consumer queue for the disk behind the writers.
 *
 * @example
 * const consumers = sqliteConsumers(new Database('ledger.db'), true); // sqliteStore does this itself
 */
export function sqliteConsumers(
  db: Database.Database,
  syncsEveryCommit: boolean,
  now: () => number = Date.now,
): ConsumerStore {
  const selectCheckpoint = db.prepare<[string], { partition: string; position: bigint }>(
    'SELECT partition, position FROM consumer_checkpoints WHERE name = ?',
  );
  const upsertCheckpoint = db.prepare<[string, string, bigint]>(
    `INSERT INTO consumer_checkpoints (name, partition, position) VALUES (?, ?, ?)
     ON CONFLICT (name, partition) DO UPDATE SET position = excluded.position
       WHERE excluded.position > consumer_checkpoints.position`,
  );
  const takeLease = db.prepare<[string, string, number, string, number]>(
    `INSERT INTO consumer_leases (name, holder, expires_at_ms) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
       WHERE consumer_leases.holder = ? OR consumer_leases.expires_at_ms <= ?`,
  );
  const deleteLease = db.prepare<[string, string]>(
    'DELETE FROM consumer_leases WHERE name = ? AND holder = ?',
  );
  const upsertDue = db.prepare<[string, number, number | null]>(
    `INSERT INTO due_index (stream_id, version, due_at_ms) VALUES (?, ?, ?)
     ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, due_at_ms = excluded.due_at_ms
       WHERE excluded.version >= due_index.version`,
  );
  const selectDue = db.prepare<[number, number], DueRow>(
    `SELECT stream_id, version, due_at_ms FROM due_index
      WHERE due_at_ms IS NOT NULL AND due_at_ms <= ? ORDER BY due_at_ms, stream_id LIMIT ?`,
  );
  const write = <A extends unknown[], R>(fn: (...args: A) => R) => {
    const transaction = db.transaction(fn);
    return (...args: A): R => {
      if (!syncsEveryCommit) return transaction.immediate(...args);
      db.pragma('synchronous = NORMAL');
      try {
        return transaction.immediate(...args);
      } finally {
        db.pragma('synchronous = FULL');
      }
    };
  };
  const lease = write((name: string, holder: string, ttlMs: number): boolean => {
    const at = now();
    return takeLease.run(name, holder, at + ttlMs, holder, at).changes > 0;
  });
  const saveCheckpoint = write((name: string, partition: string, position: bigint) => {
    upsertCheckpoint.run(name, partition, position);
  });
  const release = write((name: string, holder: string) => {
    deleteLease.run(name, holder);
  });
  const setDue = write((entry: DueEntry) => {
    upsertDue.run(entry.streamId, entry.version, entry.dueAtMs);
  });

  return {
    async loadCheckpoint(name) {
      assertConsumerName(name);
      return new Map(selectCheckpoint.all(name).map((row) => [row.partition, BigInt(row.position)]));
    },
    async saveCheckpoint(name, partition, position) {
      assertConsumerName(name);
      assertConsumerName(partition, 'partition');
      saveCheckpoint(name, partition, position);
    },
    async acquireLease(name, holder, ttlMs) {
      assertConsumerName(name);
      assertConsumerName(holder, 'lease holder');
      return lease(name, holder, Math.max(0, Math.floor(ttlMs)));
    },
    async releaseLease(name, holder) {
      release(name, holder);
    },
    async setDue(entry) {
      setDue(entry);
    },
    async dueBy(atMs, limit) {
      return selectDue.all(Math.floor(atMs), limit).map(
        (row): DueEntry => ({
          streamId: row.stream_id,
          version: Number(row.version),
          dueAtMs: row.due_at_ms === null ? null : Number(row.due_at_ms),
        }),
      );
    },
  };
}
