import { createHash } from 'node:crypto';
import type { NewEvent } from './event-store.js';

/** The hash before a stream's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Each event's hash covers the previous event's hash and everything the event records except the hash
 * itself, so changing, removing or reordering any stored event breaks every hash after it.
 */
export function chainHash(previousHash: string, event: NewEvent): string {
  const { hash: _hash, ...metadata } = event.metadata;
  const body = canonicalJson({
    id: event.id,
    type: event.type,
    schemaVersion: event.schemaVersion,
    at: event.at,
    data: event.data,
    metadata,
  });
  return createHash('sha256').update(previousHash).update('\n').update(body).digest('hex');
}

/** JSON with object keys sorted, so equal values hash equally whatever order a database returns keys in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function requestHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
