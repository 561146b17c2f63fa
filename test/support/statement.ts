/**
 * A customer's whole statement read page by page, as a test compares it: `ledger.entries` returns one
 * page, so this follows `nextCursor` to the end.
 *
 * @example
 * const lines = await allEntries(ledger, { customerId: 'cus_1', currency: 'credits' });
 */
import type { EntriesInput, Ledger, LedgerEntry } from '@tally/core';

export async function allEntries(
  ledger: Pick<Ledger, 'entries'>,
  input: Omit<EntriesInput, 'cursor'>,
): Promise<LedgerEntry[]> {
  const lines: LedgerEntry[] = [];
  let cursor: string | null = null;
  do {
    const page = await ledger.entries({ limit: 1000, ...input, cursor });
    lines.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return lines;
}
