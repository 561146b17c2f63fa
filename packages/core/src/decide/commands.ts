import type { CreditsDeducted } from '../events.js';

/**
 * Commands as `decide` receives them: already validated for shape (types, ranges, formats) by the
 * ledger's input layer, so deciding only checks the rules that depend on state and catalog.
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

export interface CreateCustomer {
  readonly type: 'createCustomer';
  readonly customerId: string;
  readonly externalId: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface Subscribe {
  readonly type: 'subscribe';
  readonly planId: string;
}

export interface CancelSubscription {
  readonly type: 'cancelSubscription';
  readonly subscriptionId: string | null;
  readonly at: 'now' | 'cycle_end';
  readonly expireCredits: boolean;
}

export interface ChangePlan {
  readonly type: 'changePlan';
  readonly planId: string;
  readonly subscriptionId: string | null;
}

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

export interface VoidGrant {
  readonly type: 'voidGrant';
  readonly grantId: string;
  readonly reason: string;
}

export interface TrackUsage {
  readonly type: 'trackUsage';
  readonly feature: string;
  readonly quantity: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ReverseUsage {
  readonly type: 'reverseUsage';
  readonly usageId: string;
  readonly reason: string;
  /** The deduction being reversed, looked up in the stream by the caller (null if there is none). */
  readonly usage: CreditsDeducted['data'] | null;
}

export interface Hold {
  readonly type: 'hold';
  /** Either a feature and quantity (cost from the catalog) or a currency and amount. */
  readonly feature: string | null;
  readonly quantity: number | null;
  readonly currency: string | null;
  readonly amount: string | null;
  readonly expiresAtMs: number | null;
}

export interface CaptureHold {
  readonly type: 'captureHold';
  readonly holdId: string;
  /** What to charge; both null charges the held amount. */
  readonly quantity: number | null;
  readonly amount: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ReleaseHold {
  readonly type: 'releaseHold';
  readonly holdId: string;
}

export interface SetCreditLimit {
  readonly type: 'setCreditLimit';
  readonly currency: string;
  readonly limit: string;
}
