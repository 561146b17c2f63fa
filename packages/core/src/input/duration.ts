import { z } from 'zod';
import { quote } from '../money.js';
import { registerRefusal } from './fields.js';

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
/** Ten years: a longer span is a mistake, and stays far inside a safe integer of milliseconds. */
const MAX_MS = 10 * 365 * 86_400_000;

/**
 * A span of time: whole milliseconds, or a count and a unit (`'30s'`, `'15m'`, `'12h'`, `'3d'`,
 * `'2w'`, `'500ms'`). Read as milliseconds, above zero and at most ten years.
 */
export const duration = registerRefusal(
  z
    .union([z.number(), z.string()])
    .transform((value) => {
      if (typeof value === 'number') return value;
      const match = /^(\d{1,12})(ms|s|m|h|d|w)$/.exec(value);
      return match === null ? Number.NaN : Number(match[1]) * UNITS[match[2]!]!;
    })
    .pipe(z.number().int().positive().max(MAX_MS)),
  {
    code: 'invalid_input',
    message: (field, value) =>
      `${field} must be a span such as '3d', '12h', '15m' or a whole number of milliseconds above 0 (at most ten years), got ${quote(value)}`,
  },
);
