import { Decimal } from 'decimal.js';
import { z } from 'zod';
import type { Catalog, Money } from '../catalog/index.js';
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

/** `{ features: [...] }`: the features credits pay for. */
const scope = z.strictObject({
  features: field.registerRefusal(z.array(field.id('unknown_feature')).min(1).max(100), {
    code: 'invalid_input',
    message: (name) => `${name} must list 1-100 feature keys`,
  }),
});

/**
 * Adds credit from outside a plan: a top-up, a promotion, a manual grant, or credits bought (with
 * what was paid and the host's payment id, so revenue and refunds can be traced per credit). A grant
 * may start in the future (it counts from `effectiveAt`) but never in the past: what was read at an
 * earlier instant must stay true. `appliesTo` restricts it to some features.
 */
export const grant = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    amount: field.positiveAmount,
    /** Lower is spent first. Default 50. */
    priority: field.priority.optional(),
    /** Default 'manual'. A purchase needs `price` and `paymentId`. */
    source: field.oneOf(['top_up', 'promotion', 'manual', 'purchase']).optional(),
    /** Default now; may be in the future, never in the past. */
    effectiveAt: field.time.nullish(),
    /** Default never. */
    expiresAt: field.time.nullish(),
    metadata: field.metadata.optional(),
    /** The features these credits pay for; default every feature. */
    appliesTo: scope.optional(),
    /** For a purchase: what the customer paid (money, not credits)... */
    price: field.money.optional(),
    /** ...and the host's id of the payment. A payment seen twice is recorded once. */
    paymentId: field.id().optional(),
  }).superRefine((input, ctx) => {
    const purchase = input.source === 'purchase';
    for (const name of ['price', 'paymentId'] as const) {
      if (purchase === (input[name] !== undefined)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: purchase ? 'is required for a purchase' : "is only for source: 'purchase'",
        params: { tallyCode: 'invalid_input' } satisfies field.CustomRefusal,
      });
      return;
    }
  }),
  // A payment recorded before answers with its grant, which may since have been spent.
  recall: (command, state) => {
    const paid = command.paymentId === undefined ? undefined : state.payments.get(command.paymentId);
    return { grants: paid?.grantId == null ? [] : [paid.grantId] };
  },
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    if (command.paymentId !== undefined) {
      const paid = recorder.state.payments.get(command.paymentId);
      if (paid?.grantId != null) return paid.grantId; // recorded already: nothing more to record
      if (paid !== undefined) {
        throw new TallyError('invalid_input', `payment ${quote(command.paymentId)} paid for a subscription`, {
          field: 'paymentId',
        });
      }
    }
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
        priority: command.priority ?? field.DEFAULT_PRIORITY,
        source: command.source ?? 'manual',
        effectiveAt: iso(effectiveAtMs),
        expiresAt: expiresAtMs === null ? null : iso(expiresAtMs),
        subscriptionId: null,
        cycle: null,
        ruleIndex: null,
        metadata: command.metadata ?? {},
        appliesTo: scopeOf(context.catalog, command.appliesTo?.features),
        price: command.price ?? null,
        paymentId: command.paymentId ?? null,
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

/** The scope a grant is given, its features checked against the catalog and sorted; null for none. */
export function scopeOf(catalog: Catalog, features: readonly string[] | undefined) {
  if (features === undefined) return null;
  features.forEach((key, i) => {
    if (!catalog.features.has(key)) {
      throw new TallyError('unknown_feature', `the catalog has no feature ${quote(key)}`, {
        field: `appliesTo.features[${i}]`,
      });
    }
  });
  return { features: [...new Set(features)].sort() };
}

/**
 * Takes back what is left of a grant (spent credit stays spent). A grant that has ended is refused.
 * `refund: true` on purchased credits records the refunded part, the unused remainder and its share of
 * what was paid, for the host to pay back.
 */
export const voidGrant = defineCommand({
  input: writeInput({
    grantId: field.id('unknown_grant'),
    reason: field.text.optional(),
    /** Purchased credits only: record the unused remainder, and its share of the price, as refunded. */
    refund: field.flag.optional(),
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
    if (command.refund === true && target.source !== 'purchase') {
      throw new TallyError('invalid_input', 'only purchased credits can be refunded', { field: 'refund' });
    }
    const decimals = recorder.state.accounts.get(target.currency)!.decimals;
    const remaining = formatAmount(target.remaining, decimals);
    recorder.record({
      type: 'grant_voided',
      data: {
        grantId: target.grantId,
        currency: target.currency,
        amount: remaining,
        reason: command.reason ?? '',
        refund: command.refund === true ? { credits: remaining, money: refundOf(target) } : null,
      },
    });
    return target.grantId;
  },
  result(state, grantId, context): GrantView {
    const voided = findGrant(state, grantId)!;
    return grantView(voided, state.accounts.get(voided.currency)!.decimals, context.nowMs);
  },
});

/**
 * The unused remainder's share of what a purchase cost: price × remaining ÷ amount, rounded down to
 * the price's places (a refund never pays back more than was paid).
 */
function refundOf(grant: GrantState): Money | null {
  if (grant.price === null) return null;
  const places = grant.price.amount.split('.')[1]?.length ?? 0;
  const share = new Decimal(grant.price.amount)
    .times(grant.remaining.toString())
    .dividedBy(grant.amount.toString())
    .toDecimalPlaces(places, Decimal.ROUND_DOWN);
  return { amount: share.toFixed(places), currency: grant.price.currency };
}

/** A grant in play or recalled. */
export const findGrant = (state: CustomerState, grantId: string): GrantState | undefined =>
  state.grants.get(grantId) ?? state.recalled.grants.get(grantId);
