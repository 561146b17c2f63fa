import { ConcurrencyConflictError, DuplicateIdempotencyKeyError, type NewEvent } from '@tally/core';

/**
 * Maps a unique violation (SQLSTATE 23505) to the typed error, by the name of the constraint. On a
 * Citus worker the constraint is the shard's copy, named with the shard id appended
 * (`events_stream_version_102008`), and an error relayed by the coordinator may carry the name only
 * in its message: both are read back to the one name the single server uses.
 */
export async function explainUniqueViolation(
  error: unknown,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: number,
  findTakenKey: (keys: string[]) => Promise<string | undefined>,
): Promise<unknown> {
  if (!isUniqueViolation(error)) return error;
  const constraint = constraintOf(error);
  if (constraint === 'events_stream_version') {
    return new ConcurrencyConflictError(streamId, expectedVersion, undefined);
  }
  if (constraint === 'events_stream_idempotency_key') {
    const keys = events.flatMap((event) => event.metadata.idempotencyKey ?? []);
    return new DuplicateIdempotencyKeyError(streamId, (await findTakenKey(keys)) ?? keys[0]!);
  }
  return error;
}

/**
 * The violated constraint's name without a Citus shard suffix, or undefined.
 *
 * @example
 * constraintOf({ constraint: 'events_stream_version_102008' }); // 'events_stream_version'
 */
export function constraintOf(error: { constraint?: string; message?: string }): string | undefined {
  const named = error.constraint ?? /unique constraint "([^"]+)"/.exec(error.message ?? '')?.[1];
  return named?.replace(/_\d+$/, '');
}

function isUniqueViolation(
  error: unknown,
): error is { code: '23505'; constraint?: string; message?: string } {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '23505';
}
