import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Answers whether an `Authorization` header carries one of the keys. Keys and the presented token
 * are compared as SHA-256 digests (equal length whatever the input) with `timingSafeEqual`, and every
 * key is compared, so the time taken says nothing about how much of a key matched or which one did.
 * The keys were checked with `createHttpHandler`'s options (at least one, each ≥ 16 characters).
 */
export function bearerAuth(apiKeys: readonly string[]): (authorization: string | undefined) => boolean {
  const digests = apiKeys.map(digest);
  return (authorization) => {
    const token = bearerToken(authorization);
    if (token === null) return false;
    const presented = digest(token);
    let ok = false;
    for (const key of digests) ok = timingSafeEqual(presented, key) || ok;
    return ok;
  };
}

/** The token of an `Authorization: Bearer <token>` header, or null for any other header. */
export function bearerToken(authorization: string | undefined): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return match === null ? null : match[1]!;
}
