import { findHold } from '../archive.js';
import { TallyError } from '../errors.js';
import { formatAmount, quote } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { HoldState } from '../state.js';
import { iso } from '../time.js';
import { accountFigures, accountView, type CreditAccount, type HoldView, holdView } from '../views.js';
import type { CaptureHold, Hold, ReleaseHold } from './commands.js';
import {
  accountFor,
  amountIn,
  currencyOf,
  type DecideContext,
  type Decision,
  featureCost,
  featureOf,
  requireCustomer,
} from './context.js';
import { deduct, type UsageResult } from './usage.js';

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

/**
 * Reserves credit for work about to happen: `available` drops now, `balance` only when captured.
 * Refused like a deduction when the account cannot cover it.
 */
export const hold: Decision<Hold, HoldResult> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  let currencyCode: string;
  let amount: bigint;
  if (command.feature !== null) {
    const feature = featureOf(context.catalog, command.feature);
    const resolved = featureCost(context.catalog, feature, command.quantity!);
    currencyCode = resolved.currency.code;
    amount = resolved.cost;
  } else {
    const currency = currencyOf(context.catalog, command.currency!);
    currencyCode = currency.code;
    amount = amountIn(currency, command.amount!, 'amount');
  }
  const currency = currencyOf(context.catalog, currencyCode);
  if (command.expiresAtMs !== null && command.expiresAtMs <= context.nowMs) {
    throw new TallyError('invalid_time', 'expiresAt must be in the future', { field: 'expiresAt' });
  }
  const account = accountFor(recorder, currency);
  const { spendable } = accountFigures(account, context.nowMs);
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
  recorder.record(
    {
      type: 'credits_held',
      data: {
        holdId,
        currency: currency.code,
        amount: formatAmount(amount, currency.decimals),
        feature: command.feature,
        quantity: command.quantity,
        expiresAt: command.expiresAtMs === null ? null : iso(command.expiresAtMs),
      },
    },
    context.newId('evt'),
    context.now,
  );
  return {
    ...holdView(recorder.state.holds.get(holdId)!, currency.decimals),
    account: accountView(account, context.nowMs),
  };
};

/**
 * Charges for the work a hold covered: the hold is released and a deduction of the actual cost is
 * recorded in one step. The actual cost may exceed the hold only if the account covers the excess.
 */
export const captureHold: Decision<CaptureHold, UsageResult> = (recorder, command, context) => {
  const target = activeHold(recorder, command.holdId, context);
  const currency = currencyOf(context.catalog, target.currency);
  let cost = target.amount;
  if (command.quantity !== null) {
    if (target.feature === null) {
      throw new TallyError(
        'invalid_input',
        'this hold is for an amount: capture it with amount, not quantity',
        { field: 'quantity' },
      );
    }
    cost = featureCost(context.catalog, featureOf(context.catalog, target.feature), command.quantity).cost;
  } else if (command.amount !== null) {
    cost = amountIn(currency, command.amount, 'amount');
  }
  const account = accountFor(recorder, currency);
  // The deduction may use the held credit itself, so check against spendable plus this hold.
  const { spendable } = accountFigures(account, context.nowMs);
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
  release(recorder, target, 'captured', context);
  return deduct(
    recorder,
    account,
    cost,
    {
      feature: target.feature,
      quantity: command.quantity ?? target.quantity,
      holdId: target.holdId,
      metadata: command.metadata,
    },
    context,
  );
};

export const releaseHold: Decision<ReleaseHold, HoldResult> = (recorder, command, context) => {
  const target = activeHold(recorder, command.holdId, context);
  release(recorder, target, 'released', context);
  const account = recorder.state.accounts.get(target.currency)!;
  return { ...holdView(target, account.decimals), account: accountView(account, context.nowMs) };
};

function activeHold(recorder: Recorder, holdId: string, context: DecideContext): HoldState {
  requireCustomer(recorder.state);
  // A finished hold may be archived; on a state loaded without them this throws `ArchiveNeeded`, and the
  // ledger decides again on the whole state, so a finished hold is told apart from an unknown one.
  const target = findHold(recorder.state, holdId);
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

function release(
  recorder: Recorder,
  target: HoldState,
  reason: 'released' | 'captured',
  context: DecideContext,
): void {
  const decimals = recorder.state.accounts.get(target.currency)!.decimals;
  recorder.record(
    {
      type: 'hold_released',
      data: {
        holdId: target.holdId,
        currency: target.currency,
        amount: formatAmount(target.amount, decimals),
        reason,
      },
    },
    context.newId('evt'),
    context.now,
  );
}
