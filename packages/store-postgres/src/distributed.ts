import {
  type AppendOptions,
  type AppendResult,
  assertAppendable,
  assertBatchAppendable,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type NewEvent,
  SINGLE_PARTITION,
  type StreamAppend,
  type StreamAppendOutcome,
} from '@tally/core';
import { citusPartitionsSql, citusSchemaSql, NOT_HERE } from './citus-schema.js';
import { prepared, type Queryable } from './queryable.js';
import { EVENT_COLUMNS, type EventRow, toColumns, toStoredEvent } from './rows.js';
import { POSITIONS_PER_TRANSACTION, quoteSchema } from './schema.js';
import { streamRowMethods, streamRowStatements } from './stream-rows.js';
import { explainUniqueViolation } from './unique-violation.js';

/**
 * The store on a Citus coordinator, its tables distributed by stream id (see `citusSchemaSql`).
 * Every operation names one stream or one partition, so Citus routes it to one worker: an append is
 * one call of a function delegated to the stream's worker (no pull to the coordinator, no two-phase
 * commit), reads of a stream are router queries. The global order has one partition per shard.
 */
export function citusStore(
  db: Queryable,
  schema: string,
  options: { readonly createSchema?: boolean; readonly shards?: number },
): EventStore {
  const s = quoteSchema(schema, 'postgresStore');
  const sql = citusStatements(s);
  const ddl = citusSchemaSql(schema, options.shards);

  let ready: Promise<void> | undefined;
  const ensureSchema = (): Promise<void> => {
    if (options.createSchema === false) return Promise.resolve();
    // The lock keeps two processes starting at once from racing inside create_distributed_table.
    ready ??= db
      .exec(`SELECT pg_advisory_xact_lock(hashtext('tally schema'), hashtext('${schema}'));${ddl}`)
      .catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
    return ready;
  };

  const streamVersion = async (streamId: string): Promise<number> => {
    const [row] = await db.query<{ version: string }>(sql.streamVersion, [streamId]);
    return Number(row!.version);
  };

  const store: EventStore = {
    async append(streamId: string, events: readonly NewEvent[], appendOptions: AppendOptions) {
      assertAppendable(streamId, events, appendOptions);
      if (events.length > POSITIONS_PER_TRANSACTION) {
        throw new RangeError(
          `one append holds at most ${POSITIONS_PER_TRANSACTION} events, got ${events.length}`,
        );
      }
      await ensureSchema();
      const { expectedVersion, guard } = appendOptions;
      // The guard stream lives on another shard: it is checked before the append, not in the same
      // transaction (see README, "Citus": a catalog change racing a guarded append is not serialized).
      if (guard !== undefined) {
        const actual = await streamVersion(guard.streamId);
        if (actual !== guard.version)
          throw new ConcurrencyConflictError(guard.streamId, guard.version, actual);
      }
      let last: string | null;
      try {
        const [row] = await whileMoving(() =>
          db.query<{ last: string | null }>(sql.append, [streamId, expectedVersion, ...toColumns(events)]),
        );
        last = row!.last;
      } catch (error) {
        throw await explainUniqueViolation(error, streamId, events, expectedVersion, async (keys) => {
          const [row] = await db.query<{ key: string }>(sql.takenKey, [streamId, keys]);
          return row?.key;
        });
      }
      if (last === null) {
        throw new ConcurrencyConflictError(streamId, expectedVersion, await streamVersion(streamId));
      }
      return {
        nextVersion: expectedVersion + events.length,
        lastPosition: BigInt(last),
      } satisfies AppendResult;
    },

    /**
     * A batch's streams live on different shards: each part is its own single-shard append, all sent at
     * once, so the batch costs one round trip's wait, not one per stream, and never a two-phase commit.
     * Each part is all or nothing, as the interface asks; the batch as a whole is not one transaction.
     */
    async appendMany(batch: readonly StreamAppend[]): Promise<StreamAppendOutcome[]> {
      assertBatchAppendable(batch);
      return Promise.all(
        batch.map(async ({ streamId, events, expectedVersion, guard }): Promise<StreamAppendOutcome> => {
          const appendOptions = guard === undefined ? { expectedVersion } : { expectedVersion, guard };
          try {
            return { ok: true, result: await store.append(streamId, events, appendOptions) };
          } catch (error) {
            if (error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError)
              return { ok: false, error };
            throw error;
          }
        }),
      );
    },

    async readStream(streamId, readOptions = {}) {
      await ensureSchema();
      const rows = await db.query<EventRow>(sql.readStream, [
        streamId,
        readOptions.fromVersion ?? 1,
        readOptions.toVersion ?? Number.MAX_SAFE_INTEGER,
      ]);
      return rows.map(toStoredEvent);
    },

    async readAll(readOptions = {}) {
      const { partition } = readOptions;
      if (partition === undefined || partition === SINGLE_PARTITION) {
        throw new TypeError(
          'a store distributed on Citus has one order per shard: read each of store.partitions() with readAll({ partition })',
        );
      }
      await ensureSchema();
      const params = [partition, (readOptions.after ?? 0n).toString(), readOptions.limit ?? null];
      return (await whileMoving(() => db.query<EventRow>(sql.readPartition, params))).map(toStoredEvent);
    },

    async partitions() {
      await ensureSchema();
      const rows = await db.query<{ shards: number; key: string }>(sql.partitions);
      if (rows.length !== rows[0]?.shards) {
        throw new Error(`found partition keys for ${rows.length} of ${rows[0]?.shards ?? 0} shards`);
      }
      return rows.map((row) => row.key);
    },

    ...streamRowMethods(db, sql, ensureSchema),
  };
  return store;
}

/**
 * Runs `call` again while it reaches a worker the shard has just left (`NOT_HERE`): a shard move
 * switches its placement in a moment, and the next call is routed to the new worker.
 */
async function whileMoving<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const moved = typeof error === 'object' && error !== null && 'code' in error && error.code === NOT_HERE;
      if (!moved || attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * Math.min(attempt, 10)));
    }
  }
}

/** Each statement names one stream (or one partition key): Citus routes it to one shard. */
function citusStatements(s: string) {
  return {
    // The call alone, nothing around it (not even a cast): only then does Citus delegate it.
    append: prepared(
      'citus_append',
      `SELECT ${s}.append($1::text, $2::bigint, $3::text[], $4::text[], $5::integer[], $6::text[],
                          $7::text[], $8::text[], $9::text[]) AS last`,
    ),
    readPartition: prepared(
      'citus_read_partition',
      `SELECT * FROM ${s}.read_partition($1::text, $2::bigint, $3::integer)`,
    ),
    partitions: citusPartitionsSql(s),
    streamVersion: `SELECT coalesce(max(version), 0)::text AS version FROM ${s}.events WHERE stream_id = $1`,
    takenKey: `SELECT idempotency_key AS key FROM ${s}.events
                WHERE stream_id = $1 AND idempotency_key = ANY ($2::text[]) LIMIT 1`,
    readStream: prepared(
      'citus_read_stream',
      `SELECT ${EVENT_COLUMNS} FROM ${s}.events e
        WHERE stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY e.version`,
    ),
    ...streamRowStatements(s, 'citus_'),
  };
}
