import type { CreditsDeducted } from '../events.js';

/**
 * Commands as `decide` receives them: already validated for shape (types, ranges, formats) by the
 * ledger's input layer, so deciding only checks the rules that depend on state and catalog.
 *
 * @example
 * const command: Command = { type: 'setCreditLimit', currency: 'credits', limit: '50' };
 * const decided = decide(state, command, context);
 */
export type Command =
  | CreateCustomer
  | Subscribe
  | CancelSubscription
  | ChangePlan
  | Grant
  | VoidGrant
  | TrackUsage
  | ReverseUsage
  | Hold
  | CaptureHold
  | ReleaseHold
  | SetCreditLimit;

/**
 * The command behind `ledger.createCustomer`, defaults filled in. Refused if the customer exists.
 *
 * @example
 * const command: CreateCustomer = {
 *   type: 'createCustomer', customerId: 'cus_123', externalId: null, metadata: {},
 * };
 */
export interface CreateCustomer {
  readonly type: 'createCustomer';
  readonly customerId: string;
  readonly externalId: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The command behind `ledger.subscribe`: activates a plan now and grants its first cycle's credits.
 *
 * @example
 * const command: Subscribe = { type: 'subscribe', planId: 'pro' };
 */
export interface Subscribe {
  readonly type: 'subscribe';
  readonly planId: string;
}

/**
 * The command behind `ledger.cancelSubscription`; a null `subscriptionId` means the customer's only
 * active subscription.
 *
 * @example
 * const command: CancelSubscription = {
 *   type: 'cancelSubscription', subscriptionId: null, at: 'cycle_end', expireCredits: false,
 * };
 */
export interface CancelSubscription {
  readonly type: 'cancelSubscription';
  readonly subscriptionId: string | null;
  readonly at: 'now' | 'cycle_end';
  readonly expireCredits: boolean;
}

/**
 * The command behind `ledger.changePlan`: cancels the current subscription now, expiring its plan
 * credits, and activates `planId`.
 *
 * @example
 * const command: ChangePlan = { type: 'changePlan', planId: 'pro', subscriptionId: null };
 */
export interface ChangePlan {
  readonly type: 'changePlan';
  readonly planId: string;
  readonly subscriptionId: string | null;
}

/**
 * The command behind `ledger.grant`, defaults filled in and times in epoch milliseconds (null: now for
 * `effectiveAtMs`, never for `expiresAtMs`).
 *
 * @example
 * const command: Grant = {
 *   type: 'grant', currency: 'credits', amount: '500', priority: 50, source: 'top_up',
 *   effectiveAtMs: null, expiresAtMs: null, metadata: {},
 * };
 */
export interface Grant {
  readonly type: 'grant';
  readonly currency: string;
  readonly amount: string;
  readonly priority: number;
  readonly source: 'top_up' | 'promotion' | 'manual';
  readonly effectiveAtMs: number | null;
  readonly expiresAtMs: number | null;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The command behind `ledger.voidGrant`: takes back what is left of a grant.
 *
 * @example
 * const command: VoidGrant = { type: 'voidGrant', grantId, reason: 'chargeback' };
 */
export interface VoidGrant {
  readonly type: 'voidGrant';
  readonly grantId: string;
  readonly reason: string;
}

/**
 * The command behind `ledger.trackUsage`: deducts the catalog cost of `quantity` units of `feature`.
 *
 * @example
 * const command: TrackUsage = { type: 'trackUsage', feature: 'ai-generation', quantity: 1, metadata: {} };
 */
export interface TrackUsage {
  readonly type: 'trackUsage';
  readonly feature: string;
  readonly quantity: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The command behind `ledger.reverseUsage`. The ledger finds the deduction in the stream and passes it
 * in `usage`, so deciding needs no store.
 *
 * @example
 * const command: ReverseUsage = {
 *   type: 'reverseUsage', usageId: deducted.data.usageId, reason: 'job failed', usage: deducted.data,
 * };
 */
export interface ReverseUsage {
  readonly type: 'reverseUsage';
  readonly usageId: string;
  readonly reason: string;
  /** The deduction being reversed, looked up in the stream by the caller (null if there is none). */
  readonly usage: CreditsDeducted['data'] | null;
}

/**
 * The command behind `ledger.hold`: reserves the cost of a feature, or an amount of a currency.
 *
 * @example
 * const command: Hold = {
 *   type: 'hold', feature: 'ai-generation', quantity: 3, currency: null, amount: null, expiresAtMs: null,
 * };
 */
export interface Hold {
  readonly type: 'hold';
  /** Either a feature and quantity (cost from the catalog) or a currency and amount. */
  readonly feature: string | null;
  readonly quantity: number | null;
  readonly currency: string | null;
  readonly amount: string | null;
  readonly expiresAtMs: number | null;
}

/**
 * The command behind `ledger.captureHold`: ends the hold and deducts the actual cost.
 *
 * @example
 * const command: CaptureHold = { type: 'captureHold', holdId, quantity: 2, amount: null, metadata: {} };
 */
export interface CaptureHold {
  readonly type: 'captureHold';
  readonly holdId: string;
  /** What to charge; both null charges the held amount. */
  readonly quantity: number | null;
  readonly amount: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The command behind `ledger.releaseHold`: frees the held credit without charging it.
 *
 * @example
 * const command: ReleaseHold = { type: 'releaseHold', holdId };
 */
export interface ReleaseHold {
  readonly type: 'releaseHold';
  readonly holdId: string;
}

/**
 * The command behind `ledger.setCreditLimit`: how far below zero the balance of a currency may go.
 *
 * @example
 * const command: SetCreditLimit = { type: 'setCreditLimit', currency: 'credits', limit: '50' };
 */
export interface SetCreditLimit {
  readonly type: 'setCreditLimit';
  readonly currency: string;
  readonly limit: string;
}
