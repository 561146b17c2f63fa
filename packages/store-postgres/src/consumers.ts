import { assertConsumerName, type ConsumerStore, type DueEntry } from '@tally/core';
import { prepared, type Queryable } from './queryable.js';

/**
 * The tables of the feed's consumers in schema `s` (quoted), part of `postgresSchemaSql`.
 *
 * @example
 * const ddl = consumersSchemaSql('"billing"'); // checkpoints, leases, the time index
 */
export function consumersSchemaSql(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.consumer_checkpoints (
  name      text   NOT NULL,
  partition text   NOT NULL,
  position  bigint NOT NULL,
  PRIMARY KEY (name, partition)
);
-- A lease row rather than an advisory lock: a session lock needs a connection held for as long as the
-- lease, which a pool does not give; the row's expiry is the server's clock, the same for every process.
CREATE TABLE IF NOT EXISTS ${s}.consumer_leases (
  name       text        PRIMARY KEY,
  holder     text        NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.due_index (
  stream_id text   PRIMARY KEY,
  version   bigint NOT NULL,
  due_at_ms bigint
);
CREATE INDEX IF NOT EXISTS due_index_due_at ON ${s}.due_index (due_at_ms) WHERE due_at_ms IS NOT NULL;
`;
}

/**
 * Consumer storage in the store's schema. Each operation is one statement: an upsert whose `WHERE`
 * decides under the row's lock, so two processes racing for a lease or a checkpoint never both win.
 *
 * @example
 * const consumers = postgresStore({ pool }).consumers!; // what postgresStore builds with it
 */
export function postgresConsumers(db: Queryable, s: string, ready: () => Promise<void>): ConsumerStore {
  const sql = {
    loadCheckpoint: `SELECT partition, position::text AS position FROM ${s}.consumer_checkpoints WHERE name = $1`,
    saveCheckpoint: prepared(
      'save_checkpoint',
      `INSERT INTO ${s}.consumer_checkpoints (name, partition, position) VALUES ($1, $2, $3::bigint)
       ON CONFLICT (name, partition) DO UPDATE SET position = excluded.position
         WHERE excluded.position > consumer_checkpoints.position`,
    ),
    acquireLease: prepared(
      'acquire_lease',
      `INSERT INTO ${s}.consumer_leases (name, holder, expires_at)
       VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE consumer_leases.holder = excluded.holder OR consumer_leases.expires_at <= clock_timestamp()
       RETURNING holder`,
    ),
    releaseLease: `DELETE FROM ${s}.consumer_leases WHERE name = $1 AND holder = $2`,
    setDue: prepared(
      'set_due',
      `INSERT INTO ${s}.due_index (stream_id, version, due_at_ms) VALUES ($1, $2, $3)
       ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, due_at_ms = excluded.due_at_ms
         WHERE excluded.version >= due_index.version`,
    ),
    dueBy: `SELECT stream_id, version::text AS version, due_at_ms::text AS due_at_ms FROM ${s}.due_index
             WHERE due_at_ms IS NOT NULL AND due_at_ms <= $1 ORDER BY due_at_ms, stream_id LIMIT $2`,
  };
  return {
    async loadCheckpoint(name) {
      assertConsumerName(name);
      await ready();
      const rows = await db.query<{ partition: string; position: string }>(sql.loadCheckpoint, [name]);
      return new Map(rows.map((row) => [row.partition, BigInt(row.position)]));
    },
    async saveCheckpoint(name, partition, position) {
      assertConsumerName(name);
      assertConsumerName(partition, 'partition');
      await ready();
      await db.query(sql.saveCheckpoint, [name, partition, position.toString()]);
    },
    async acquireLease(name, holder, ttlMs) {
      assertConsumerName(name);
      assertConsumerName(holder, 'lease holder');
      await ready();
      const rows = await db.query(sql.acquireLease, [name, holder, Math.max(0, Math.floor(ttlMs))]);
      return rows.length > 0;
    },
    async releaseLease(name, holder) {
      await ready();
      await db.query(sql.releaseLease, [name, holder]);
    },
    async setDue(entry) {
      await ready();
      await db.query(sql.setDue, [entry.streamId, entry.version, entry.dueAtMs]);
    },
    async dueBy(atMs, limit) {
      await ready();
      const rows = await db.query<{ stream_id: string; version: string; due_at_ms: string | null }>(
        sql.dueBy,
        [Math.floor(atMs), limit],
      );
      return rows.map(
        (row): DueEntry => ({
          streamId: row.stream_id,
          version: Number(row.version),
          dueAtMs: row.due_at_ms === null ? null : Number(row.due_at_ms),
        }),
      );
    },
  };
}
