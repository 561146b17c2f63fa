import { evaluateAlerts, setBalanceAlert } from './alerts.js';
import { completeAutoTopUp, failAutoTopUp, setAutoTopUp } from './auto-top-up.js';
import type { CommandOf } from './command.js';
import { createCustomer, setCreditLimit } from './customer.js';
import { grant, voidGrant } from './grant.js';
import { captureHold, hold, releaseHold } from './hold.js';
import { cancelSubscription, changePlan, confirmPayment, subscribe } from './subscription.js';
import { reverseUsage, trackUsage } from './usage.js';

/**
 * Every command the ledger takes, by the name of its method. The `Ledger`'s write methods, their input
 * and result types, the writer's dispatch and the HTTP bodies are all made from this list; the doc
 * comment of each entry is its method's.
 *
 * @example
 * const { input } = commands.trackUsage; // the zod schema ledger.trackUsage validates with
 */
export const commands = {
  /**
   * Creates a customer, the owner of one credit account per currency. Refused with `customer_exists`
   * if the id is taken.
   *
   * @example await ledger.createCustomer({ customerId: 'cus_123' })
   */
  createCustomer,
  /**
   * Activates a plan and grants its credits for the first cycle; every cycle boundary grants again.
   * Refused with `unknown_plan`, or `already_subscribed` if the plan already runs for the customer.
   *
   * @example await ledger.subscribe({ customerId: 'cus_123', planId: 'free' })
   */
  subscribe,
  /**
   * Stops a subscription's renewals, now or at the end of the current cycle. Refused with
   * `unknown_subscription` or `subscription_inactive`.
   *
   * @example await ledger.cancelSubscription({ customerId: 'cus_123', at: 'cycle_end' })
   */
  cancelSubscription,
  /**
   * Ends the current subscription now (its unused cycle credits expire) and activates another plan.
   *
   * @example await ledger.changePlan({ customerId: 'cus_123', planId: 'pro' })
   */
  changePlan,
  /**
   * Records that the host's billing was paid for a paid subscription: the first payment starts it, a
   * later one pays a `past_due` cycle; either way the cycle's credits are granted. A `paymentId` seen
   * before is recorded once. Refused with `unknown_subscription`, `payment_not_due`, `invalid_amount`
   * (not the price).
   *
   * @example await ledger.confirmPayment({ customerId: 'cus_123', subscriptionId, paymentId: 'in_42', amount: { amount: '20.00', currency: 'USD' } })
   */
  confirmPayment,
  /**
   * Adds credit from outside a plan: a top-up, a promotion, a manual grant, or purchased credits
   * (`source: 'purchase'` with `price` and `paymentId`). `appliesTo` restricts it to some features.
   * Refused with `unknown_currency`, `unknown_feature`, `invalid_amount` or `invalid_time`.
   *
   * @example await ledger.grant({ customerId: 'cus_123', currency: 'credits', amount: '500', source: 'top_up' })
   */
  grant,
  /**
   * Takes back what is left of a grant (`refund: true` records purchased credits' refund). Refused with
   * `unknown_grant`, or `grant_not_active` if it has expired or was voided.
   *
   * @example await ledger.voidGrant({ customerId: 'cus_123', grantId, reason: 'chargeback' })
   */
  voidGrant,
  /**
   * Charges a feature's usage to the customer's grants in consumption order. Refused whole with
   * `insufficient_credits` when the account cannot cover it; `unknown_feature`, `invalid_quantity`.
   *
   * @example await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })
   */
  trackUsage,
  /**
   * Gives a usage back to the grants it came from (a grant that has ended since forfeits its share).
   * Refused with `unknown_usage` or `usage_already_reversed`.
   *
   * @example await ledger.reverseUsage({ customerId: 'cus_123', usageId, reason: 'failed job' })
   */
  reverseUsage,
  /**
   * Reserves the cost of a feature, or an amount, before the work runs. Refused like a usage with
   * `insufficient_credits`.
   *
   * @example const { holdId } = await ledger.hold({ customerId: 'cus_123', feature: 'ai-generation', quantity: 3 })
   */
  hold,
  /**
   * Ends a hold and charges the actual cost. Refused with `unknown_hold`, `hold_not_active` or
   * `insufficient_credits`.
   *
   * @example await ledger.captureHold({ customerId: 'cus_123', holdId, quantity: 2 })
   */
  captureHold,
  /**
   * Frees a hold without charging it. Refused with `unknown_hold` or `hold_not_active`.
   *
   * @example await ledger.releaseHold({ customerId: 'cus_123', holdId })
   */
  releaseHold,
  /**
   * Lets the balance of a currency go down to minus `limit` (overdraft).
   *
   * @example await ledger.setCreditLimit({ customerId: 'cus_123', currency: 'credits', limit: '50' })
   */
  setCreditLimit,
  /**
   * Watches the available balance of a currency: each threshold (an amount, or `{ percent }` of the
   * credit granted in the current cycle) records `balance_alert_triggered` once when the balance falls
   * below it, and re-arms when it is back at or above; `expiringWithin` records `credits_expiring` that
   * long before a grant with credit left expires. Replaces the currency's alert; `thresholds: []`
   * without `expiringWithin` removes it. Refused with `unknown_currency`, `invalid_amount`,
   * `invalid_input`.
   *
   * @example await ledger.setBalanceAlert({ customerId: 'cus_123', currency: 'credits', thresholds: ['100', { percent: 20 }], expiringWithin: '3d' })
   */
  setBalanceAlert,
  /**
   * Stores what time has made due for the customer (expiries, renewals, the alerts and notices they
   * cause) though nothing else is written, and answers its alerts: what a feed handler or scheduler
   * calls when a customer's next instant has come.
   *
   * @example const { alerts } = await ledger.evaluateAlerts({ customerId: 'cus_123' })
   */
  evaluateAlerts,
  /**
   * Buys credit when the available balance falls below `threshold`: `amount` (as many times over as
   * the deficit needs, in one purchase) or enough to reach `target`. The request is recorded first
   * (`auto_top_up_requested`, at most one in flight) with an idempotency key derived from the event
   * that crossed; `runAutoTopUps` then calls the host's purchase. `maxPerPeriod` and `cooldown` hold
   * requests back; after `maxFailures` failures the rule pauses. Refused with `unknown_currency`,
   * `invalid_amount`, `invalid_input`.
   *
   * @example await ledger.setAutoTopUp({ customerId: 'cus_123', currency: 'credits', threshold: '100', amount: '500', maxPerPeriod: { count: 3, period: '1d' } })
   */
  setAutoTopUp,
  /**
   * Records a requested top-up's purchase: grants its credits (source `purchase`, with `price` and
   * `paymentId`) and ends the request. A payment recorded before writes nothing. Refused with
   * `invalid_input` (no rule, or the request is not in flight).
   *
   * @example await ledger.completeAutoTopUp({ customerId: 'cus_123', currency: 'credits', requestId, paymentId: 'pi_42', price: { amount: '5.00', currency: 'USD' } })
   */
  completeAutoTopUp,
  /**
   * Records that a requested top-up's purchase failed: retried after a doubling backoff with the same
   * idempotency key, and the rule paused after `maxFailures`. Refused with `invalid_input`.
   *
   * @example await ledger.failAutoTopUp({ customerId: 'cus_123', currency: 'credits', requestId, error: 'card declined' })
   */
  failAutoTopUp,
};

/**
 * The commands, by name: see `commands`.
 *
 * @example
 * type TrackUsage = Commands['trackUsage'];
 */
export type Commands = typeof commands;

/**
 * The name of a command, which is also its ledger method's.
 *
 * @example
 * const name: CommandName = 'trackUsage';
 */
export type CommandName = keyof Commands;

/**
 * Commands as `decide` receives them: validated input (defaults not filled, times in epoch
 * milliseconds), tagged with the command's name.
 *
 * @example
 * const command: Command = { type: 'setCreditLimit', customerId: 'cus_123', currency: 'credits', limit: '50' };
 * const decided = decide(state, command, context);
 */
export type Command = {
  [K in CommandName]: { readonly type: K } & CommandOf<Commands[K]['input']>;
}[CommandName];
