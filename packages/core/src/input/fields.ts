import { z } from 'zod';
import type { TallyErrorCode } from '../errors.js';
import { quote } from '../money.js';
import { calendarProblem, timeProblem, toMs } from '../time.js';

/**
 * The fields every public input is built from, as zod schemas. One schema validates a ledger call and
 * the HTTP body of the same call, and describes it in the OpenAPI document, so the library and the API
 * can never disagree about what is valid. Each field carries the `TallyErrorCode` and the message its
 * refusal gets (see `refusalOf`), whichever of its checks failed: a caller branches on one stable code
 * per field.
 */

/** What a field's refusal says: its code, and a message made from the field's name and the value given. */
export interface FieldRefusal {
  readonly code: TallyErrorCode;
  readonly message: (field: string, value: unknown) => string;
}

const refusals = new WeakMap<z.ZodType, FieldRefusal>();

function described<S extends z.ZodType>(json: Record<string, unknown>, schema: S): S {
  jsonForms.set(schema, json);
  return schema;
}

/** Registers how `schema` is refused, and returns it. */
export function registerRefusal<S extends z.ZodType>(schema: S, refusal: FieldRefusal): S {
  refusals.set(schema, refusal);
  return schema;
}

/**
 * JSON Schema for fields whose zod type has no JSON form (a `Date` is accepted beside a string): what
 * the OpenAPI document shows instead. See `jsonSchemaOverride`.
 */
const jsonForms = new WeakMap<z.ZodType, Record<string, unknown>>();

/**
 * The JSON Schema a field is described by over HTTP, when its zod type cannot say it (a time accepts a
 * `Date` beside a string; over HTTP it is a `date-time` string). For `z.toJSONSchema`'s `override`.
 *
 * @example
 * jsonSchemaOverride(readInput.shape.at.unwrap().unwrap()); // { type: 'string', format: 'date-time', … }
 */
export const jsonSchemaOverride = (schema: z.ZodType): Record<string, unknown> | undefined =>
  jsonForms.get(schema);

/** How the field schema `schema` is refused, if it is one of these fields. */
export const refusalOf = (schema: z.ZodType): FieldRefusal | undefined => refusals.get(schema);

/**
 * A refusal raised from inside a check (a rule the schema's types cannot say): its issue carries the
 * code, and the message is the check's own.
 */
export interface CustomRefusal {
  readonly tallyCode: TallyErrorCode;
  readonly field?: string;
}

/** Lower is spent first; the default, and the largest allowed. */
export const DEFAULT_PRIORITY = 50;
export const MAX_PRIORITY = 1_000_000;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;
const MAX_ID_LENGTH = 128;
/** Limits on free text count characters (code points), not UTF-16 units: '🙂' is one. */
const MAX_KEY_LENGTH = 255;
const MAX_TEXT_LENGTH = 1_000;
const MAX_METADATA_ENTRIES = 50;
const MAX_METADATA_KEY_LENGTH = 64;
const MAX_METADATA_VALUE_LENGTH = 1_000;
/** A quantity past this loses integer precision as a JS number; metering never needs more. */
const MAX_QUANTITY = 1e15;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Text every store can keep exactly: Postgres refuses NUL in text columns, and an unpaired UTF-16
 * surrogate is not UTF-8 (drivers write U+FFFD instead, so two different idempotency keys would become
 * one). Free text holding either is refused up front, identically on every store.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (value: string): boolean => !value.includes('\u0000') && !LONE_SURROGATE.test(value);
/** Characters, not UTF-16 units. */
const characters = (value: string): number => {
  let n = 0;
  for (const _ of value) n++;
  return n;
};

/**
 * An id the ledger stores and names streams by: `code` is the refusal's code (`invalid_id` for ids the
 * caller makes up, the `unknown_*` code of what a reference names, so a malformed plan id is an
 * `unknown_plan` like a missing one).
 */
export const id = (code: TallyErrorCode = 'invalid_id') =>
  registerRefusal(z.string().min(1).max(MAX_ID_LENGTH).regex(ID_PATTERN), {
    code,
    message: (field, value) =>
      `${field} must be 1-${MAX_ID_LENGTH} characters of letters, digits and _ . : @ -, starting with a letter or digit; got ${quote(value)}`,
  });

/** A write's idempotency key: any storable text of 1-255 characters. */
export const idempotencyKey = registerRefusal(
  z
    .string()
    .refine((value) => value.length > 0 && characters(value) <= MAX_KEY_LENGTH && storable(value))
    .meta({ description: 'Repeating a write with the same key and payload returns the first result.' }),
  {
    code: 'invalid_input',
    message: (field) =>
      `${field} must be a string of 1-${MAX_KEY_LENGTH} characters, without NUL or unpaired surrogates`,
  },
);

/** Units used: a positive finite number, fractions allowed. */
export const quantity = registerRefusal(z.number().positive().max(MAX_QUANTITY), {
  code: 'invalid_quantity',
  message: (field, value) => `${field} must be a finite number above 0 and at most 1e15, got ${quote(value)}`,
});

/**
 * A decimal string such as "10.50". Only the shape is checked here: the places a currency allows are
 * checked where the currency is known.
 */
export const amount = registerRefusal(
  z
    .string()
    .max(60)
    .regex(/^\d+(\.\d+)?$/),
  {
    code: 'invalid_amount',
    message: (field, value) => `${field} must be a decimal string such as "10.50", got ${quote(value)}`,
  },
);

/** An amount above zero: a grant or a hold of nothing is a mistake. */
export const positiveAmount = registerRefusal(
  amount.refine((text) => !/^0+(\.0+)?$/.test(text), {
    params: { tallyCode: 'invalid_amount' } satisfies CustomRefusal,
    error: 'must be greater than zero',
  }),
  refusalOf(amount)!,
);

/**
 * A point in time: a `Date`, or an ISO-8601 string with an offset (`Z`, `+02:00`) or as a bare date
 * (midnight UTC). Read as epoch milliseconds.
 */
export const time = described(
  { type: 'string', format: 'date-time', description: 'ISO-8601 with an offset, e.g. 2025-01-31T10:00:00Z' },
  registerRefusal(
    z
      .union([z.string(), z.date()])
      .superRefine((value, ctx) => {
        const problem = timeProblem(value) ?? (typeof value === 'string' ? calendarProblem(value) : null);
        if (problem !== null) {
          ctx.addIssue({ code: 'custom', message: problem, params: { tallyCode: 'invalid_time' } });
        }
      })
      .transform(toMs),
    {
      code: 'invalid_time',
      message: (field, value) =>
        `${field} must be a Date or an ISO-8601 string with an offset (e.g. 2025-01-31T10:00:00Z), got ${quote(value)}`,
    },
  ),
);

/** Free text (a reason, an external id): stored verbatim, at most 1,000 characters. */
export const text = registerRefusal(
  z.string().refine((value) => characters(value) <= MAX_TEXT_LENGTH && storable(value)),
  {
    code: 'invalid_input',
    message: (field) =>
      `${field} must be a string of at most ${MAX_TEXT_LENGTH} characters, without NUL or unpaired surrogates`,
  },
);

/** Lower is spent first. */
export const priority = registerRefusal(z.number().int().min(0).max(MAX_PRIORITY), {
  code: 'invalid_input',
  message: (field, value) => `${field} must be an integer from 0 to ${MAX_PRIORITY}, got ${quote(value)}`,
});

export const flag = registerRefusal(z.boolean(), {
  code: 'invalid_input',
  message: (field) => `${field} must be true or false`,
});

/** One of a few words. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  registerRefusal(z.enum(values), {
    code: 'invalid_input',
    message: (field, value) => `${field} must be one of ${values.join(', ')}, got ${quote(value)}`,
  });

/**
 * String-to-string metadata, stored as given. A key that could reach a prototype (`__proto__`) is
 * refused, not dropped, and the value is copied onto a fresh object by the input layer.
 */
const metadataValue = registerRefusal(z.string(), {
  code: 'invalid_input',
  message: (field) =>
    `${field} must be a string of at most ${MAX_METADATA_VALUE_LENGTH} characters, without NUL or unpaired surrogates`,
});

export const metadata = registerRefusal(
  z
    .record(z.string(), metadataValue)
    .superRefine((value, ctx) => {
      const keys = Object.keys(value);
      if (keys.length > MAX_METADATA_ENTRIES) {
        ctx.addIssue({
          code: 'custom',
          message: `may have at most ${MAX_METADATA_ENTRIES} entries`,
          params: { tallyCode: 'invalid_input' } satisfies CustomRefusal,
        });
        return;
      }
      for (const key of keys) {
        if (
          FORBIDDEN_KEYS.has(key) ||
          key.length === 0 ||
          characters(key) > MAX_METADATA_KEY_LENGTH ||
          !storable(key)
        ) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `key ${quote(key)} is not allowed`,
            params: { tallyCode: 'invalid_input' } satisfies CustomRefusal,
          });
          return;
        }
        const entry = value[key]!;
        if (characters(entry) > MAX_METADATA_VALUE_LENGTH || !storable(entry)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `must be a string of at most ${MAX_METADATA_VALUE_LENGTH} characters, without NUL or unpaired surrogates`,
            params: { tallyCode: 'invalid_input' } satisfies CustomRefusal,
          });
          return;
        }
      }
    })
    .meta({ description: 'String keys and values, stored as given (at most 50 entries).' }),
  {
    code: 'invalid_input',
    message: (field) => `${field} must be a plain object of strings`,
  },
);

/**
 * Money, not credits: `{ amount: '20.00', currency: 'USD' }`, an ISO 4217 code and at most 4 places.
 * `code` is what its refusals carry (`invalid_amount` in a write, `invalid_catalog` in a plan).
 */
export const moneyOf = (code: TallyErrorCode) =>
  registerRefusal(
    z.strictObject({
      amount: registerRefusal(
        z.string().refine((value) => /^(0|[1-9]\d{0,14})(\.\d{1,4})?$/.test(value)),
        {
          code,
          message: (field, value) =>
            `${field} must be a decimal string of at most 4 places such as "20.00", got ${quote(value)}`,
        },
      ),
      currency: registerRefusal(z.string().regex(/^[A-Z]{3}$/), {
        code,
        message: (field, value) => `${field} must be an ISO 4217 code such as "USD", got ${quote(value)}`,
      }),
    }),
    { code, message: (field) => `${field} must be { amount, currency }` },
  );

/** What a purchase cost, in a write. */
export const money = moneyOf('invalid_amount');

/** `customerId`, the one field every ledger call has. */
export const customerId = id();

/** Object keys the input layer never copies: a request naming one is refused as an unknown field. */
export const isForbiddenKey = (key: string): boolean => FORBIDDEN_KEYS.has(key);
