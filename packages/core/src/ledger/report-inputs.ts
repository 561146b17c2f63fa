import { z } from 'zod';
import * as field from '../input/fields.js';

/**
 * Input of `ledger.exportEntries`: one customer's statement or (without `customerId`) every
 * customer's, as CSV or NDJSON, narrowed to a currency and a window (`from` inclusive, `to` exclusive).
 *
 * @example
 * parseInput(exportInput, { customerId: 'cus_123', format: 'csv', from: '2025-01-01T00:00:00Z' });
 */
export const exportInput = z.strictObject({
  customerId: field.customerId.optional(),
  format: field.oneOf(['csv', 'ndjson']),
  currency: field.id('unknown_currency').optional(),
  from: field.time.nullish(),
  to: field.time.nullish(),
});

/**
 * Input of `ledger.usageSummary`: a customer's spending between `from` (inclusive) and `to`
 * (exclusive), grouped by feature or by UTC day or month, optionally in one currency.
 *
 * @example
 * parseInput(usageSummaryInput, { customerId: 'cus_123', from: '2025-01-01', to: '2025-02-01', groupBy: 'feature' });
 */
export const usageSummaryInput = z.strictObject({
  customerId: field.customerId,
  from: field.time,
  to: field.time,
  groupBy: field.oneOf(['feature', 'day', 'month']),
  currency: field.id('unknown_currency').optional(),
});

/**
 * Input of `ledger.exportEntries`.
 *
 * @example
 * for await (const chunk of ledger.exportEntries({ customerId: 'cus_123', format: 'ndjson' })) process.stdout.write(chunk);
 */
export type ExportInput = z.input<typeof exportInput>;

/**
 * Input of `ledger.usageSummary`.
 *
 * @example
 * const march = await ledger.usageSummary({ customerId: 'cus_123', from: '2025-03-01', to: '2025-04-01', groupBy: 'day' });
 */
export type UsageSummaryInput = z.input<typeof usageSummaryInput>;
