import type { GrantSource } from './events.js';
import { formatAmount } from './money.js';
import type { AccountState, CustomerState, GrantState, HoldState, SubscriptionState } from './state.js';
import { cycleAt, cycleStart, iso } from './time.js';

/**
 * A customer's credit account in one currency, as of an instant.
 *
 * @example
 * const [credits] = await ledger.creditAccounts({ customerId: 'cus_123' });
 * // { currency: 'credits', balance: '90', held: '10', available: '80', creditLimit: '0', debt: '0' }
 */
export interface CreditAccount {
  readonly currency: string;
  /** Credit of effective, unexpired grants minus debt. Negative only within the credit limit. */
  readonly balance: string;
  /** Reserved by active holds. */
  readonly held: string;
  /** balance - held: what can be spent without overdraft. */
  readonly available: string;
  /** How far below zero the balance may go (0 = no overdraft). */
  readonly creditLimit: string;
  /** Overdraft in use, waiting to be settled by the next credit. */
  readonly debt: string;
}

/**
 * Where a grant stands at the instant read: not yet effective, spendable, spent to zero, past its
 * expiry, or voided.
 *
 * @example
 * const live = (await ledger.grants({ customerId: 'cus_123' })).filter((g) => g.status === 'active');
 */
export type GrantStatus = 'pending' | 'active' | 'depleted' | 'expired' | 'voided';

/**
 * A grant as reads return it: what it gave, what is left, and when it counts, so a customer can see
 * which credits expire when.
 *
 * @example
 * for (const g of await ledger.grants({ customerId: 'cus_123', currency: 'credits' })) {
 *   console.log(g.source, g.remaining, g.expiresAt ?? 'never expires');
 * }
 */
export interface GrantView {
  readonly grantId: string;
  readonly currency: string;
  readonly source: GrantSource;
  readonly amount: string;
  readonly remaining: string;
  readonly priority: number;
  readonly effectiveAt: string;
  /** null: never expires. */
  readonly expiresAt: string | null;
  readonly status: GrantStatus;
  readonly subscriptionId: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * A hold as reads return it: the credit it reserves and whether it is still active or was captured,
 * released or expired.
 *
 * @example
 * const active = (await ledger.holds({ customerId: 'cus_123' })).filter((h) => h.status === 'active');
 */
export interface HoldView {
  readonly holdId: string;
  readonly currency: string;
  readonly amount: string;
  readonly feature: string | null;
  readonly quantity: number | null;
  readonly expiresAt: string | null;
  readonly status: HoldState['status'];
  readonly createdAt: string;
}

/**
 * A subscription as reads return it: its plan, whether it still runs, and its current period, which
 * ends at the next renewal (or at `endsAt` if that comes first).
 *
 * @example
 * const [sub] = await ledger.subscriptions({ customerId: 'cus_123' });
 * if (sub?.status === 'active') console.log(`${sub.planId} until ${sub.currentPeriodEnd}`);
 */
export interface SubscriptionView {
  readonly subscriptionId: string;
  readonly planId: string;
  readonly status: 'active' | 'canceled';
  readonly activatedAt: string;
  readonly currentPeriodStart: string;
  readonly currentPeriodEnd: string;
  /** When renewals stop; null while it runs on. */
  readonly endsAt: string | null;
}

/** Sums what an account holds at `atMs`. The state must already be advanced to `atMs`. */
export function accountView(account: AccountState, atMs: number): CreditAccount {
  const { balance } = accountFigures(account, atMs);
  const d = account.decimals;
  return {
    currency: account.currency,
    balance: formatAmount(balance, d),
    held: formatAmount(account.held, d),
    available: formatAmount(balance - account.held, d),
    creditLimit: formatAmount(account.creditLimit, d),
    debt: formatAmount(account.debt, d),
  };
}

/** Minor-unit figures of an account at `atMs`, for decisions. */
export function accountFigures(account: AccountState, atMs: number): { balance: bigint; spendable: bigint } {
  let credit = 0n;
  // Every grant in play is active: those that end leave play (see `evolve`).
  for (const grant of account.live) {
    if (grant.effectiveAtMs <= atMs && grant.expiresAtMs > atMs) credit += grant.remaining;
  }
  const balance = credit - account.debt;
  return { balance, spendable: balance - account.held + account.creditLimit };
}

export function grantView(grant: GrantState, decimals: number, atMs: number): GrantView {
  return {
    grantId: grant.grantId,
    currency: grant.currency,
    source: grant.source,
    amount: formatAmount(grant.amount, decimals),
    remaining: formatAmount(grant.remaining, decimals),
    priority: grant.priority,
    effectiveAt: iso(grant.effectiveAtMs),
    expiresAt: Number.isFinite(grant.expiresAtMs) ? iso(grant.expiresAtMs) : null,
    status: grantStatus(grant, atMs),
    subscriptionId: grant.subscriptionId,
    metadata: grant.metadata,
  };
}

function grantStatus(grant: GrantState, atMs: number): GrantStatus {
  if (grant.status !== 'active') return grant.status;
  if (grant.effectiveAtMs > atMs) return 'pending';
  if (grant.expiresAtMs <= atMs) return 'expired';
  return grant.remaining === 0n ? 'depleted' : 'active';
}

export function holdView(hold: HoldState, decimals: number): HoldView {
  return {
    holdId: hold.holdId,
    currency: hold.currency,
    amount: formatAmount(hold.amount, decimals),
    feature: hold.feature,
    quantity: hold.quantity,
    expiresAt: Number.isFinite(hold.expiresAtMs) ? iso(hold.expiresAtMs) : null,
    status: hold.status,
    createdAt: hold.createdAt,
  };
}

export function subscriptionView(sub: SubscriptionState, atMs: number): SubscriptionView {
  const ended = sub.endsAtMs <= atMs;
  const cycle = Math.min(cycleAt(sub.anchorMs, sub.interval, atMs), sub.cycle);
  return {
    subscriptionId: sub.subscriptionId,
    planId: sub.planId,
    status: ended ? 'canceled' : 'active',
    activatedAt: sub.activatedAt,
    currentPeriodStart: iso(cycleStart(sub.anchorMs, sub.interval, cycle)),
    currentPeriodEnd: iso(Math.min(cycleStart(sub.anchorMs, sub.interval, cycle + 1), sub.endsAtMs)),
    endsAt: Number.isFinite(sub.endsAtMs) ? iso(sub.endsAtMs) : null,
  };
}

/** All holds, oldest first, of a state folded from the whole stream (finished ones are recalled). */
export function holdsOf(state: CustomerState): HoldState[] {
  return [...state.holds.values(), ...state.recalled.holds.values()].sort(
    (a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.holdId < b.holdId ? -1 : 1),
  );
}

/** All grants of a currency, oldest first, of a state folded from the whole stream. */
export function grantsOf(state: CustomerState, currency: string): GrantState[] {
  return [...state.grants.values(), ...state.recalled.grants.values()]
    .filter((g) => g.currency === currency)
    .sort((a, b) => a.effectiveAtMs - b.effectiveAtMs || (a.grantId < b.grantId ? -1 : 1));
}
