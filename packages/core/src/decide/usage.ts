import { findGrant } from '../archive.js';
import { allocate, spendableGrants } from '../consumption-order.js';
import { TallyError } from '../errors.js';
import type { Allocation } from '../events.js';
import { formatAmount, quote, toMinor } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { AccountState } from '../state.js';
import { accountFigures, accountView, type CreditAccount } from '../views.js';
import type { ReverseUsage, TrackUsage } from './commands.js';
import {
  accountFor,
  type DecideContext,
  type Decision,
  featureCost,
  featureOf,
  requireCustomer,
} from './context.js';
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
  readonly cost: string;
  readonly allocations: readonly Allocation[];
  /** Part of the cost that went into overdraft. */
  readonly debt: string;
  readonly account: CreditAccount;
  /** Same as `account.balance`, for the common case. */
  readonly balance: string;
}

export const trackUsage: Decision<TrackUsage, UsageResult> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  const feature = featureOf(context.catalog, command.feature);
  const { currency, cost } = featureCost(context.catalog, feature, command.quantity);
  const account = accountFor(recorder, currency);
  return deduct(
    recorder,
    account,
    cost,
    { feature: feature.key, quantity: command.quantity, holdId: null, metadata: command.metadata },
    context,
  );
};

/**
 * Takes `cost` from the account's grants in consumption order; what they cannot cover becomes debt
 * if the credit limit allows, else the whole deduction is refused and nothing is recorded.
 */
export function deduct(
  recorder: Recorder,
  account: AccountState,
  cost: bigint,
  origin: {
    feature: string | null;
    quantity: number | null;
    holdId: string | null;
    metadata: Readonly<Record<string, string>>;
  },
  context: DecideContext,
): UsageResult {
  const { spendable } = accountFigures(account, context.nowMs);
  if (cost > spendable) {
    throw new TallyError(
      'insufficient_credits',
      `cost ${formatAmount(cost, account.decimals)} ${account.currency} exceeds the available ${formatAmount(spendable, account.decimals)}`,
      {
        details: {
          cost: formatAmount(cost, account.decimals),
          available: formatAmount(spendable, account.decimals),
          currency: account.currency,
        },
      },
    );
  }
  const { allocations, shortfall } = allocate(spendableGrants(account, context.nowMs), cost);
  const d = account.decimals;
  const usageId = context.newId('usage');
  const recorded = recorder.record(
    {
      type: 'credits_deducted',
      data: {
        usageId,
        currency: account.currency,
        feature: origin.feature,
        quantity: origin.quantity,
        cost: formatAmount(cost, d),
        allocations: allocations.map((a) => ({
          grantId: a.grant.grantId,
          amount: formatAmount(a.amount, d),
        })),
        debt: formatAmount(shortfall, d),
        holdId: origin.holdId,
        metadata: origin.metadata,
      },
    },
    context.newId('evt'),
    context.now,
  );
  const view = accountView(account, context.nowMs);
  const data = recorded.type === 'credits_deducted' ? recorded.data : null;
  return {
    usageId,
    feature: origin.feature,
    quantity: origin.quantity,
    currency: account.currency,
    cost: formatAmount(cost, d),
    allocations: data?.allocations ?? [],
    debt: formatAmount(shortfall, d),
    account: view,
    balance: view.balance,
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
export const reverseUsage: Decision<ReverseUsage, ReversalResult> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  const usage = command.usage;
  if (usage === null)
    throw new TallyError('unknown_usage', `no usage ${quote(command.usageId)}`, { field: 'usageId' });
  if (recorder.state.reversedUsages.has(usage.usageId)) {
    throw new TallyError('usage_already_reversed', `usage ${usage.usageId} is already reversed`, {
      field: 'usageId',
    });
  }
  const account = recorder.state.accounts.get(usage.currency)!;
  const d = account.decimals;
  const restored: Allocation[] = [];
  let forfeited = 0n;
  let returned = 0n;
  for (const allocation of usage.allocations) {
    // A spent grant may be archived: the ledger loads the archive if it has to (see `findGrant`).
    const grant = findGrant(recorder.state, allocation.grantId)!;
    const amount = toMinor(allocation.amount);
    if (grant.status === 'active' && grant.expiresAtMs > context.nowMs) {
      restored.push(allocation);
      returned += amount;
    } else forfeited += amount;
  }
  const debtPart = toMinor(usage.debt);
  const debtCleared = debtPart < account.debt ? debtPart : account.debt;
  returned += debtCleared;
  recorder.record(
    {
      type: 'usage_reversed',
      data: {
        usageId: usage.usageId,
        currency: usage.currency,
        restored,
        debtCleared: formatAmount(debtCleared, d),
        forfeited: formatAmount(forfeited, d),
        reason: command.reason,
      },
    },
    context.newId('evt'),
    context.now,
  );
  const repaid = debtPart - debtCleared;
  if (repaid > 0n) {
    returned += repaid;
    recorder.record(
      {
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
        },
      },
      context.newId('evt'),
      context.now,
    );
  }
  settleAll(recorder, context);
  return {
    usageId: usage.usageId,
    currency: usage.currency,
    returned: formatAmount(returned, d),
    forfeited: formatAmount(forfeited, d),
    account: accountView(account, context.nowMs),
  };
};
