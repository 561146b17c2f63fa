/**
 * How a write retries the races it loses to other processes: exponential backoff with full jitter,
 * for as long as a time bound allows (and, if one is set, within a count of attempts).
 *
 * A count alone was the wrong bound: three processes on one hot customer each lose most races while
 * the other two keep committing, so 10 tries a few milliseconds apart ran out in well under a second
 * and handed the caller a `concurrency_conflict` although the customer was only busy. Time is what a
 * caller can wait; the number of tries that fit in it depends on the machine.
 */

/** When a write stops retrying lost races. */
export interface RacePolicy {
  /** Most appends one write tries; `Infinity` when only the time bound applies. */
  readonly maxAttempts: number;
  /** How long after its first attempt began a write still starts another after a lost race, ms. */
  readonly retryMs: number;
}

/** The first backoff's ceiling, ms; it doubles with each lost race, up to `BACKOFF_CAP_MS`. */
export const BACKOFF_BASE_MS = 2;
/**
 * The ceiling of any one backoff, ms. Small next to the default bound (2 s), so a loser keeps trying
 * while the winners commit; the waiting commands gather meanwhile and go in its next batch.
 */
export const BACKOFF_CAP_MS = 64;

/** The lost races of one write: whether it may try again, and how long it waits first. */
export class LostRaces {
  private attempts = 1;
  private lost = 0;
  private readonly deadline: number;

  constructor(
    private readonly policy: RacePolicy,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
    this.deadline = now() + policy.retryMs;
  }

  /** Appends tried so far. */
  get tried(): number {
    return this.attempts;
  }

  /**
   * A cached head turned out stale: no collision, so the next attempt (from the store) goes at once,
   * whatever the time; it still counts towards `maxAttempts`. False when that is used up.
   */
  stale(): boolean {
    if (this.attempts >= this.policy.maxAttempts) return false;
    this.attempts += 1;
    return true;
  }

  /**
   * Another writer won the race: the ms to wait before the next attempt, drawn uniformly from zero to
   * the current ceiling (full jitter: losers in several processes spread out instead of colliding
   * again in step) and never past the deadline; null when the bound is reached, to give up.
   */
  lose(): number | null {
    const now = this.now();
    if (this.attempts >= this.policy.maxAttempts || now >= this.deadline) return null;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.lost);
    this.lost += 1;
    this.attempts += 1;
    return Math.min(this.random() * ceiling, this.deadline - now);
  }
}

/** How long a write retries lost races by default: a hot customer shared by several processes is busy, not broken. */
export const DEFAULT_CONFLICT_RETRY_MS = 2_000;

/** The retry options of `createLedger` (checked with its other options, in `ledger-options.ts`) as a policy. */
export function racePolicy(options: {
  readonly maxAttempts?: number | undefined;
  readonly conflictRetryMs?: number | undefined;
}): RacePolicy {
  return {
    maxAttempts: options.maxAttempts ?? Number.POSITIVE_INFINITY,
    retryMs: options.conflictRetryMs ?? DEFAULT_CONFLICT_RETRY_MS,
  };
}
