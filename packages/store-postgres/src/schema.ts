import { checkOptions, type OptionRule, required } from '@tally/core/pure';
import { consumersSchemaSql } from './consumers.js';

/**
 * The tables of the Postgres store, in a schema of their own. Exported so a project that runs its
 * own migrations can apply the same DDL (then pass `createSchema: false` to `postgresStore`).
 */

/**
 * Events one append may write. A position is `transaction id * POSITIONS_PER_TRANSACTION + index in
 * the append` (see README.md, "Global order"), so this bounds both the batch and the transaction ids
 * a position can hold: ids below 2^50, about 10^15 write transactions on one cluster.
 *
 * @example
 * // A larger append is refused with a RangeError: split a bulk import into chunks of this size.
 * const chunk = events.slice(0, POSITIONS_PER_TRANSACTION);
 */
export const POSITIONS_PER_TRANSACTION = 8192;

/**
 * The DDL for `schema`, every statement idempotent. PostgreSQL 13+ (for `xid8`).
 *
 * @example
 * await pool.query(postgresSchemaSql('billing')); // in your migration
 * const store = postgresStore({ pool }, { schema: 'billing', createSchema: false });
 */
export function postgresSchemaSql(schema = 'tally'): string {
  const s = quoteSchema(schema, 'postgresSchemaSql');
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.events (
  position        bigint  PRIMARY KEY,
  -- The writing transaction. Readers only read rows whose transaction is older than every one still
  -- running, so an event that commits late is waited for instead of skipped.
  transaction_id  xid8    NOT NULL DEFAULT pg_current_xact_id(),
  stream_id       text    NOT NULL,
  version         bigint  NOT NULL CHECK (version > 0),
  id              text    NOT NULL,
  type            text    NOT NULL,
  schema_version  integer NOT NULL,
  at              text    NOT NULL,
  -- text, not jsonb: jsonb reorders keys and rewrites numbers; the event must read back as written.
  data            text    NOT NULL,
  metadata        text    NOT NULL,
  -- Copied out of metadata so the database itself can hold keys unique per stream.
  idempotency_key text,
  CONSTRAINT events_stream_version UNIQUE (stream_id, version),
  CONSTRAINT events_position_from_transaction
    CHECK (position / ${POSITIONS_PER_TRANSACTION} = transaction_id::text::bigint)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_idempotency_key
  ON ${s}.events (stream_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Guards (see the store's appendGuarded): an append priced by the catalog holds a lock shared with
-- every such append and reads the catalog's version with a fresh snapshot; an append to the catalog
-- takes the lock exclusively, so the two never overlap between check and commit.
CREATE OR REPLACE FUNCTION ${s}.guard_version(guard_stream text) RETURNS bigint
  LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('tally guard'), hashtext(guard_stream));
  RETURN (SELECT coalesce(max(version), 0) FROM ${s}.events WHERE stream_id = guard_stream);
END $fn$;
CREATE OR REPLACE FUNCTION ${s}.lock_guard(stream text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('tally guard'), hashtext(stream));
  RETURN true;
END $fn$;
CREATE TABLE IF NOT EXISTS ${s}.snapshots (
  stream_id      text    PRIMARY KEY,
  version        bigint  NOT NULL,
  schema_version integer NOT NULL,
  state          text    NOT NULL
);
${consumersSchemaSql(s)}`;
}

/**
 * The DDL behind a transaction-scoped advisory lock on the schema's name: two processes starting on
 * an empty database at once would otherwise race inside CREATE TABLE IF NOT EXISTS (and one fail
 * on a duplicate catalog row). A multi-statement script is one implicit transaction, so the lock is
 * held until the last statement commits.
 */
export function createSchemaScript(schema: string): string {
  const ddl = postgresSchemaSql(schema); // validates the name before it goes into the literal below
  return `SELECT pg_advisory_xact_lock(hashtext('tally schema'), hashtext('${schema}'));${ddl}`;
}

/** A schema name becomes part of SQL text, so only plain identifiers are accepted. */
export const SCHEMA_RULE: OptionRule = {
  expected: 'a plain identifier (letters, digits, _; at most 63, not starting with a digit)',
  valid: (v) => typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(v),
};

/**
 * `schema` quoted for SQL text, after `SCHEMA_RULE`: a bad name is `invalid_input` with field
 * `schema`, whichever public function (`factory`) was handed it.
 */
export function quoteSchema(schema: string, factory: string): string {
  checkOptions({ schema }, { schema: required(SCHEMA_RULE) }, { factory });
  return `"${schema}"`;
}
