import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { commandSequence } from '../../../test/support/command-sequences.js';
import { fcOptions } from '../../../test/support/fast-check.js';
import { ArchiveNeeded, allGrants, archiveFinished, findGrant, findHold } from '../src/archive.js';
import {
  applyEvent,
  type CustomerState,
  createLedger,
  type EventStore,
  fold,
  initialState,
  type Ledger,
  upcast,
} from '../src/index.js';
import { StreamCache } from '../src/ledger/streams.js';
import { cloneState, fromSnapshotState, STATE_SCHEMA_VERSION, toSnapshotState } from '../src/state.js';
import { accountView, grantsOf, grantView, holdsOf, holdView, subscriptionView } from '../src/views.js';
import { catalog, DAY, expectTallyError, memoryStore, sequenceStreams, setup } from './support.js';

/** A quarter of the core's main count (1,000): each case folds and snapshots every stream. */
const RUNS = 250;
const HEAVY_TIMEOUT = 600_000;

/**
 * Everything a read can show of a state, as of its own clock. Without the archive: no grants view, and
 * only the holds in play.
 */
function reads(state: CustomerState, withArchive: boolean) {
  const atMs = state.lastAt === '' ? 0 : Date.parse(state.lastAt);
  return {
    version: state.version,
    customer: state.customer,
    accounts: [...state.accounts.values()].map((a) => accountView(a, atMs)),
    grants: withArchive
      ? [...state.accounts.values()].flatMap((a) =>
          grantsOf(state, a.currency).map((g) => grantView(g, a.decimals, atMs)),
        )
      : null,
    holds: (withArchive
      ? holdsOf(state)
      : [...state.holds.values()].filter((h) => h.status === 'active')
    ).map((h) => holdView(h, state.accounts.get(h.currency)!.decimals)),
    subscriptions: [...state.subscriptions.values()].map((s) => subscriptionView(s, atMs)),
    reversed: [...state.reversedUsages],
  };
}

describe('archiving what is out of play', () => {
  test(
    'archiving at any points of a fold, on states copied in between, changes no read',
    async () => {
      await fc.assert(
        fc.asyncProperty(commandSequence(), fc.integer({ min: 1, max: 4 }), async (steps, every) => {
          for (const events of await sequenceStreams(steps)) {
            let state = initialState();
            events.forEach((event, i) => {
              applyEvent(state, event);
              if (i % every === 0) {
                archiveFinished(state);
                // A copy shares the frozen archive with its original: neither may see the other's changes.
                state = cloneState(state);
              }
            });
            const expected = reads(fold(events), true);
            expect(reads(state, true)).toEqual(expected);
            archiveFinished(state);
            for (const grant of state.grants.values()) expect(grant.inLive).toBe(true);
            expect(reads(state, true)).toEqual(expected);
          }
        }),
        fcOptions({ runs: RUNS }),
      );
    },
    HEAVY_TIMEOUT,
  );

  test(
    'a snapshot leaves finished grants and holds out; the state loaded from it reads the same, or asks for the archive',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          commandSequence(),
          fc.double({ min: 0, max: 1, noNaN: true }),
          async (steps, where) => {
            for (const events of await sequenceStreams(steps)) {
              const cut = Math.floor(where * events.length);
              const atCut = fold(events.slice(0, cut));
              const finished = [...atCut.grants.values()].filter((g) => !g.inLive).map((g) => g.grantId);
              const snapshot = JSON.parse(JSON.stringify(toSnapshotState(atCut)));
              const kept = new Set(snapshot.grants.map((g: { grantId: string }) => g.grantId));
              for (const grantId of finished) expect(kept.has(grantId)).toBe(false);
              expect(kept.size).toBe(atCut.grants.size - finished.length);
              const finishedHolds = [...atCut.holds.values()].filter((h) => h.status !== 'active');
              const keptHolds = new Set(snapshot.holds.map((h: { holdId: string }) => h.holdId));
              expect(keptHolds.size).toBe(atCut.holds.size - finishedHolds.length);
              const loaded = fromSnapshotState(snapshot);
              expect(loaded.archive.complete).toBe(finished.length + finishedHolds.length === 0);
              for (const grantId of finished) expect(() => findGrant(loaded, grantId)).toThrow(ArchiveNeeded);
              for (const { holdId } of finishedHolds)
                expect(() => findHold(loaded, holdId)).toThrow(ArchiveNeeded);
              if (finished.length > 0) expect(() => grantsOf(loaded, 'credits')).toThrow(ArchiveNeeded);
              if (finishedHolds.length > 0) expect(() => holdsOf(loaded)).toThrow(ArchiveNeeded);
              let state = loaded;
              for (const event of events.slice(cut)) {
                const before = event.type === 'usage_reversed' ? reads(state, false) : null;
                try {
                  applyEvent(state, event);
                } catch (error) {
                  // A reversal that restores a grant spent before the snapshot: the ledger replays the
                  // stream. The state it gives up on may be held by another reader: nothing changed.
                  expect(error).toBeInstanceOf(ArchiveNeeded);
                  expect(reads(state, false)).toEqual(before);
                  state = fold(events);
                  break;
                }
              }
              expect(reads(state, false)).toEqual(reads(fold(events), false));
            }
          },
        ),
        fcOptions({ runs: RUNS }),
      );
    },
    HEAVY_TIMEOUT,
  );
  test('a reversal that needs the archive leaves the state it gave up on as it found it', async () => {
    // g1 and g2 both spent; a first reversal puts g1 back in play, then a snapshot (g2 left out).
    const { ledger, store } = setup({ snapshotEvery: 1_000_000 });
    const customerId = 'cus_rev';
    await ledger.createCustomer({ customerId });
    for (const _ of [1, 2])
      await ledger.grant({ customerId, currency: 'credits', amount: '10', source: 'top_up' });
    const u0 = await ledger.trackUsage({ customerId, feature: 'image', quantity: 1.6 }); // 4 from g1
    const u1 = await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1.1 }); // 6 g1, 5 g2
    await ledger.trackUsage({ customerId, feature: 'image', quantity: 2 }); // 5 from g2
    await ledger.reverseUsage({ customerId, usageId: u0.usageId, reason: 'x' });
    const upToSnapshot = (await store.readStream(`customer-${customerId}`)).map((e) => upcast(e));
    const loaded = fromSnapshotState(JSON.parse(JSON.stringify(toSnapshotState(fold(upToSnapshot)))));
    expect(u1.allocations).toHaveLength(2);

    // Restoring u1 finds g1 in play but g2 only in the stream: nothing may change before that shows.
    await ledger.reverseUsage({ customerId, usageId: u1.usageId, reason: 'x' });
    const [reversal] = (
      await store.readStream(`customer-${customerId}`, { fromVersion: loaded.version + 1 })
    ).map((e) => upcast(e));
    const before = reads(loaded, false);
    expect(() => applyEvent(loaded, reversal!)).toThrow(ArchiveNeeded);
    expect(reads(loaded, false)).toEqual(before);
  });
});

describe('a customer with a long history', () => {
  /** Everything the ledger shows of a customer. */
  async function everything(ledger: Ledger, customerId: string) {
    return {
      accounts: await ledger.creditAccounts({ customerId }),
      grants: await ledger.grants({ customerId }),
      entries: await ledger.entries({ customerId }),
      holds: await ledger.holds({ customerId }),
    };
  }

  test('keeps finished grants out of its snapshots, and reads, voids and reversals still see them', async () => {
    const { ledger, store, clock, cold } = setup({ snapshotEvery: 25 });
    const customerId = 'cus_long';
    await ledger.createCustomer({ customerId });
    const usages: string[] = [];
    const grants: string[] = [];
    // 150 grants, each spent by one usage: far past the sweep threshold and the archive's merge size.
    for (let i = 0; i < 150; i++) {
      clock.advance(60_000);
      grants.push(
        (await ledger.grant({ customerId, currency: 'credits', amount: '10', source: 'top_up' })).grantId,
      );
      usages.push((await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 })).usageId);
    }
    const expiring = await ledger.grant({
      customerId,
      currency: 'credits',
      amount: '5',
      source: 'promotion',
      expiresAt: new Date(clock.ms + DAY).toISOString(),
    });
    clock.advance(2 * DAY);
    await ledger.grant({ customerId, currency: 'credits', amount: '1', source: 'manual' });

    const snapshot = await store.readSnapshot(`customer-${customerId}`);
    const snapshotGrants = (snapshot!.state as { state: { grants: unknown[] } }).state.grants;
    expect(snapshotGrants.length).toBeLessThan(5);

    // A cold ledger starts from that snapshot: the grants view must load what it left out.
    const before = await everything(ledger, customerId);
    expect(before.grants).toHaveLength(152);
    expect(await everything(cold(), customerId)).toEqual(before);

    // Each step below starts on a cold ledger, whose state lacks the grants the snapshot left out; one
    // attempt is enough, since loading them is not a lost race.
    const coldOnce = () => createLedger({ catalog, store, clock: clock.now, maxAttempts: 1 });
    // Voiding a spent grant (nothing left to take) is allowed once; the grant is archived by then.
    const voided = await coldOnce().voidGrant({ customerId, grantId: grants[5]!, reason: 'x' });
    expect([voided.status, voided.remaining]).toEqual(['voided', '0']);
    await expectTallyError(
      ledger.voidGrant({ customerId, grantId: grants[5]!, reason: 'x' }),
      'unknown_grant',
    );
    await expectTallyError(
      cold().voidGrant({ customerId, grantId: expiring.grantId, reason: 'x' }),
      'unknown_grant',
    );

    // Reversals restore spent, archived grants: one decided cold, one by the long-lived ledger.
    await coldOnce().reverseUsage({ customerId, usageId: usages[0]!, reason: 'refund' });
    await ledger.reverseUsage({ customerId, usageId: usages[1]!, reason: 'refund' });
    const after = await everything(ledger, customerId);
    expect(after.accounts[0]!.balance).toBe('21');
    const restored = after.grants.filter((g) => grants.slice(0, 2).includes(g.grantId));
    expect(restored.map((g) => g.remaining)).toEqual(['10', '10']);
    expect(await everything(cold(), customerId)).toEqual(after);
    // And the restored grants pay again, first in line (the oldest of the same priority and expiry).
    const spent = await cold().trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
    expect(spent.allocations.map((a) => a.grantId)).toEqual([grants[0]]);
    expect(await everything(ledger, customerId)).toEqual(await everything(cold(), customerId));

    // What the cache keeps after a whole replay holds the grants in play; the rest wait in the archive.
    const head = await new StreamCache(store, 1).load(customerId, { complete: true });
    expect(head.state.grants.size).toBeLessThan(10);
    expect(allGrants(head.state)).toHaveLength(152);
  });

  /** A customer whose 40 grants were each spent by one usage, on `store`; no snapshot written. */
  async function spentHistory(store: EventStore) {
    const { ledger, clock } = setup({ store, snapshotEvery: 1_000_000 });
    const customerId = 'cus_spent';
    await ledger.createCustomer({ customerId });
    const grants: string[] = [];
    for (let i = 0; i < 40; i++) {
      clock.advance(60_000);
      grants.push(
        (await ledger.grant({ customerId, currency: 'credits', amount: '10', source: 'top_up' })).grantId,
      );
      await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
    }
    return { ledger, clock, customerId, grants, streamId: `customer-${customerId}` };
  }

  test('a snapshot of the first shape (every grant) still serves cold reads and voids, without a replay', async () => {
    const inner = memoryStore();
    const { ledger, clock, customerId, grants, streamId } = await spentHistory(inner);
    const stored = await inner.readStream(streamId);
    const state = fold(stored.map((e) => upcast(e)));
    const { archiveComplete: _, ...shape } = toSnapshotState(state) as Record<string, unknown>;
    const everyGrant = [...state.grants.values()].map((g) => ({
      ...g,
      amount: g.amount.toString(),
      remaining: g.remaining.toString(),
      expiresAtMs: Number.isFinite(g.expiresAtMs) ? g.expiresAtMs : null,
    }));
    await inner.writeSnapshot({
      streamId,
      version: state.version,
      schemaVersion: 1,
      state: { state: { ...shape, grants: everyGrant }, hash: stored.at(-1)!.metadata.hash },
    });
    const reads: number[] = [];
    const store: EventStore = {
      ...inner,
      async readStream(id, options) {
        reads.push(options?.fromVersion ?? 1);
        return inner.readStream(id, options);
      },
    };
    const cold = createLedger({ catalog, store, clock: clock.now });
    expect(await cold.grants({ customerId })).toEqual(await ledger.grants({ customerId }));
    await cold.voidGrant({ customerId, grantId: grants[3]!, reason: 'x' });
    expect(reads.filter((from) => from === 1)).toEqual([]);
  });

  test('a store that fails while the whole stream is loaded fails the write, with nothing written', async () => {
    const inner = memoryStore();
    const { clock, customerId, grants, streamId } = await spentHistory(inner);
    // A snapshot as a writer writes it (grants in play only), at the head.
    const stored = await inner.readStream(streamId);
    await inner.writeSnapshot({
      streamId,
      version: stored.length,
      schemaVersion: STATE_SCHEMA_VERSION,
      state: {
        state: toSnapshotState(fold(stored.map((e) => upcast(e)))),
        hash: stored.at(-1)!.metadata.hash,
      },
    });
    const store: EventStore = {
      ...inner,
      async readStream(id, options) {
        if ((options?.fromVersion ?? 1) === 1) throw new Error('connection lost');
        return inner.readStream(id, options);
      },
    };
    const cold = createLedger({ catalog, store, clock: clock.now });
    await expectTallyError(cold.voidGrant({ customerId, grantId: grants[3]!, reason: 'x' }), 'store_error');
    expect(await inner.readStream(streamId)).toHaveLength(stored.length);
  });

  test('keeps finished holds out of its snapshots; the holds view and old holds are still seen', async () => {
    const { ledger, store, clock, cold } = setup({ snapshotEvery: 10 });
    const customerId = 'cus_holds';
    await ledger.createCustomer({ customerId });
    await ledger.grant({ customerId, currency: 'credits', amount: '1000', source: 'top_up' });
    const holds: string[] = [];
    // 60 holds, each captured or released: past the sweep threshold and the archive's merge size.
    for (let i = 0; i < 60; i++) {
      clock.advance(60_000);
      const { holdId } = await ledger.hold({
        customerId,
        feature: 'image',
        quantity: 1,
        idempotencyKey: `h${i}`,
      });
      holds.push(holdId);
      if (i % 2 === 0) await ledger.captureHold({ customerId, holdId });
      else await ledger.releaseHold({ customerId, holdId });
    }
    const open = await ledger.hold({ customerId, feature: 'image', quantity: 2, idempotencyKey: 'open' });

    const snapshot = await store.readSnapshot(`customer-${customerId}`);
    const snapshotHolds = (snapshot!.state as { state: { holds: { status: string }[] } }).state.holds;
    // At most the one hold open when it was taken, of the 60 made before it.
    expect(snapshot!.version).toBeGreaterThanOrEqual(150);
    expect(snapshotHolds.filter((h) => h.status !== 'active')).toEqual([]);
    expect(snapshotHolds.length).toBeLessThanOrEqual(1);

    const view = await ledger.holds({ customerId });
    expect(view.map((h) => h.holdId)).toEqual([...holds, open.holdId]);
    expect(await cold().holds({ customerId })).toEqual(view);
    expect(await cold().creditAccounts({ customerId })).toEqual(await ledger.creditAccounts({ customerId }));

    // A finished hold the cold state does not hold is still told apart from one that never was.
    const coldOnce = () => createLedger({ catalog, store, clock: clock.now, maxAttempts: 1 });
    await expectTallyError(coldOnce().captureHold({ customerId, holdId: holds[0]! }), 'hold_not_active');
    await expectTallyError(coldOnce().releaseHold({ customerId, holdId: 'hold_never' }), 'unknown_hold');
    await coldOnce().captureHold({ customerId, holdId: open.holdId });
    expect(await cold().holds({ customerId })).toEqual(await ledger.holds({ customerId }));
  });
});
