import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  commandSequence,
  runSequence,
  sequenceCatalog,
  sequenceClock,
} from '../../../test/support/command-sequences.js';
import { fcOptions } from '../../../test/support/fast-check.js';
import { createLedger } from '../src/index.js';
import { costMinor, formatAmount, parseAmount, type Rounding } from '../src/money.js';
import { type CustomerState, consumptionOrder, evolve, fold, initialState } from '../src/pure.js';
import { cycleAt, cycleStart } from '../src/time.js';
import { grantState, memoryStore, sequenceStreams } from './support.js';

/** Cases per property by default (`FC_RUNS` scales it: see test/support/fast-check.ts). */
const RUNS = 1000;
/** The command-sequence properties drive a whole ledger per case: give them room. */
const HEAVY_TIMEOUT = 600_000;

describe('command sequences on the memory store', () => {
  test(
    'every invariant holds after every step, with snapshots every 1, 2, 3 or 500 events',
    async () => {
      await fc.assert(
        fc.asyncProperty(commandSequence(), fc.constantFrom(1, 2, 3, 500), async (steps, snapshotEvery) => {
          const store = memoryStore();
          const clock = sequenceClock();
          const ledger = createLedger({ catalog: sequenceCatalog, store, clock: clock.now, snapshotEvery });
          await runSequence(ledger, store, clock, steps);
        }),
        fcOptions({ runs: RUNS }),
      );
    },
    HEAVY_TIMEOUT,
  );

  test(
    'with the catalog kept in the store and prices changing at random instants, every invariant still holds',
    async () => {
      await fc.assert(
        fc.asyncProperty(commandSequence(), fc.constantFrom(1, 3, 500), async (steps, snapshotEvery) => {
          const store = memoryStore();
          const clock = sequenceClock();
          const ledger = createLedger({ store, clock: clock.now, snapshotEvery });
          await runSequence(ledger, store, clock, steps, { storedCatalog: true });
        }),
        fcOptions({ runs: RUNS / 2 }),
      );
    },
    HEAVY_TIMEOUT,
  );

  test(
    'evolve (the immutable reducer) equals fold for the same events and leaves its input unchanged',
    async () => {
      await fc.assert(
        fc.asyncProperty(commandSequence(), async (steps) => {
          for (const events of await sequenceStreams(steps)) {
            let state = initialState();
            for (const event of events) {
              const before = serialize(state);
              const next = evolve(state, event);
              expect(serialize(state)).toBe(before);
              expect(next).not.toBe(state);
              state = next;
            }
            expect(serialize(state)).toBe(serialize(fold(events)));
          }
        }),
        fcOptions({ runs: RUNS }),
      );
    },
    HEAVY_TIMEOUT,
  );
});

describe('pure properties', () => {
  const grantArb = fc.record({
    grantId: fc.stringMatching(/^g[a-c]{1,3}$/),
    priority: fc.constantFrom(0, 10, 50),
    expiresAtMs: fc.constantFrom(1000, 2000, Number.POSITIVE_INFINITY),
    effectiveAtMs: fc.constantFrom(0, 500),
  });
  const asGrant = (g: { grantId: string; priority: number; expiresAtMs: number; effectiveAtMs: number }) =>
    grantState({ ...g, amount: 1n, remaining: 1n });

  test('consumption order is total: any arrival order sorts the same', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(grantArb, { selector: (g) => g.grantId, maxLength: 12 }),
        fc.nat(),
        (raw, seed) => {
          const grants = raw.map(asGrant);
          const shuffled = [...grants].sort(
            (a, b) => ((a.grantId.length * seed) % 7) - ((b.grantId.length * seed) % 7),
          );
          expect(shuffled.sort(consumptionOrder).map((g) => g.grantId)).toEqual(
            [...grants].sort(consumptionOrder).map((g) => g.grantId),
          );
          for (const [i, g] of grants.entries())
            for (const h of grants.slice(i + 1))
              expect(Math.sign(consumptionOrder(g, h))).toBe(-Math.sign(consumptionOrder(h, g)));
        },
      ),
      fcOptions({ runs: RUNS }),
    );
  });

  test('calendar months: the anchor day clamped to the month, the anchor time of day, increasing', () => {
    const anchorArb = fc.date({
      min: new Date('1971-01-01T00:00:00Z'),
      max: new Date('2400-01-01T00:00:00Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(anchorArb, fc.integer({ min: 0, max: 600 }), (anchorDate, n) => {
        const anchor = anchorDate.getTime();
        const start = new Date(cycleStart(anchor, 'month', n));
        const monthIndex = anchorDate.getUTCMonth() + n;
        const lastDay = new Date(Date.UTC(anchorDate.getUTCFullYear(), monthIndex + 1, 0)).getUTCDate();
        expect(start.getUTCMonth()).toBe(monthIndex % 12);
        expect(start.getUTCDate()).toBe(Math.min(anchorDate.getUTCDate(), lastDay));
        expect(start.toISOString().slice(10)).toBe(anchorDate.toISOString().slice(10));
        expect(cycleStart(anchor, 'month', n + 1)).toBeGreaterThan(start.getTime());
        expect(cycleAt(anchor, 'month', start.getTime())).toBe(n);
        expect(cycleAt(anchor, 'month', cycleStart(anchor, 'month', n + 1) - 1)).toBe(n);
      }),
      fcOptions({ runs: RUNS }),
    );
  });

  test('amounts round-trip exactly between minor units and decimal strings', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }),
        fc.integer({ min: 0, max: 18 }),
        (value, decimals) => {
          const text = formatAmount(value, decimals);
          expect(text.split('.')[1]?.length ?? 0).toBe(decimals);
          expect(parseAmount(text, decimals, 'amount')).toBe(value);
        },
      ),
      fcOptions({ runs: RUNS }),
    );
  });

  test('costs are perUnit x quantity rounded once by the rule, exactly', () => {
    const rounding = fc.constantFrom<Rounding>('half_up', 'half_even', 'up', 'down');
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 6 }),
        rounding,
        (perUnitScaled, perUnitPlaces, quantity, decimals, rule) => {
          const perUnit = formatAmount(perUnitScaled, perUnitPlaces);
          // Exact: perUnitScaled * quantity / 10^perUnitPlaces, rounded to `decimals` places with bigints.
          const numerator = perUnitScaled * BigInt(quantity) * 10n ** BigInt(decimals);
          const denominator = 10n ** BigInt(perUnitPlaces);
          const floor = numerator / denominator;
          const rest = numerator % denominator;
          const twice = rest * 2n;
          const up =
            rest === 0n
              ? false
              : rule === 'up'
                ? true
                : rule === 'down'
                  ? false
                  : twice > denominator ||
                    (twice === denominator && (rule === 'half_up' || floor % 2n === 1n));
          expect(costMinor(perUnit, quantity, decimals, rule)).toBe(up ? floor + 1n : floor);
        },
      ),
      fcOptions({ runs: RUNS }),
    );
  });
});

/** A state as comparable text: maps as entry lists, bigints and Infinity spelled out. */
function serialize(state: CustomerState): string {
  return JSON.stringify(state, (_key, value) => {
    if (value instanceof Map) return [...value.entries()];
    if (value instanceof Set) return [...value];
    if (typeof value === 'bigint') return `${value}n`;
    if (value === Number.POSITIVE_INFINITY) return 'Infinity';
    return value;
  });
}
