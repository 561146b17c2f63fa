import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { canonicalJson } from '../src/hash-chain.js';

/**
 * The canonical form every stored hash was computed with, written the plain way. `canonicalJson` is
 * tuned for speed; it must produce the same text, or hash chains already in stores stop verifying.
 */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}

/** Values as events carry them, plus what JSON cannot say (undefined members, integer-like keys). */
const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, undefined),
    fc.string(),
    fc.double(),
    fc.array(tie('any'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.nat().map(String), fc.constantFrom('__proto__', 'a', 'B')),
      tie('any'),
      {
        maxKeys: 5,
      },
    ),
  ),
})).any;

describe('canonicalJson', () => {
  test('writes exactly the canonical form stored hashes were made with', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 1000 },
    );
  });

  test('does not depend on the order of an object’s keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(record));
      }),
    );
  });

  test('sorts keys by UTF-16 code units and leaves out undefined members', () => {
    expect(canonicalJson({ b: 1, a: [undefined, { d: undefined, c: '€' }], 10: 0, 9: 0 })).toBe(
      '{"10":0,"9":0,"a":[null,{"c":"€"}],"b":1}',
    );
  });
});
