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

export function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TallyError('invalid_input', `${field} must be an object`, { field });
  }
  return value as Record<string, unknown>;
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
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_KEY_LENGTH) {
    throw new TallyError(
      'invalid_input',
      `idempotencyKey must be a string of 1-${MAX_KEY_LENGTH} characters`,
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

export function optionalAmountText(value: unknown, field = 'amount'): string | null {
  return value === undefined || value === null ? null : amountText(value, field);
}

export function time(value: unknown, field: string): number {
  return parseTime(value, field);
}

export function optionalTime(value: unknown, field: string): number | null {
  return value === undefined || value === null ? null : parseTime(value, field);
}

export function text(value: unknown, field: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length > MAX_TEXT_LENGTH) {
    throw new TallyError(
      'invalid_input',
      `${field} must be a string of at most ${MAX_TEXT_LENGTH} characters`,
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
  const source = record(value, field);
  const keys = Object.keys(source);
  if (keys.length > MAX_METADATA_ENTRIES) {
    throw new TallyError('invalid_input', `${field} may have at most ${MAX_METADATA_ENTRIES} entries`, {
      field,
    });
  }
  const copy: Record<string, string> = {};
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key) || key.length === 0 || key.length > 64) {
      throw new TallyError('invalid_input', `${field} key ${quote(key)} is not allowed`, {
        field: `${field}.${key}`,
      });
    }
    const entry = source[key];
    if (typeof entry !== 'string' || entry.length > MAX_METADATA_VALUE_LENGTH) {
      throw new TallyError(
        'invalid_input',
        `${field}.${key} must be a string of at most ${MAX_METADATA_VALUE_LENGTH} characters`,
        {
          field: `${field}.${key}`,
        },
      );
    }
    copy[key] = entry;
  }
  return copy;
}
