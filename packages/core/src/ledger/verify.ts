import type { StoredEvent } from '../event-store.js';
import { chainHash, GENESIS_HASH } from '../hash-chain.js';

/**
 * What `ledger.verify` finds when it recomputes a customer's hash chain: every event intact (with the
 * head hash, to compare later), or the first event that was changed, removed or reordered.
 *
 * @example
 * const result = await ledger.verify({ customerId: 'cus_123' });
 * if (!result.ok) console.error(`tampered at version ${result.firstBadVersion}: ${result.problem}`);
 */
export type VerifyResult =
  | { readonly ok: true; readonly events: number; readonly head: string }
  | {
      readonly ok: false;
      readonly events: number;
      /** The first event whose stored hash does not match what its content and predecessor give. */
      readonly firstBadVersion: number;
      readonly eventId: string;
      readonly problem: string;
    };

/** Recomputes a stream's hash chain from its first event and reports the first break. */
export function verifyStream(events: readonly StoredEvent[]): VerifyResult {
  let hash = GENESIS_HASH;
  for (const [index, event] of events.entries()) {
    const bad = (problem: string): VerifyResult => ({
      ok: false,
      events: events.length,
      firstBadVersion: event.version,
      eventId: event.id,
      problem,
    });
    if (event.version !== index + 1) return bad(`version ${event.version} where ${index + 1} was expected`);
    const expected = chainHash(hash, event);
    if (event.metadata.hash !== expected) return bad('stored hash does not match the event content');
    hash = expected;
  }
  return { ok: true, events: events.length, head: hash };
}
