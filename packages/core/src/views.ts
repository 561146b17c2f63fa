import type { Money, Scope } from './catalog/index.js';
import type { BillingFacts, GrantSource } from './events.js';
import { formatAmount } from './money.js';
import type { AccountState, CustomerState, GrantState, HoldState, SubscriptionState } from './state.js';
import { cycleAt, cycleStart, iso } from './time.js';

/**
 * A customer's credit account in one currency, as of an instant.
 *
 * @example
 * const [credits] = await ledger.creditAccounts({ customerId: 'cus_123' });
 * // { currency: 'credits', balance: '90', held: '10', available: '80', creditLimit: '0', debt: '0', scoped: [] }
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
  /**
   * The part of the balance only some features may spend, by the features it is for: "40 credits, 25
   * of them only for image generation" is a balance of '40' and `[{ features: ['image'], balance: '25' }]`.
   */
  readonly scoped: readonly ScopedCredit[];
}

/**
 * Credit of an account that only some features may spend (grants with `appliesTo`), summed by the
 * set of features it is for.
 *
 * @example
 * const [credits] = await ledger.creditAccounts({ customerId: 'cus_123' });
 * const imagesOnly = credits?.scoped.find((part) => part.features.includes('image'))?.balance ?? '0';
 */
export interface ScopedCredit {
  readonly features: readonly string[];
  readonly balance: string;
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
  /** The features it pays for; null: every feature. */
  readonly appliesTo: Scope | null;
  /** For purchased credits: what was paid for them, and the host's payment id. */
  readonly price: Money | null;
  readonly paymentId: string | null;
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
export interface SubscriptionView extends BillingFacts {
  readonly subscriptionId: string;
  readonly planId: string;
  readonly planVersion: number;
  /**
   * `incomplete`: a paid plan waiting for its first payment (no credits yet); `active`; `past_due`: a
   * paid cycle waiting for its payment; `canceled`: ended.
   */
  readonly status: 'incomplete' | 'active' | 'past_due' | 'canceled';
  readonly price: Money | null;
  /** When its first cycle started; null while incomplete. */
  readonly activatedAt: string | null;
  /** The current cycle; null while incomplete. */
  readonly currentPeriodStart: string | null;
  readonly currentPeriodEnd: string | null;
  /** When renewals stop; null while it runs on. */
  readonly endsAt: string | null;
  /** The payment that started a paid subscription; null for a free one or while incomplete. */
  readonly paymentId: string | null;
}

/** Sums what an account holds at `atMs`. The state must already be advanced to `atMs`. */
export function accountView(account: AccountState, atMs: number): CreditAccount {
  const { balance } = accountFigures(account, atMs, null);
  const d = account.decimals;
  const scoped = new Map<string, { features: readonly string[]; credit: bigint }>();
  for (const grant of account.live) {
    if (grant.appliesTo === null || !usableAt(grant, atMs)) continue;
    const key = grant.appliesTo.join('\n');
    const part = scoped.get(key) ?? { features: grant.appliesTo, credit: 0n };
    part.credit += grant.remaining;
    scoped.set(key, part);
  }
  return {
    currency: account.currency,
    balance: formatAmount(balance, d),
    held: formatAmount(account.held, d),
    available: formatAmount(balance - account.held, d),
    creditLimit: formatAmount(account.creditLimit, d),
    debt: formatAmount(account.debt, d),
    scoped: [...scoped.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, part]) => ({ features: part.features, balance: formatAmount(part.credit, d) })),
  };
}

/** Whether a grant (in play, so active) counts at `atMs`: effective and not expired. */
const usableAt = (grant: GrantState, atMs: number): boolean =>
  grant.effectiveAtMs <= atMs && grant.expiresAtMs > atMs;

/** Whether a grant pays for `feature` (null: a deduction of an amount, which only unscoped credit pays). */
export const appliesTo = (grant: GrantState, feature: string | null): boolean =>
  grant.appliesTo === null || (feature !== null && grant.appliesTo.includes(feature));

/**
 * Minor-unit figures of an account at `atMs`, for decisions: the balance (every grant, less debt),
 * and what a deduction for `feature` may take (null: an amount). Scoped credit pays only its
 * features, holds reserve from the whole account, and the overdraft room (limit less debt) is shared:
 * spendable = min(credit that applies, all credit − held) + limit − debt. With no scoped grants this
 * is balance − held + limit.
 */
export function accountFigures(
  account: AccountState,
  atMs: number,
  feature: string | null,
): { balance: bigint; spendable: bigint } {
  let credit = 0n;
  let applicable = 0n;
  // Every grant in play is active: those that end leave play (see `evolve`).
  for (const grant of account.live) {
    if (!usableAt(grant, atMs)) continue;
    credit += grant.remaining;
    if (appliesTo(grant, feature)) applicable += grant.remaining;
  }
  const unreserved = credit - account.held;
  const spendable = (applicable < unreserved ? applicable : unreserved) + account.creditLimit - account.debt;
  return { balance: credit - account.debt, spendable };
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
    appliesTo: grant.appliesTo === null ? null : { features: grant.appliesTo },
    price: grant.price,
    paymentId: grant.paymentId,
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
  const anchor = sub.anchorMs;
  const cycle = anchor === null ? 0 : Math.min(cycleAt(anchor, sub.interval, atMs), sub.cycle);
  return {
    subscriptionId: sub.subscriptionId,
    planId: sub.planId,
    planVersion: sub.planVersion,
    status: subscriptionStatus(sub, atMs),
    salesMotion: sub.salesMotion,
    collectionMethod: sub.collectionMethod,
    price: sub.price,
    activatedAt: sub.activatedAt,
    currentPeriodStart: anchor === null ? null : iso(cycleStart(anchor, sub.interval, cycle)),
    currentPeriodEnd:
      anchor === null ? null : iso(Math.min(cycleStart(anchor, sub.interval, cycle + 1), sub.endsAtMs)),
    endsAt: Number.isFinite(sub.endsAtMs) ? iso(sub.endsAtMs) : null,
    paymentId: sub.activatedBy,
  };
}

function subscriptionStatus(sub: SubscriptionState, atMs: number): SubscriptionView['status'] {
  if (sub.endsAtMs <= atMs) return 'canceled';
  if (sub.anchorMs === null) return 'incomplete';
  return sub.paidCycle < sub.cycle ? 'past_due' : 'active';
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
