import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { commandSequence } from '../../../test/support/command-sequences.js';
import { fcOptions } from '../../../test/support/fast-check.js';
import { allEntries } from '../../../test/support/statement.js';
import { createLedger, type EventStore, type Ledger, type RecordedEvent } from '../src/index.js';
import { StreamCache } from '../src/ledger/streams.js';
import { applyEvent, type CustomerState, fold, recall, recallNeeds, upcast } from '../src/pure.js';
import { forgetRecalled, fromSnapshotState, STATE_SCHEMA_VERSION, toSnapshotState } from '../src/state.js';
import { accountView, grantsOf, grantView, holdsOf, holdView, subscriptionView } from '../src/views.js';
import { catalog, DAY, expectTallyError, memoryStore, sequenceStreams, setup } from './support.js';

/** A quarter of the core's main count (1,000): each case folds and snapshots every stream. */
const RUNS = 250;
const HEAVY_TIMEOUT = 600_000;

/** What a read shows of the state in play, as of the state's own clock. */
function inPlay(state: CustomerState) {
  const atMs = state.lastAt === '' ? 0 : Date.parse(state.lastAt);
  return {
    version: state.version,
    customer: state.customer,
    accounts: [...state.accounts.values()].map((a) => accountView(a, atMs)),
    live: [...state.grants.keys()].sort(),
    holds: [...state.holds.values()].map((h) => holdView(h, state.accounts.get(h.currency)!.decimals)),
    subscriptions: [...state.subscriptions.values()].map((s) => subscriptionView(s, atMs)),
    carries: [...state.carries],
  };
}

/** The grants view of a state folded from the whole stream. */
function grantsView(state: CustomerState) {
  const atMs = state.lastAt === '' ? 0 : Date.parse(state.lastAt);
  return [...state.accounts.values()].flatMap((a) =>
    grantsOf(state, a.currency).map((g) => grantView(g, a.decimals, atMs)),
  );
}

/**
 * A state loaded from a snapshot at `cut`, then the tail folded the way the ledger folds it: the
 * grants the tail names that finished before the cut are recalled from the history first.
 */
function fromSnapshotAt(events: RecordedEvent[], cut: number) {
  const atCut = fold(events.slice(0, cut));
  const snapshot = JSON.parse(JSON.stringify(toSnapshotState(atCut)));
  const loaded = fromSnapshotState(snapshot);
  const tail = events.slice(cut);
  const needs = recallNeeds(loaded, tail);
  recall(loaded, atCut, { grants: needs });
  for (const event of tail) applyEvent(loaded, event);
  return { atCut, snapshot, loaded: forgetRecalled(loaded), needs };
}

const snapshotProperty = async (steps: Parameters<typeof sequenceStreams>[0], where: number) => {
  for (const events of await sequenceStreams(steps)) {
    const cut = Math.floor(where * events.length);
    const { atCut, snapshot, loaded, needs } = fromSnapshotAt(events, cut);
    // The snapshot is the state in play: every grant in it is live, no hold in it has ended.
    const live = [...atCut.accounts.values()].flatMap((a) => a.live.map((g) => g.grantId));
    expect(snapshot.grants.map((g: { grantId: string }) => g.grantId).sort()).toEqual(live.sort());
    expect(snapshot.holds.every((h: { status: string }) => h.status === 'active')).toBe(true);
    // Only grants that finished before the cut are recalled, and with them the tail folds.
    for (const grantId of needs) expect(atCut.recalled.grants.has(grantId)).toBe(true);
    const whole = fold(events);
    expect(inPlay(loaded)).toEqual(inPlay(forgetRecalled(fold(events))));
    // The whole fold keeps every finished grant and hold beside what is in play: the history views.
    expect(grantsView(whole)).toHaveLength(whole.grants.size + whole.recalled.grants.size);
    expect(holdsOf(whole)).toHaveLength(whole.holds.size + whole.recalled.holds.size);
  }
};

describe('the state holds only what is in play', () => {
  test(
    'a state loaded from a snapshot at any point, its tail folded after recalling what it names, reads as the whole fold',
    async () => {
      await fc.assert(
        fc.asyncProperty(commandSequence(), fc.double({ min: 0, max: 1, noNaN: true }), snapshotProperty),
        fcOptions({ runs: RUNS }),
      );
    },
    HEAVY_TIMEOUT,
  );

  // Found on a fresh clone: a void of a grant spent before the snapshot, in the tail after it.
  test(
    'regression, seed 1634718942: a tail that voids a grant spent before the snapshot',
    async () => {
      await fc.assert(
        fc.asyncProperty(commandSequence(), fc.double({ min: 0, max: 1, noNaN: true }), snapshotProperty),
        { numRuns: 250, seed: 1634718942 },
      );
    },
    HEAVY_TIMEOUT,
  );

  test('a tail naming a finished grant the state lacks is corrupt without the recall, and folds with it', async () => {
    const { ledger, store } = setup({ snapshotEvery: 1_000_000 });
    const customerId = 'cus_void_spent';
    await ledger.createCustomer({ customerId });
    const { grantId } = await ledger.grant({
      customerId,
      currency: 'credits',
      amount: '10',
      source: 'top_up',
    });
    await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
    const streamId = `customer-${customerId}`;
    const events = (await store.readStream(streamId)).map((e) => upcast(e));
    await ledger.voidGrant({ customerId, grantId, reason: 'spent, then voided' });
    const tail = (await store.readStream(streamId, { fromVersion: events.length + 1 })).map((e) => upcast(e));
    const loaded = () => fromSnapshotState(JSON.parse(JSON.stringify(toSnapshotState(fold(events)))));
    expect(recallNeeds(loaded(), tail)).toEqual([grantId]);
    expect(() => fold(tail, loaded())).toThrowError(/does not hold/);
    const state = loaded();
    recall(state, fold(events), { grants: [grantId] });
    expect(fold(tail, state).recalled.grants.get(grantId)?.status).toBe('voided');
  });
});

describe('a customer with a long history', () => {
  /** Everything the ledger shows of a customer. */
  async function everything(ledger: Ledger, customerId: string) {
    return {
      accounts: await ledger.creditAccounts({ customerId }),
      grants: await ledger.grants({ customerId }),
      entries: await allEntries(ledger, { customerId }),
      holds: await ledger.holds({ customerId }),
    };
  }

  test('keeps finished grants out of its snapshots, and reads, voids and reversals still see them', async () => {
    const { ledger, store, clock, cold } = setup({ snapshotEvery: 25 });
    const customerId = 'cus_long';
    await ledger.createCustomer({ customerId });
    const usages: string[] = [];
    const grants: string[] = [];
    // 150 grants, each spent by one usage.
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

    // A cold ledger starts from that snapshot: the grants view must look up what it left out.
    const before = await everything(ledger, customerId);
    expect(before.grants).toHaveLength(152);
    expect(await everything(cold(), customerId)).toEqual(before);

    // Each step below starts on a cold ledger, whose state lacks the grants the snapshot left out; one
    // attempt is enough, since looking them up comes before the decision and is no lost race.
    const coldOnce = () => createLedger({ catalog, store, clock: clock.now, maxAttempts: 1 });
    // Voiding a spent grant (nothing left to take) is allowed once.
    const voided = await coldOnce().voidGrant({ customerId, grantId: grants[5]!, reason: 'x' });
    expect([voided.status, voided.remaining]).toEqual(['voided', '0']);
    await expectTallyError(
      ledger.voidGrant({ customerId, grantId: grants[5]!, reason: 'x' }),
      'grant_not_active',
    );
    await expectTallyError(
      cold().voidGrant({ customerId, grantId: expiring.grantId, reason: 'x' }),
      'grant_not_active',
    );

    // Reversals restore spent grants: one decided cold, one by the long-lived ledger.
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

    // The cache keeps the grants in play; the history beside it holds the rest.
    const cache = new StreamCache(store, 1);
    const head = await cache.load(customerId);
    expect(head.state.grants.size).toBeLessThan(10);
    const { history } = await cache.lookUp(customerId, head);
    expect(history.grants.size + history.recalled.grants.size).toBe(152);
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

  test('a snapshot of an older shape is ignored: the stream is replayed and the next snapshot replaces it', async () => {
    const inner = memoryStore();
    const { ledger, clock, customerId, streamId } = await spentHistory(inner);
    const stored = await inner.readStream(streamId);
    // Nonsense under an old shape version: a reader that used it would fail or show anything.
    await inner.writeSnapshot({
      streamId,
      version: stored.length,
      schemaVersion: STATE_SCHEMA_VERSION - 1,
      state: { state: { balance: '1000000' }, hash: stored.at(-1)!.metadata.hash },
    });
    const cold = createLedger({ catalog, store: inner, clock: clock.now, snapshotEvery: 1 });
    expect(await cold.creditAccounts({ customerId })).toEqual(await ledger.creditAccounts({ customerId }));
    await cold.grant({ customerId, currency: 'credits', amount: '1' });
    expect((await inner.readSnapshot(streamId))?.schemaVersion).toBe(STATE_SCHEMA_VERSION);
  });

  test('a store that fails while the history is looked up fails the write, with nothing written', async () => {
    const inner = memoryStore();
    const { clock, customerId, grants, streamId } = await spentHistory(inner);
    // A snapshot as a writer writes it (what is in play), at the head.
    const stored = await inner.readStream(streamId);
    await inner.writeSnapshot({
      streamId,
      version: stored.length,
      schemaVersion: STATE_SCHEMA_VERSION,
      state: {
        state: toSnapshotState(forgetRecalled(fold(stored.map((e) => upcast(e))))),
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
    // 60 holds, each captured or released.
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
