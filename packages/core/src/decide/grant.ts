import { DEFAULT_PRIORITY } from '../catalog.js';
import { TallyError } from '../errors.js';
import * as field from '../input/fields.js';
import { formatAmount, quote } from '../money.js';
import type { CustomerState, GrantState } from '../state.js';
import { iso } from '../time.js';
import { accountView, type CreditAccount, type GrantView, grantView } from '../views.js';
import { defineCommand, writeInput } from './command.js';
import { amountIn, currencyOf, requireCustomer } from './context.js';
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
export const grant = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    amount: field.positiveAmount,
    /** Lower is spent first. Default 50. */
    priority: field.priority.optional(),
    /** Default 'manual'. */
    source: field.oneOf(['top_up', 'promotion', 'manual']).optional(),
    /** Default now; may be in the future, never in the past. */
    effectiveAt: field.time.nullish(),
    /** Default never. */
    expiresAt: field.time.nullish(),
    metadata: field.metadata.optional(),
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const currency = currencyOf(context.catalog, command.currency);
    const amount = amountIn(currency, command.amount, 'amount');
    const effectiveAtMs = command.effectiveAt ?? context.nowMs;
    if (effectiveAtMs < context.nowMs) {
      throw new TallyError('invalid_time', 'effectiveAt must not be in the past', { field: 'effectiveAt' });
    }
    const expiresAtMs = command.expiresAt ?? null;
    if (expiresAtMs !== null && expiresAtMs <= effectiveAtMs) {
      throw new TallyError('invalid_time', 'expiresAt must be after effectiveAt', { field: 'expiresAt' });
    }
    const grantId = context.newId('grant');
    recorder.record({
      type: 'credits_granted',
      data: {
        grantId,
        currency: currency.code,
        amount: formatAmount(amount, currency.decimals),
        priority: command.priority ?? DEFAULT_PRIORITY,
        source: command.source ?? 'manual',
        effectiveAt: iso(effectiveAtMs),
        expiresAt: expiresAtMs === null ? null : iso(expiresAtMs),
        subscriptionId: null,
        cycle: null,
        ruleIndex: null,
        metadata: command.metadata ?? {},
      },
    });
    settleAll(recorder, context);
    return grantId;
  },
  result(state, grantId, context): GrantResult {
    const made = findGrant(state, grantId)!;
    const account = state.accounts.get(made.currency)!;
    return {
      ...grantView(made, account.decimals, context.nowMs),
      account: accountView(account, context.nowMs),
    };
  },
});

/** Takes back what is left of a grant (spent credit stays spent). A grant that has ended is refused. */
export const voidGrant = defineCommand({
  input: writeInput({
    grantId: field.id('unknown_grant'),
    reason: field.text.optional(),
  }),
  // A spent grant is out of play, and may still be voided (it then stays dead to a reversal).
  recall: (command) => ({ grants: [command.grantId] }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const target = findGrant(recorder.state, command.grantId);
    if (target === undefined) {
      throw new TallyError('unknown_grant', `no grant ${quote(command.grantId)}`, { field: 'grantId' });
    }
    if (target.status !== 'active' || target.expiresAtMs <= context.nowMs) {
      throw new TallyError(
        'grant_not_active',
        `grant ${command.grantId} has already ${target.status === 'voided' ? 'been voided' : 'expired'}`,
        { field: 'grantId' },
      );
    }
    const decimals = recorder.state.accounts.get(target.currency)!.decimals;
    recorder.record({
      type: 'grant_voided',
      data: {
        grantId: target.grantId,
        currency: target.currency,
        amount: formatAmount(target.remaining, decimals),
        reason: command.reason ?? '',
      },
    });
    return target.grantId;
  },
  result(state, grantId, context): GrantView {
    const voided = findGrant(state, grantId)!;
    return grantView(voided, state.accounts.get(voided.currency)!.decimals, context.nowMs);
  },
});

/** A grant in play or recalled. */
export const findGrant = (state: CustomerState, grantId: string): GrantState | undefined =>
  state.grants.get(grantId) ?? state.recalled.grants.get(grantId);
