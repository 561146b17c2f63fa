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

const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/;
const ISO_WITHOUT_OFFSET = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/;

/**
 * What is wrong with a time the API was given, or null if it is one: a `Date`, or an ISO-8601 string
 * with an offset or as a bare date, between 1970 and 9999. The message leaves the field's name out.
 */
export function timeProblem(value: unknown): string | null {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'string' && ISO_PATTERN.test(value)) ms = Date.parse(value);
  else if (typeof value === 'string' && ISO_WITHOUT_OFFSET.test(value)) {
    return `has no offset: ${quote(value)} could be any zone; add Z for UTC or an offset such as +02:00`;
  } else
    return `must be a Date or an ISO-8601 string with an offset (e.g. 2025-01-31T10:00:00Z), got ${quote(value)}`;
  if (!Number.isFinite(ms))
    return `is not a valid instant: ${quote(value instanceof Date ? 'Invalid Date' : value)}`;
  if (ms < MIN_MS || ms > MAX_MS) return 'is not an instant between 1970 and 9999';
  return null;
}

/**
 * Date.parse rolls impossible days over ('2025-02-30' is 2 March): a caller who wrote one meant
 * something else, so it is refused rather than read as another day.
 */
export function calendarProblem(value: string): string | null {
  const [year, month, day] = [value.slice(0, 4), value.slice(5, 7), value.slice(8, 10)].map(Number) as [
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    return `is not a calendar date: ${quote(value)}`;
  }
  return null;
}

/** A time that passed `timeProblem`, in epoch milliseconds. */
export const toMs = (value: string | Date): number =>
  value instanceof Date ? value.getTime() : Date.parse(value);

/** Parses an API time into epoch milliseconds, refusing it with `invalid_time` naming `field`. */
export function parseTime(value: unknown, field: string): number {
  const problem = timeProblem(value) ?? (typeof value === 'string' ? calendarProblem(value) : null);
  if (problem !== null) throw new TallyError('invalid_time', `${field} ${problem}`, { field });
  return toMs(value as string | Date);
}

/**
 * An instant as an ISO string. The last one is kept: a command writes the same instant several times
 * (the batch's time, what falls due by then, the answer's views), and each Date and toISOString is
 * about half a microsecond.
 */
export function iso(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}
let lastIsoMs = Number.NaN;
let lastIso = '';

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
