import type { NewEvent, Snapshot, StoredEvent } from '@tally/core';

/**
 * An `events` row as selected by `EVENT_COLUMNS`. Numbers are cast to text in SQL because node-postgres
 * returns int8 as a string and PGlite as a number or a bigint; text reads the same on both.
 */
export interface EventRow {
  readonly position: string;
  readonly stream_id: string;
  readonly version: string;
  readonly id: string;
  readonly type: string;
  readonly schema_version: number;
  readonly at: string;
  readonly data: string;
  readonly metadata: string;
}

export const EVENT_COLUMNS =
  'position::text AS position, stream_id, version::text AS version, id, type, schema_version, at, data, metadata';

export interface SnapshotRow {
  readonly stream_id: string;
  readonly version: string;
  readonly schema_version: number;
  readonly state: string;
}

export const SNAPSHOT_COLUMNS = 'stream_id, version::text AS version, schema_version, state';

/** A batch as one array per column, so an append is one statement with a fixed number of parameters. */
export function toColumns(events: readonly NewEvent[]): unknown[] {
  return [
    events.map((event) => event.id),
    events.map((event) => event.type),
    events.map((event) => event.schemaVersion),
    events.map((event) => event.at),
    events.map((event) => toJson(event.data, 'event data')),
    events.map((event) => toJson(event.metadata, 'event metadata')),
    events.map((event) => event.metadata.idempotencyKey ?? null),
  ];
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    at: row.at,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    streamId: row.stream_id,
    version: Number(row.version),
    position: BigInt(row.position),
  };
}

export function toSnapshot(row: SnapshotRow): Snapshot {
  return {
    streamId: row.stream_id,
    version: Number(row.version),
    schemaVersion: row.schema_version,
    state: JSON.parse(row.state),
  };
}

/** JSON.stringify returns undefined for values JSON cannot hold (a bare `undefined`, a function). */
export function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} must be a JSON value`);
  return text;
}
