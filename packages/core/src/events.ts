import type { AlertEvent } from './alerts/events.js';
import type { AutoTopUpEvent } from './auto-top-up/events.js';
import type { Money, PlanTerms, Scope } from './catalog/index.js';

/**
 * The facts Tally records. Each carries what was decided (resolved cost, allocations, plan terms), so
 * replaying a stream never consults a catalog that may have changed since. Amounts are decimal strings
 * with exactly the currency's places; times are ISO-8601 UTC strings.
 */

/**
 * Where a grant's credit came from: a plan's cycle, credit rolled over from the previous cycle, a
 * top-up, a promotion, a manual grant, credits bought (with what was paid), or a reversal paying back
 * debt that was already settled.
 *
 * @example
 * const grants = await ledger.grants({ customerId: 'cus_123' });
 * const promotions = grants.filter((g) => g.source === 'promotion');
 */
export type GrantSource = 'plan' | 'rollover' | 'top_up' | 'promotion' | 'manual' | 'purchase' | 'reversal';

/**
 * One grant's share of a deduction, debt settlement or reversal: which grant paid (or got back) how
 * much, so a reversal can return each share to the grant it came from.
 *
 * @example
 * const allocation: Allocation = { grantId: 'grant_01J…', amount: '10' };
 */
export interface Allocation {
  readonly grantId: string;
  readonly amount: string;
}

/**
 * Recorded by `createCustomer`: the first event of every customer's stream.
 *
 * @example
 * const event: CustomerCreated = {
 *   type: 'customer_created',
 *   data: { customerId: 'cus_123', externalId: 'user-42', metadata: { team: 'acme' } },
 * };
 */
export interface CustomerCreated {
  readonly type: 'customer_created';
  readonly data: {
    readonly customerId: string;
    readonly externalId: string | null;
    readonly metadata: Readonly<Record<string, string>>;
  };
}

/**
 * How a subscription was sold, as the hosted quickstart records it: self-serve or through sales, and
 * whether its invoices are charged automatically or sent.
 *
 * @example
 * const billing: BillingFacts = { salesMotion: 'self_serve', collectionMethod: 'charge_automatically' };
 */
export interface BillingFacts {
  readonly salesMotion: 'self_serve' | 'sales_led';
  readonly collectionMethod: 'charge_automatically' | 'send_invoice';
}

/**
 * Recorded by `subscribe` and `changePlan` for a free plan: starts a subscription with a copy of the
 * plan's terms, so later catalog changes never alter a running subscription (except a plan version
 * that says it applies at renewals). Its first cycle starts at `anchorAt`; its grants follow.
 *
 * @example
 * const event: SubscriptionActivated = { type: 'subscription_activated', data: {
 *   subscriptionId: 'sub_01J…', planId: 'free', planVersion: 1, catalogVersion: 3, interval: 'month',
 *   price: null, gracePeriodDays: 0, anchorAt: '2025-01-31T00:00:00.000Z',
 *   grants: [{ currency: 'credits', amount: '100', priority: 50, expires: 'cycle_end', rollover: null, appliesTo: null }],
 *   salesMotion: 'self_serve', collectionMethod: 'charge_automatically',
 * } };
 */
export interface SubscriptionActivated {
  readonly type: 'subscription_activated';
  readonly data: PlanTerms &
    BillingFacts & {
      readonly subscriptionId: string;
      readonly planId: string;
      readonly planVersion: number;
      /** The catalog version the terms were taken from (0: a catalog defined in code). */
      readonly catalogVersion: number;
      /** Cycle boundaries are computed from this instant. */
      readonly anchorAt: string;
    };
}

/**
 * Recorded by `subscribe` for a paid plan: the subscription exists, `incomplete`, with the plan's terms,
 * and grants nothing until `confirmPayment` records its first payment (which starts its first cycle).
 *
 * @example
 * const event: SubscriptionCreated = { type: 'subscription_created', data: {
 *   subscriptionId: 'sub_01J…', planId: 'pro', planVersion: 1, catalogVersion: 3, interval: 'month',
 *   price: { amount: '20.00', currency: 'USD' }, gracePeriodDays: 0, grants: [],
 *   salesMotion: 'self_serve', collectionMethod: 'charge_automatically',
 * } };
 */
export interface SubscriptionCreated {
  readonly type: 'subscription_created';
  readonly data: PlanTerms &
    BillingFacts & {
      readonly subscriptionId: string;
      readonly planId: string;
      readonly planVersion: number;
      readonly catalogVersion: number;
    };
}

/**
 * Recorded by `confirmPayment`: the host's billing says a paid subscription's invoice is paid. The
 * first payment starts an `incomplete` subscription (its first cycle anchored now); a later one pays a
 * renewed cycle that was `past_due`. The cycle's grants follow unless a grace period granted them
 * already.
 *
 * @example
 * const event: PaymentConfirmed = { type: 'payment_confirmed', data: {
 *   subscriptionId: 'sub_01J…', paymentId: 'pi_42', amount: { amount: '20.00', currency: 'USD' },
 *   cycle: 0, paidAt: '2025-01-31T09:58:00.000Z',
 * } };
 */
export interface PaymentConfirmed {
  readonly type: 'payment_confirmed';
  readonly data: {
    readonly subscriptionId: string;
    /** The host's id of the payment; a confirmation seen twice is recorded once. */
    readonly paymentId: string;
    readonly amount: Money;
    /** The cycle it pays (0: the first). */
    readonly cycle: number;
    /** When the host says it was paid. */
    readonly paidAt: string;
  };
}

/**
 * Recorded when time reaches a subscription's next cycle boundary; the new cycle's plan grants follow
 * it. `periodEnd` is when the new cycle ends.
 *
 * @example
 * const event: SubscriptionRenewed = {
 *   type: 'subscription_renewed',
 *   data: { subscriptionId: 'sub_01J…', cycle: 1, periodEnd: '2025-03-31T00:00:00.000Z', terms: null, paid: true },
 * };
 */
export interface SubscriptionRenewed {
  readonly type: 'subscription_renewed';
  readonly data: {
    readonly subscriptionId: string;
    readonly cycle: number;
    readonly periodEnd: string;
    /**
     * The terms of a newer plan version the subscription adopts from this cycle on (one published with
     * `appliesTo: 'renewals'`), or null to keep its terms.
     */
    readonly terms: (PlanTerms & { readonly version: number }) | null;
    /** False for a cycle of a paid plan, until `confirmPayment` records its payment. */
    readonly paid: boolean;
  };
}

/**
 * Recorded by `cancelSubscription` (and by `changePlan` for the plan it leaves): the subscription does
 * not renew at or after `endsAt`, which is either now or the end of the current cycle.
 *
 * @example
 * const event: SubscriptionCanceled = {
 *   type: 'subscription_canceled',
 *   data: { subscriptionId: 'sub_01J…', endsAt: '2025-02-28T00:00:00.000Z' },
 * };
 */
export interface SubscriptionCanceled {
  readonly type: 'subscription_canceled';
  readonly data: {
    readonly subscriptionId: string;
    /** No renewal at or after this instant. */
    readonly endsAt: string;
  };
}

/**
 * Recorded by `grant`, by each plan cycle (and its rollover) and by a reversal that pays back settled
 * debt: new credit, spendable from `effectiveAt` until `expiresAt` (null: never).
 *
 * @example
 * const event: CreditsGranted = { type: 'credits_granted', data: {
 *   grantId: 'grant_01J…', currency: 'credits', amount: '500', priority: 50, source: 'top_up',
 *   effectiveAt: '2025-01-01T00:00:00.000Z', expiresAt: null, subscriptionId: null, cycle: null,
 *   ruleIndex: null, metadata: {}, appliesTo: null, price: null, paymentId: null } };
 */
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
    /** The features these credits pay for; null: every feature. */
    readonly appliesTo: Scope | null;
    /** For purchased credits: what was paid for them, and the host's payment id. */
    readonly price: Money | null;
    readonly paymentId: string | null;
  };
}

/**
 * Recorded by `trackUsage` and `captureHold`: a cost taken from the account, with what each grant paid
 * in consumption order and the part no grant covered, which became debt.
 *
 * @example
 * const event: CreditsDeducted = { type: 'credits_deducted', data: {
 *   usageId: 'usage_01J…', currency: 'credits', feature: 'ai-generation', quantity: 1, cost: '10',
 *   exactCost: '10', carry: null, allocations: [{ grantId: 'grant_01J…', amount: '10' }], debt: '0',
 *   holdId: null, metadata: {}, catalogVersion: 0 } };
 */
export interface CreditsDeducted {
  readonly type: 'credits_deducted';
  readonly data: {
    readonly usageId: string;
    readonly currency: string;
    /** Null for a direct debit of an amount. */
    readonly feature: string | null;
    readonly quantity: number | null;
    /** What was charged: the feature's price times `quantity`, rounded (see `exactCost`). */
    readonly cost: string;
    /**
     * The cost before rounding, in whole units with every place it has (`'0.0015'`), or null for an
     * amount given as such. The ledger rounds the running total of a feature's exact costs, so `cost` is
     * this plus what earlier usage left over (`carry`), rounded.
     */
    readonly exactCost: string | null;
    /**
     * The feature's exact cost not yet charged after this usage (`exactCost` summed minus `cost`
     * summed), or null when the usage is rounded on its own.
     */
    readonly carry: string | null;
    /** What each grant paid, in consumption order. */
    readonly allocations: readonly Allocation[];
    /** The part of `cost` no grant covered, added to the account's debt (overdraft). */
    readonly debt: string;
    /** Set when this deduction captured a hold. */
    readonly holdId: string | null;
    readonly metadata: Readonly<Record<string, string>>;
    /** The version of the stored catalog the usage was priced by (0: a catalog defined in code). */
    readonly catalogVersion: number;
  };
}

/**
 * Recorded when time reaches a grant's `expiresAt` with credit left on it (or when a plan change or
 * cancellation expires plan credits early): `amount` is the unused credit leaving the balance.
 *
 * @example
 * const event: GrantExpired = {
 *   type: 'grant_expired',
 *   data: { grantId: 'grant_01J…', currency: 'credits', amount: '40' },
 * };
 */
export interface GrantExpired {
  readonly type: 'grant_expired';
  readonly data: { readonly grantId: string; readonly currency: string; readonly amount: string };
}

/**
 * Recorded by `voidGrant`: the grant's remaining credit (`amount`) is taken back, e.g. after a
 * chargeback. Credit already spent from it stays spent.
 *
 * @example
 * const event: GrantVoided = {
 *   type: 'grant_voided',
 *   data: { grantId: 'grant_01J…', currency: 'credits', amount: '450', reason: 'chargeback', refund: null },
 * };
 */
export interface GrantVoided {
  readonly type: 'grant_voided';
  readonly data: {
    readonly grantId: string;
    readonly currency: string;
    readonly amount: string;
    readonly reason: string;
    /**
     * For purchased credits voided with `refund: true`: the credits refunded (the unused remainder) and
     * their share of what was paid, for the host to pay back. Null otherwise.
     */
    readonly refund: { readonly credits: string; readonly money: Money | null } | null;
  };
}

/**
 * Recorded by `reverseUsage`: a deduction given back to the grants that paid it, except the shares of
 * grants that have expired or been voided since, which are forfeited.
 *
 * @example
 * const event: UsageReversed = { type: 'usage_reversed', data: {
 *   usageId: 'usage_01J…', currency: 'credits', restored: [{ grantId: 'grant_01J…', amount: '10' }],
 *   debtCleared: '0', forfeited: '0', reason: 'failed job', feature: 'ai-generation', carry: '0' } };
 */
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
    /** The reversed usage's feature, or null for a direct amount. */
    readonly feature: string | null;
    /**
     * The feature's carry after the reversal (the usage's unrounded part taken back out of the running
     * total), or null when the usage had none.
     */
    readonly carry: string | null;
  };
}

/**
 * Recorded by `hold`: credit reserved for work about to happen. It lowers `available` (not `balance`)
 * until the hold is captured, released or expires.
 *
 * @example
 * const event: CreditsHeld = { type: 'credits_held', data: {
 *   holdId: 'hold_01J…', currency: 'credits', amount: '30', feature: 'ai-generation', quantity: 3,
 *   expiresAt: '2025-01-01T00:15:00.000Z' } };
 */
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

/**
 * Recorded when a hold ends: released by `releaseHold`, expired, or captured (a `credits_deducted`
 * for the actual cost follows). The held amount is available again.
 *
 * @example
 * const event: HoldReleased = {
 *   type: 'hold_released',
 *   data: { holdId: 'hold_01J…', currency: 'credits', amount: '30', reason: 'captured' },
 * };
 */
export interface HoldReleased {
  readonly type: 'hold_released';
  readonly data: {
    readonly holdId: string;
    readonly currency: string;
    readonly amount: string;
    readonly reason: 'released' | 'expired' | 'captured';
  };
}

/**
 * Recorded by `setCreditLimit`: how far below zero the balance of a currency may go from now on.
 *
 * @example
 * const event: CreditLimitSet = { type: 'credit_limit_set', data: { currency: 'credits', limit: '50' } };
 */
export interface CreditLimitSet {
  readonly type: 'credit_limit_set';
  readonly data: { readonly currency: string; readonly limit: string };
}

/**
 * Recorded when new credit (a grant, a renewal, a grant becoming effective) pays off debt: the grants
 * pay `amount` of it in consumption order, so debt never sits beside spendable credit.
 *
 * @example
 * const event: DebtSettled = { type: 'debt_settled', data: {
 *   currency: 'credits', amount: '20', allocations: [{ grantId: 'grant_01J…', amount: '20' }] } };
 */
export interface DebtSettled {
  readonly type: 'debt_settled';
  readonly data: {
    readonly currency: string;
    readonly amount: string;
    readonly allocations: readonly Allocation[];
  };
}

/**
 * Every fact Tally records, as a union discriminated by `type`: check `type` and `data` narrows to
 * that event's shape.
 *
 * @example
 * function describe(event: TallyEvent): string {
 *   return event.type === 'credits_deducted' ? `used ${event.data.cost} ${event.data.currency}` : event.type;
 * }
 */
export type TallyEvent =
  | CustomerCreated
  | SubscriptionCreated
  | PaymentConfirmed
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
  | DebtSettled
  | AlertEvent
  | AutoTopUpEvent;

/**
 * The name of each kind of event Tally records; `EVENT_TYPES` holds the same names at runtime.
 *
 * @example
 * const watched: TallyEventType[] = ['credits_deducted', 'usage_reversed'];
 */
export type TallyEventType = TallyEvent['type'];

/**
 * An event with the time it happened and its id: the unit `evolve` folds.
 *
 * @example
 * // The ledger keeps customer cus_123's events in the stream 'customer-cus_123'.
 * const events: RecordedEvent[] = (await store.readStream('customer-cus_123')).map(upcast);
 * const state = fold(events);
 */
export type RecordedEvent = TallyEvent & { readonly id: string; readonly at: string };

/**
 * Shape version of each event type: an event written at an older version is upcast on read (see
 * `upcast`), one from a newer version (written by newer code) is refused rather than misread. The
 * table is the list of event types: `EVENT_TYPES` is its keys, and `satisfies` makes a type missing
 * here a compile error.
 *
 * @example
 * const version = CURRENT_SCHEMA_VERSIONS.credits_deducted; // 3: v1 and v2 deductions are upcast on read
 */
export const CURRENT_SCHEMA_VERSIONS = {
  customer_created: 1,
  subscription_created: 1,
  payment_confirmed: 1,
  // v1 had a price label (a string), no plan or catalog version, no billing facts.
  subscription_activated: 2,
  // v1 predates plan versions and paid plans (no `terms`, `paid`).
  subscription_renewed: 2,
  subscription_canceled: 1,
  // v1 predates scoped and purchased credits (no `appliesTo`, `price`, `paymentId`).
  credits_granted: 2,
  // v1 predates overdraft and holds (no `debt`, `holdId`, `metadata`); v2 predates rounding on the
  // running total and the stored catalog (no `exactCost`, `carry`, `catalogVersion`).
  credits_deducted: 3,
  grant_expired: 1,
  // v1 predates refunds of purchased credits (no `refund`).
  grant_voided: 2,
  // v1 predates rounding on the running total (no `feature`, `carry`).
  usage_reversed: 2,
  credits_held: 1,
  hold_released: 1,
  credit_limit_set: 1,
  debt_settled: 1,
  balance_alert_set: 1,
  balance_alert_triggered: 1,
  balance_alert_rearmed: 1,
  credits_expiring: 1,
  auto_top_up_set: 1,
  auto_top_up_requested: 1,
  auto_top_up_failed: 1,
  auto_top_up_completed: 1,
} as const satisfies Record<TallyEventType, number>;

/**
 * The names of every event type, for checking a stored `type` at runtime; `upcast` refuses any other.
 *
 * @example
 * if (!EVENT_TYPES.has(stored.type)) console.warn(`event ${stored.id} has unknown type ${stored.type}`);
 */
export const EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(CURRENT_SCHEMA_VERSIONS));
