import * as crypto from 'node:crypto';
import type { EventMetadata, NewEvent } from './event-store.js';
import type { RecordedEvent } from './events.js';
import { CURRENT_SCHEMA_VERSIONS } from './events.js';

/**
 * The hash before a stream's first event.
 *
 * @example
 * const first = chainHash(GENESIS_HASH, stored); // the hash of a stream's first event
 */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * SHA-256 of a string, as hex. Node's one-shot `crypto.hash` (20.12 and later) builds no Hash object:
 * half the time of `createHash` for an event's text (0.65 vs 1.3 µs); older Nodes take the long way.
 */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * Each event's hash covers the previous event's hash and everything the event records except the hash
 * itself, so changing, removing or reordering any stored event breaks every hash after it.
 *
 * @example
 * const hash = chainHash(GENESIS_HASH, stored); // equals stored.metadata.hash for an untampered first event
 */
export function chainHash(previousHash: string, event: NewEvent): string {
  const { hash: _hash, ...metadata } = event.metadata;
  // Keys in sorted order, so the canonical form needs no copy of the body.
  const body = canonicalJson({
    at: event.at,
    data: event.data,
    id: event.id,
    metadata,
    schemaVersion: event.schemaVersion,
    type: event.type,
  });
  return sha256Hex(`${previousHash}\n${body}`);
}

/**
 * Decided events as a store keeps them, chained on from `previousHash`: each at its type's current
 * schema version (a customer event's by default; the catalog passes its own table), with `metadata`
 * plus its hash. Returns them and the hash of the last.
 */
export function signEvents<
  E extends { readonly type: string; readonly id: string; readonly at: string; readonly data: unknown },
>(
  previousHash: string,
  written: readonly { readonly event: E; readonly metadata: EventMetadata }[],
  schemaVersionOf: (type: E['type']) => number = (type) =>
    CURRENT_SCHEMA_VERSIONS[type as RecordedEvent['type']],
): { events: NewEvent[]; hash: string } {
  let hash = previousHash;
  const events = written.map(({ event, metadata }): NewEvent => {
    const signed = {
      id: event.id,
      type: event.type,
      schemaVersion: schemaVersionOf(event.type),
      at: event.at,
      // Event data is plain JSON; its declared types just say more about which keys it has.
      data: event.data as unknown as NewEvent['data'],
      metadata,
    };
    hash = chainHash(hash, signed);
    // The object is this call's own, so it takes its signed metadata in place of a copy of it all.
    signed.metadata = withHash(metadata, hash);
    return signed;
  });
  return { events, hash };
}

/**
 * `metadata` with `hash` set, last. Copied key by key: on Node 20's V8 `{ ...metadata, hash }` takes
 * the runtime's slow path, as a spread followed by a key it lacks does (0.5 µs against 50 ns).
 */
function withHash(metadata: EventMetadata, hash: string): EventMetadata {
  const signed: Record<string, unknown> = {};
  for (const key of Object.keys(metadata)) {
    if (key === 'hash') continue;
    // An own `__proto__` key is data, as the spread keeps it: assigned, it would set the prototype.
    if (key === '__proto__')
      Object.defineProperty(signed, key, {
        value: metadata[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else signed[key] = metadata[key];
  }
  signed.hash = hash;
  return signed as EventMetadata;
}

/**
 * JSON with object keys sorted, so equal values hash equally whatever order a database returns keys in.
 *
 * @example
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // '{"a":[2,{"c":4,"d":3}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  // Events are plain JSON with named keys: a copy with its keys inserted in sorted order is written by
  // the native JSON.stringify exactly as the canonical form. Anything else takes the general path.
  const sorted = sortedCopy(value);
  return sorted === UNSAFE ? writeCanonical(value) : (JSON.stringify(sorted) ?? 'null');
}

const UNSAFE: unique symbol = Symbol('not plain JSON with named keys');

/**
 * `value` with every object's keys inserted in sorted order, or UNSAFE where JSON.stringify of such a
 * copy could differ from `writeCanonical`: a key that looks like an array index (objects list those
 * first, whatever the insertion order), `__proto__` (an assignment would set the prototype), an object
 * that is not plain (a Date has toJSON), a function, a symbol or a bigint. What is in order already
 * is not copied: an object or array whose keys are sorted and whose values come back as they were is
 * answered itself.
 */
function sortedCopy(value: unknown): unknown {
  if (value === null) return null;
  const kind = typeof value;
  if (kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'undefined') return value;
  if (kind !== 'object') return UNSAFE;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const original: unknown = value[i];
      const item = sortedCopy(original);
      if (item === UNSAFE) return UNSAFE;
      if (out === null && item !== original) out = value.slice(0, i);
      if (out !== null) out[i] = item;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return UNSAFE;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  // Keys already in order (an event's body, most metadata) need no copy: JSON.stringify writes the
  // object itself as the canonical form. The default sort compares UTF-16 code units, as `<` does.
  let inOrder = true;
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      inOrder = false;
      break;
    }
  }
  if (!inOrder) sortKeys(keys);
  let out: Record<string, unknown> | null = inOrder ? null : {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const first = key.charCodeAt(0);
    if ((first >= 48 && first <= 57) || key === '__proto__') return UNSAFE;
    const original = record[key];
    const item = sortedCopy(original);
    if (item === UNSAFE) return UNSAFE;
    if (out === null && item !== original) {
      // A value inside changed: from here on this object is a copy too, its earlier keys as they were.
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = record[keys[j]!];
    }
    if (out !== null) out[key] = item;
  }
  return out ?? record;
}

/**
 * Sorts an object's keys in place as the default sort does (by UTF-16 code units, as `<` compares).
 * An event's objects have a dozen keys or so, and for those `Array.prototype.sort` costs more to set
 * up than the sort: 1.8 KB allocated for the two objects of a usage event's body, 7% of all a command
 * allocates. So short lists are sorted by insertion; a long one (a big metadata record) the usual way.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 32) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j -= 1;
    }
    keys[j + 1] = key;
  }
}

/** The canonical form written out by hand, for any value. */
function writeCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + writeCanonical(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${writeCanonical(v)}`;
  }
  return `${out}}`;
}

export function requestHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
