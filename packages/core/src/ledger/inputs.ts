import type { InputOf } from '../decide/command.js';
import type { Commands } from '../decide/commands.js';

/**
 * The inputs of the ledger's write methods, each made from its command's schema (see `commands`), so
 * the type a caller writes against is exactly what the ledger validates. Amounts are decimal strings;
 * times are `Date`s or ISO-8601 strings with an offset; every write takes an optional `idempotencyKey`.
 */

/**
 * Input of `ledger.createCustomer`. `customerId` is yours to choose; `externalId` can link to another
 * system, and `metadata` is stored as given.
 *
 * @example
 * await ledger.createCustomer({ customerId: 'cus_123', externalId: 'acct_42', metadata: { tier: 'pro' } });
 */
export type CreateCustomerInput = InputOf<Commands['createCustomer']>;

/**
 * Input of `ledger.subscribe`: the catalog plan to start now. The first cycle's credits are granted
 * at once.
 *
 * @example
 * const { subscriptionId } = await ledger.subscribe({ customerId: 'cus_123', planId: 'pro' });
 */
export type SubscribeInput = InputOf<Commands['subscribe']>;

/**
 * Input of `ledger.cancelSubscription`: stop renewals now or at the end of the current cycle, and
 * optionally expire the cycle's unused plan credits.
 *
 * @example
 * await ledger.cancelSubscription({ customerId: 'cus_123', at: 'cycle_end' });
 * await ledger.cancelSubscription({ customerId: 'cus_456', at: 'now', expireCredits: true });
 */
export type CancelSubscriptionInput = InputOf<Commands['cancelSubscription']>;

/**
 * Input of `ledger.changePlan`: end the current subscription now (its unused plan credits expire) and
 * start `planId` with a fresh cycle.
 *
 * @example
 * await ledger.changePlan({ customerId: 'cus_123', planId: 'pro' });
 */
export type ChangePlanInput = InputOf<Commands['changePlan']>;

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
export type GrantInput = InputOf<Commands['grant']>;

/**
 * Input of `ledger.voidGrant`: take back what is left of a grant, e.g. after a refund or chargeback.
 *
 * @example
 * await ledger.voidGrant({ customerId: 'cus_123', grantId, reason: 'chargeback' });
 */
export type VoidGrantInput = InputOf<Commands['voidGrant']>;

/**
 * Input of `ledger.trackUsage`: units of a catalog feature used, charged at the catalog cost.
 *
 * @example
 * const usage = { feature: 'ai-generation', quantity: 2, metadata: { jobId: 'job-42' } };
 * await ledger.trackUsage({ customerId: 'cus_123', ...usage });
 */
export type TrackUsageInput = InputOf<Commands['trackUsage']>;

/**
 * Input of `ledger.reverseUsage`: give back a recorded usage, e.g. when the work it paid for failed.
 *
 * @example
 * await ledger.reverseUsage({ customerId: 'cus_123', usageId, reason: 'job failed' });
 */
export type ReverseUsageInput = InputOf<Commands['reverseUsage']>;

/**
 * Input of `ledger.hold`: reserve the cost of a feature (`feature` and `quantity`) or an amount
 * (`currency` and `amount`) before the work runs, so concurrent work cannot spend it twice.
 *
 * @example
 * const { holdId } = await ledger.hold({ customerId: 'cus_123', feature: 'ai-generation', quantity: 3 });
 * const inAMinute = new Date(Date.now() + 60_000);
 * await ledger.hold({ customerId: 'cus_123', currency: 'credits', amount: '50', expiresAt: inAMinute });
 */
export type HoldInput = InputOf<Commands['hold']>;

/**
 * Input of `ledger.captureHold`: charge for the work a hold covered, by default the held amount.
 *
 * @example
 * await ledger.captureHold({ customerId: 'cus_123', holdId, quantity: 2 }); // held 3 units, used 2
 */
export type CaptureHoldInput = InputOf<Commands['captureHold']>;

/**
 * Input of `ledger.releaseHold`: free the held credit without charging anything.
 *
 * @example
 * await ledger.releaseHold({ customerId: 'cus_123', holdId });
 */
export type ReleaseHoldInput = InputOf<Commands['releaseHold']>;

/**
 * Input of `ledger.setCreditLimit`: allow the balance of a currency to go this far below zero.
 *
 * @example
 * await ledger.setCreditLimit({ customerId: 'cus_123', currency: 'credits', limit: '50' });
 */
export type SetCreditLimitInput = InputOf<Commands['setCreditLimit']>;
