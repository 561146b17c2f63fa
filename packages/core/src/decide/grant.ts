import { findGrant } from '../archive.js';
import { TallyError } from '../errors.js';
import { formatAmount, quote } from '../money.js';
import { iso } from '../time.js';
import { accountView, type CreditAccount, type GrantView, grantView } from '../views.js';
import type { Grant, VoidGrant } from './commands.js';
import { accountFor, amountIn, currencyOf, type Decision, requireCustomer } from './context.js';
import { settleAll } from './settle.js';

/**
 * What `ledger.grant` returns: the new grant and the account right after it, so the new balance can
 * be shown without another read.
 *
 * @example
 * const input = { customerId: 'cus_123', currency: 'credits', amount: '500' };
 * const { grantId, account } = await ledger.grant(input);
 * console.log(`granted ${grantId}; balance now ${account.balance}`);
 */
export interface GrantResult extends GrantView {
  /** The account right after the grant (a future grant does not count yet). */
  readonly account: CreditAccount;
}

/**
 * Adds credit from outside a plan. A grant may start in the future (it counts from `effectiveAt`) but
 * never in the past: what was read at an earlier instant must stay true.
 */
export const grant: Decision<Grant, GrantResult> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  const currency = currencyOf(context.catalog, command.currency);
  const amount = amountIn(currency, command.amount, 'amount');
  if (amount === 0n)
    throw new TallyError('invalid_amount', 'amount must be greater than zero', { field: 'amount' });
  const effectiveAtMs = command.effectiveAtMs ?? context.nowMs;
  if (effectiveAtMs < context.nowMs) {
    throw new TallyError('invalid_time', 'effectiveAt must not be in the past', { field: 'effectiveAt' });
  }
  if (command.expiresAtMs !== null && command.expiresAtMs <= effectiveAtMs) {
    throw new TallyError('invalid_time', 'expiresAt must be after effectiveAt', { field: 'expiresAt' });
  }
  const account = accountFor(recorder, currency);
  const grantId = context.newId('grant');
  recorder.record(
    {
      type: 'credits_granted',
      data: {
        grantId,
        currency: currency.code,
        amount: formatAmount(amount, currency.decimals),
        priority: command.priority,
        source: command.source,
        effectiveAt: iso(effectiveAtMs),
        expiresAt: command.expiresAtMs === null ? null : iso(command.expiresAtMs),
        subscriptionId: null,
        cycle: null,
        ruleIndex: null,
        metadata: command.metadata,
      },
    },
    context.newId('evt'),
    context.now,
  );
  settleAll(recorder, context);
  const made = recorder.state.grants.get(grantId)!;
  return {
    ...grantView(made, currency.decimals, context.nowMs),
    account: accountView(account, context.nowMs),
  };
};

/** Takes back what is left of a grant (spent credit stays spent). Voiding twice is refused. */
export const voidGrant: Decision<VoidGrant, GrantView> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  // A finished grant may be archived; on a state loaded without them this throws `ArchiveNeeded`, and
  // the ledger decides again on the whole state.
  const target = findGrant(recorder.state, command.grantId);
  if (target === undefined) {
    throw new TallyError('unknown_grant', `no grant ${quote(command.grantId)}`, { field: 'grantId' });
  }
  if (target.status !== 'active' || target.expiresAtMs <= context.nowMs) {
    throw new TallyError(
      'unknown_grant',
      `grant ${command.grantId} has already ${target.status === 'voided' ? 'been voided' : 'expired'}`,
      {
        field: 'grantId',
      },
    );
  }
  const decimals = recorder.state.accounts.get(target.currency)!.decimals;
  recorder.record(
    {
      type: 'grant_voided',
      data: {
        grantId: target.grantId,
        currency: target.currency,
        amount: formatAmount(target.remaining, decimals),
        reason: command.reason,
      },
    },
    context.newId('evt'),
    context.now,
  );
  // The fold may have changed a copy of `target` (see `writableGrant`): show the grant as it is now.
  return grantView(findGrant(recorder.state, target.grantId)!, decimals, context.nowMs);
};
