import type { z } from 'zod';
import { TallyError, type TallyErrorCode } from '../errors.js';
import * as field from '../input/fields.js';
import { formatAmount, quote } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { CustomerState, HoldState } from '../state.js';
import { iso } from '../time.js';
import { accountFigures, accountView, type CreditAccount, type HoldView, holdView } from '../views.js';
import { defineCommand, writeInput } from './command.js';
import { accountIn, amountIn, currencyOf, type DecideContext, requireCustomer } from './context.js';
import { priceUsage } from './pricing.js';
import { deduct, usageResult } from './usage.js';

/**
 * What `ledger.hold` and `ledger.releaseHold` return: the hold and the account right after, its
 * `available` already lowered (or raised again) by the hold.
 *
 * @example
 * const input = { customerId: 'cus_123', feature: 'ai-generation', quantity: 3 };
 * const { holdId, amount, account } = await ledger.hold(input);
 * // amount: '30'; account.held rose by 30, account.balance did not change
 */
export interface HoldResult extends HoldView {
  readonly account: CreditAccount;
}

/** A refusal of a combination of fields, named by the field the caller should look at. */
function combination(
  ctx: z.RefinementCtx,
  path: string,
  message: string,
  code: TallyErrorCode = 'invalid_input',
) {
  ctx.addIssue({
    code: 'custom',
    path: [path],
    message,
    params: { tallyCode: code } satisfies field.CustomRefusal,
  });
}

/**
 * Reserves credit for work about to happen: `available` drops now, `balance` only when captured.
 * Refused like a deduction when the account cannot cover it.
 */
export const hold = defineCommand({
  input: writeInput({
    /** Hold the cost of `quantity` units of `feature`... */
    feature: field.id('unknown_feature').optional(),
    quantity: field.quantity.optional(),
    /** ...or an `amount` of `currency`. */
    currency: field.id('unknown_currency').optional(),
    amount: field.positiveAmount.optional(),
    /** The hold frees itself at this instant if neither captured nor released. Default never. */
    expiresAt: field.time.nullish(),
  }).superRefine((input, ctx) => {
    const byFeature = input.feature !== undefined;
    if (byFeature === (input.currency !== undefined)) {
      combination(ctx, 'feature', 'a hold needs either feature and quantity, or currency and amount');
    } else if (!byFeature && input.quantity !== undefined && input.amount === undefined) {
      // A size of the other kind says which hold was meant: name what that kind lacks, not the size.
      combination(
        ctx,
        'feature',
        'a hold of a quantity needs a feature; a hold of a currency needs an amount',
      );
    } else if (byFeature && input.amount !== undefined && input.quantity === undefined) {
      combination(
        ctx,
        'currency',
        'a hold of an amount needs a currency; a hold of a feature needs a quantity',
      );
    } else if (byFeature && input.quantity === undefined) {
      combination(ctx, 'quantity', 'quantity is required with feature', 'invalid_quantity');
    } else if (!byFeature && input.amount === undefined) {
      combination(ctx, 'amount', 'amount is required with currency', 'invalid_amount');
    } else if (input.quantity !== undefined && input.amount !== undefined) {
      combination(ctx, 'amount', 'a hold takes quantity or amount, not both');
    }
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    let currency: ReturnType<typeof currencyOf>;
    let amount: bigint;
    if (command.feature !== undefined) {
      // Reserves what the usage would be charged now.
      const price = priceUsage(recorder.state, context.catalog, command.feature, command.quantity!);
      currency = price.currency;
      amount = price.cost;
    } else {
      currency = currencyOf(context.catalog, command.currency!);
      amount = amountIn(currency, command.amount!, 'amount');
    }
    const expiresAtMs = command.expiresAt ?? null;
    if (expiresAtMs !== null && expiresAtMs <= context.nowMs) {
      throw new TallyError('invalid_time', 'expiresAt must be in the future', { field: 'expiresAt' });
    }
    // A hold of a feature may be paid by credit scoped to it; a hold of an amount by unscoped credit.
    const { spendable } = accountFigures(
      accountIn(recorder.state, currency),
      context.nowMs,
      command.feature ?? null,
    );
    if (amount > spendable) {
      throw new TallyError(
        'insufficient_credits',
        `hold of ${formatAmount(amount, currency.decimals)} ${currency.code} exceeds the available ${formatAmount(spendable, currency.decimals)}`,
        {
          details: {
            cost: formatAmount(amount, currency.decimals),
            available: formatAmount(spendable, currency.decimals),
            currency: currency.code,
          },
        },
      );
    }
    const holdId = context.newId('hold');
    recorder.record({
      type: 'credits_held',
      data: {
        holdId,
        currency: currency.code,
        amount: formatAmount(amount, currency.decimals),
        feature: command.feature ?? null,
        quantity: command.quantity ?? null,
        expiresAt: expiresAtMs === null ? null : iso(expiresAtMs),
      },
    });
    return holdId;
  },
  result: (state, holdId, context): HoldResult => holdResult(state, holdId, context),
});

/**
 * Charges for the work a hold covered: the hold is released and a deduction of the actual cost is
 * recorded in one step. The actual cost may exceed the hold only if the account covers the excess.
 */
export const captureHold = defineCommand({
  input: writeInput({
    holdId: field.id('unknown_hold'),
    /** The actual usage (feature holds) or amount; default: the held amount. */
    quantity: field.quantity.nullish(),
    amount: field.amount.nullish(),
    metadata: field.metadata.optional(),
  }).superRefine((input, ctx) => {
    if (input.quantity != null && input.amount != null) {
      combination(ctx, 'amount', 'capture with quantity or amount, not both');
    }
  }),
  recall: (command) => ({ holds: [command.holdId] }),
  decide(recorder, command, context) {
    const target = activeHold(recorder, command.holdId, context);
    const currency = currencyOf(context.catalog, target.currency);
    let cost = target.amount;
    let exactCost = formatAmount(target.amount, currency.decimals);
    let carry: string | null = null;
    if (command.quantity != null) {
      if (target.feature === null) {
        throw new TallyError(
          'invalid_input',
          'this hold is for an amount: capture it with amount, not quantity',
          { field: 'quantity' },
        );
      }
      const price = priceUsage(recorder.state, context.catalog, target.feature, command.quantity);
      ({ cost, carry } = price);
      exactCost = price.exact;
    } else if (command.amount != null) {
      cost = amountIn(currency, command.amount, 'amount');
      exactCost = formatAmount(cost, currency.decimals);
    }
    // The deduction may use the held credit itself, so check against spendable plus this hold.
    const { spendable } = accountFigures(accountIn(recorder.state, currency), context.nowMs, target.feature);
    if (cost > spendable + target.amount) {
      throw new TallyError(
        'insufficient_credits',
        `capture of ${formatAmount(cost, currency.decimals)} exceeds the hold plus what is available`,
        {
          details: {
            cost: formatAmount(cost, currency.decimals),
            available: formatAmount(spendable + target.amount, currency.decimals),
            currency: currency.code,
          },
        },
      );
    }
    release(recorder, target, 'captured');
    return deduct(recorder, currency, cost, context, {
      feature: target.feature,
      quantity: command.quantity ?? target.quantity,
      // A capture by amount is an amount; one by the feature's price is a priced usage.
      exactCost: target.feature === null ? null : exactCost,
      carry,
      holdId: target.holdId,
      metadata: command.metadata ?? {},
    });
  },
  result: (state, deducted, context) => usageResult(state, deducted, context),
});

export const releaseHold = defineCommand({
  input: writeInput({ holdId: field.id('unknown_hold') }),
  recall: (command) => ({ holds: [command.holdId] }),
  decide(recorder, command, context) {
    const target = activeHold(recorder, command.holdId, context);
    release(recorder, target, 'released');
    return target.holdId;
  },
  result: (state, holdId, context): HoldResult => holdResult(state, holdId, context),
});

function holdResult(state: CustomerState, holdId: string, context: DecideContext): HoldResult {
  const held = state.holds.get(holdId) ?? state.recalled.holds.get(holdId)!;
  const account = state.accounts.get(held.currency)!;
  return { ...holdView(held, account.decimals), account: accountView(account, context.nowMs) };
}

/** The hold a capture or release names: unknown, ended (`hold_not_active`), or active. */
function activeHold(recorder: Recorder, holdId: string, context: DecideContext): HoldState {
  const { state } = recorder;
  requireCustomer(state);
  const target = state.holds.get(holdId) ?? state.recalled.holds.get(holdId);
  if (target === undefined)
    throw new TallyError('unknown_hold', `no hold ${quote(holdId)}`, { field: 'holdId' });
  if (target.status !== 'active' || target.expiresAtMs <= context.nowMs) {
    throw new TallyError(
      'hold_not_active',
      `hold ${holdId} is ${target.status === 'active' ? 'expired' : target.status}`,
      { field: 'holdId' },
    );
  }
  return target;
}

function release(recorder: Recorder, target: HoldState, reason: 'released' | 'captured'): void {
  const decimals = recorder.state.accounts.get(target.currency)!.decimals;
  recorder.record({
    type: 'hold_released',
    data: {
      holdId: target.holdId,
      currency: target.currency,
      amount: formatAmount(target.amount, decimals),
      reason,
    },
  });
}
