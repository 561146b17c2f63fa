import { monotonicFactory } from 'ulid';
import type { IdKind } from './decide/context.js';

/**
 * Fresh ids for the ledger shell (never the pure core, which takes them as input): a kind prefix and a
 * monotonic ULID, so ids sort by creation even within one millisecond.
 */
export function ulidIds(): (kind: IdKind) => string {
  const next = monotonicFactory();
  return (kind) => `${kind}_${next()}`;
}
