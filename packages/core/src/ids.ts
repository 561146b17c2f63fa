import { monotonicFactory } from 'ulid';
import type { IdKind } from './decide/context.js';

/**
 * Fresh ids for the ledger shell (never the pure core, which takes them as input): a kind prefix and a
 * monotonic ULID, so ids sort by creation even within one millisecond.
 */
export function ulidIds(): (kind: IdKind) => string {
  const next = monotonicFactory(pooledRandom);
  return (kind) => `${kind}_${next()}`;
}

/**
 * ulid's own generator asks the system RNG for one byte per character, sixteen calls per id, which
 * showed as 6% of a write's time. The same bytes drawn from a buffer the system RNG fills 4 KiB at a
 * time are just as random, at a fraction of the cost. One buffer for the process: a pool per ledger
 * was 4% of opening one.
 */
const pool = new Uint8Array(4096);
let pooled = pool.length;

function pooledRandom(): number {
  if (pooled === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    pooled = 0;
  }
  return pool[pooled++]! / 256;
}
