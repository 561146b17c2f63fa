import type { TimeInput } from '../time.js';

/** Inputs of the ledger's methods. Amounts are decimal strings; times are `Date`s or ISO-8601 strings. */

export interface CustomerRef {
  readonly customerId: string;
}

export interface Idempotent {
  /** Repeating a write with the same key and payload returns the first result and writes nothing. */
  readonly idempotencyKey?: string;
}

export interface CreateCustomerInput extends CustomerRef, Idempotent {
  readonly externalId?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface SubscribeInput extends CustomerRef, Idempotent {
  readonly planId: string;
}

export interface CancelSubscriptionInput extends CustomerRef, Idempotent {
  /** Needed only when the customer has several active subscriptions. */
  readonly subscriptionId?: string;
  /** 'now' (default) or the end of the current cycle. */
  readonly at?: 'now' | 'cycle_end';
  /** Expire the subscription's unused plan credits now instead of at their cycle end. Default false. */
  readonly expireCredits?: boolean;
}

export interface ChangePlanInput extends CustomerRef, Idempotent {
  readonly planId: string;
  readonly subscriptionId?: string;
}

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

export interface VoidGrantInput extends CustomerRef, Idempotent {
  readonly grantId: string;
  readonly reason?: string;
}

export interface TrackUsageInput extends CustomerRef, Idempotent {
  readonly feature: string;
  /** A positive finite number; fractions allowed. */
  readonly quantity: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface ReverseUsageInput extends CustomerRef, Idempotent {
  readonly usageId: string;
  readonly reason?: string;
}

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

export interface CaptureHoldInput extends CustomerRef, Idempotent {
  readonly holdId: string;
  /** The actual usage (feature holds) or amount; default: the held amount. */
  readonly quantity?: number;
  readonly amount?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface ReleaseHoldInput extends CustomerRef, Idempotent {
  readonly holdId: string;
}

export interface SetCreditLimitInput extends CustomerRef, Idempotent {
  readonly currency: string;
  /** How far below zero the balance may go; '0' turns overdraft off. */
  readonly limit: string;
}

export interface CheckInput extends CustomerRef {
  readonly feature: string;
  readonly quantity: number;
}

export interface ReadInput extends CustomerRef {
  /** Answer as of this instant (default now). */
  readonly at?: TimeInput;
}

export interface CurrencyReadInput extends ReadInput {
  /** Default: every currency the customer has an account in. */
  readonly currency?: string;
}
