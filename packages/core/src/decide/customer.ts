import { TallyError } from '../errors.js';
import * as field from '../input/fields.js';
import { formatAmount } from '../money.js';
import { accountView, type CreditAccount } from '../views.js';
import { defineCommand, writeInput } from './command.js';
import { amountIn, currencyOf, requireCustomer } from './context.js';

/**
 * A customer as `ledger.createCustomer` and `ledger.customer` return it.
 *
 * @example
 * const { createdAt, externalId, metadata } = await ledger.customer({ customerId: 'cus_123' });
 */
export interface CustomerResult {
  readonly customerId: string;
  readonly externalId: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

export const createCustomer = defineCommand({
  input: writeInput({
    /** Another system's id for this customer, kept as given. */
    externalId: field.text.nullish(),
    metadata: field.metadata.optional(),
  }),
  decide(recorder, command) {
    const { state } = recorder;
    if (state.customer !== null) {
      throw new TallyError('customer_exists', `customer ${state.customer.customerId} already exists`, {
        field: 'customerId',
      });
    }
    return recorder.record({
      type: 'customer_created',
      data: {
        customerId: command.customerId,
        externalId: command.externalId ?? null,
        metadata: command.metadata ?? {},
      },
    });
  },
  result: (state): CustomerResult => ({ ...state.customer! }),
});

/**
 * Lets the account's balance go down to minus `limit`; lowering it below current debt is allowed and
 * only blocks new spending.
 */
export const setCreditLimit = defineCommand({
  input: writeInput({
    currency: field.id('unknown_currency'),
    /** How far below zero the balance may go; '0' turns overdraft off. */
    limit: field.amount,
  }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    const currency = currencyOf(context.catalog, command.currency);
    const limit = amountIn(currency, command.limit, 'limit');
    recorder.record({
      type: 'credit_limit_set',
      data: { currency: currency.code, limit: formatAmount(limit, currency.decimals) },
    });
    return currency.code;
  },
  result: (state, currency, context): CreditAccount =>
    accountView(state.accounts.get(currency)!, context.nowMs),
});
