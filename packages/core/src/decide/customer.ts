import { TallyError } from '../errors.js';
import { formatAmount } from '../money.js';
import { accountView, type CreditAccount } from '../views.js';
import type { CreateCustomer, SetCreditLimit } from './commands.js';
import { accountFor, amountIn, currencyOf, type Decision, requireCustomer } from './context.js';

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

export const createCustomer: Decision<CreateCustomer, CustomerResult> = (recorder, command, context) => {
  if (recorder.state.customer !== null) {
    throw new TallyError('customer_exists', `customer ${command.customerId} already exists`, {
      field: 'customerId',
    });
  }
  recorder.record(
    {
      type: 'customer_created',
      data: { customerId: command.customerId, externalId: command.externalId, metadata: command.metadata },
    },
    context.newId('evt'),
    context.now,
  );
  return { ...recorder.state.customer! };
};

/** Lets the account's balance go down to minus `limit`; lowering it below current debt is allowed and only blocks new spending. */
export const setCreditLimit: Decision<SetCreditLimit, CreditAccount> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  const currency = currencyOf(context.catalog, command.currency);
  const limit = amountIn(currency, command.limit, 'limit');
  recorder.record(
    {
      type: 'credit_limit_set',
      data: { currency: currency.code, limit: formatAmount(limit, currency.decimals) },
    },
    context.newId('evt'),
    context.now,
  );
  return accountView(accountFor(recorder, currency), context.nowMs);
};
