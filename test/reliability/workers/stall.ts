/**
 * A writer that dies inside its transaction: it opens a write transaction on the store's database,
 * inserts events into a customer's stream at the next versions, prints `in-transaction`, and waits
 * for the SIGKILL that never lets it commit.
 *
 * SQLite: enough rows to spill the page cache, so uncommitted frames really reach the WAL file.
 * Postgres: the rows hold the (stream_id, version) keys, so other writers of the stream wait on them.
 *
 * Usage: node --import tsx stall.ts '<StallTask as JSON>'
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { StoreSpec } from '../../support/store-spec.js';
import { printNow, workerTask } from '../../support/worker-io.js';

export interface StallTask {
  readonly spec: StoreSpec;
  readonly streamId: string;
  /** The stream's version now: the stalled rows take the versions after it. */
  readonly version: number;
  readonly rows: number;
}

const task = workerTask<StallTask>();
const row = (i: number) => ({
  id: `evt_stalled_${i}`,
  type: 'credits_granted',
  data: JSON.stringify({
    grantId: `grant_stalled_${i}`,
    currency: 'credits',
    amount: '1000000',
    padding: 'x'.repeat(1000),
  }),
  metadata: JSON.stringify({ command: 'grant' }),
});

if (task.spec.kind === 'sqlite') {
  const db = new Database(task.spec.filename, { timeout: 5_000 });
  // A page cache of 50 pages: the transaction spills its pages into the WAL long before any commit.
  db.pragma('cache_size = 50');
  db.exec('BEGIN IMMEDIATE');
  const insert = db.prepare(
    `INSERT INTO events (stream_id, version, id, type, schema_version, at, data, metadata)
     VALUES (?, ?, ?, ?, 1, ?, ?, ?)`,
  );
  for (let i = 0; i < task.rows; i++) {
    const r = row(i);
    insert.run(
      task.streamId,
      task.version + i + 1,
      r.id,
      r.type,
      new Date().toISOString(),
      r.data,
      r.metadata,
    );
  }
} else {
  const client = new pg.Client({ connectionString: task.spec.connectionString });
  await client.connect();
  await client.query('BEGIN');
  for (let i = 0; i < task.rows; i++) {
    const r = row(i);
    await client.query(
      `INSERT INTO "${task.spec.schema}".events (position, stream_id, version, id, type, schema_version, at, data, metadata)
       VALUES (pg_current_xact_id()::text::bigint * 8192 + $1, $2, $3, $4, $5, 1, $6, $7, $8)`,
      [i, task.streamId, task.version + i + 1, r.id, r.type, new Date().toISOString(), r.data, r.metadata],
    );
  }
}
printNow('in-transaction');
setInterval(() => {}, 60_000);
