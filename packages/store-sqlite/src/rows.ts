import type { NewEvent, Snapshot, StoredEvent } from '@tally/core';

/** An `events` row as better-sqlite3 returns it with safe integers on (INTEGER columns are bigint). */
export interface EventRow {
  readonly position: bigint;
  readonly stream_id: string;
  readonly version: bigint;
  readonly id: string;
  readonly type: string;
  readonly schema_version: bigint;
  readonly at: string;
  readonly data: string;
  readonly metadata: string;
}

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

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    schemaVersion: Number(row.schema_version),
    at: row.at,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    streamId: row.stream_id,
    version: Number(row.version),
    position: row.position,
  };
}

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
