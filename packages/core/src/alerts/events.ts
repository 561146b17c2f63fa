/**
 * The facts balance alerts record. They sit in the customer's stream beside the money they are about,
 * so an alert is part of the audit and fires exactly once: whether a threshold is crossed is decided
 * on the state the stream folds into, and the decision that crosses it appends the alert with it.
 */

/**
 * One threshold of a balance alert as recorded: an absolute amount of the currency, or a percentage
 * of the credits granted in the current cycle. `key` names it in the alerts it fires.
 *
 * @example
 * const low: AlertThreshold = { key: 'amount:100', amount: '100', percent: null };
 * const fifth: AlertThreshold = { key: 'percent:20', amount: null, percent: 20 };
 */
export interface AlertThreshold {
  readonly key: string;
  readonly amount: string | null;
  readonly percent: number | null;
}

/**
 * Recorded by `setBalanceAlert`: the thresholds watched on one currency from now on (replacing any
 * before), how long before an expiry `credits_expiring` is recorded, and which thresholds the
 * available balance was already below when it was set (they fire only after the balance has risen
 * above them again).
 *
 * @example
 * const event: BalanceAlertSet = { type: 'balance_alert_set', data: {
 *   currency: 'credits', thresholds: [{ key: 'amount:100', amount: '100', percent: null }],
 *   expiringWithinMs: 259_200_000, below: [] } };
 */
export interface BalanceAlertSet {
  readonly type: 'balance_alert_set';
  readonly data: {
    readonly currency: string;
    readonly thresholds: readonly AlertThreshold[];
    /** Null: no notice before expiries. */
    readonly expiringWithinMs: number | null;
    readonly below: readonly string[];
  };
}

/**
 * Recorded when the available balance (balance − held) falls below a threshold it was not below:
 * once per crossing. `amount` is the threshold's value at that moment (a percentage resolved).
 *
 * @example
 * const event: BalanceAlertTriggered = { type: 'balance_alert_triggered', data: {
 *   currency: 'credits', threshold: 'amount:100', amount: '100', available: '90' } };
 */
export interface BalanceAlertTriggered {
  readonly type: 'balance_alert_triggered';
  readonly data: {
    readonly currency: string;
    readonly threshold: string;
    readonly amount: string;
    readonly available: string;
  };
}

/**
 * Recorded when the available balance is back at or above a threshold that fired: the next fall
 * below it fires again.
 *
 * @example
 * const event: BalanceAlertRearmed = { type: 'balance_alert_rearmed', data: {
 *   currency: 'credits', threshold: 'amount:100', amount: '100', available: '600' } };
 */
export interface BalanceAlertRearmed {
  readonly type: 'balance_alert_rearmed';
  readonly data: {
    readonly currency: string;
    readonly threshold: string;
    readonly amount: string;
    readonly available: string;
  };
}

/**
 * Recorded `expiringWithin` before a grant with credit left on it expires (at the instant itself,
 * whether or not anything else happens to the customer): `amount` is what would be lost.
 *
 * @example
 * const event: CreditsExpiring = { type: 'credits_expiring', data: {
 *   grantId: 'grant_01J…', currency: 'credits', amount: '40', expiresAt: '2025-02-28T00:00:00.000Z' } };
 */
export interface CreditsExpiring {
  readonly type: 'credits_expiring';
  readonly data: {
    readonly grantId: string;
    readonly currency: string;
    readonly amount: string;
    readonly expiresAt: string;
  };
}

/**
 * Every fact of balance alerts.
 *
 * @example
 * const isAlert = (event: { type: string }) => event.type === 'balance_alert_triggered';
 */
export type AlertEvent = BalanceAlertSet | BalanceAlertTriggered | BalanceAlertRearmed | CreditsExpiring;
