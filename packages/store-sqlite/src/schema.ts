/**
 * The tables of the SQLite store. Exported so a project that runs its own migrations can apply the
 * same DDL; `sqliteStore` applies it itself on open (every statement is `IF NOT EXISTS`).
 *
 * @example
 * new Database('ledger.db').exec(sqliteSchemaSql); // better-sqlite3, e.g. in a migration
 */
export const sqliteSchemaSql = `
CREATE TABLE IF NOT EXISTS events (
  -- AUTOINCREMENT: a position is never handed out twice, even after the newest event is gone.
  position        INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id       TEXT    NOT NULL,
  version         INTEGER NOT NULL CHECK (version > 0),
  id              TEXT    NOT NULL,
  type            TEXT    NOT NULL,
  schema_version  INTEGER NOT NULL,
  at              TEXT    NOT NULL,
  -- JSON kept as the exact text JSON.stringify produced, so an event reads back as it was written.
  data            TEXT    NOT NULL,
  metadata        TEXT    NOT NULL,
  -- Copied out of metadata so the database itself can hold keys unique per stream.
  idempotency_key TEXT,
  UNIQUE (stream_id, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_idempotency_key
  ON events (stream_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS snapshots (
  stream_id      TEXT    PRIMARY KEY,
  version        INTEGER NOT NULL,
  schema_version INTEGER NOT NULL,
  state          TEXT    NOT NULL
);
`;
