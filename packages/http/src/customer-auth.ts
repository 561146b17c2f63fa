import { checkOptions, customerRef, type OptionRules, optionRefusal } from '@tally/core/pure';
import { jwtVerify } from 'jose';
import {
  CUSTOMER_SCOPES,
  CUSTOMER_TOKEN_AUDIENCE,
  type CustomerScope,
  type CustomerTokenAlgorithm,
  MIN_SECRET_BYTES,
  secretBytes,
  TOKEN_ALGORITHMS,
} from './customer-token.js';

/**
 * The handler's `customerTokens` option: the secrets customer tokens are signed with, by key id.
 *
 * @example
 * // Rotating: the host signs with '2026-12'; tokens signed with '2026-11' stay valid until they expire.
 * const customerTokens: CustomerTokenOptions = {
 *   secrets: { '2026-12': process.env.TALLY_TOKEN_SECRET!, '2026-11': process.env.TALLY_TOKEN_SECRET_OLD! },
 *   clockTolerance: 30,
 * };
 */
export interface CustomerTokenOptions {
  /** The secret of tokens minted without a key id. */
  readonly secret?: string;
  /** Secrets by key id (`kid` in the token's header): a token naming an id not here is refused. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Seconds of clock skew allowed between the host that minted a token and this server; default 30. */
  readonly clockTolerance?: number;
  /** Signature algorithms accepted; default `['HS256']`. */
  readonly algorithms?: readonly CustomerTokenAlgorithm[];
}

/** Who sent a request: a holder of a secret key, or a customer token's bearer. */
export type Caller =
  | { readonly kind: 'secret' }
  | { readonly kind: 'customer'; readonly customerId: string; readonly scopes: ReadonlySet<CustomerScope> };

/** What the handler's `customerTokens` accepts (the secrets' lengths are checked as they are read). */
export const CUSTOMER_TOKEN_OPTION_RULES: OptionRules = {
  secret: {
    expected: `a string of at least ${MIN_SECRET_BYTES} bytes`,
    secret: true,
    valid: (v) => typeof v === 'string',
  },
  secrets: {
    expected: `an object of secrets by key id, each a string of at least ${MIN_SECRET_BYTES} bytes`,
    secret: true,
    valid: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  },
  clockTolerance: {
    expected: 'a number of seconds from 0 to 300',
    valid: (v) => typeof v === 'number' && v >= 0 && v <= 300,
  },
  algorithms: {
    expected: `a non-empty list of ${TOKEN_ALGORITHMS.join(', ')}`,
    valid: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((a) => typeof a === 'string' && TOKEN_ALGORITHMS.includes(a)),
  },
};

/**
 * The check of a presented token: the customer and scopes of a valid one, or null for anything else
 * (a bad signature, an unknown key id, another algorithm, `alg: none`, expired, another audience,
 * claims that are not a customer and known scopes). jose verifies; this only picks the key and reads
 * the claims.
 */
export function customerTokenVerifier(
  options: CustomerTokenOptions,
): (token: string) => Promise<Caller | null> {
  checkOptions(options, CUSTOMER_TOKEN_OPTION_RULES, {
    factory: 'createHttpHandler',
    prefix: 'customerTokens',
  });
  const unkeyed = options.secret === undefined ? null : bytesOf(options.secret, 'customerTokens.secret');
  const keyed = new Map<string, Uint8Array>();
  for (const [kid, secret] of Object.entries(options.secrets ?? {})) {
    keyed.set(kid, bytesOf(secret, `customerTokens.secrets.${kid}`));
  }
  if (unkeyed === null && keyed.size === 0) {
    throw optionRefusal('createHttpHandler', 'customerTokens', 'needs a secret or secrets');
  }
  const clockTolerance = options.clockTolerance ?? 30;
  const algorithms = [...(options.algorithms ?? ['HS256'])];

  return async (token) => {
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          const key = header.kid === undefined ? unkeyed : keyed.get(header.kid);
          if (key == null) throw new Error('no secret for this key id');
          return key;
        },
        {
          algorithms,
          audience: CUSTOMER_TOKEN_AUDIENCE,
          clockTolerance,
          requiredClaims: ['sub', 'exp', 'iat'],
        },
      );
      const customer = customerRef.shape.customerId.safeParse(payload.sub);
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : null;
      if (!customer.success || scopes === null) return null;
      if (!scopes.every((s): s is CustomerScope => (CUSTOMER_SCOPES as readonly string[]).includes(s))) {
        return null;
      }
      return { kind: 'customer', customerId: customer.data, scopes: new Set(scopes) };
    } catch {
      return null;
    }
  };
}

/** The secret's bytes; a refusal names the option, as the handler's other refusals do. */
function bytesOf(secret: unknown, field: string): Uint8Array {
  try {
    return secretBytes(secret, field);
  } catch {
    throw optionRefusal('createHttpHandler', field, `must be a string of at least ${MIN_SECRET_BYTES} bytes`);
  }
}
