/**
 * A realistic customer stream, generated deterministically: after `customer_created` and a credit limit,
 * a grant every 100 deductions (priorities 10/50/100; 30-day, 90-day and never-expiring grants; plan,
 * promotion and top-up sources), deductions of a handful of costs spent in consumption order (so one
 * deduction often spans two grants), expiries of what a grant had left when its time came, and debt
 * settled by the next grant when the grants ran dry. One event a minute.
 *
 * The generator keeps its own books and checks them against Tally's fold in the derivation group, so a
 * stream that Tally would refuse as corrupt never gets measured.
 */
import type { NewEvent, RecordedEvent } from '@tally/core';
import { GENESIS_HASH, signEvents } from '../../packages/core/src/hash-chain.ts';

export const CUSTOMER_ID = 'cus_bench';
export const CURRENCY = 'credits';
export const START_MS = Date.UTC(2024, 0, 1);
export const STEP_MS = 60_000;

/** The catalog the streams agree with: costs below are `quantity × 0.25`. */
export const catalogInput = {
  currencies: [{ code: CURRENCY, decimals: 2 }],
  features: [{ key: 'api-call', cost: { currency: CURRENCY, perUnit: '0.25' } }],
  plans: [],
};

const QUANTITIES = [1, 1, 1, 1, 4, 4, 4, 4, 10, 10, 10, 40] as const;
/**
 * Grants cycle through these kinds. Plan and promotion credit (spent first) never quite covers the
 * usage, so top-ups pay the rest; they bring a little more than needed, and the surplus expires two
 * days on. That keeps a handful of grants live and makes expiries part of the stream, as in production.
 */
const GRANT_KINDS = [
  { priority: 100, expiresInDays: 2, source: 'top_up', amount: 35_000 },
  { priority: 50, expiresInDays: 14, source: 'plan', amount: 20_000 },
  { priority: 10, expiresInDays: 1, source: 'promotion', amount: 5_000 },
  { priority: 50, expiresInDays: 14, source: 'plan', amount: 20_000 },
] as const;
const CREDIT_LIMIT = 10_000;

interface Book {
  readonly grantId: string;
  readonly priority: number;
  readonly expiresAtMs: number;
  readonly effectiveAtMs: number;
  remaining: number;
}

export interface GeneratedStream {
  readonly events: RecordedEvent[];
  /** Balance the generator's own books end with, in minor units. */
  readonly balance: number;
  readonly grants: number;
  readonly lastAtMs: number;
}

/** `count` events of one customer's stream (the last few may be one more than asked, never fewer). */
export function generateStream(count: number, seed = 42): GeneratedStream {
  const random = mulberry32(seed);
  const events: RecordedEvent[] = [];
  let t = START_MS;
  let n = 0;
  const push = (event: Omit<RecordedEvent, 'id' | 'at'>, atMs = t): void => {
    events.push({ ...event, id: id('evt', n++), at: new Date(atMs).toISOString() } as RecordedEvent);
  };
  let live: Book[] = [];
  let debt = 0;
  let grants = 0;
  let deductions = 0;

  push({ type: 'customer_created', data: { customerId: CUSTOMER_ID, externalId: null, metadata: {} } });
  t += STEP_MS;
  push({ type: 'credit_limit_set', data: { currency: CURRENCY, limit: amount(CREDIT_LIMIT) } });

  while (events.length < count) {
    t += STEP_MS;
    // What time alone made due since the last event: expiries, at the instant they happened.
    const expired = live.some((g) => g.expiresAtMs <= t)
      ? live.filter((g) => g.expiresAtMs <= t).sort((a, b) => a.expiresAtMs - b.expiresAtMs)
      : [];
    for (const grant of expired) {
      push(
        {
          type: 'grant_expired',
          data: { grantId: grant.grantId, currency: CURRENCY, amount: amount(grant.remaining) },
        },
        grant.expiresAtMs,
      );
    }
    if (expired.length > 0) live = live.filter((g) => g.expiresAtMs > t);

    if (deductions % 100 === 0 && grants * 100 <= deductions) {
      const kind = GRANT_KINDS[grants % GRANT_KINDS.length]!;
      const size = kind.amount;
      const grantId = id('grant', grants++);
      const expiresAtMs = t + kind.expiresInDays * 86_400_000;
      push({
        type: 'credits_granted',
        data: {
          grantId,
          currency: CURRENCY,
          amount: amount(size),
          priority: kind.priority,
          source: kind.source,
          effectiveAt: new Date(t).toISOString(),
          expiresAt: Number.isFinite(expiresAtMs) ? new Date(expiresAtMs).toISOString() : null,
          subscriptionId: null,
          cycle: null,
          ruleIndex: null,
          metadata: {},
          appliesTo: null,
          price: null,
          paymentId: null,
        },
      });
      live.push({ grantId, priority: kind.priority, expiresAtMs, effectiveAtMs: t, remaining: size });
      live.sort(order);
      if (debt > 0) {
        const { allocations, left } = take(live, debt);
        push({
          type: 'debt_settled',
          data: { currency: CURRENCY, amount: amount(debt - left), allocations },
        });
        debt = left;
        live = live.filter((g) => g.remaining > 0);
      }
      continue;
    }

    const quantity = QUANTITIES[Math.floor(random() * QUANTITIES.length)]!;
    const cost = quantity * 25;
    const { allocations, left } = take(live, cost);
    if (debt + left > CREDIT_LIMIT) throw new Error('generator: the stream ran past its credit limit');
    debt += left;
    live = live.filter((g) => g.remaining > 0);
    push({
      type: 'credits_deducted',
      data: {
        usageId: id('usage', deductions++),
        currency: CURRENCY,
        feature: 'api-call',
        quantity,
        cost: amount(cost),
        exactCost: amount(cost),
        carry: null,
        catalogVersion: 0,
        allocations,
        debt: amount(left),
        holdId: null,
        metadata: {},
      },
    });
  }
  const balance = live.reduce((sum, g) => sum + g.remaining, 0) - debt;
  return { events, balance, grants, lastAtMs: t };
}

/** Takes `cost` from grants already in consumption order, each down to zero before the next. */
function take(
  live: Book[],
  cost: number,
): { allocations: { grantId: string; amount: string }[]; left: number } {
  const allocations: { grantId: string; amount: string }[] = [];
  let left = cost;
  for (const grant of live) {
    if (left === 0) break;
    const part = Math.min(grant.remaining, left);
    if (part === 0) continue;
    grant.remaining -= part;
    left -= part;
    allocations.push({ grantId: grant.grantId, amount: amount(part) });
  }
  return { allocations, left };
}

/** Tally's consumption order: priority, soonest expiry, earliest effective, then id. */
function order(a: Book, b: Book): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.expiresAtMs !== b.expiresAtMs) return a.expiresAtMs < b.expiresAtMs ? -1 : 1;
  if (a.effectiveAtMs !== b.effectiveAtMs) return a.effectiveAtMs - b.effectiveAtMs;
  return a.grantId < b.grantId ? -1 : 1;
}

/** Events as a store hands them back: decoded from JSON, so no string is shared with the generator. */
export function decoded(events: readonly RecordedEvent[]): RecordedEvent[] {
  const out: RecordedEvent[] = [];
  for (let i = 0; i < events.length; i += 10_000) {
    for (const event of JSON.parse(JSON.stringify(events.slice(i, i + 10_000))) as RecordedEvent[])
      out.push(event);
  }
  return out;
}

const COMMAND_OF: Partial<Record<RecordedEvent['type'], string>> = {
  customer_created: 'createCustomer',
  credit_limit_set: 'setCreditLimit',
  credits_granted: 'grant',
  credits_deducted: 'trackUsage',
};

/**
 * The events as the ledger writes them: current schema versions, the command in the metadata, and the
 * hash chain (`verify` passes on these streams). Due events (expiries, settlements) carry no command.
 */
export function toNewEvents(
  events: readonly RecordedEvent[],
  previousHash = GENESIS_HASH,
): { events: NewEvent[]; hash: string } {
  return signEvents(
    previousHash,
    events.map((event) => {
      const command = COMMAND_OF[event.type];
      return { event, metadata: command === undefined ? {} : { command } };
    }),
  );
}

/** A kind-prefixed id shaped like the ledger's ULIDs (26 characters after the prefix). */
export function id(kind: string, n: number): string {
  return `${kind}_01J${n.toString(32).toUpperCase().padStart(23, '0')}`;
}

/** Minor units of a 2-place currency as Tally writes them. */
export function amount(minor: number): string {
  const digits = String(minor).padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
