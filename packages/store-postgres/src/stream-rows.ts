import type { EventStore } from '@tally/core';
import { prepared, type Queryable, type Statement } from './queryable.js';
import {
  EVENT_COLUMNS,
  type EventRow,
  SNAPSHOT_COLUMNS,
  type SnapshotRow,
  toJson,
  toSnapshot,
  toStoredEvent,
} from './rows.js';

/**
 * The statements that touch one stream's rows by key: the same SQL on one server and on Citus, where a
 * `stream_id = $1` filter routes the statement to the stream's shard. `label` keeps each store's
 * prepared names its own.
 */
export function streamRowStatements(s: string, label: string) {
  return {
    findByKey: prepared(
      `${label}find_by_key`,
      `SELECT ${EVENT_COLUMNS} FROM ${s}.events WHERE stream_id = $1 AND idempotency_key = $2`,
    ),
    readSnapshot: prepared(
      `${label}read_snapshot`,
      `SELECT ${SNAPSHOT_COLUMNS} FROM ${s}.snapshots WHERE stream_id = $1`,
    ),
    writeSnapshot: prepared(
      `${label}write_snapshot`,
      `
      INSERT INTO ${s}.snapshots (stream_id, version, schema_version, state) VALUES ($1, $2, $3, $4)
      ON CONFLICT (stream_id) DO UPDATE
        SET version = excluded.version, schema_version = excluded.schema_version, state = excluded.state
        WHERE excluded.version > snapshots.version`,
    ),
  } satisfies Record<string, Statement>;
}

/** The store methods over {@link streamRowStatements}, and `close`, which both stores share. */
export function streamRowMethods(
  db: Queryable,
  sql: ReturnType<typeof streamRowStatements>,
  ensureSchema: () => Promise<void>,
): Pick<EventStore, 'findByIdempotencyKey' | 'readSnapshot' | 'writeSnapshot' | 'close'> {
  return {
    async findByIdempotencyKey(streamId, idempotencyKey) {
      await ensureSchema();
      const [row] = await db.query<EventRow>(sql.findByKey, [streamId, idempotencyKey]);
      return row === undefined ? null : toStoredEvent(row);
    },

    async readSnapshot(streamId) {
      await ensureSchema();
      const [row] = await db.query<SnapshotRow>(sql.readSnapshot, [streamId]);
      return row === undefined ? null : toSnapshot(row);
    },

    async writeSnapshot(snapshot) {
      const state = toJson(snapshot.state, 'snapshot state');
      await ensureSchema();
      await db.query(sql.writeSnapshot, [snapshot.streamId, snapshot.version, snapshot.schemaVersion, state]);
    },

    async close() {
      await db.close();
    },
  };
}
