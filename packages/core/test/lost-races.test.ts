import { describe, expect, test } from 'vitest';
import { ConcurrencyConflictError, createLedger, type EventStore } from '../src/index.js';
import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  DEFAULT_CONFLICT_RETRY_MS,
  LostRaces,
  racePolicy,
} from '../src/ledger/lost-races.js';
import { catalog, expectTallyError, memoryStore, TestClock } from './support.js';

/**
 * The writer's retry of races lost to other processes: backoff with full jitter within a time bound
 * (`conflictRetryMs`), and optionally a count (`maxAttempts`). The old policy gave up after 10 tries
 * a few ms apart, which three processes on one hot customer used up in well under a second.
 */

/**
 * A memory store whose next `conflicts` appends to `streamId` lose the race (as if another process had
 * just appended), counting every append tried on that stream. No `appendMany`: every append is one call.
 */
function losing(streamId: string) {
  const inner = memoryStore();
  const { appendMany: _unused, ...rest } = inner;
  const state = { conflicts: 0, tried: 0 };
  const store: EventStore = {
    ...rest,
    append: async (id, events, options) => {
      if (id === streamId) {
        state.tried += 1;
        if (state.conflicts > 0) {
          state.conflicts -= 1;
          throw new ConcurrencyConflictError(id, options.expectedVersion, options.expectedVersion + 1);
        }
      }
      return inner.append(id, events, options);
    },
  };
  return { inner, store, state };
}

/** A ledger on a losing store with a funded-free customer whose stream is about to lose `conflicts` races. */
async function ledgerLosing(conflicts: number, options: { maxAttempts?: number; conflictRetryMs?: number }) {
  const { inner, store, state } = losing('customer-cus_1');
  const ledger = createLedger({ catalog, store, clock: new TestClock().now, ...options });
  await ledger.createCustomer({ customerId: 'cus_1' });
  const before = (await inner.readAll()).length;
  state.tried = 0;
  state.conflicts = conflicts;
  return { ledger, inner, state, before };
}

const grant = { customerId: 'cus_1', currency: 'credits', amount: '7' } as const;

describe('a write that loses races to other processes', () => {
  test('more lost races than the old budget of 10: retried within the bound, written exactly once', async () => {
    const { ledger, inner, state, before } = await ledgerLosing(25, { conflictRetryMs: 60_000 });
    const result = await ledger.grant(grant);
    expect(result.remaining).toBe('7');
    expect(state.tried).toBe(26);
    const written = (await inner.readAll()).slice(before);
    expect(written.map((e) => e.type)).toEqual(['credits_granted']);
    const [account] = await createLedger({ catalog, store: inner }).creditAccounts({ customerId: 'cus_1' });
    expect(account!.balance).toBe('7');
  });

  test('conflictRetryMs 0: gives up at the first race lost on the store, nothing written', async () => {
    const { ledger, inner, state, before } = await ledgerLosing(1_000_000, { conflictRetryMs: 0 });
    const error = await expectTallyError(ledger.grant(grant), 'concurrency_conflict');
    // The first try decides on the cached head; its conflict may only mean the cache was stale, so it
    // is tried once more from the store at once. That second conflict is a lost race: no time is left.
    expect(error.message).toContain('after 2 attempts');
    expect(state.tried).toBe(2);
    expect((await inner.readAll()).length).toBe(before);
  });

  test('past the time bound: concurrency_conflict after more than one try, nothing written', async () => {
    const { ledger, inner, state, before } = await ledgerLosing(1_000_000, { conflictRetryMs: 200 });
    await expectTallyError(ledger.grant(grant), 'concurrency_conflict');
    expect(state.tried).toBeGreaterThan(1);
    expect((await inner.readAll()).length).toBe(before);
    // The same ledger writes again once the races stop.
    state.conflicts = 0;
    expect((await ledger.grant(grant)).remaining).toBe('7');
  });

  test('maxAttempts still bounds the count when the time bound is far', async () => {
    const { ledger, inner, state, before } = await ledgerLosing(1_000_000, {
      maxAttempts: 3,
      conflictRetryMs: 60_000,
    });
    await expectTallyError(ledger.grant(grant), 'concurrency_conflict');
    expect(state.tried).toBe(3);
    expect((await inner.readAll()).length).toBe(before);
  });
});

describe('LostRaces: the backoff itself, on a hand-moved clock', () => {
  const clockAt = (ms: number) => {
    const clock = { ms, now: () => clock.ms };
    return clock;
  };

  test('full jitter: each wait is below a ceiling that doubles from the base up to the cap', () => {
    const clock = clockAt(0);
    const draws = [0.999_999, 0.5, 0];
    let i = 0;
    const races = new LostRaces({ maxAttempts: Number.POSITIVE_INFINITY, retryMs: 10_000 }, clock.now, () => {
      const draw = draws[i % draws.length]!;
      i += 1;
      return draw;
    });
    const waits = Array.from({ length: 12 }, () => races.lose()!);
    const ceilings = waits.map((_, n) => Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** n));
    expect(ceilings.slice(0, 7)).toEqual([2, 4, 8, 16, 32, 64, 64]);
    waits.forEach((wait, n) => {
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(ceilings[n]!);
      expect(wait).toBeCloseTo(draws[n % draws.length]! * ceilings[n]!, 9);
    });
    expect(races.tried).toBe(13);
  });

  test('never waits past the deadline, and gives up once the clock reaches it', () => {
    const clock = clockAt(1_000);
    const races = new LostRaces(
      { maxAttempts: Number.POSITIVE_INFINITY, retryMs: 100 },
      clock.now,
      () => 0.999,
    );
    for (let n = 0; n < 6; n++) races.lose(); // the ceiling is at the cap now
    clock.ms = 1_099;
    expect(races.lose()).toBeCloseTo(1, 9);
    clock.ms = 1_100;
    expect(races.lose()).toBeNull();
    // A stale cached head is no lost race: it is retried whatever the time.
    expect(races.stale()).toBe(true);
  });

  test('maxAttempts counts lost races and stale heads alike', () => {
    const races = new LostRaces({ maxAttempts: 3, retryMs: 10_000 }, clockAt(0).now, () => 0.5);
    expect(races.stale()).toBe(true);
    expect(races.lose()).not.toBeNull();
    expect(races.tried).toBe(3);
    expect(races.lose()).toBeNull();
    expect(races.stale()).toBe(false);
  });
});

describe('the retry options of createLedger', () => {
  test('defaults: no count, a 2 s bound', () => {
    expect(racePolicy({})).toEqual({
      maxAttempts: Number.POSITIVE_INFINITY,
      retryMs: DEFAULT_CONFLICT_RETRY_MS,
    });
    expect(DEFAULT_CONFLICT_RETRY_MS).toBe(2_000);
    expect(racePolicy({ maxAttempts: 4, conflictRetryMs: 0 })).toEqual({ maxAttempts: 4, retryMs: 0 });
  });

  test.each([
    ['maxAttempts', 0],
    ['maxAttempts', -1],
    ['maxAttempts', 1.5],
    ['maxAttempts', Number.NaN],
    ['maxAttempts', Number.POSITIVE_INFINITY],
    ['maxAttempts', '3'],
    ['maxAttempts', Object.create(null)],
    ['conflictRetryMs', -1],
    ['conflictRetryMs', Number.NaN],
    ['conflictRetryMs', Number.POSITIVE_INFINITY],
    ['conflictRetryMs', '100'],
    ['conflictRetryMs', 10n],
    ['conflictRetryMs', Object.create(null)],
  ])('%s %s is refused with invalid_input naming the option', async (option, value) => {
    await expectTallyError(
      () => createLedger({ catalog, store: memoryStore(), [option]: value as number }),
      'invalid_input',
      option,
    );
  });
});
