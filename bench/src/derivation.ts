/**
 * Group 1: balance derivation in the pure core. Folds a realistic stream of recorded events (decoded from
 * JSON, as a store hands them back) with `fold`, against a plain loop over the same events that sums the
 * same amount strings as JS numbers.
 */
import type { RecordedEvent } from '@tally/core';
import { type CustomerState, fold } from '@tally/core/pure';
import { formatAmount } from '../../packages/core/src/money.ts';
import { type GroupResult, goal, measureAll, QUICK } from './harness.ts';
import { CURRENCY, decoded, generateStream } from './stream.ts';

export const DERIVATION_EVENTS = QUICK ? 100_000 : 1_000_000;

export async function derivationGroup(): Promise<GroupResult> {
  const generated = generateStream(DERIVATION_EVENTS);
  const events = decoded(generated.events);
  const counts = countTypes(events);

  // The fold must agree with the generator's books, or the stream is not what it claims to be.
  const state = fold(events);
  const folded = balanceOf(state);
  if (folded !== formatAmount(BigInt(generated.balance), 2)) {
    throw new Error(`fold says ${folded}, the generator's books say ${generated.balance / 100}`);
  }
  const numeric = asNumbers(events);
  for (const [name, sum] of [
    ['baseline', numberSum(numeric)],
    ['string loop', stringSum(events)],
  ] as const) {
    if (Math.abs(sum - generated.balance / 100) > 0.01)
      throw new Error(`the ${name} says ${sum}, the generator's books say ${generated.balance / 100}`);
  }

  const n = events.length;
  const time = QUICK ? 300 : 3000;
  const iterations = QUICK ? 3 : 10;
  let sink: unknown;
  const rows = await measureAll('derivation', [
    {
      name: 'plain loop: sum the amounts as JS numbers',
      baseline: true,
      opsPerCall: n,
      sync: true,
      time,
      iterations,
      fn: () => {
        sink = numberSum(numeric);
      },
    },
    {
      name: 'plain loop: Number() of each amount string',
      opsPerCall: n,
      sync: true,
      time,
      iterations,
      fn: () => {
        sink = stringSum(events);
      },
    },
    {
      name: 'fold(events) → CustomerState',
      opsPerCall: n,
      sync: true,
      time,
      iterations,
      fn: () => {
        sink = fold(events);
      },
    },
  ]);
  void sink;

  const heap = heapPerGrant(events);
  const fraction = rows[2]!.ratio;
  return {
    id: 'derivation',
    title: `1. Balance derivation (pure core), ${n.toLocaleString('en')} events`,
    unit: 'one event folded; p50/p99 are per whole fold',
    rows,
    goals: [goal('fold ÷ plain loop', fraction, 1 / 8)],
    extra: {
      'event mix': Object.entries(counts)
        .map(([type, count]) => `${type} ${count}`)
        .join(', '),
      // A whole fold holds the grants in play and, recalled, every one that finished.
      'grants in the folded state': state.grants.size + state.recalled.grants.size,
      'grants still holding credit': heap.holding,
      'grants left in the live lists': [...state.accounts.values()].reduce((n, a) => n + a.live.length, 0),
      'heap per grant in the state (bytes)': Math.round(heap.bytesPerGrant),
      'heap of the whole folded state (bytes)': heap.stateBytes,
      'balance (both agree)': folded,
    },
    notes: [
      'the stream is decoded from JSON in 10k-event chunks before timing, so no string is shared with the generator',
    ],
  };
}

/** An event whose amounts are already JS numbers: what the baseline loop reads. */
interface NumericEvent {
  readonly type: string;
  readonly data: {
    readonly amount?: number;
    readonly debt?: number;
    readonly allocations?: readonly { readonly grantId: string; readonly amount: number }[];
  };
}

/** The same events with every amount as a JS number, laid out like decoded events (built before timing). */
function asNumbers(events: readonly RecordedEvent[]): NumericEvent[] {
  const toNumbers = (_key: string, value: unknown) =>
    typeof value === 'string' && /^\d+\.\d\d$/.test(value) ? Number(value) : value;
  const out: NumericEvent[] = [];
  for (let i = 0; i < events.length; i += 10_000) {
    const chunk = JSON.stringify(events.slice(i, i + 10_000));
    for (const event of JSON.parse(chunk, toNumbers) as NumericEvent[]) out.push(event);
  }
  return out;
}

/** The baseline: one loop over the same events, summing the same amounts, already JS numbers. */
export function numberSum(events: readonly NumericEvent[]): number {
  let balance = 0;
  for (const event of events) {
    const data = event.data;
    switch (event.type) {
      case 'credits_granted':
        balance += data.amount!;
        break;
      case 'credits_deducted':
        for (const allocation of data.allocations!) balance -= allocation.amount;
        balance -= data.debt!;
        break;
      case 'grant_expired':
        balance -= data.amount!;
        break;
      case 'debt_settled':
        for (const allocation of data.allocations!) balance -= allocation.amount;
        balance += data.amount!;
        break;
      default:
        break;
    }
  }
  return Math.round(balance * 100) / 100;
}

/** For reference: the same loop over the stored events, parsing each amount string with Number(). */
export function stringSum(events: readonly RecordedEvent[]): number {
  let balance = 0;
  for (const event of events) {
    switch (event.type) {
      case 'credits_granted':
        balance += Number(event.data.amount);
        break;
      case 'credits_deducted':
        for (const allocation of event.data.allocations) balance -= Number(allocation.amount);
        balance -= Number(event.data.debt);
        break;
      case 'grant_expired':
        balance -= Number(event.data.amount);
        break;
      case 'debt_settled':
        for (const allocation of event.data.allocations) balance -= Number(allocation.amount);
        balance += Number(event.data.amount);
        break;
      default:
        break;
    }
  }
  return Math.round(balance * 100) / 100;
}

/** Balance as `accountView` computes it, at the end of the stream. */
function balanceOf(state: CustomerState): string {
  const account = state.accounts.get(CURRENCY)!;
  let credit = 0n;
  for (const grant of account.live) if (grant.status === 'active') credit += grant.remaining;
  return formatAmount(credit - account.debt, account.decimals);
}

function countTypes(events: readonly RecordedEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.type] = (counts[event.type] ?? 0) + 1;
  return counts;
}

/** Heap the folded state holds, per grant in it, with the events kept alive on both sides of the fold. */
function heapPerGrant(events: readonly RecordedEvent[]): {
  bytesPerGrant: number;
  stateBytes: number;
  holding: number;
} {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (pnpm bench does)');
  fold(events); // warm the amount cache so it is not counted
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const state = fold(events);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  let holding = 0;
  for (const grant of state.grants.values()) if (grant.status === 'active' && grant.remaining > 0n) holding++;
  const grants = state.grants.size + state.recalled.grants.size;
  return { bytesPerGrant: (after - before) / grants, stateBytes: after - before, holding };
}
