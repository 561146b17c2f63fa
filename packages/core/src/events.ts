import type { PlanGrantRule } from './catalog.js';
import type { Interval } from './time.js';

/**
 * The facts Tally records. Each carries what was decided (resolved cost, allocations, plan terms), so
 * replaying a stream never consults a catalog that may have changed since. Amounts are decimal strings
 * with exactly the currency's places; times are ISO-8601 UTC strings.
 */

export type GrantSource = 'plan' | 'rollover' | 'top_up' | 'promotion' | 'manual' | 'reversal';

export interface Allocation {
  readonly grantId: string;
  readonly amount: string;
}

export interface CustomerCreated {
  readonly type: 'customer_created';
  readonly data: {
    readonly customerId: string;
    readonly externalId: string | null;
    readonly metadata: Readonly<Record<string, string>>;
  };
}

export interface SubscriptionActivated {
  readonly type: 'subscription_activated';
  readonly data: {
    readonly subscriptionId: string;
    readonly planId: string;
    /** The plan's terms at activation: later catalog changes do not touch this subscription. */
    readonly interval: Interval;
    readonly price: string | null;
    readonly grants: readonly PlanGrantRule[];
    /** Cycle boundaries are computed from this instant. */
    readonly anchorAt: string;
  };
}

export interface SubscriptionRenewed {
  readonly type: 'subscription_renewed';
  readonly data: { readonly subscriptionId: string; readonly cycle: number; readonly periodEnd: string };
}

export interface SubscriptionCanceled {
  readonly type: 'subscription_canceled';
  readonly data: {
    readonly subscriptionId: string;
    /** No renewal at or after this instant. */
    readonly endsAt: string;
  };
}

export interface CreditsGranted {
  readonly type: 'credits_granted';
  readonly data: {
    readonly grantId: string;
    readonly currency: string;
    readonly amount: string;
    readonly priority: number;
    readonly source: GrantSource;
    readonly effectiveAt: string;
    readonly expiresAt: string | null;
    readonly subscriptionId: string | null;
    readonly cycle: number | null;
    readonly ruleIndex: number | null;
    readonly metadata: Readonly<Record<string, string>>;
  };
}

export interface CreditsDeducted {
  readonly type: 'credits_deducted';
  readonly data: {
    readonly usageId: string;
    readonly currency: string;
    /** Null for a direct debit of an amount. */
    readonly feature: string | null;
    readonly quantity: number | null;
    readonly cost: string;
    /** What each grant paid, in consumption order. */
    readonly allocations: readonly Allocation[];
    /** The part of `cost` no grant covered, added to the account's debt (overdraft). */
    readonly debt: string;
    /** Set when this deduction captured a hold. */
    readonly holdId: string | null;
    readonly metadata: Readonly<Record<string, string>>;
  };
}

export interface GrantExpired {
  readonly type: 'grant_expired';
  readonly data: { readonly grantId: string; readonly currency: string; readonly amount: string };
}

export interface GrantVoided {
  readonly type: 'grant_voided';
  readonly data: {
    readonly grantId: string;
    readonly currency: string;
    readonly amount: string;
    readonly reason: string;
  };
}

export interface UsageReversed {
  readonly type: 'usage_reversed';
  readonly data: {
    readonly usageId: string;
    readonly currency: string;
    /** Credit returned to grants that are still live. */
    readonly restored: readonly Allocation[];
    /** Debt the reversal cancelled. */
    readonly debtCleared: string;
    /** Credit that belonged to grants that have expired or been voided since: not returned. */
    readonly forfeited: string;
    readonly reason: string;
  };
}

export interface CreditsHeld {
  readonly type: 'credits_held';
  readonly data: {
    readonly holdId: string;
    readonly currency: string;
    readonly amount: string;
    readonly feature: string | null;
    readonly quantity: number | null;
    readonly expiresAt: string | null;
  };
}

export interface HoldReleased {
  readonly type: 'hold_released';
  readonly data: {
    readonly holdId: string;
    readonly currency: string;
    readonly amount: string;
    readonly reason: 'released' | 'expired' | 'captured';
  };
}

export interface CreditLimitSet {
  readonly type: 'credit_limit_set';
  readonly data: { readonly currency: string; readonly limit: string };
}

export interface DebtSettled {
  readonly type: 'debt_settled';
  readonly data: {
    readonly currency: string;
    readonly amount: string;
    readonly allocations: readonly Allocation[];
  };
}

export type TallyEvent =
  | CustomerCreated
  | SubscriptionActivated
  | SubscriptionRenewed
  | SubscriptionCanceled
  | CreditsGranted
  | CreditsDeducted
  | GrantExpired
  | GrantVoided
  | UsageReversed
  | CreditsHeld
  | HoldReleased
  | CreditLimitSet
  | DebtSettled;

export type TallyEventType = TallyEvent['type'];

/** An event with the time it happened and its id: the unit `evolve` folds. */
export type RecordedEvent = TallyEvent & { readonly id: string; readonly at: string };

export const EVENT_TYPES: ReadonlySet<string> = new Set<TallyEventType>([
  'customer_created',
  'subscription_activated',
  'subscription_renewed',
  'subscription_canceled',
  'credits_granted',
  'credits_deducted',
  'grant_expired',
  'grant_voided',
  'usage_reversed',
  'credits_held',
  'hold_released',
  'credit_limit_set',
  'debt_settled',
]);
