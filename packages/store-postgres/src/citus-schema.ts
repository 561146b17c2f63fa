/**
 * The tables of the Postgres store distributed on Citus: every table that holds something of one
 * stream is distributed by `stream_id` and colocated with `events`, so everything one command
 * touches lives in one shard group, on one worker.
 */
import { checkOptions, type OptionRule, required } from '@tally/core/pure';
import { POSITIONS_PER_TRANSACTION, SCHEMA_RULE } from './schema.js';

/** Citus' own bound on a colocation group's shard count. */
export const SHARDS_RULE: OptionRule = {
  expected: 'an integer from 1 to 4096',
  valid: (v) => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 4096,
};

/**
 * The SQLSTATE of a call that reached a worker no longer holding the shard: the coordinator routed
 * it while the shard was being moved, and the worker's metadata already says the shard is elsewhere.
 * Nothing was written (the worker refuses before touching the old copy); the store sends it again.
 */
export const NOT_HERE = 'TA001';

/**
 * The DDL of the distributed schema, every statement idempotent; run on the Citus coordinator
 * (`CREATE EXTENSION citus` done, workers added). `shards` is the shard count of the colocation
 * group (Citus' `citus.shard_count`, 32, when not given); it is fixed when the tables are created.
 *
 * Positions: a worker has its own transaction ids, so a position is only ordered within its shard
 * (one partition of the global order per shard group). It is `base + transaction id * 8192 + index`,
 * where `base` is 0 until the shard is moved: the shard on another worker starts from a `base` that
 * puts its first position above every position the shard already holds (see `citusAppendFunction`).
 *
 * @example
 * await pool.query(citusSchemaSql('billing')); // on the coordinator, in your migration
 * const store = postgresStore({ pool }, { schema: 'billing', distributed: 'citus', createSchema: false });
 */
export function citusSchemaSql(schema = 'tally', shards?: number): string {
  checkOptions(
    { schema, shards },
    { schema: required(SCHEMA_RULE), shards: SHARDS_RULE },
    { factory: 'citusSchemaSql' },
  );
  const s = `"${schema}"`;
  const shardCount = shards === undefined ? '' : `, shard_count => ${shards}`;
  const distributed = (table: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = '${s}.${table}'::regclass)`;
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.events (
  position        bigint  NOT NULL,
  -- Where the position came from: the node (Citus group id) whose transaction id it holds, and the
  -- base added there (0 until the shard is moved).
  node_group      integer NOT NULL,
  base            bigint  NOT NULL,
  stream_id       text    NOT NULL,
  version         bigint  NOT NULL CHECK (version > 0),
  id              text    NOT NULL,
  type            text    NOT NULL,
  schema_version  integer NOT NULL,
  at              text    NOT NULL,
  data            text    NOT NULL,
  metadata        text    NOT NULL,
  idempotency_key text,
  -- Citus needs the distribution column in every unique key; each of these is unique per stream.
  CONSTRAINT events_pkey PRIMARY KEY (stream_id, position),
  CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_idempotency_key
  ON ${s}.events (stream_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- A partition is read in position order, and an append finds its shard's newest position here.
CREATE INDEX IF NOT EXISTS events_position ON ${s}.events (position);
CREATE TABLE IF NOT EXISTS ${s}.snapshots (
  stream_id      text    PRIMARY KEY,
  version        bigint  NOT NULL,
  schema_version integer NOT NULL,
  state          text    NOT NULL
);
SELECT create_distributed_table('${s}.events', 'stream_id'${shardCount}) WHERE ${distributed('events')};
SELECT create_distributed_table('${s}.snapshots', 'stream_id', colocate_with => '${s}.events')
 WHERE ${distributed('snapshots')};
${citusAppendFunction(s)}
${citusReadFunction(s)}
SELECT create_distributed_function(
  '${s}.append(text, bigint, text[], text[], integer[], text[], text[], text[], text[])',
  'p_stream', colocate_with => '${s}.events');
SELECT create_distributed_function('${s}.read_partition(text, bigint, integer)', 'p_key',
  colocate_with => '${s}.events');
`;
}

/**
 * The append, as a function Citus delegates to the worker holding the stream's shard (distributed by
 * its first argument): the version check, the position and the insert all run there, on the shard's
 * own table, in one local transaction, so the worker's transaction id is the one in the position and
 * no two-phase commit is needed. Returns the last position, or NULL when the stream is not at
 * `p_expected` (nothing written). Two appends racing on a version meet on `events_stream_version`.
 *
 * The base: the shard's newest row says which node wrote it (its Citus group). When that is this
 * node, its base carries on (this node's transaction ids only grow). When it is not (the shard was
 * moved here) or the shard is empty, the first append takes a lock, looks again, and picks `base = newest position + 1 - xmin * 8192`, xmin being the
 * oldest transaction still running on this worker: every transaction that can still append here has
 * an id at or above it, so every new position lands above every old one.
 */
function citusAppendFunction(s: string): string {
  const n = POSITIONS_PER_TRANSACTION;
  return `
CREATE OR REPLACE FUNCTION ${s}.append(
  p_stream text, p_expected bigint, p_ids text[], p_types text[], p_schema_versions integer[],
  p_ats text[], p_datas text[], p_metadatas text[], p_keys text[]) RETURNS bigint
  LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  shard bigint := get_shard_id_for_distribution_column('${s}.events', p_stream);
  shard_table text := format('${s}.%I', 'events_' || shard);
  here integer;
  xid bigint := pg_current_xact_id()::text::bigint;
  current_version bigint;
  newest record;
  b bigint;
BEGIN
  -- The lock a shard move takes exclusively, on every node, while it switches the shard over: the
  -- append waits for the switch, then finds the shard gone from here (the placement check below)
  -- instead of writing to the old copy after its last change was carried over. 5 is ShareLock.
  PERFORM lock_shard_metadata(5, ARRAY[shard]);
  SELECT p.groupid INTO here FROM pg_dist_placement p
   WHERE p.shardid = shard AND p.groupid = (SELECT groupid FROM pg_dist_local_group);
  IF here IS NULL THEN
    RAISE EXCEPTION 'tally: the shard of stream % is not on this node (not delegated, or just moved)', p_stream
      USING ERRCODE = '${NOT_HERE}';
  END IF;
  EXECUTE format('SELECT coalesce(max(version), 0) FROM %s WHERE stream_id = $1', shard_table)
     INTO current_version USING p_stream;
  IF current_version <> p_expected THEN RETURN NULL; END IF;
  EXECUTE format('SELECT position, node_group, base FROM %s ORDER BY position DESC LIMIT 1', shard_table)
     INTO newest;
  IF newest.node_group IS NOT DISTINCT FROM here THEN
    b := newest.base;
  ELSE
    PERFORM pg_advisory_xact_lock(hashtext('tally base'), hashtext(shard::text));
    EXECUTE format('SELECT position, node_group, base FROM %s ORDER BY position DESC LIMIT 1', shard_table)
       INTO newest;
    IF newest.node_group IS NOT DISTINCT FROM here THEN
      b := newest.base;
    ELSIF newest.position IS NULL THEN
      b := 0;
    ELSE
      b := greatest(0, newest.position + 1
                       - pg_snapshot_xmin(pg_current_snapshot())::text::bigint * ${n});
    END IF;
  END IF;
  EXECUTE format($sql$
    INSERT INTO %s (position, node_group, base, stream_id, version, id, type, schema_version, at, data,
                    metadata, idempotency_key)
    SELECT $1 + $2 * ${n} + e.ord - 1, $3, $1, $4, $5 + e.ord, e.id, e.type, e.schema_version, e.at,
           e.data, e.metadata, e.idempotency_key
      FROM unnest($6::text[], $7::text[], $8::integer[], $9::text[], $10::text[], $11::text[], $12::text[])
           WITH ORDINALITY AS e (id, type, schema_version, at, data, metadata, idempotency_key, ord)$sql$,
    shard_table)
    USING b, xid, here, p_stream, p_expected, p_ids, p_types, p_schema_versions, p_ats, p_datas,
          p_metadatas, p_keys;
  RETURN b + xid * ${n} + cardinality(p_ids) - 1;
END $fn$;`;
}

/**
 * One partition (the shard group `p_key` hashes into) in its own order, up to its own horizon, run
 * on the worker holding it. The horizon is `base + xmin * 8192` of this node: below it every
 * position belongs to a transaction that has ended (or was moved here, committed), and nothing can
 * ever appear below it, so a reader paging with `after` never skips. When the newest row came from
 * another node (moved, nothing appended here since) every row is committed: no horizon. The
 * bound and the rows come from one statement, so one snapshot.
 */
function citusReadFunction(s: string): string {
  const n = POSITIONS_PER_TRANSACTION;
  return `
CREATE OR REPLACE FUNCTION ${s}.read_partition(p_key text, p_after bigint, p_limit integer)
  RETURNS TABLE ("position" text, stream_id text, version text, id text, type text,
                 schema_version integer, at text, data text, metadata text)
  LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  shard bigint := get_shard_id_for_distribution_column('${s}.events', p_key);
  here integer;
BEGIN
  SELECT p.groupid INTO here FROM pg_dist_placement p
   WHERE p.shardid = shard AND p.groupid = (SELECT groupid FROM pg_dist_local_group);
  IF here IS NULL THEN
    RAISE EXCEPTION 'tally: partition % is not on this node (not delegated, or just moved)', p_key
      USING ERRCODE = '${NOT_HERE}';
  END IF;
  RETURN QUERY EXECUTE format($sql$
    WITH newest AS (SELECT n.node_group, n.base FROM %1$s n ORDER BY n.position DESC LIMIT 1),
         horizon AS (
           SELECT CASE WHEN newest.node_group = $1
                       THEN newest.base + pg_snapshot_xmin(pg_current_snapshot())::text::bigint * ${n}
                  END AS below
             FROM newest)
    SELECT e.position::text, e.stream_id, e.version::text, e.id, e.type, e.schema_version, e.at, e.data,
           e.metadata
      FROM %1$s e LEFT JOIN horizon ON true
     WHERE e.position > $2 AND (horizon.below IS NULL OR e.position < horizon.below)
     ORDER BY e.position LIMIT $3$sql$, format('${s}.%I', 'events_' || shard))
    USING here, p_after, p_limit;
END $fn$;`;
}

/**
 * Finds, for every shard of the colocation group, the first key `partition-<i>` that hashes into it:
 * the name of that partition. `readAll({ partition })` routes by it, so it stays valid when the
 * shard moves. 64 candidates per shard leave a shard without one with odds below 10^-27; `shards`
 * says how many there are, so a miss would be noticed.
 */
export function citusPartitionsSql(s: string): string {
  return `
WITH shards AS (SELECT count(*)::int AS n FROM pg_dist_shard WHERE logicalrelid = '${s}.events'::regclass)
SELECT (SELECT n FROM shards) AS shards, key FROM (
  SELECT DISTINCT ON (shard) shard, key, i FROM (
    SELECT get_shard_id_for_distribution_column('${s}.events', 'partition-' || i) AS shard,
           'partition-' || i AS key, i
      FROM generate_series(0, (SELECT n FROM shards) * 64) AS i) k
   ORDER BY shard, i) first
 ORDER BY i`;
}
