import {
  type AppendOptions,
  type AppendResult,
  assertBatchAppendable,
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type NewEvent,
  type StreamAppend,
  type StreamAppendOutcome,
} from '@tally/core';
import type Database from 'better-sqlite3';

/**
 * The store's one-stream append, run inside the caller's write transaction. It checks before it writes
 * and writes with one statement (or a savepoint of its own, see `eventInserter`), so when it throws it
 * has left nothing behind.
 */
export type AppendOne = (
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: number,
  guard: AppendOptions['guard'],
) => AppendResult;

/**
 * `appendMany` for the SQLite store: one `BEGIN IMMEDIATE` transaction, so one commit and one fsync
 * for the whole batch. A part that conflicts (its version check, its guard, or a unique constraint
 * its insert statement hits, which SQLite backs out alone) is left out and answered with its typed
 * error; the others commit. No savepoint per part: a part's append leaves nothing when it throws. Any
 * other error rolls the whole transaction back and is thrown.
 *
 * `explain` turns a constraint violation of one part into the typed error `append` would throw.
 */
export function batchAppender(
  db: Database.Database,
  appendOne: AppendOne,
  explain: (error: unknown, part: StreamAppend) => unknown,
): (batch: readonly StreamAppend[]) => StreamAppendOutcome[] {
  const inTransaction = db.transaction((batch: readonly StreamAppend[]) =>
    batch.map((part): StreamAppendOutcome => {
      try {
        return {
          ok: true,
          result: appendOne(part.streamId, part.events, part.expectedVersion, part.guard),
        };
      } catch (error) {
        const typed = explain(error, part);
        if (typed instanceof ConcurrencyConflictError || typed instanceof DuplicateIdempotencyKeyError)
          return { ok: false, error: typed };
        throw typed;
      }
    }),
  );
  return (batch) => {
    assertBatchAppendable(batch);
    return batch.length === 0 ? [] : inTransaction.immediate(batch);
  };
}
