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

/**
 * A batch's events as one JSON array of records, which the append statements read with
 * `json_to_recordset` (see `EVENT_RECORDS`): one parameter for the whole batch. An array parameter
 * per column had node-postgres quote and escape each event's data and metadata text again, by regular
 * expression, inside an array literal: 6.5–8.7 µs an event for a batch of 64 events, against 3.4–4.2
 * µs for this (same-run micro-benchmark). Data and metadata go as text inside the JSON, not as JSON:
 * taking a record apart, Postgres unescapes the strings nested in it and refuses a `\u0000` (text
 * cannot hold one), which inside the data's own text stays escaped, as it always has. `part` numbers
 * the stream of each event in an `appendMany` (and `version` is then its own); a single append leaves
 * both out.
 */
export function eventRecords(
  events: readonly NewEvent[],
  batch?: { readonly part: number; readonly expectedVersion: number },
): EventRecord[] {
  return events.map((event, i) => {
    const record: EventRecord = {
      id: event.id,
      type: event.type,
      schema_version: event.schemaVersion,
      at: event.at,
      data: toJson(event.data, 'event data'),
      metadata: toJson(event.metadata, 'event metadata'),
      idempotency_key: event.metadata.idempotencyKey ?? null,
    };
    // The batch's keys first: on Node 20's V8 a spread followed by keys it lacks takes the runtime's
    // slow path (about 1 µs an event); the statement reads the keys by name, in any order. `record` is
    // built just above without `part` or `version`, so the spread cannot override them.
    return batch === undefined
      ? record
      : { part: batch.part, version: batch.expectedVersion + i + 1, ...record };
  });
}

/** One event as the append statements read it from their JSON parameter: the row's columns, as numbers. */
export interface EventRecord
  extends Pick<EventRow, 'id' | 'type' | 'schema_version' | 'at' | 'data' | 'metadata'> {
  readonly idempotency_key: string | null;
  readonly part?: number;
  readonly version?: number;
}

/** The rows of an append's JSON parameter `$n`, numbered from 1 in `ord` (their order in the batch). */
export const EVENT_RECORDS = (n: number, extra = ''): string =>
  `ROWS FROM (json_to_recordset($${n}::json) AS (id text, type text, schema_version integer, at text,
     data text, metadata text, idempotency_key text${extra === '' ? '' : `, ${extra}`}))
     WITH ORDINALITY`;

/**
 * A batch as one array per column, so an append is one statement with a fixed number of parameters:
 * what the Citus mode's statements take (the single-server ones take `eventRecords`).
 */
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
