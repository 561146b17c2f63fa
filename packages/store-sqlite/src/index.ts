import {
  type AppendOptions,
  assertAppendable,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type NewEvent,
} from '@tally/core';
import { checkOptions, type OptionRules, oneOf, option, required } from '@tally/core/pure';
import Database from 'better-sqlite3';
import { type AppendOne, batchAppender } from './append-many.js';
import { sqliteConsumers, sqliteConsumersSchemaSql } from './consumers.js';
import { eventInserter } from './insert-events.js';
import {
  EVENT_COLUMNS,
  type EventRow,
  type EventRowOfAny,
  type SnapshotRow,
  toInsert,
  toJson,
  toSnapshot,
  toStoredEvent,
  toStoredEventOfAny,
} from './rows.js';
import { sqliteSchemaSql } from './schema.js';

export { sqliteConsumersSchemaSql } from './consumers.js';
export { sqliteSchemaSql } from './schema.js';

/**
 * Where `sqliteStore` keeps its database, and how it trades durability and waiting for speed.
 *
 * @example
 * const store = sqliteStore({ filename: 'ledger.db', synchronous: 'NORMAL', busyTimeoutMs: 10_000 });
 */
export interface SqliteStoreOptions {
  /** Path of the database file, created if missing; `':memory:'` for a private database gone on close. */
  readonly filename: string;
  /**
   * When a commit reaches the disk. `FULL` (default): the WAL is synced on every commit, so an
   * acknowledged append survives a crash of the process, the OS or the power. `NORMAL`: synced
   * only at checkpoints; an acknowledged append survives a crash of the process but the last
   * commits can be lost (never half-written) if the OS or the power fails. Faster for bulk loads.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * How long a write waits for another connection's (or process's) write to finish before it
   * fails with `SQLITE_BUSY`. Default 5000. better-sqlite3 is synchronous: the wait blocks the thread.
   */
  readonly busyTimeoutMs?: number;
}

/**
 * A durable `EventStore` in one SQLite file, for one machine. Several processes may share the
 * file: every write is a `BEGIN IMMEDIATE` transaction, so writers queue (up to `busyTimeoutMs`)
 * and readers never wait (WAL). An unknown option or a bad value is refused with `invalid_input`
 * naming it, before the file is created.
 *
 * @example
 * const store = sqliteStore({ filename: 'ledger.db' });
 * const ledger = createLedger({ catalog, store });
 * // ...
 * await store.close();
 */
export function sqliteStore(options: SqliteStoreOptions): EventStore {
  const db = open(options);
  const syncsEveryCommit =
    (options.synchronous ?? 'FULL') === 'FULL' && db.pragma('journal_mode', { simple: true }) === 'wal';

  const insertEvents = eventInserter(db);
  const streamVersion = db
    .prepare<[string], bigint>('SELECT coalesce(max(version), 0) FROM events WHERE stream_id = ?')
    .pluck();
  const selectStream = db
    .prepare<[string, number, number], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? AND version <= ? ORDER BY version`,
    )
    .raw(true);
  // One writer at a time and positions taken inside the write transaction: position order is
  // commit order, so a reader that saw position P can only ever find new events after P.
  const selectAll = db
    .prepare<[bigint, number], EventRowOfAny>(
      `SELECT ${EVENT_COLUMNS}, stream_id FROM events WHERE position > ? ORDER BY position LIMIT ?`,
    )
    .raw(true);
  const selectByKey = db
    .prepare<[string, string], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND idempotency_key = ?`,
    )
    .raw(true);
  const selectSnapshot = db.prepare<[string], SnapshotRow>(
    'SELECT stream_id, version, schema_version, state FROM snapshots WHERE stream_id = ?',
  );
  const upsertSnapshot = db.prepare<[string, number, number, string]>(
    `INSERT INTO snapshots (stream_id, version, schema_version, state) VALUES (?, ?, ?, ?)
     ON CONFLICT (stream_id) DO UPDATE
       SET version = excluded.version, schema_version = excluded.schema_version, state = excluded.state
       WHERE excluded.version > snapshots.version`,
  );

  const appendPart: AppendOne = (streamId, events, expectedVersion, guard) => {
    // BEGIN IMMEDIATE holds the write lock from here to COMMIT: these reads cannot go stale, so a
    // guard checked here holds at the commit (one writer at a time: nothing else to serialize).
    const actualVersion = Number(streamVersion.get(streamId));
    if (actualVersion !== expectedVersion) {
      throw new ConcurrencyConflictError(streamId, expectedVersion, actualVersion);
    }
    if (guard !== undefined) {
      const guarded = Number(streamVersion.get(guard.streamId));
      if (guarded !== guard.version)
        throw new ConcurrencyConflictError(guard.streamId, guard.version, guarded);
    }
    const lastPosition = insertEvents(
      events.map((event, i) => toInsert(streamId, expectedVersion + i + 1, event)),
    );
    return { nextVersion: expectedVersion + events.length, lastPosition };
  };
  const appendInTransaction = db.transaction(appendPart);
  const appendManyInTransaction = batchAppender(db, appendPart, (error, part) =>
    explainConstraint(error, part.streamId, part.events, part, (key) => selectByKey.get(part.streamId, key)),
  );
  const writeSnapshotInTransaction = db.transaction((row: [string, number, number, string]) => {
    upsertSnapshot.run(...row);
  });

  return {
    consumers: sqliteConsumers(db, syncsEveryCommit),

    async append(streamId: string, events: readonly NewEvent[], appendOptions: AppendOptions) {
      assertAppendable(streamId, events, appendOptions);
      try {
        return appendInTransaction.immediate(
          streamId,
          events,
          appendOptions.expectedVersion,
          appendOptions.guard,
        );
      } catch (error) {
        throw explainConstraint(error, streamId, events, appendOptions, (key) =>
          selectByKey.get(streamId, key),
        );
      }
    },

    async appendMany(batch) {
      return appendManyInTransaction(batch);
    },

    async readStream(streamId, readOptions = {}) {
      const to = readOptions.toVersion ?? Number.MAX_SAFE_INTEGER;
      return selectStream
        .all(streamId, readOptions.fromVersion ?? 1, to)
        .map((row) => toStoredEvent(row, streamId));
    },

    async readAll(readOptions = {}) {
      // LIMIT -1 is SQLite for "no limit".
      return selectAll.all(readOptions.after ?? 0n, readOptions.limit ?? -1).map(toStoredEventOfAny);
    },

    async findByIdempotencyKey(streamId, idempotencyKey) {
      const row = selectByKey.get(streamId, idempotencyKey);
      return row === undefined ? null : toStoredEvent(row, streamId);
    },

    async readSnapshot(streamId) {
      const row = selectSnapshot.get(streamId);
      return row === undefined ? null : toSnapshot(row);
    },

    async writeSnapshot(snapshot) {
      const row: [string, number, number, string] = [
        snapshot.streamId,
        snapshot.version,
        snapshot.schemaVersion,
        toJson(snapshot.state, 'snapshot state'),
      ];
      if (!syncsEveryCommit) {
        writeSnapshotInTransaction.immediate(row);
        return;
      }
      // A snapshot only saves replaying events that are on disk already: it need not be synced on its
      // own. Under NORMAL its commit skips the fsync; the next append's FULL commit syncs the WAL, and
      // the snapshot with it. A crash before that loses the snapshot, never an event.
      db.pragma('synchronous = NORMAL');
      try {
        writeSnapshotInTransaction.immediate(row);
      } finally {
        db.pragma('synchronous = FULL');
      }
    },

    async close() {
      if (db.open) db.close();
    },
  };
}

/**
 * What `sqliteStore` accepts, checked before the file is opened or created. SQLite reads '' as a
 * private temporary database deleted on close: for a durable store that is always a mistake (a
 * missing environment variable, say), so a blank filename is refused.
 */
const SQLITE_OPTION_RULES: OptionRules = {
  filename: required({
    expected: "the path of a database file, or ':memory:' for one gone on close",
    valid: option.nonEmptyString.valid,
  }),
  synchronous: oneOf('FULL', 'NORMAL'),
  busyTimeoutMs: option.nonNegativeInteger,
};

function open(options: SqliteStoreOptions): Database.Database {
  checkOptions(options, SQLITE_OPTION_RULES, { factory: 'sqliteStore' });
  const synchronous = options.synchronous ?? 'FULL';
  const db = new Database(options.filename, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    // Positions and versions come back as bigint; the row mappers narrow versions to number.
    db.defaultSafeIntegers(true);
    // WAL: readers see the last commit without waiting for a writer. (':memory:' stays 'memory'.)
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.transaction(() => db.exec(sqliteSchemaSql + sqliteConsumersSchemaSql)).immediate();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * The version check inside the transaction already catches every conflict a writer of this store
 * can cause; the UNIQUE constraints are the database's own guard, and their violations get the same
 * typed errors as the checks.
 */
function explainConstraint(
  error: unknown,
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
  findByKey: (key: string) => EventRow | undefined,
): unknown {
  if (!(error instanceof Database.SqliteError) || error.code !== 'SQLITE_CONSTRAINT_UNIQUE') return error;
  if (error.message.includes('events.idempotency_key')) {
    const keys = events.flatMap((event) => event.metadata.idempotencyKey ?? []);
    const taken = keys.find((key) => findByKey(key) !== undefined) ?? keys[0]!;
    return new DuplicateIdempotencyKeyError(streamId, taken);
  }
  if (error.message.includes('events.version')) {
    return new ConcurrencyConflictError(streamId, options.expectedVersion, undefined);
  }
  return error;
}
