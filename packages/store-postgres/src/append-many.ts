import {
  assertBatchAppendable,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type StreamAppend,
  type StreamAppendOutcome,
} from '@tally/core';
import { prepared, type Queryable, type Statement } from './queryable.js';
import { EVENT_RECORDS, eventRecords } from './rows.js';
import { POSITIONS_PER_TRANSACTION } from './schema.js';

/**
 * A whole batch in one statement, so one round trip and one commit: `part` reads each stream's version
 * (and its guard's, with the same lock `appendGuarded` takes), `taken` finds idempotency keys already
 * in a stream, and only the parts that pass are inserted. The answer has one row per part, with what
 * it saw, so a part left out is classified without asking again.
 *
 * Events are inserted in stream-id order (the caller sorts the parts): two batches that share streams
 * then wait for each other's rows in one order and never deadlock. Two writers that both saw the same
 * version race on UNIQUE (stream_id, version) as in `append`; the loser's statement fails as a whole
 * (23505) and is run again, when its check sees the winner's commit and leaves out only that part.
 */
export function appendManyStatement(s: string): Statement {
  return prepared(
    'append_many',
    `
    WITH part AS (
      SELECT p.i, p.stream_id, p.expected, p.guard_stream, p.guard_expected,
             (SELECT coalesce(max(e.version), 0) FROM ${s}.events e WHERE e.stream_id = p.stream_id) AS actual,
             CASE WHEN p.guard_stream IS NULL THEN NULL ELSE ${s}.guard_version(p.guard_stream) END
               AS guard_actual
        FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])
             WITH ORDINALITY AS p (stream_id, expected, guard_stream, guard_expected, i)
    ),
    ev AS (
      SELECT *
        FROM ${EVENT_RECORDS(5, 'part bigint, version bigint')}
             AS e (id, type, schema_version, at, data, metadata, idempotency_key, part, version, ord)
    ),
    taken AS (
      SELECT ev.part, min(ev.idempotency_key) AS key
        FROM ev
        JOIN part ON part.i = ev.part
        JOIN ${s}.events t ON t.stream_id = part.stream_id AND t.idempotency_key = ev.idempotency_key
       WHERE ev.idempotency_key IS NOT NULL
       GROUP BY ev.part
    ),
    written AS (
      INSERT INTO ${s}.events
        (position, stream_id, version, id, type, schema_version, at, data, metadata, idempotency_key)
      SELECT pg_current_xact_id()::text::bigint * ${POSITIONS_PER_TRANSACTION} + ev.ord - 1,
             part.stream_id, ev.version, ev.id, ev.type, ev.schema_version, ev.at, ev.data,
             ev.metadata, ev.idempotency_key
        FROM ev
        JOIN part ON part.i = ev.part
       WHERE part.actual = part.expected
         AND (part.guard_stream IS NULL OR part.guard_actual = part.guard_expected)
         AND NOT EXISTS (SELECT 1 FROM taken WHERE taken.part = part.i)
       ORDER BY ev.ord
      RETURNING stream_id, position
    )
    SELECT part.i::integer AS i, part.actual::text AS actual, part.guard_actual::text AS guard_actual,
           (SELECT taken.key FROM taken WHERE taken.part = part.i) AS taken,
           (SELECT max(w.position) FROM written w WHERE w.stream_id = part.stream_id)::text AS last_position
      FROM part
     ORDER BY part.i`,
  );
}

interface PartRow {
  readonly i: number;
  readonly actual: string;
  readonly guard_actual: string | null;
  readonly taken: string | null;
  readonly last_position: string | null;
}

/** Times a batch is run again after losing a race on a unique row; each run sees more of the winners. */
const RACE_RETRIES = 5;

/**
 * `appendMany` for the Postgres store: one statement per batch (see `appendManyStatement`), each
 * part's conflict classified from the statement's own answer.
 */
export async function appendManyOnce(
  db: Queryable,
  statement: Statement,
  batch: readonly StreamAppend[],
): Promise<StreamAppendOutcome[]> {
  assertBatchAppendable(batch);
  if (batch.length === 0) return [];
  const total = batch.reduce((n, part) => n + part.events.length, 0);
  if (total > POSITIONS_PER_TRANSACTION) {
    throw new RangeError(`one batch holds at most ${POSITIONS_PER_TRANSACTION} events, got ${total}`);
  }
  // Stream-id order, so that concurrent batches insert in one order (see appendManyStatement).
  const order = batch.map((_, i) => i).sort((a, b) => compare(batch[a]!.streamId, batch[b]!.streamId));
  const params = toParams(order.map((i) => batch[i]!));
  let rows: PartRow[] | undefined;
  for (let run = 0; rows === undefined; run++) {
    try {
      rows = await db.query<PartRow>(statement, params);
    } catch (error) {
      if (!isUniqueViolation(error) || run >= RACE_RETRIES) throw error;
    }
  }
  const outcomes: StreamAppendOutcome[] = new Array(batch.length);
  rows.forEach((row, sorted) => {
    const index = order[sorted]!;
    outcomes[index] = outcomeOf(batch[index]!, row);
  });
  return outcomes;
}

function outcomeOf(part: StreamAppend, row: PartRow): StreamAppendOutcome {
  const actual = Number(row.actual);
  if (actual !== part.expectedVersion) {
    return { ok: false, error: new ConcurrencyConflictError(part.streamId, part.expectedVersion, actual) };
  }
  const { guard } = part;
  if (guard !== undefined && Number(row.guard_actual) !== guard.version) {
    const error = new ConcurrencyConflictError(guard.streamId, guard.version, Number(row.guard_actual));
    return { ok: false, error };
  }
  if (row.taken !== null) {
    return { ok: false, error: new DuplicateIdempotencyKeyError(part.streamId, row.taken) };
  }
  if (row.last_position === null) throw new Error(`the batch wrote nothing of stream ${part.streamId}`);
  const result = {
    nextVersion: part.expectedVersion + part.events.length,
    lastPosition: BigInt(row.last_position),
  };
  return { ok: true, result };
}

/** The batch's parts as one array per column, and its events as one JSON text (see `eventRecords`). */
function toParams(parts: readonly StreamAppend[]): unknown[] {
  const events = parts.flatMap((part, p) =>
    eventRecords(part.events, { part: p + 1, expectedVersion: part.expectedVersion }),
  );
  return [
    parts.map((part) => part.streamId),
    parts.map((part) => part.expectedVersion),
    parts.map((part) => part.guard?.streamId ?? null),
    parts.map((part) => part.guard?.version ?? null),
    JSON.stringify(events),
  ];
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '23505';
}
