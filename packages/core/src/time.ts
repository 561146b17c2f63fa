import { TallyError } from './errors.js';
import { quote } from './money.js';

/**
 * A point in time as the API accepts it: a `Date`, or an ISO-8601 string with a time zone or as a
 * bare date (midnight UTC).
 *
 * @example
 * const expiresAt: TimeInput = '2025-12-31T23:59:59Z';
 * await ledger.grant({ customerId: 'cus_123', currency: 'credits', amount: '100', expiresAt });
 * await ledger.creditAccounts({ customerId: 'cus_123', at: new Date('2025-06-01') });
 */
export type TimeInput = Date | string;

/**
 * How often a plan renews. Months and years are calendar units in UTC counted from the subscription's
 * start, clamped to shorter months: started on Jan 31, it renews on Feb 28 (or 29), Mar 31, Apr 30.
 *
 * @example
 * const annual: PlanInput = {
 *   id: 'annual', interval: 'year', grants: [{ currency: 'credits', amount: '12000' }],
 * };
 */
export type Interval = 'day' | 'week' | 'month' | 'year';

/** Latest instant Tally accepts: year 9999, so ISO strings keep 4-digit years and sort as text. */
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const MIN_MS = Date.UTC(1970, 0, 1);

/** Parses an API time into epoch milliseconds. */
export function parseTime(value: unknown, field: string): number {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) {
    ms = Date.parse(value);
  } else {
    throw new TallyError(
      'invalid_time',
      `${field} must be a Date or an ISO-8601 string, got ${quote(value)}`,
      {
        field,
      },
    );
  }
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) {
    throw new TallyError('invalid_time', `${field} is not a valid instant between 1970 and 9999`, { field });
  }
  return ms;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

const DAY_MS = 86_400_000;

/**
 * Start of cycle `n` of a subscription anchored at `anchorMs`. Months and years are calendar units in
 * UTC computed from the anchor every time (never from the previous boundary), with the day clamped
 * to the month's length: anchored Jan 31 gives Feb 28/29, Mar 31, Apr 30.
 */
export function cycleStart(anchorMs: number, interval: Interval, n: number): number {
  if (interval === 'day') return anchorMs + n * DAY_MS;
  if (interval === 'week') return anchorMs + n * 7 * DAY_MS;
  const anchor = new Date(anchorMs);
  const months = interval === 'month' ? n : n * 12;
  const totalMonths = anchor.getUTCMonth() + months;
  const year = anchor.getUTCFullYear() + Math.floor(totalMonths / 12);
  const month = ((totalMonths % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(anchor.getUTCDate(), lastDay);
  return Date.UTC(
    year,
    month,
    day,
    anchor.getUTCHours(),
    anchor.getUTCMinutes(),
    anchor.getUTCSeconds(),
    anchor.getUTCMilliseconds(),
  );
}

/** Index of the cycle that contains `ms` (the last n with cycleStart(n) <= ms). */
export function cycleAt(anchorMs: number, interval: Interval, ms: number): number {
  if (ms < anchorMs) return 0;
  const span = { day: DAY_MS, week: 7 * DAY_MS, month: 28 * DAY_MS, year: 365 * DAY_MS }[interval];
  // Estimate from the shortest span, then walk: at most a few steps either way.
  let n = Math.floor((ms - anchorMs) / span);
  while (n > 0 && cycleStart(anchorMs, interval, n) > ms) n--;
  while (cycleStart(anchorMs, interval, n + 1) <= ms) n++;
  return n;
}
