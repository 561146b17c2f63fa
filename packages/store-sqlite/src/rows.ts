import type { NewEvent, Snapshot, StoredEvent } from '@tally/core';

/**
 * An `events` row as the store selects it: raw (better-sqlite3 hands back an array, not an object with
 * a key per column, a third of a read's time), safe integers on (INTEGER columns are bigint), and
 * without `stream_id` where the query names the stream.
 */
export type EventRow = readonly [
  position: bigint,
  version: bigint,
  id: string,
  type: string,
  schemaVersion: bigint,
  at: string,
  data: string,
  metadata: string,
];

/** An `events` row of a query across streams: `EVENT_COLUMNS`, then `stream_id`. */
export type EventRowOfAny = readonly [...EventRow, streamId: string];

/** The columns of an `EventRow`, in its order. */
export const EVENT_COLUMNS = 'position, version, id, type, schema_version, at, data, metadata';

export interface SnapshotRow {
  readonly stream_id: string;
  readonly version: bigint;
  readonly schema_version: bigint;
  readonly state: string;
}

/** The values of one `events` row to insert, in the column order of the insert statement. */
export type EventInsert = [
  streamId: string,
  version: number,
  id: string,
  type: string,
  schemaVersion: number,
  at: string,
  data: string,
  metadata: string,
  idempotencyKey: string | null,
];

export function toInsert(streamId: string, version: number, event: NewEvent): EventInsert {
  return [
    streamId,
    version,
    event.id,
    event.type,
    event.schemaVersion,
    event.at,
    toJson(event.data, 'event data'),
    toJson(event.metadata, 'event metadata'),
    event.metadata.idempotencyKey ?? null,
  ];
}

export function toStoredEvent(row: EventRow | EventRowOfAny, streamId: string): StoredEvent {
  return {
    id: row[2],
    type: row[3],
    schemaVersion: Number(row[4]),
    at: row[5],
    data: JSON.parse(row[6]),
    metadata: JSON.parse(row[7]),
    streamId,
    version: Number(row[1]),
    position: row[0],
  };
}

export const toStoredEventOfAny = (row: EventRowOfAny): StoredEvent => toStoredEvent(row, row[8]);

export function toSnapshot(row: SnapshotRow): Snapshot {
  return {
    streamId: row.stream_id,
    version: Number(row.version),
    schemaVersion: Number(row.schema_version),
    state: JSON.parse(row.state),
  };
}

/** JSON.stringify returns undefined for values JSON cannot hold (a bare `undefined`, a function). */
export function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} must be a JSON value`);
  return text;
}
