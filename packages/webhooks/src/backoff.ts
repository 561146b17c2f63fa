/**
 * Exponential backoff with jitter: the ceiling doubles with each failed attempt up to `maxMs`, and
 * the delay is drawn between half the ceiling and the ceiling, so endpoints that failed together
 * (a receiver's outage) are not all retried in the same instant when it comes back.
 */

/**
 * How retries are spaced: the first retry waits about `baseMs`, each next one twice as long, never
 * more than `maxMs`.
 *
 * @example
 * const backoff: Backoff = { baseMs: 30_000, maxMs: 6 * 3_600_000 };
 */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * The delay before the attempt after failed attempt number `attempt` (1-based), given a draw of
 * `random` in [0, 1).
 *
 * @example
 * retryDelayMs(1, 0.5, { baseMs: 1_000, maxMs: 60_000 }); // 750
 * retryDelayMs(10, 0.99, { baseMs: 1_000, maxMs: 60_000 }); // 59_700: capped
 */
export function retryDelayMs(attempt: number, random: number, backoff: Backoff): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  const draw = Math.min(Math.max(random, 0), 1);
  return Math.round(ceiling / 2 + (draw * ceiling) / 2);
}
