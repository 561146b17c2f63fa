import { customerRef } from '@tally/core/pure';
import { jwtVerify } from 'jose';
import {
  CUSTOMER_SCOPES,
  CUSTOMER_TOKEN_AUDIENCE,
  type CustomerScope,
  type CustomerTokenAlgorithm,
  secretBytes,
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

const ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512'];

/**
 * The check of a presented token: the customer and scopes of a valid one, or null for anything else
 * (a bad signature, an unknown key id, another algorithm, `alg: none`, expired, another audience,
 * claims that are not a customer and known scopes). jose verifies; this only picks the key and reads
 * the claims.
 */
export function customerTokenVerifier(
  options: CustomerTokenOptions,
): (token: string) => Promise<Caller | null> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createHttpHandler: customerTokens must be an object');
  }
  const unkeyed = options.secret === undefined ? null : bytesOf(options.secret, 'customerTokens.secret');
  const keyed = new Map<string, Uint8Array>();
  for (const [kid, secret] of Object.entries(options.secrets ?? {})) {
    keyed.set(kid, bytesOf(secret, `customerTokens.secrets[${JSON.stringify(kid)}]`));
  }
  if (unkeyed === null && keyed.size === 0) {
    throw new TypeError('createHttpHandler: customerTokens needs a secret or secrets');
  }
  const clockTolerance = options.clockTolerance ?? 30;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > 300) {
    throw new TypeError('createHttpHandler: customerTokens.clockTolerance must be 0-300 seconds');
  }
  const algorithms = [...(options.algorithms ?? ['HS256'])];
  if (algorithms.length === 0 || algorithms.some((a) => !ALGORITHMS.includes(a))) {
    throw new TypeError(
      `createHttpHandler: customerTokens.algorithms must list some of ${ALGORITHMS.join(', ')}`,
    );
  }

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

function bytesOf(secret: unknown, field: string): Uint8Array {
  try {
    return secretBytes(secret, field);
  } catch (error) {
    throw new TypeError(`createHttpHandler: ${(error as Error).message}`);
  }
}
