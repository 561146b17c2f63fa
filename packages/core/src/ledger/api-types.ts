import type { TimeInput } from '../time.js';

/** Inputs of the ledger's methods. Amounts are decimal strings; times are `Date`s or ISO-8601 strings. */

/**
 * Names the customer a call is about; every ledger input includes it.
 *
 * @example
 * const customer = await ledger.customer({ customerId: 'cus_123' });
 */
export interface CustomerRef {
  readonly customerId: string;
}

/**
 * Makes a write safe to retry: a repeat with the same key and input returns the first result and
 * writes nothing; the same key with a different input fails with `idempotency_conflict`.
 *
 * @example
 * const input = { customerId: 'cus_123', feature: 'ai-generation', quantity: 1, idempotencyKey: 'job-42' };
 * await ledger.trackUsage(input);
 * await ledger.trackUsage(input); // a retry: same result, charged once
 */
export interface Idempotent {
  /** Repeating a write with the same key and payload returns the first result and writes nothing. */
  readonly idempotencyKey?: string;
}

/**
 * Input of `ledger.createCustomer`. `customerId` is yours to choose; `externalId` can link to another
 * system, and `metadata` is stored as given.
 *
 * @example
 * await ledger.createCustomer({ customerId: 'cus_123', externalId: 'acct_42', metadata: { tier: 'pro' } });
 */
export interface CreateCustomerInput extends CustomerRef, Idempotent {
  readonly externalId?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Input of `ledger.subscribe`: the catalog plan to start now. The first cycle's credits are granted
 * at once.
 *
 * @example
 * const { subscriptionId } = await ledger.subscribe({ customerId: 'cus_123', planId: 'pro' });
 */
export interface SubscribeInput extends CustomerRef, Idempotent {
  readonly planId: string;
}

/**
 * Input of `ledger.cancelSubscription`: stop renewals now or at the end of the current cycle, and
 * optionally expire the cycle's unused plan credits.
 *
 * @example
 * await ledger.cancelSubscription({ customerId: 'cus_123', at: 'cycle_end' });
 * await ledger.cancelSubscription({ customerId: 'cus_456', at: 'now', expireCredits: true });
 */
export interface CancelSubscriptionInput extends CustomerRef, Idempotent {
  /** Needed only when the customer has several active subscriptions. */
  readonly subscriptionId?: string;
  /** 'now' (default) or the end of the current cycle. */
  readonly at?: 'now' | 'cycle_end';
  /** Expire the subscription's unused plan credits now instead of at their cycle end. Default false. */
  readonly expireCredits?: boolean;
}

/**
 * Input of `ledger.changePlan`: end the current subscription now (its unused plan credits expire) and
 * start `planId` with a fresh cycle.
 *
 * @example
 * await ledger.changePlan({ customerId: 'cus_123', planId: 'pro' });
 */
export interface ChangePlanInput extends CustomerRef, Idempotent {
  readonly planId: string;
  readonly subscriptionId?: string;
}

/**
 * Input of `ledger.grant`: credit from outside a plan, such as a purchase or a promotion. It may start
 * in the future and may expire.
 *
 * @example
 * await ledger.grant({
 *   customerId: 'cus_123', currency: 'credits', amount: '100', source: 'promotion',
 *   expiresAt: '2025-12-31T23:59:59Z', metadata: { campaign: 'winter' },
 * });
 */
export interface GrantInput extends CustomerRef, Idempotent {
  readonly currency: string;
  readonly amount: string;
  /** Lower is spent first. Default 50. */
  readonly priority?: number;
  /** Default 'manual'. */
  readonly source?: 'top_up' | 'promotion' | 'manual';
  /** Default now; may be in the future, never in the past. */
  readonly effectiveAt?: TimeInput;
  /** Default never. */
  readonly expiresAt?: TimeInput;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Input of `ledger.voidGrant`: take back what is left of a grant, e.g. after a refund or chargeback.
 *
 * @example
 * await ledger.voidGrant({ customerId: 'cus_123', grantId, reason: 'chargeback' });
 */
export interface VoidGrantInput extends CustomerRef, Idempotent {
  readonly grantId: string;
  readonly reason?: string;
}

/**
 * Input of `ledger.trackUsage`: units of a catalog feature used, charged at the catalog cost.
 *
 * @example
 * const usage = { feature: 'ai-generation', quantity: 2, metadata: { jobId: 'job-42' } };
 * await ledger.trackUsage({ customerId: 'cus_123', ...usage });
 */
export interface TrackUsageInput extends CustomerRef, Idempotent {
  readonly feature: string;
  /** A positive finite number; fractions allowed. */
  readonly quantity: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Input of `ledger.reverseUsage`: give back a recorded usage, e.g. when the work it paid for failed.
 *
 * @example
 * await ledger.reverseUsage({ customerId: 'cus_123', usageId, reason: 'job failed' });
 */
export interface ReverseUsageInput extends CustomerRef, Idempotent {
  readonly usageId: string;
  readonly reason?: string;
}

/**
 * Input of `ledger.hold`: reserve the cost of a feature (`feature` and `quantity`) or an amount
 * (`currency` and `amount`) before the work runs, so concurrent work cannot spend it twice.
 *
 * @example
 * const { holdId } = await ledger.hold({ customerId: 'cus_123', feature: 'ai-generation', quantity: 3 });
 * const inAMinute = new Date(Date.now() + 60_000);
 * await ledger.hold({ customerId: 'cus_123', currency: 'credits', amount: '50', expiresAt: inAMinute });
 */
export interface HoldInput extends CustomerRef, Idempotent {
  /** Hold the cost of `quantity` units of `feature`... */
  readonly feature?: string;
  readonly quantity?: number;
  /** ...or an `amount` of `currency`. */
  readonly currency?: string;
  readonly amount?: string;
  /** The hold frees itself at this instant if neither captured nor released. Default never. */
  readonly expiresAt?: TimeInput;
}

/**
 * Input of `ledger.captureHold`: charge for the work a hold covered, by default the held amount.
 *
 * @example
 * await ledger.captureHold({ customerId: 'cus_123', holdId, quantity: 2 }); // held 3 units, used 2
 */
export interface CaptureHoldInput extends CustomerRef, Idempotent {
  readonly holdId: string;
  /** The actual usage (feature holds) or amount; default: the held amount. */
  readonly quantity?: number;
  readonly amount?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Input of `ledger.releaseHold`: free the held credit without charging anything.
 *
 * @example
 * await ledger.releaseHold({ customerId: 'cus_123', holdId });
 */
export interface ReleaseHoldInput extends CustomerRef, Idempotent {
  readonly holdId: string;
}

/**
 * Input of `ledger.setCreditLimit`: allow the balance of a currency to go this far below zero.
 *
 * @example
 * await ledger.setCreditLimit({ customerId: 'cus_123', currency: 'credits', limit: '50' });
 */
export interface SetCreditLimitInput extends CustomerRef, Idempotent {
  readonly currency: string;
  /** How far below zero the balance may go; '0' turns overdraft off. */
  readonly limit: string;
}

/**
 * Input of `ledger.check`: the usage to test against the balance, without recording it.
 *
 * @example
 * const { allowed } = await ledger.check({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
 */
export interface CheckInput extends CustomerRef {
  readonly feature: string;
  readonly quantity: number;
}

/**
 * Input of the reads that are not narrowed to a currency (`creditAccounts`, `holds`, `subscriptions`);
 * `at` answers as of another instant, past or future.
 *
 * @example
 * const lastMonth = await ledger.creditAccounts({ customerId: 'cus_123', at: '2025-01-31T23:59:59Z' });
 */
export interface ReadInput extends CustomerRef {
  /** Answer as of this instant (default now). */
  readonly at?: TimeInput;
}

/**
 * Input of the reads that can be narrowed to one currency (`entries`, `grants`).
 *
 * @example
 * const statement = await ledger.entries({ customerId: 'cus_123', currency: 'credits', at: new Date() });
 */
export interface CurrencyReadInput extends ReadInput {
  /** Default: every currency the customer has an account in. */
  readonly currency?: string;
}
