import { TallyError } from '@tally/core';
import { checkOptions, customerRef, type OptionRules, parseInput, required } from '@tally/core/pure';
import { SignJWT } from 'jose';
import { z } from 'zod';

/**
 * What a customer token may do besides naming its customer: `read` its own accounts, ledger, grants,
 * holds, subscriptions and `check`; each other scope is the name of the one command it allows.
 * Commands that move money or change terms (grants, voids, reversals, credit limits, subscriptions,
 * payments) have no scope: only a secret key runs them.
 *
 * @example
 * const scopes: CustomerScope[] = ['read', 'trackUsage'];
 */
export type CustomerScope = (typeof CUSTOMER_SCOPES)[number];

/**
 * Every {@link CustomerScope}, in the order the README lists them.
 *
 * @example
 * CUSTOMER_SCOPES.includes('hold'); // true
 */
export const CUSTOMER_SCOPES = ['read', 'trackUsage', 'hold', 'captureHold', 'releaseHold'] as const;

/**
 * Signature algorithms a customer token may use: HMAC, a secret shared by the host and the handler.
 *
 * @example
 * const algorithm: CustomerTokenAlgorithm = 'HS512';
 * const key: CustomerTokenKey = { kid: '2026-12', secret: process.env.TALLY_TOKEN_SECRET!, algorithm };
 */
export type CustomerTokenAlgorithm = 'HS256' | 'HS384' | 'HS512';

/** Every `CustomerTokenAlgorithm`, for the checks of both sides (signing and verifying). */
export const TOKEN_ALGORITHMS: readonly string[] = [
  'HS256',
  'HS384',
  'HS512',
] satisfies readonly CustomerTokenAlgorithm[];

/** The `aud` claim of every customer token, so a JWT the host signs for something else is not one. */
export const CUSTOMER_TOKEN_AUDIENCE = 'tally';

/** Shortest secret accepted: RFC 7518 wants an HMAC key at least as long as the hash (32 bytes for HS256). */
export const MIN_SECRET_BYTES = 32;

/** Longest lifetime: a customer token lives in a browser, so it is short-lived; mint a new one instead. */
export const MAX_EXPIRES_IN_SECONDS = 86_400;

const DEFAULT_EXPIRES_IN_SECONDS = 900;

const SPAN = /^(\d+) ?(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A lifetime in seconds from `900` or `'15m'`, or null when it is neither. */
function seconds(value: number | string): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  const match = SPAN.exec(value);
  return match === null ? null : Number(match[1]) * UNIT_SECONDS[match[2]!.charAt(0)]!;
}

const tokenInput = z.strictObject({
  customerId: customerRef.shape.customerId,
  scopes: z.array(z.enum(CUSTOMER_SCOPES)).min(1).optional(),
  expiresIn: z
    .union([z.number(), z.string()])
    .refine(
      (value) => {
        const s = seconds(value);
        return s !== null && s > 0 && s <= MAX_EXPIRES_IN_SECONDS;
      },
      `must be a number of seconds or a span such as "15m", from 1 s to ${MAX_EXPIRES_IN_SECONDS / 3600} h`,
    )
    .optional(),
});

/**
 * Input of {@link createCustomerToken}.
 *
 * @example
 * const claims: CustomerTokenClaims = { customerId: 'cus_123', scopes: ['read', 'trackUsage'], expiresIn: '15m' };
 */
export interface CustomerTokenClaims {
  /** The customer the token is for: the only one it can read or write. */
  readonly customerId: string;
  /** What the token may do (default `['read']`). */
  readonly scopes?: readonly CustomerScope[];
  /** Lifetime: seconds, or a span such as `'15m'`, `'2h'` (default 15 minutes, at most 24 hours). */
  readonly expiresIn?: number | string;
}

/**
 * A signing secret with the key id the handler finds it by, so secrets can rotate: the handler accepts
 * every id in its `customerTokens.secrets` while the host signs with the newest.
 *
 * @example
 * const key: CustomerTokenKey = { kid: '2026-12', secret: process.env.TALLY_TOKEN_SECRET! };
 */
export interface CustomerTokenKey {
  /** Written in the token's header (`kid`); 1-64 characters. */
  readonly kid: string;
  /** At least 32 bytes (UTF-8). */
  readonly secret: string;
  /** Default `HS256`; the handler must list the one used in `customerTokens.algorithms`. */
  readonly algorithm?: CustomerTokenAlgorithm;
}

/**
 * The secret's bytes, or a `TallyError` naming `field` when it is not a string of 32 bytes or more:
 * one check for both sides, so a secret the handler would refuse never signs a token.
 */
export function secretBytes(secret: unknown, field: string): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : null;
  if (bytes === null || bytes.byteLength < MIN_SECRET_BYTES) {
    throw new TallyError('invalid_input', `${field} must be a string of at least ${MIN_SECRET_BYTES} bytes`, {
      field,
    });
  }
  return bytes;
}

const KID = /^[\x21-\x7e]{1,64}$/;

/** A signing key's fields (a secret given as a plain string is checked by `secretBytes`). */
const KEY_RULES: OptionRules = {
  kid: required({
    expected: '1-64 printable ASCII characters',
    valid: (v) => typeof v === 'string' && KID.test(v),
  }),
  secret: required({
    expected: `a string of at least ${MIN_SECRET_BYTES} bytes`,
    secret: true,
    valid: (v) => typeof v === 'string' && new TextEncoder().encode(v).byteLength >= MIN_SECRET_BYTES,
  }),
  algorithm: {
    expected: `one of ${TOKEN_ALGORITHMS.join(', ')}`,
    valid: (v) => typeof v === 'string' && TOKEN_ALGORITHMS.includes(v),
  },
};

const TOKEN_OPTION_RULES: OptionRules = {
  now: { expected: 'a valid Date', valid: (v) => v instanceof Date && !Number.isNaN(v.getTime()) },
};

/**
 * Mints a customer token on the host's backend, for a signed-in user's browser or app: a JWT
 * (HS256 by default) whose `sub` is the customer, `scope` its scopes (space-separated), `aud` `tally`,
 * with `iat` and `exp`. Hand it to the client; the secret stays on the server, like the API keys.
 * Refuses bad claims with a `TallyError` naming the field (`invalid_id` for the customer id), and a
 * secret under 32 bytes with `invalid_input` on `secret`.
 *
 * @example
 * import { createCustomerToken } from '@tally/http';
 *
 * // In the host's backend, after it has signed the user in:
 * const token = await createCustomerToken(
 *   { customerId: 'cus_123', scopes: ['read', 'trackUsage'], expiresIn: '15m' },
 *   { kid: '2026-12', secret: process.env.TALLY_TOKEN_SECRET! },
 * );
 * // The browser sends it as "Authorization: Bearer <token>".
 */
export async function createCustomerToken(
  claims: CustomerTokenClaims,
  secret: string | CustomerTokenKey,
  options: { readonly now?: Date } = {},
): Promise<string> {
  const input = parseInput(tokenInput, claims, { root: 'claims' });
  if (typeof secret === 'object' && secret !== null) {
    checkOptions(secret, KEY_RULES, { factory: 'createCustomerToken', prefix: 'secret' });
  }
  checkOptions(options, TOKEN_OPTION_RULES, { factory: 'createCustomerToken' });
  const key: CustomerTokenKey =
    typeof secret === 'object' && secret !== null ? secret : { kid: '', secret: secret as string };
  const bytes = secretBytes(key.secret, 'secret');
  // A key's kid and algorithm were checked by KEY_RULES above; a plain string has neither.
  const algorithm = key.algorithm ?? 'HS256';
  const now = options.now ?? new Date();
  const issuedAt = Math.floor(now.getTime() / 1000);
  const lifetime = input.expiresIn === undefined ? DEFAULT_EXPIRES_IN_SECONDS : seconds(input.expiresIn)!;
  const header =
    key.kid === '' ? { alg: algorithm, typ: 'JWT' } : { alg: algorithm, typ: 'JWT', kid: key.kid };
  return new SignJWT({ scope: [...new Set(input.scopes ?? ['read'])].join(' ') })
    .setProtectedHeader(header)
    .setSubject(input.customerId)
    .setAudience(CUSTOMER_TOKEN_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + lifetime)
    .sign(bytes);
}
