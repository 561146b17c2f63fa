import { z } from 'zod';
import * as field from '../input/fields.js';
import { quote } from '../money.js';

/**
 * Lines a page of the statement holds unless `limit` says otherwise.
 *
 * @example
 * const { data } = await ledger.entries({ customerId: 'cus_123' }); // data.length <= DEFAULT_PAGE_SIZE
 */
export const DEFAULT_PAGE_SIZE = 100;
/**
 * The most lines one page may ask for; a larger `limit` is refused (`invalid_input`).
 *
 * @example
 * const page = await ledger.entries({ customerId: 'cus_123', limit: MAX_PAGE_SIZE });
 */
export const MAX_PAGE_SIZE = 1_000;
const MAX_CURSOR_LENGTH = 4_096;

/**
 * A page size: an integer from 1 to 1,000, as a number or (from a query string) its decimal digits.
 *
 * @example
 * parseInput(entriesInput, { customerId: 'cus_123', limit: '50' }); // limit: 50, as a query string gives it
 */
export const pageSize = field.registerRefusal(
  z
    .union([z.number(), z.string().regex(/^\d{1,4}$/)])
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_PAGE_SIZE)),
  {
    code: 'invalid_input',
    message: (name, value) => `${name} must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${quote(value)}`,
  },
);

/**
 * An opaque cursor from a page's `nextCursor`; only its shape is checked here, the rest when it is read.
 *
 * @example
 * const page = await ledger.entries({ customerId: 'cus_123' });
 * if (page.nextCursor !== null) parseInput(entriesInput, { customerId: 'cus_123', cursor: page.nextCursor });
 */
export const cursor = field.registerRefusal(
  z
    .string()
    .min(1)
    .max(MAX_CURSOR_LENGTH)
    .regex(/^[\w-]+$/),
  {
    code: 'invalid_input',
    message: (name) => `${name} must be a nextCursor this ledger returned for the same read`,
  },
);

/**
 * The order of a statement page: newest or oldest line first.
 *
 * @example
 * const order: EntriesOrder = 'newest_first';
 */
export type EntriesOrder = 'newest_first' | 'oldest_first';

/**
 * Narrows a statement to one currency and a time window: `from` inclusive, `to` exclusive, as of `at`
 * (default now).
 *
 * @example
 * parseInput(statementFilter, { customerId: 'cus_123', from: '2025-01-01T00:00:00Z' });
 */
export const statementFilter = z.strictObject({
  customerId: field.customerId,
  currency: field.id('unknown_currency').optional(),
  from: field.time.nullish(),
  to: field.time.nullish(),
  at: field.time.nullish(),
});

/**
 * Input of `ledger.entries`: a statement filter, and which page of it.
 *
 * @example
 * parseInput(entriesInput, { customerId: 'cus_123', currency: 'credits', limit: 50, order: 'newest_first' });
 */
export const entriesInput = statementFilter.extend({
  limit: pageSize.optional(),
  cursor: cursor.nullish(),
  order: field.oneOf(['newest_first', 'oldest_first']).optional(),
});

/**
 * Input of `ledger.entries`. Without `cursor` it reads the first page (the oldest lines, or with
 * `order: 'newest_first'` the latest); pass a page's `nextCursor`, with the same filters, for the next.
 *
 * @example
 * const first = await ledger.entries({ customerId: 'cus_123', currency: 'credits', limit: 50 });
 * const second = await ledger.entries({ customerId: 'cus_123', currency: 'credits', limit: 50, cursor: first.nextCursor });
 */
export type EntriesInput = z.input<typeof entriesInput>;
