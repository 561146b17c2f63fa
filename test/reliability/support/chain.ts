import { createHash } from 'node:crypto';
import type { EventStore, NewEvent, StoredEvent } from '@tally/core';

/**
 * The hash chain, written again from its definition (sha256 of the previous hash, a newline, and the
 * canonical JSON of the event without its hash), so tests can forge events that chain correctly, as
 * an older or newer Tally would have written them.
 */

export const GENESIS = '0'.repeat(64);

export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function chainHash(previous: string, event: NewEvent): string {
  const { hash: _hash, ...metadata } = event.metadata;
  const body = canonical({
    id: event.id,
    type: event.type,
    schemaVersion: event.schemaVersion,
    at: event.at,
    data: event.data,
    metadata,
  });
  return createHash('sha256').update(previous).update('\n').update(body).digest('hex');
}

/** Appends `event` to a customer's stream past the ledger, chained to the stream's head. */
export async function appendForged(
  store: EventStore,
  customerId: string,
  event: Omit<NewEvent, 'metadata'> & { readonly metadata?: NewEvent['metadata'] },
): Promise<StoredEvent> {
  const streamId = `customer-${customerId}`;
  const stream = await store.readStream(streamId);
  const previous = stream.at(-1)?.metadata.hash;
  const unsigned: NewEvent = { ...event, metadata: event.metadata ?? { command: 'forged' } };
  const hash = chainHash(typeof previous === 'string' ? previous : GENESIS, unsigned);
  await store.append(streamId, [{ ...unsigned, metadata: { ...unsigned.metadata, hash } }], {
    expectedVersion: stream.length,
  });
  return (await store.readStream(streamId, { fromVersion: stream.length + 1 }))[0]!;
}
