import { z } from 'zod';
import type { AlertThreshold } from '../alerts/events.js';
import type { AlertRuleState } from '../alerts/state.js';
import { availableOf, thresholdMinor, thresholdsBelow } from '../alerts/watch.js';
import { TallyError } from '../errors.js';
import { duration } from '../input/duration.js';
import * as field from '../input/fields.js';
import { formatAmount, quote } from '../money.js';
import type { AccountState, CustomerState } from '../state.js';
import { type AutoTopUpView, topUpView } from './auto-top-up.js';
import { defineCommand, writeInput } from './command.js';
import { amountIn, currencyOf, type DecideContext, emptyAccount, requireCustomer } from './context.js';

/**
 * A balance alert as `setBalanceAlert` and `evaluateAlerts` return it: each threshold with its value
 * now and whether it has fired (the available balance is below it and it has not re-armed).
 *
 * @example
 * const alert = await ledger.setBalanceAlert({ customerId: 'cus_123', currency: 'credits', thresholds: ['100'] });
 * const firing = alert?.thresholds.filter((t) => t.firing).map((t) => t.threshold) ?? [];
 */
export interface BalanceAlertView {
  readonly currency: string;
  readonly available: string;
  readonly thresholds: readonly {
    readonly threshold: string;
    readonly amount: string | null;
    readonly percent: number | null;
    /** The threshold's value now (a percentage of the credit granted in the cycle, resolved). */
    readonly value: string;
    readonly firing: boolean;
  }[];
  /** How long before an expiry `credits_expiring` is recorded, in milliseconds; null: never. */
  readonly expiringWithinMs: number | null;
}

/**
 * What `evaluateAlerts` answers: the customer's alerts and auto top-up rules once what fell due is
 * stored, with any top-up request in flight.
 *
 * @example
 * const { alerts, autoTopUps } = await ledger.evaluateAlerts({ customerId: 'cus_123' });
 */
export interface Evaluated {
  readonly alerts: readonly BalanceAlertView[];
  readonly autoTopUps: readonly AutoTopUpView[];
}

/** A percentage of the credit granted in the cycle, at most two places. */
const percent = field.registerRefusal(
  z
    .number()
    .positive()
    .max(100)
    .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-9),
  {
    code: 'invalid_amount',
    message: (name, value) =>
      `${name} must be a percentage above 0 and at most 100, with at most two places; got ${quote(value)}`,
  },
);

/** An absolute amount (`'100'`) or a percentage of the cycle's credit (`{ percent: 20 }`). */
const threshold = field.registerRefusal(z.union([field.amount, z.strictObject({ percent })]), {
  code: 'invalid_amount',
  message: (name, value) => `${name} must be an amount such as "100" or { percent: 20 }, got ${quote(value)}`,
});

const MAX_THRESHOLDS = 20;

/**
 * Watches the available balance (balance − held) of one currency: each threshold fires
 * `balance_alert_triggered` once when the balance falls below it and re-arms (`balance_alert_rearmed`)
 * when it is back at or above; with `expiringWithin`, `credits_expiring` is recorded that long before a
 * grant with credit left expires. Replaces the alert set before on the currency; no thresholds and no
 * `expiringWithin` removes it. Thresholds the balance is already below when set do not fire until
 * the balance has risen above them.
 */
export const setBalanceAlert = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    thresholds: field.registerRefusal(z.array(threshold).max(MAX_THRESHOLDS), {
      code: 'invalid_input',
      message: (name) => `${name} must be a list of at most ${MAX_THRESHOLDS} thresholds`,
    }),
    /** A span (`'3d'`) or milliseconds; default no notice before expiries. */
    expiringWithin: duration.nullish(),
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const currency = currencyOf(context.catalog, command.currency);
    const thresholds: AlertThreshold[] = [];
    command.thresholds.forEach((given, i) => {
      const made: AlertThreshold =
        typeof given === 'string'
          ? {
              key: '',
              amount: formatAmount(amountIn(currency, given, `thresholds[${i}]`), currency.decimals),
              percent: null,
            }
          : { key: '', amount: null, percent: given.percent };
      const key = made.amount !== null ? `amount:${made.amount}` : `percent:${made.percent}`;
      if (thresholds.some((t) => t.key === key)) {
        throw new TallyError('invalid_input', `thresholds[${i}] repeats ${key}`, {
          field: `thresholds[${i}]`,
        });
      }
      thresholds.push({ ...made, key });
    });
    const account = recorder.state.accounts.get(currency.code) ?? emptyAccount(currency);
    recorder.record({
      type: 'balance_alert_set',
      data: {
        currency: currency.code,
        thresholds,
        expiringWithinMs: command.expiringWithin ?? null,
        below: thresholdsBelow({ thresholds }, account, availableOf(account, context.nowMs)),
      },
    });
    return currency.code;
  },
  result: (state, currency, context): BalanceAlertView | null => alertView(state, currency, context),
});

/**
 * Stores what time has made due for the customer (expiries, renewals, and the alerts and notices
 * they cause) even when nothing else is written, and answers the customer's alerts. What a feed
 * handler or a scheduler calls for a customer whose next instant has come.
 */
export const evaluateAlerts = defineCommand({
  input: writeInput({}),
  storesDue: true,
  decide(recorder) {
    requireCustomer(recorder.state);
    return null;
  },
  result: (state, _outcome, context): Evaluated => ({
    alerts: [...state.alerts.keys()].sort().map((currency) => alertView(state, currency, context)!),
    autoTopUps: [...state.autoTopUps.keys()].sort().map((currency) => topUpView(state, currency, context)),
  }),
});

/** The alert on `currency` as of the decision's instant; null when none is set (it was removed). */
export function alertView(
  state: CustomerState,
  currency: string,
  context: DecideContext,
): BalanceAlertView | null {
  const rule: AlertRuleState | undefined = state.alerts.get(currency);
  if (rule === undefined) return null;
  const account: AccountState | undefined = state.accounts.get(currency);
  const decimals = account?.decimals ?? context.catalog.currencies.get(currency)?.decimals ?? 0;
  const available = account === undefined ? 0n : availableOf(account, context.nowMs);
  return {
    currency,
    available: formatAmount(available, decimals),
    thresholds: rule.thresholds.map((t) => ({
      threshold: t.key,
      amount: t.amount,
      percent: t.percent,
      value: formatAmount(account === undefined ? 0n : thresholdMinor(t, account), decimals),
      firing: rule.below.has(t.key),
    })),
    expiringWithinMs: rule.expiringWithinMs,
  };
}
