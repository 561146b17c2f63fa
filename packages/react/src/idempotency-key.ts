/**
 * A fresh key for one call: 128 random bits. `getRandomValues` rather than `randomUUID`, which
 * browsers give only to secure origins.
 */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `tally-react-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
