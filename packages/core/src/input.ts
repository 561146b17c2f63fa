import { MAX_PRIORITY } from './catalog.js';
import { TallyError, type TallyErrorCode } from './errors.js';
import { quote } from './money.js';
import { parseTime } from './time.js';

/**
 * The wall between untrusted callers and the core. Every public entry point passes its input through
 * these checks first, so bad input is refused with a code naming the field before anything is read
 * or written, whatever the caller's types said.
 */

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;
const MAX_ID_LENGTH = 128;
const MAX_KEY_LENGTH = 255;
const MAX_TEXT_LENGTH = 1_000;
const MAX_METADATA_ENTRIES = 50;
const MAX_METADATA_VALUE_LENGTH = 1_000;
/** A quantity past this loses integer precision as a JS number; metering never needs more. */
const MAX_QUANTITY = 1e15;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The object's own enumerable fields, copied onto a null prototype: a field inherited from a prototype
 * (a polluted `Object.prototype`, an object made with `Object.create`) is not part of the request.
 */
export function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TallyError('invalid_input', `${field} must be an object`, { field });
  }
  const own: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value)) own[key] = (value as Record<string, unknown>)[key];
  return own;
}

/**
 * Text every store can keep exactly: Postgres refuses NUL in text columns, and an unpaired UTF-16
 * surrogate is not UTF-8 (drivers write U+FFFD instead, so two different idempotency keys would become
 * one). Free text holding either is refused up front, identically on every store.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function storable(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

export function id(value: unknown, field: string, code: TallyErrorCode = 'invalid_id'): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_ID_LENGTH ||
    !ID_PATTERN.test(value)
  ) {
    throw new TallyError(
      code,
      `${field} must be 1-${MAX_ID_LENGTH} characters of letters, digits and _ . : @ -, starting with a letter or digit; got ${quote(value)}`,
      { field },
    );
  }
  return value;
}

export function optionalId(value: unknown, field: string): string | null {
  return value === undefined || value === null ? null : id(value, field);
}

export function idempotencyKey(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_KEY_LENGTH || !storable(value)) {
    throw new TallyError(
      'invalid_input',
      `idempotencyKey must be a string of 1-${MAX_KEY_LENGTH} characters, without NUL or unpaired surrogates`,
      {
        field: 'idempotencyKey',
      },
    );
  }
  return value;
}

export function quantity(value: unknown, field = 'quantity'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_QUANTITY) {
    throw new TallyError(
      'invalid_quantity',
      `${field} must be a finite number above 0 and at most 1e15, got ${quote(value)}`,
      {
        field,
      },
    );
  }
  return value;
}

export function optionalQuantity(value: unknown, field = 'quantity'): number | null {
  return value === undefined || value === null ? null : quantity(value, field);
}

/** Shape only (a decimal string); the currency's places are checked where the currency is known. */
export function amountText(value: unknown, field = 'amount'): string {
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value) || value.length > 60) {
    throw new TallyError(
      'invalid_amount',
      `${field} must be a decimal string such as "10.50", got ${quote(value)}`,
      {
        field,
      },
    );
  }
  return value;
}

/** An amount that must be more than zero: a grant or a hold of nothing is a mistake. */
export function positiveAmountText(value: unknown, field = 'amount'): string {
  const text = amountText(value, field);
  if (/^0+(\.0+)?$/.test(text)) {
    throw new TallyError('invalid_amount', `${field} must be greater than zero`, { field });
  }
  return text;
}

export function optionalAmountText(value: unknown, field = 'amount'): string | null {
  return value === undefined || value === null ? null : amountText(value, field);
}

export function time(value: unknown, field: string): number {
  const ms = parseTime(value, field);
  // Date.parse rolls impossible days over ('2025-02-30' is 2 March); a caller who wrote one meant something else.
  if (typeof value === 'string') {
    const [year, month, day] = [value.slice(0, 4), value.slice(5, 7), value.slice(8, 10)].map(Number) as [
      number,
      number,
      number,
    ];
    if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
      throw new TallyError('invalid_time', `${field} is not a calendar date: ${quote(value)}`, { field });
    }
  }
  return ms;
}

export function optionalTime(value: unknown, field: string): number | null {
  return value === undefined || value === null ? null : time(value, field);
}

export function text(value: unknown, field: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length > MAX_TEXT_LENGTH || !storable(value)) {
    throw new TallyError(
      'invalid_input',
      `${field} must be a string of at most ${MAX_TEXT_LENGTH} characters, without NUL or unpaired surrogates`,
      { field },
    );
  }
  return value;
}

export function priority(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PRIORITY) {
    throw new TallyError(
      'invalid_input',
      `priority must be an integer from 0 to ${MAX_PRIORITY}, got ${quote(value)}`,
      {
        field: 'priority',
      },
    );
  }
  return value;
}

export function oneOf<T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TallyError(
      'invalid_input',
      `${field} must be one of ${allowed.join(', ')}, got ${quote(value)}`,
      { field },
    );
  }
  return value as T;
}

export function flag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new TallyError('invalid_input', `${field} must be true or false`, { field });
  return value;
}

/** String-to-string metadata, copied into a fresh object so no prototype trick survives. */
export function metadata(value: unknown, field = 'metadata'): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  // A Map, Set or Date is an object too, but its entries are not own fields: refuse rather than drop them.
  if (
    typeof value === 'object' &&
    value !== null &&
    Object.prototype.toString.call(value) !== '[object Object]'
  ) {
    throw new TallyError('invalid_input', `${field} must be a plain object of strings`, { field });
  }
  const source = record(value, field);
  const keys = Object.keys(source);
  if (keys.length > MAX_METADATA_ENTRIES) {
    throw new TallyError('invalid_input', `${field} may have at most ${MAX_METADATA_ENTRIES} entries`, {
      field,
    });
  }
  const copy: Record<string, string> = {};
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key) || key.length === 0 || key.length > 64 || !storable(key)) {
      throw new TallyError('invalid_input', `${field} key ${quote(key)} is not allowed`, {
        field: `${field}.${key}`,
      });
    }
    const entry = source[key];
    if (typeof entry !== 'string' || entry.length > MAX_METADATA_VALUE_LENGTH || !storable(entry)) {
      throw new TallyError(
        'invalid_input',
        `${field}.${key} must be a string of at most ${MAX_METADATA_VALUE_LENGTH} characters, without NUL or unpaired surrogates`,
        {
          field: `${field}.${key}`,
        },
      );
    }
    copy[key] = entry;
  }
  return copy;
}
