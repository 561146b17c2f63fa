import type { NewEvent } from '@tally/core';
import fc from 'fast-check';

/**
 * Events as varied as a ledger can write them, to check that each store hands back exactly what it
 * was given: unicode text, decimal strings (money), every kind of JSON number, nulls, arrays, nesting.
 */

/** Text a person could type: accents, CJK, emoji and combined graphemes, no NUL (Postgres text refuses it). */
const text = fc.string({ unit: 'grapheme', maxLength: 16 }).filter((s) => !s.includes('\u0000'));

/** Any code point, NUL and controls included: only ever stored inside JSON, which escapes them. */
const anyText = fc.string({ unit: 'binary', maxLength: 16 });

/** A decimal as the ledger stores money: digits, an optional sign and fraction, never a float. */
const decimal = fc
  .tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 18 }))
  .map(([units, scale]) => {
    const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
    const whole = digits.slice(0, digits.length - scale);
    const fraction = scale === 0 ? '' : `.${digits.slice(digits.length - scale)}`;
    return `${units < 0n ? '-' : ''}${whole}${fraction}`;
  });

/** JSON numbers: integers, the edges of the safe range, and doubles of any magnitude (never -0, NaN, ±Infinity). */
const number = fc.oneof(
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0.1, 1e21, 5e-324),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
);

/**
 * Any JSON value but -0: JSON.parse('-0') gives -0, yet JSON.stringify(-0) writes 0, so no JSON
 * store can keep it (and the ledger keeps money in decimal strings anyway).
 */
const json = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }).map(withoutNegativeZero);

function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
  }
  return value;
}

const data: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(
      {
        amount: decimal,
        note: text,
        raw: anyText,
        count: number,
        nothing: fc.constant(null),
        flags: fc.array(fc.boolean(), { maxLength: 4 }),
        items: fc.array(fc.record({ sku: text, quantity: decimal, price: fc.option(number) }), {
          maxLength: 3,
        }),
        nested: fc.dictionary(anyText, json, { maxKeys: 4 }),
      },
      { requiredKeys: ['amount'] },
    ),
    fc.dictionary(anyText, json, { maxKeys: 3 }),
  )
  .map(([known, extra]) => ({ ...extra, ...known }));

const metadata = fc
  .tuple(
    fc.option(text, { nil: undefined }),
    fc.dictionary(anyText, json, { maxKeys: 3 }).map((extra) => {
      // The key is only ever a string; a generated extra must not shadow it with another type.
      const { idempotencyKey: _, ...rest } = extra;
      return rest;
    }),
  )
  .map(([key, extra]) => (key === undefined ? extra : { ...extra, idempotencyKey: key }));

export const newEvent: fc.Arbitrary<NewEvent> = fc.record({
  id: fc.ulid(),
  type: fc.oneof(fc.constantFrom('grant.issued', 'usage.recorded', 'hold.released'), text),
  schemaVersion: fc.integer({ min: 1, max: 1000 }),
  at: fc
    .date({
      min: new Date('1970-01-01T00:00:00.000Z'),
      max: new Date('2999-12-31T23:59:59.999Z'),
      noInvalidDate: true,
    })
    .map((date) => date.toISOString()),
  data,
  metadata,
});

/** A batch for one append: idempotency keys are made unique, as a single append requires. */
export const batch: fc.Arbitrary<NewEvent[]> = fc
  .array(newEvent, { minLength: 1, maxLength: 4 })
  .map((events) =>
    events.map((event, i) => {
      const key = event.metadata.idempotencyKey;
      return key === undefined
        ? event
        : { ...event, metadata: { ...event.metadata, idempotencyKey: `${key}#${i}` } };
    }),
  );

/** Stream ids with unicode in them, kept apart from the ids the other tests use. */
export const streamSuffix = text;
