import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { commandSequence } from '../../../test/support/command-sequences.js';
import { applyEvent, type CustomerState, fold, initialState, type Ledger } from '../src/index.js';
import {
  ArchiveNeeded,
  archiveFinished,
  cloneState,
  findGrant,
  fromSnapshotState,
  toSnapshotState,
} from '../src/state.js';
import { accountView, grantsOf, grantView, holdView, subscriptionView } from '../src/views.js';
import { DAY, expectTallyError, sequenceStreams, setup } from './support.js';

const RUNS = Number(process.env.FC_RUNS ?? 1000) / 4;
const HEAVY_TIMEOUT = 600_000;

/** Everything a read can show of a state, as of its own clock. */
function reads(state: CustomerState, withGrants: boolean) {
  const atMs = state.lastAt === '' ? 0 : Date.parse(state.lastAt);
  return {
    version: state.version,
    customer: state.customer,
    accounts: [...state.accounts.values()].map((a) => accountView(a, atMs)),
    grants: withGrants
      ? [...state.accounts.values()].flatMap((a) =>
          grantsOf(state, a.currency).map((g) => grantView(g, a.decimals, atMs)),
        )
      : null,
    holds: [...state.holds.values()].map((h) => holdView(h, state.accounts.get(h.currency)!.decimals)),
    subscriptions: [...state.subscriptions.values()].map((s) => subscriptionView(s, atMs)),
    reversed: [...state.reversedUsages],
  };
}

describe('archiving finished grants', () => {
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
        { numRuns: RUNS },
      );
    },
    HEAVY_TIMEOUT,
  );

  test(
    'a snapshot leaves finished grants out; the state loaded from it reads the same, or asks for the archive',
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
              const loaded = fromSnapshotState(snapshot);
              expect(loaded.archive.complete).toBe(finished.length === 0);
              for (const grantId of finished) expect(() => findGrant(loaded, grantId)).toThrow(ArchiveNeeded);
              if (finished.length > 0) expect(() => grantsOf(loaded, 'credits')).toThrow(ArchiveNeeded);
              let state = loaded;
              try {
                for (const event of events.slice(cut)) applyEvent(state, event);
              } catch (error) {
                // A reversal that restores a grant spent before the snapshot: the ledger replays the stream.
                expect(error).toBeInstanceOf(ArchiveNeeded);
                state = fold(events);
              }
              expect(reads(state, false)).toEqual(reads(fold(events), false));
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    HEAVY_TIMEOUT,
  );
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

    // Each step below starts on a cold ledger, whose state lacks the grants the snapshot left out.
    // Voiding a spent grant (nothing left to take) is allowed once; the grant is archived by then.
    const voided = await cold().voidGrant({ customerId, grantId: grants[5]!, reason: 'x' });
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
    await cold().reverseUsage({ customerId, usageId: usages[0]!, reason: 'refund' });
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
  });
});
