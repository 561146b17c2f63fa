import type { Catalog } from './catalog/index.js';
import { expireUnpaidCycle, graceEndDue, nextBoundary, renew, rolloverCarries } from './cycles.js';
import { settleDebt } from './debt.js';
import { TallyError } from './errors.js';
import type { RecordedEvent } from './events.js';
import { formatAmount } from './money.js';
import { Recorder } from './recorder.js';
import { type CustomerState, cloneState } from './state.js';
import { iso } from './time.js';
import { nextWatchInstant, watch } from './watch.js';

/** Bounds the work one read may do; a daily plan left alone for 27 years stays under it. */
const MAX_DUE_INSTANTS = 10_000;

/**
 * Everything time alone makes happen up to and including `toMs` — grant expiries, rollovers, renewals,
 * hold expiries, debt paid by grants that become effective — as events, in time order, with
 * deterministic ids. Reads at T fold these without writing them; the next write stores them first.
 * Because both paths run this same function, what was read is exactly what gets written.
 *
 * `maxEvents` stops after the first instant that reaches it (`complete: false`), so a writer catching up
 * after a long idle can store the due events in appends of bounded size.
 *
 * @example
 * const { state, events: due } = advance(fold(events), Date.parse('2025-02-01T00:00:00.000Z'));
 * // due: the expiries, renewals and settlements up to Feb 1 that the stream does not hold yet
 */
export function advance(state: CustomerState, toMs: number, options: AdvanceOptions = {}): AdvancedState {
  return advanceOwned(cloneState(state), toMs, options);
}

/**
 * How far `advance` goes: at most `maxEvents` events (it stops between instants), priced by `catalog`.
 *
 * @example
 * const options: AdvanceOptions = { maxEvents: 500, catalog };
 * const { complete } = advance(fold(events), Date.now(), options); // false if more were due than maxEvents
 */
export interface AdvanceOptions {
  /** Stop after the first instant that reaches this many events (default: no limit). */
  readonly maxEvents?: number;
  /** The catalog in force: a plan version published for renewals is adopted from it. */
  readonly catalog?: Catalog;
}

/**
 * What `advance` answers: the state at `toMs`, the events that made it, and whether all fit.
 *
 * @example
 * const advanced: AdvancedState = advance(fold(events), Date.parse('2025-02-01T00:00:00Z'));
 * advanced.events; // the expiries and renewals due by Feb 1, in time order
 */
export interface AdvancedState {
  readonly state: CustomerState;
  readonly events: RecordedEvent[];
  readonly complete: boolean;
}

/**
 * `advance` on a state the caller owns and gives up: changed in place, no copy. For the writer, which
 * has just made its own copy of the cached head (one copy per command where there were two).
 */
export function advanceOwned(
  state: CustomerState,
  toMs: number,
  options: AdvanceOptions = {},
): AdvancedState {
  const maxEvents = options.maxEvents ?? Number.POSITIVE_INFINITY;
  // Every event time makes due has an id of its own, derived from what it is (`grant_…:expired`).
  const recorder = new Recorder(state, { newId: noFreshIds, now: iso(toMs) });
  // Instants processed so far: a grant becoming effective is due once, even if it settles nothing.
  let processed = Number.NEGATIVE_INFINITY;
  for (let steps = 0; ; steps++) {
    const at = nextDueInstant(recorder.state, toMs, processed);
    if (at === null) break;
    // Stopping between instants (never inside one) leaves a prefix that a later call continues exactly.
    if (recorder.events.length >= maxEvents)
      return { state: recorder.state, events: recorder.events, complete: false };
    if (steps >= MAX_DUE_INSTANTS) {
      throw new TallyError(
        'invalid_time',
        `more than ${MAX_DUE_INSTANTS} scheduled instants are due; read in steps`,
      );
    }
    processInstant(recorder, at, options.catalog);
    processed = at;
  }
  return { state: recorder.state, events: recorder.events, complete: true };
}

/**
 * The instant `state` next has something due after `afterMs` (everything due by `afterMs` already
 * folded in), or null when nothing is scheduled: what the feed's time index keeps per customer.
 *
 * @example
 * const nowMs = Date.now();
 * const { state } = advance(fold(events), nowMs);
 * const next = nextDueAt(state, nowMs); // e.g. the soonest grant expiry, or the next renewal
 */
export function nextDueAt(state: CustomerState, afterMs: number): number | null {
  const at = nextDueInstant(state, Number.POSITIVE_INFINITY, afterMs);
  return at === null || !Number.isFinite(at) ? null : at;
}

const noFreshIds = (): string => {
  throw new Error('advance records every event with its own derived id');
};

function nextDueInstant(state: CustomerState, toMs: number, processedMs: number): number | null {
  const lastMs = state.lastAt === '' ? Number.NEGATIVE_INFINITY : Date.parse(state.lastAt);
  const settledUpTo = Math.max(lastMs, processedMs);
  let next = Number.POSITIVE_INFINITY;
  for (const account of state.accounts.values()) {
    for (const grant of account.live) {
      if (grant.remaining > 0n && grant.expiresAtMs < next) next = grant.expiresAtMs;
      // An unscoped grant becoming effective pays off debt at that instant (scoped credit never does).
      if (
        account.debt > 0n &&
        grant.appliesTo === null &&
        grant.effectiveAtMs > settledUpTo &&
        grant.effectiveAtMs < next
      )
        next = grant.effectiveAtMs;
    }
  }
  for (const sub of state.subscriptions.values()) {
    const boundary = nextBoundary(sub);
    if (boundary !== null && boundary < next) next = boundary;
    const graceEnd = graceEndDue(state, sub);
    if (graceEnd !== null && graceEnd < next) next = graceEnd;
  }
  for (const hold of state.holds.values()) {
    if (hold.expiresAtMs < next) next = hold.expiresAtMs;
  }
  const watched = nextWatchInstant(state, settledUpTo);
  if (watched !== null && watched < next) next = watched;
  if (next > toMs) return null;
  // A stream that somehow missed a due instant still never writes an event dated before its last one.
  return Math.max(next, lastMs);
}

/**
 * At one instant, in this order: measure what rolls over (before anything expires), expire grants,
 * expire the credits of a paid cycle whose grace period ended unpaid, expire holds, renew
 * subscriptions with their rollover, let new credit settle debt, then record what the balance
 * alerts make due.
 */
function processInstant(recorder: Recorder, atMs: number, catalog: Catalog | undefined): void {
  const state = recorder.state;
  const at = iso(atMs);
  const renewing = [...state.subscriptions.values()]
    .filter((sub) => nextBoundary(sub) === atMs)
    .map((sub) => ({ sub, carries: rolloverCarries(state, sub) }));

  const expiring = [];
  for (const account of state.accounts.values()) {
    for (const grant of account.live) {
      if (grant.remaining > 0n && grant.expiresAtMs <= atMs) expiring.push(grant);
    }
  }
  expiring.sort((a, b) => (a.grantId < b.grantId ? -1 : 1));
  for (const grant of expiring) {
    const decimals = state.accounts.get(grant.currency)!.decimals;
    recorder.record(
      {
        type: 'grant_expired',
        data: {
          grantId: grant.grantId,
          currency: grant.currency,
          amount: formatAmount(grant.remaining, decimals),
        },
      },
      `${grant.grantId}:expired`,
      at,
    );
  }

  for (const sub of state.subscriptions.values()) {
    if (graceEndDue(state, sub) === atMs) expireUnpaidCycle(recorder, sub, at);
  }

  for (const hold of [...state.holds.values()]) {
    if (hold.expiresAtMs > atMs) continue;
    const decimals = state.accounts.get(hold.currency)!.decimals;
    recorder.record(
      {
        type: 'hold_released',
        data: {
          holdId: hold.holdId,
          currency: hold.currency,
          amount: formatAmount(hold.amount, decimals),
          reason: 'expired',
        },
      },
      `${hold.holdId}:expired`,
      at,
    );
  }

  for (const { sub, carries } of renewing) renew(recorder, sub, sub.cycle + 1, carries, at, catalog);

  const customerId = state.customer?.customerId ?? '';
  for (const account of state.accounts.values()) {
    if (account.debt > 0n)
      settleDebt(recorder, account.currency, atMs, at, `${customerId}:${account.currency}:settle:${at}`);
  }

  // Last: what the instant did to the available balance is what the alerts see.
  watch(recorder, atMs, (what) => `${customerId}:${what}:${at}`);
}
