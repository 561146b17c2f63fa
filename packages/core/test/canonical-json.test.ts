import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { canonical } from '../../../test/reliability/support/chain.js';
import { fcOptions } from '../../../test/support/fast-check.js';
import { canonicalJson } from '../src/hash-chain.js';

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
  // `canonical` is the form every stored hash was made with, written the plain way (the reliability
  // tests forge chained events with it); `canonicalJson` is tuned for speed and must match it exactly.
  test('writes exactly the canonical form stored hashes were made with', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(canonical(v));
      }),
      fcOptions({ runs: 1000 }),
    );
  });

  test('does not depend on the order of an object’s keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(record));
      }),
      fcOptions({ runs: 100 }),
    );
  });

  // Short key lists are sorted by insertion and long ones by Array.prototype.sort: both must give the
  // default sort's order, surrogate pairs and all.
  test('sorts short and long key lists alike, by UTF-16 code units', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), fc.integer(), { maxKeys: 20 }),
          fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), fc.integer(), {
            minKeys: 40,
            maxKeys: 60,
          }),
        ),
        (record) => {
          const keys = Object.keys(record).filter((key) => !/^\d/.test(key) && key !== '__proto__');
          const shuffled = Object.fromEntries(keys.reverse().map((key) => [key, record[key]]));
          expect(canonicalJson(shuffled)).toBe(canonical(shuffled));
          expect(Object.keys(JSON.parse(canonicalJson(shuffled)))).toEqual([...keys].sort());
        },
      ),
      fcOptions({ runs: 300 }),
    );
  });

  test('sorts keys by UTF-16 code units and leaves out undefined members', () => {
    expect(canonicalJson({ b: 1, a: [undefined, { d: undefined, c: '€' }], 10: 0, 9: 0 })).toBe(
      '{"10":0,"9":0,"a":[null,{"c":"€"}],"b":1}',
    );
  });

  test('writes what is not plain JSON as the canonical form does (a Date, a function, a symbol member)', () => {
    const odd = [
      { at: new Date(0), b: 1 },
      { f: () => 1, a: 'x' },
      [() => 1, undefined, Number.NaN],
      { nested: { z: [{ y: new Map([[1, 2]]) }], a: null } },
      { s: Symbol('s'), a: 1 },
    ];
    for (const v of odd) expect(canonicalJson(v)).toBe(canonical(v));
  });
});
