import { z } from 'zod';
import { availableOf } from '../alerts/watch.js';
import type { AutoTopUpState } from '../auto-top-up/state.js';
import { TallyError } from '../errors.js';
import { duration } from '../input/duration.js';
import * as field from '../input/fields.js';
import { formatAmount, quote } from '../money.js';
import type { CustomerState } from '../state.js';
import { iso } from '../time.js';
import { defineCommand, writeInput } from './command.js';
import { amountIn, currencyOf, type DecideContext, requireCustomer } from './context.js';
import { settleAll } from './settle.js';

/**
 * An auto top-up rule as its commands return it, with the request in flight (if any) and whether it
 * may be tried now.
 *
 * @example
 * const rule = await ledger.setAutoTopUp({ customerId: 'cus_123', currency: 'credits', threshold: '100', amount: '500' });
 * if (rule.pending?.due) console.log(`buy ${rule.pending.amount} with key ${rule.pending.idempotencyKey}`);
 */
export interface AutoTopUpView {
  readonly currency: string;
  readonly threshold: string;
  readonly amount: string | null;
  readonly target: string | null;
  readonly paused: boolean;
  readonly available: string;
  readonly pending: {
    readonly requestId: string;
    readonly idempotencyKey: string;
    readonly amount: string;
    readonly requestedAt: string;
    readonly attempts: number;
    readonly retryAt: string | null;
    /** Whether a retry may be made now (not waiting out a backoff). */
    readonly due: boolean;
  } | null;
}

const DEFAULT_MAX_FAILURES = 3;
const DEFAULT_RETRY_BACKOFF_MS = 60_000;

const cap = z.strictObject({
  /** Requests per period. */
  count: field
    .registerRefusal(z.number().int().min(1).max(1_000_000), {
      code: 'invalid_input',
      message: (name, value) => `${name} must be a whole number from 1 to 1,000,000, got ${quote(value)}`,
    })
    .optional(),
  /** Credits per period. */
  amount: field.positiveAmount.optional(),
  period: duration,
});

const failures = field.registerRefusal(z.number().int().min(1).max(100), {
  code: 'invalid_input',
  message: (name, value) => `${name} must be a whole number from 1 to 100, got ${quote(value)}`,
});

/**
 * A rule per customer and currency: when the available balance falls below `threshold`, buy
 * `amount` (as many times over as the deficit needs, in one purchase) or enough to reach `target`,
 * through the host's purchase function (see `runAutoTopUps`). At most one purchase is in flight;
 * `maxPerPeriod` caps requests and credits per period, `cooldown` spaces them; after `maxFailures`
 * failures of one request the rule pauses. Setting it again replaces it and keeps what is in flight;
 * `paused: true` stops it.
 */
export const setAutoTopUp = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    threshold: field.amount,
    /** The increment bought; give this or `target`. */
    amount: field.positiveAmount.optional(),
    /** The available balance a purchase brings the account to; give this or `amount`. */
    target: field.positiveAmount.optional(),
    maxPerPeriod: cap.optional(),
    /** Least time between two requests, a span (`'1h'`) or milliseconds. */
    cooldown: duration.optional(),
    /** Default false. */
    paused: field.flag.optional(),
    /** Failures of one request after which the rule pauses; default 3. */
    maxFailures: failures.optional(),
    /** Wait after a first failure, doubled after each next one; default one minute. */
    retryBackoff: duration.optional(),
  }).superRefine((input, ctx) => {
    if ((input.amount === undefined) === (input.target === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [input.amount === undefined ? 'amount' : 'target'],
        message: 'give exactly one of amount and target',
        params: { tallyCode: 'invalid_input' } satisfies field.CustomRefusal,
      });
    }
    if (
      input.maxPerPeriod !== undefined &&
      input.maxPerPeriod.count === undefined &&
      input.maxPerPeriod.amount === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxPerPeriod'],
        message: 'needs a count, an amount or both',
        params: { tallyCode: 'invalid_input' } satisfies field.CustomRefusal,
      });
    }
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const currency = currencyOf(context.catalog, command.currency);
    const d = currency.decimals;
    const threshold = amountIn(currency, command.threshold, 'threshold');
    const amount = command.amount === undefined ? null : amountIn(currency, command.amount, 'amount');
    const target = command.target === undefined ? null : amountIn(currency, command.target, 'target');
    if (target !== null && target <= threshold) {
      throw new TallyError(
        'invalid_amount',
        `target ${command.target} must be above the threshold ${command.threshold}`,
        {
          field: 'target',
        },
      );
    }
    const limit = command.maxPerPeriod;
    recorder.record({
      type: 'auto_top_up_set',
      data: {
        currency: currency.code,
        threshold: formatAmount(threshold, d),
        amount: amount === null ? null : formatAmount(amount, d),
        target: target === null ? null : formatAmount(target, d),
        maxPerPeriod:
          limit === undefined
            ? null
            : {
                count: limit.count ?? null,
                amount:
                  limit.amount === undefined
                    ? null
                    : formatAmount(amountIn(currency, limit.amount, 'maxPerPeriod.amount'), d),
                periodMs: limit.period,
              },
        cooldownMs: command.cooldown ?? 0,
        maxFailures: command.maxFailures ?? DEFAULT_MAX_FAILURES,
        retryBackoffMs: command.retryBackoff ?? DEFAULT_RETRY_BACKOFF_MS,
        paused: command.paused ?? false,
      },
    });
    return currency.code;
  },
  result: (state, currency, context): AutoTopUpView => topUpView(state, currency, context),
});

/** The rule on `currency` and the request the command names, in flight; or the refusal. */
function inFlight(state: CustomerState, currency: string, requestId: string): AutoTopUpState {
  const rule = state.autoTopUps.get(currency);
  if (rule === undefined) {
    throw new TallyError('invalid_input', `no auto top-up is set on ${quote(currency)}`, {
      field: 'currency',
    });
  }
  if (rule.pending?.requestId !== requestId) {
    throw new TallyError('invalid_input', `top-up ${quote(requestId)} is not in flight`, {
      field: 'requestId',
    });
  }
  return rule;
}

/**
 * Records that the host's purchase for a requested top-up went through: grants its credits (source
 * `purchase`, with the price and the payment id) and ends the request. A payment recorded before
 * answers without recording anything, so a second process finishing the same request is harmless.
 */
export const completeAutoTopUp = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    requestId: field.id('invalid_input'),
    /** The host's id of the payment: a payment seen before is recorded once. */
    paymentId: field.id(),
    /** What the customer paid (money, not credits). */
    price: field.money,
  }),
  decide(recorder, command, context) {
    const { state } = recorder;
    requireCustomer(state);
    const currency = currencyOf(context.catalog, command.currency);
    if (state.payments.has(command.paymentId)) return currency.code; // recorded already
    const rule = inFlight(state, currency.code, command.requestId);
    const pending = rule.pending!;
    const grantId = context.newId('grant');
    recorder.record({
      type: 'credits_granted',
      data: {
        grantId,
        currency: currency.code,
        amount: pending.amount,
        priority: field.DEFAULT_PRIORITY,
        source: 'purchase',
        effectiveAt: context.now,
        expiresAt: null,
        subscriptionId: null,
        cycle: null,
        ruleIndex: null,
        metadata: { autoTopUp: pending.requestId },
        appliesTo: null,
        price: command.price,
        paymentId: command.paymentId,
      },
    });
    recorder.record({
      type: 'auto_top_up_completed',
      data: {
        requestId: pending.requestId,
        currency: currency.code,
        grantId,
        paymentId: command.paymentId,
        amount: pending.amount,
        price: command.price,
      },
    });
    settleAll(recorder, context);
    return currency.code;
  },
  result: (state, currency, context): AutoTopUpView => topUpView(state, currency, context),
});

/**
 * Records that the host's purchase for a requested top-up failed: it is retried after a backoff that
 * doubles each time, with the same idempotency key; at the rule's `maxFailures` the request is dropped
 * and the rule paused until it is set again.
 */
export const failAutoTopUp = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    requestId: field.id('invalid_input'),
    /** Why, as the host tells it. */
    error: field.text,
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const currency = currencyOf(context.catalog, command.currency);
    const rule = inFlight(recorder.state, currency.code, command.requestId);
    const attempt = rule.pending!.attempts + 1;
    const paused = attempt >= rule.maxFailures;
    recorder.record({
      type: 'auto_top_up_failed',
      data: {
        requestId: command.requestId,
        currency: currency.code,
        attempt,
        error: command.error,
        retryAt: paused ? null : iso(context.nowMs + rule.retryBackoffMs * 2 ** (attempt - 1)),
        paused,
      },
    });
    return currency.code;
  },
  result: (state, currency, context): AutoTopUpView => topUpView(state, currency, context),
});

/** The rule on `currency` as of the decision's instant. */
export function topUpView(state: CustomerState, currency: string, context: DecideContext): AutoTopUpView {
  const rule = state.autoTopUps.get(currency)!;
  const account = state.accounts.get(currency);
  const decimals = account?.decimals ?? context.catalog.currencies.get(currency)?.decimals ?? 0;
  const pending = rule.pending;
  return {
    currency,
    threshold: rule.threshold,
    amount: rule.amount,
    target: rule.target,
    paused: rule.paused,
    available: formatAmount(account === undefined ? 0n : availableOf(account, context.nowMs), decimals),
    pending:
      pending === null
        ? null
        : { ...pending, due: pending.retryAt === null || Date.parse(pending.retryAt) <= context.nowMs },
  };
}
