import type { LedgerEntry } from '../entries.js';

/**
 * The columns of a CSV export, in order: the customer, then every field of a `LedgerEntry`.
 *
 * @example
 * const header = EXPORT_COLUMNS.join(','); // 'customerId,entryId,at,kind,...'
 */
export const EXPORT_COLUMNS = [
  'customerId',
  'entryId',
  'at',
  'kind',
  'currency',
  'amount',
  'balance',
  'held',
  'debt',
  'grantId',
  'usageId',
  'holdId',
  'feature',
  'quantity',
  'source',
  'reason',
] as const;

/** A spreadsheet runs a cell that starts like a formula: free text that does is written with a `'` first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(value: string | number | null, text: boolean): string {
  if (value === null) return '';
  let out = String(value);
  if (text && FORMULA_START.test(out)) out = `'${out}`;
  return /[",\r\n]/.test(out) ? `"${out.replaceAll('"', '""')}"` : out;
}

/**
 * The CSV header line, with its line break.
 *
 * @example
 * process.stdout.write(csvHeader());
 */
export const csvHeader = (): string => `${EXPORT_COLUMNS.join(',')}\r\n`;

/**
 * One entry as a CSV line (CRLF-terminated). The free-text `reason` is prefixed with `'` when it starts
 * like a spreadsheet formula (=, +, -, @), so opening an export never runs one.
 *
 * @example
 * const [entry] = (await ledger.entries({ customerId: 'cus_123' })).data;
 * if (entry !== undefined) process.stdout.write(csvLine('cus_123', entry)); // 'cus_123,evt_…,2025-01-02T10:00:00.000Z,usage,...'
 */
export function csvLine(customerId: string, entry: LedgerEntry): string {
  const values: Record<(typeof EXPORT_COLUMNS)[number], string | number | null> = { customerId, ...entry };
  return `${EXPORT_COLUMNS.map((column) => csvField(values[column], column === 'reason')).join(',')}\r\n`;
}

/**
 * One entry as an NDJSON line: the entry's fields with its customer first.
 *
 * @example
 * const [entry] = (await ledger.entries({ customerId: 'cus_123' })).data;
 * if (entry !== undefined) process.stdout.write(ndjsonLine('cus_123', entry)); // '{"customerId":"cus_123",...}\n'
 */
export const ndjsonLine = (customerId: string, entry: LedgerEntry): string =>
  `${JSON.stringify({ customerId, ...entry })}\n`;
