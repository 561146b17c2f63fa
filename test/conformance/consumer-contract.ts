import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumerStore } from '@tally/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fcOptions } from '../support/fast-check.js';
import type { OpenedStore, StoreTarget } from '../support/stores.js';

/**
 * What every store's `consumers` must do for the feed, run once per adapter: checkpoints per
 * partition that never move back, one lease holder at a time, the time index.
 */
export function describeConsumerContract(target: StoreTarget): void {
  describe(`${target.name}: ConsumerStore contract`, () => {
    let opened: OpenedStore | undefined;
    let consumers: ConsumerStore;

    beforeEach(async () => {
      opened = await target.open();
      expect(opened.store.consumers, 'the store keeps consumers').toBeDefined();
      consumers = opened.store.consumers!;
    });
    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    it('has no checkpoint for a consumer never seen, and keeps one position per partition and name', async () => {
      expect([...(await consumers.loadCheckpoint('never'))]).toEqual([]);
      await consumers.saveCheckpoint('a', 'p1', 10n);
      await consumers.saveCheckpoint('a', 'p2', 3n);
      await consumers.saveCheckpoint('b', 'p1', 7n);
      expect(new Map(await consumers.loadCheckpoint('a'))).toEqual(
        new Map([
          ['p1', 10n],
          ['p2', 3n],
        ]),
      );
      expect(new Map(await consumers.loadCheckpoint('b'))).toEqual(new Map([['p1', 7n]]));
    });

    it('keeps positions past 2^53 exactly (Postgres positions are transaction id × 8192)', async () => {
      const big = 2n ** 60n + 12345n;
      await consumers.saveCheckpoint('big', 'all', big);
      expect((await consumers.loadCheckpoint('big')).get('all')).toBe(big);
    });

    it('never moves a checkpoint backwards, whatever order saves come in (also at once)', async () => {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.bigInt({ min: 1n, max: 10n ** 15n }), { minLength: 1, maxLength: 12 }),
          fc.boolean(),
          async (positions, together) => {
            const name = `prop-${round++}`;
            if (together) await Promise.all(positions.map((p) => consumers.saveCheckpoint(name, 'all', p)));
            else {
              let max = 0n;
              for (const p of positions) {
                await consumers.saveCheckpoint(name, 'all', p);
                max = p > max ? p : max;
                expect((await consumers.loadCheckpoint(name)).get('all')).toBe(max);
              }
            }
            const max = positions.reduce((a, b) => (b > a ? b : a));
            expect((await consumers.loadCheckpoint(name)).get('all')).toBe(max);
          },
        ),
        fcOptions({ runs: 30 }),
      );
    });

    it('gives a lease to one holder at a time: renewed by it, refused to others, free once released', async () => {
      expect(await consumers.acquireLease('emails', 'h1', 60_000)).toBe(true);
      expect(await consumers.acquireLease('emails', 'h2', 60_000)).toBe(false);
      expect(await consumers.acquireLease('emails', 'h1', 60_000)).toBe(true); // renewal
      expect(await consumers.acquireLease('other', 'h2', 60_000)).toBe(true); // another name
      await consumers.releaseLease('emails', 'h2'); // not its holder: nothing happens
      expect(await consumers.acquireLease('emails', 'h2', 60_000)).toBe(false);
      await consumers.releaseLease('emails', 'h1');
      expect(await consumers.acquireLease('emails', 'h2', 60_000)).toBe(true);
      expect(await consumers.acquireLease('emails', 'h1', 60_000)).toBe(false);
    });

    it('lets another holder take a lease that lapsed without renewal', async () => {
      expect(await consumers.acquireLease('lapse', 'h1', 1)).toBe(true);
      await sleep(30);
      expect(await consumers.acquireLease('lapse', 'h2', 60_000)).toBe(true);
      expect(await consumers.acquireLease('lapse', 'h1', 60_000)).toBe(false);
    });

    it('grants a free lease to exactly one of many holders asking at once', async () => {
      for (let round = 0; round < 5; round++) {
        const holders = Array.from({ length: 8 }, (_, i) => `h${i}`);
        const won = await Promise.all(holders.map((h) => consumers.acquireLease(`race-${round}`, h, 60_000)));
        expect(won.filter(Boolean)).toHaveLength(1);
      }
    });

    it('refuses an empty consumer name or holder', async () => {
      await expect(consumers.saveCheckpoint('', 'all', 1n)).rejects.toThrow(TypeError);
      await expect(consumers.loadCheckpoint('')).rejects.toThrow(TypeError);
      await expect(consumers.acquireLease('x', '', 1000)).rejects.toThrow(TypeError);
    });

    it('answers the streams due by an instant, soonest first, and never goes back to an older version', async () => {
      await consumers.setDue({ streamId: 'customer-a', version: 3, dueAtMs: 3_000 });
      await consumers.setDue({ streamId: 'customer-b', version: 1, dueAtMs: 1_000 });
      await consumers.setDue({ streamId: 'customer-c', version: 5, dueAtMs: null });
      await consumers.setDue({ streamId: 'customer-d', version: 2, dueAtMs: 9_000 });
      expect(await consumers.dueBy(5_000, 10)).toEqual([
        { streamId: 'customer-b', version: 1, dueAtMs: 1_000 },
        { streamId: 'customer-a', version: 3, dueAtMs: 3_000 },
      ]);
      expect((await consumers.dueBy(5_000, 1)).map((e) => e.streamId)).toEqual(['customer-b']);
      // An entry computed at an older version (a late writer) does not replace a newer one.
      await consumers.setDue({ streamId: 'customer-a', version: 2, dueAtMs: 500 });
      // The same or a newer version does.
      await consumers.setDue({ streamId: 'customer-b', version: 4, dueAtMs: null });
      await consumers.setDue({ streamId: 'customer-d', version: 2, dueAtMs: 4_000 });
      expect(await consumers.dueBy(5_000, 10)).toEqual([
        { streamId: 'customer-a', version: 3, dueAtMs: 3_000 },
        { streamId: 'customer-d', version: 2, dueAtMs: 4_000 },
      ]);
      expect(await consumers.dueBy(2_999, 10)).toEqual([]);
    });
  });
}
