import type { Currency } from '../catalog/index.js';
import { allocate, spendableGrants } from '../consumption-order.js';
import { TallyError } from '../errors.js';
import type { Allocation, CreditsDeducted } from '../events.js';
import * as field from '../input/fields.js';
import { formatAmount, quote, toMinor, uncarry } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { CustomerState } from '../state.js';
import { accountFigures, accountView, type CreditAccount } from '../views.js';
import { defineCommand, writeInput } from './command.js';
import { accountIn, type DecideContext, requireCustomer } from './context.js';
import { findGrant } from './grant.js';
import { priceUsage } from './pricing.js';
import { settleAll } from './settle.js';

/**
 * What `ledger.trackUsage` and `ledger.captureHold` return: what the usage cost, which grants paid, and
 * the account afterwards. Keep `usageId` to reverse the usage later.
 *
 * @example
 * const input = { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 };
 * const { usageId, cost, balance } = await ledger.trackUsage(input);
 */
export interface UsageResult {
  readonly usageId: string;
  readonly feature: string | null;
  readonly quantity: number | null;
  readonly currency: string;
  /** What was charged (the running total's rounding: see `exactCost`). */
  readonly cost: string;
  /** The cost before rounding, with every place it has; null for a direct amount. */
  readonly exactCost: string | null;
  readonly allocations: readonly Allocation[];
  /** Part of the cost that went into overdraft. */
  readonly debt: string;
  readonly account: CreditAccount;
  /** Same as `account.balance`, for the common case. */
  readonly balance: string;
}

export const trackUsage = defineCommand({
  input: writeInput({
    feature: field.id('unknown_feature'),
    /** A positive finite number; fractions allowed. */
    quantity: field.quantity,
    metadata: field.metadata.optional(),
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const price = priceUsage(recorder.state, context.catalog, command.feature, command.quantity);
    return deduct(recorder, price.currency, price.cost, context, {
      feature: price.feature.key,
      quantity: command.quantity,
      exactCost: price.exact,
      carry: price.carry,
      holdId: null,
      metadata: command.metadata ?? {},
    });
  },
  result: (state, deducted, context) => usageResult(state, deducted, context),
});

type Deduction = CreditsDeducted['data'];

/**
 * Takes `cost` from the account's grants in consumption order; what they cannot cover becomes debt
 * if the credit limit allows, else the whole deduction is refused and nothing is recorded.
 */
export function deduct(
  recorder: Recorder,
  currency: Currency,
  cost: bigint,
  context: DecideContext,
  origin: Pick<Deduction, 'feature' | 'quantity' | 'exactCost' | 'carry' | 'holdId' | 'metadata'>,
): Deduction {
  const account = accountIn(recorder.state, currency);
  // Scoped credit pays only its features; a direct amount (no feature) only unscoped credit.
  const { spendable } = accountFigures(account, context.nowMs, origin.feature);
  const d = currency.decimals;
  if (cost > spendable) {
    throw new TallyError(
      'insufficient_credits',
      `cost ${formatAmount(cost, d)} ${currency.code} exceeds the available ${formatAmount(spendable, d)}`,
      {
        details: {
          cost: formatAmount(cost, d),
          available: formatAmount(spendable, d),
          currency: currency.code,
        },
      },
    );
  }
  const { allocations, shortfall } = allocate(spendableGrants(account, context.nowMs, origin.feature), cost);
  // Keys in sorted order, as the hash chain's canonical form has them: the most common event is then
  // hashed without a key-sorted copy of its data (a memory-store trackUsage 235k -> 198k instructions).
  return recorder.record({
    type: 'credits_deducted',
    data: {
      allocations: allocations.map((a) => ({ amount: formatAmount(a.amount, d), grantId: a.grant.grantId })),
      carry: origin.carry,
      catalogVersion: context.catalog.version,
      cost: formatAmount(cost, d),
      currency: currency.code,
      debt: formatAmount(shortfall, d),
      exactCost: origin.exactCost,
      feature: origin.feature,
      holdId: origin.holdId,
      metadata: origin.metadata,
      quantity: origin.quantity,
      usageId: context.newId('usage'),
    },
  }).data;
}

/** The answer to a deduction, with the account as it is after it. */
export function usageResult(state: CustomerState, deducted: Deduction, context: DecideContext): UsageResult {
  const account = accountView(state.accounts.get(deducted.currency)!, context.nowMs);
  return {
    usageId: deducted.usageId,
    feature: deducted.feature,
    quantity: deducted.quantity,
    currency: deducted.currency,
    cost: deducted.cost,
    exactCost: deducted.exactCost,
    allocations: deducted.allocations,
    debt: deducted.debt,
    account,
    balance: account.balance,
  };
}

/**
 * What `ledger.reverseUsage` returns: the credit that came back, and what was forfeited because the
 * grants that paid it have expired or been voided since.
 *
 * @example
 * const input = { customerId: 'cus_123', usageId, reason: 'job failed' };
 * const { returned, forfeited } = await ledger.reverseUsage(input);
 */
export interface ReversalResult {
  readonly usageId: string;
  readonly currency: string;
  /** Credit back in the account: restored to live grants plus debt cancelled. */
  readonly returned: string;
  /** Credit that belonged to grants that expired or were voided since: gone for good. */
  readonly forfeited: string;
  readonly account: CreditAccount;
}

/**
 * Gives a deduction back to the grants it came from. A grant that has expired or been voided since
 * stays dead: its share is forfeited, not revived. The part that went into debt cancels debt still
 * owed; if that debt was already paid off by later credit, the payment comes back as a `reversal` grant.
 */
export const reverseUsage = defineCommand({
  input: writeInput({
    usageId: field.id('unknown_usage'),
    reason: field.text.optional(),
  }),
  // The usage is history (usages never stay in the state), and so may be the grants that paid it.
  recall: (command) => ({ usages: [command.usageId] }),
  decide(recorder, command, context) {
    const { state } = recorder;
    requireCustomer(state);
    const record = state.recalled.usages.get(command.usageId);
    if (record === undefined)
      throw new TallyError('unknown_usage', `no usage ${quote(command.usageId)}`, { field: 'usageId' });
    if (record.reversed) {
      throw new TallyError('usage_already_reversed', `usage ${command.usageId} is already reversed`, {
        field: 'usageId',
      });
    }
    const usage = record.deduction;
    const account = state.accounts.get(usage.currency)!;
    const d = account.decimals;
    const restored: Allocation[] = [];
    let forfeited = 0n;
    let returned = 0n;
    for (const allocation of usage.allocations) {
      const grant = findGrant(state, allocation.grantId);
      if (grant === undefined) {
        throw new TallyError(
          'corrupt_stream',
          `usage ${usage.usageId} names grant ${allocation.grantId}, which the stream lacks`,
        );
      }
      const amount = toMinor(allocation.amount);
      if (grant.status === 'active' && grant.expiresAtMs > context.nowMs) {
        restored.push(allocation);
        returned += amount;
      } else forfeited += amount;
    }
    const debtPart = toMinor(usage.debt);
    const debtCleared = debtPart < account.debt ? debtPart : account.debt;
    returned += debtCleared;
    const carried = usage.carry !== null && usage.feature !== null && usage.exactCost !== null;
    recorder.record({
      type: 'usage_reversed',
      data: {
        usageId: usage.usageId,
        currency: usage.currency,
        restored,
        debtCleared: formatAmount(debtCleared, d),
        forfeited: formatAmount(forfeited, d),
        reason: command.reason ?? '',
        feature: usage.feature,
        // The usage's unrounded part leaves the running total with it, so what stays charged is still
        // the exact total of the usage that stands, rounded.
        carry: carried
          ? uncarry(state.carries.get(usage.feature!) ?? '0', usage.exactCost!, toMinor(usage.cost), d)
          : null,
      },
    });
    const repaid = debtPart - debtCleared;
    if (repaid > 0n) {
      returned += repaid;
      recorder.record({
        type: 'credits_granted',
        data: {
          grantId: context.newId('grant'),
          currency: usage.currency,
          amount: formatAmount(repaid, d),
          priority: 0,
          source: 'reversal',
          effectiveAt: context.now,
          expiresAt: null,
          subscriptionId: null,
          cycle: null,
          ruleIndex: null,
          metadata: { usageId: usage.usageId },
          appliesTo: null,
          price: null,
          paymentId: null,
        },
      });
    }
    settleAll(recorder, context);
    return {
      usageId: usage.usageId,
      currency: usage.currency,
      returned: formatAmount(returned, d),
      forfeited: formatAmount(forfeited, d),
    };
  },
  result: (state, outcome, context): ReversalResult => ({
    ...outcome,
    account: accountView(state.accounts.get(outcome.currency)!, context.nowMs),
  }),
});
