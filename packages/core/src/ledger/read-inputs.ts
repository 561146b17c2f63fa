import { z } from 'zod';
import * as field from '../input/fields.js';

/**
 * The inputs of the ledger's reads, as zod schemas: strict like the writes', so an unknown field is
 * refused rather than ignored, and shared with `@tally/http`'s query strings.
 */

/**
 * Names the customer a read is about.
 *
 * @example
 * parseInput(customerRef, { customerId: 'cus_123' });
 */
export const customerRef = z.strictObject({ customerId: field.customerId });

/**
 * A read that can be answered as of another instant, past or future (default now).
 *
 * @example
 * parseInput(readInput, { customerId: 'cus_123', at: '2025-01-31T23:59:59Z' }); // at: epoch ms
 */
export const readInput = z.strictObject({
  customerId: field.customerId,
  /** Answer as of this instant (default now). */
  at: field.time.nullish(),
});

/**
 * A read that can also be narrowed to one currency (default: every currency the customer holds).
 *
 * @example
 * parseInput(currencyReadInput, { customerId: 'cus_123', currency: 'credits' });
 */
export const currencyReadInput = z.strictObject({
  customerId: field.customerId,
  currency: field.id('unknown_currency').optional(),
  at: field.time.nullish(),
});

/**
 * The usage `check` tests against the balance, without recording it.
 *
 * @example
 * parseInput(checkInput, { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
 */
export const checkInput = z.strictObject({
  customerId: field.customerId,
  feature: field.id('unknown_feature'),
  quantity: field.quantity,
});

/**
 * Names the customer a call is about.
 *
 * @example
 * const customer = await ledger.customer({ customerId: 'cus_123' });
 */
export type CustomerRef = z.input<typeof customerRef>;

/**
 * Input of the reads that are not narrowed to a currency (`creditAccounts`, `holds`, `subscriptions`);
 * `at` answers as of another instant, past or future.
 *
 * @example
 * const lastMonth = await ledger.creditAccounts({ customerId: 'cus_123', at: '2025-01-31T23:59:59Z' });
 */
export type ReadInput = z.input<typeof readInput>;

/**
 * Input of the reads that can be narrowed to one currency (`entries`, `grants`).
 *
 * @example
 * const statement = await ledger.entries({ customerId: 'cus_123', currency: 'credits', at: new Date() });
 */
export type CurrencyReadInput = z.input<typeof currencyReadInput>;

/**
 * Input of `ledger.check`: the usage to test against the balance, without recording it.
 *
 * @example
 * const { allowed } = await ledger.check({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
 */
export type CheckInput = z.input<typeof checkInput>;
