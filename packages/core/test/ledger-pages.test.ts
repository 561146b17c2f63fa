import * as fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  commandSequence,
  runSequence,
  SEQUENCE_START,
  sequenceCatalog,
  sequenceClock,
} from '../../../test/support/command-sequences.js';
import { fcOptions } from '../../../test/support/fast-check.js';
import {
  createLedger,
  type EntriesOrder,
  type Ledger,
  type LedgerEntry,
  type RecordedEvent,
  TallyError,
} from '../src/index.js';
import { advance, fold, ledgerEntries, upcast } from '../src/pure.js';
import { DAY, memoryStore } from './support.js';

const CURRENCIES = ['credits', 'usd'] as const;

/**
 * The whole statement as of `atMs`, computed apart from the pager: every currency's `ledgerEntries`
 * over the stream and what has fallen due, merged by instant and then by place in the stream.
 */
function statement(events: readonly RecordedEvent[], currency: string | null, atMs: number): LedgerEntry[] {
  const upTo = events.filter((event) => Date.parse(event.at) <= atMs);
  const all = [...upTo, ...advance(fold(upTo), atMs, { catalog: sequenceCatalog }).events];
  const place = new Map(all.map((event, i) => [event.id, i]));
  const codes = currency === null ? CURRENCIES : [currency];
  return codes
    .flatMap((code) => ledgerEntries(all, code, atMs))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || place.get(a.entryId)! - place.get(b.entryId)!);
}

/** Every page of a read, each of the next size in `sizes` (round and round). */
async function pages(
  ledger: Ledger,
  input: { customerId: string; currency?: string; from?: string; to?: string; at?: string },
  order: EntriesOrder,
  sizes: readonly number[],
): Promise<LedgerEntry[]> {
  const lines: LedgerEntry[] = [];
  let cursor: string | null = null;
  for (let i = 0; ; i++) {
    const limit = sizes[i % sizes.length]!;
    const page = await ledger.entries({ ...input, order, limit, cursor });
    expect(page.data.length).toBeLessThanOrEqual(limit);
    expect(page.hasMore).toBe(page.nextCursor !== null);
    if (page.hasMore) expect(page.data.length).toBe(limit);
    lines.push(...page.data);
    if (page.nextCursor === null) return lines;
    cursor = page.nextCursor;
    expect(i).toBeLessThan(10_000);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('paging the statement', () => {
  test('concatenating every page, of random sizes, in either order, is the whole statement', async () => {
    await fc.assert(
      fc.asyncProperty(
        commandSequence({ maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(1, 3, 100),
        fc.option(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
          {
            nil: null,
          },
        ),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
        async (steps, sizes, snapshotEvery, window, past) => {
          const store = memoryStore();
          const clock = sequenceClock();
          const ledger = createLedger({ catalog: sequenceCatalog, store, clock: clock.now, snapshotEvery });
          await runSequence(ledger, store, clock, steps, { check: false });
          const streams = new Map<string, RecordedEvent[]>();
          for (const e of await store.readAll()) {
            if (!e.streamId.startsWith('customer-')) continue;
            streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), upcast(e)]);
          }
          const span = clock.ms - SEQUENCE_START + DAY;
          // A fresh ledger: the pager must not lean on what the writer cached.
          const reader = createLedger({ catalog: sequenceCatalog, store, clock: clock.now });
          for (const [streamId, events] of streams) {
            const customerId = streamId.slice('customer-'.length);
            const atMs = past === null ? clock.ms : SEQUENCE_START + Math.floor(past * span);
            if (Date.parse(events[0]!.at) > atMs) continue;
            const [a, b] = window ?? [0, 1];
            const fromMs = SEQUENCE_START + Math.floor(Math.min(a, b) * span);
            const toMs = SEQUENCE_START + Math.floor(Math.max(a, b) * span) + 1;
            for (const currency of [null, ...CURRENCIES]) {
              const whole = statement(events, currency, atMs).filter(
                (line) => window === null || (Date.parse(line.at) >= fromMs && Date.parse(line.at) < toMs),
              );
              const input = {
                customerId,
                ...(currency === null ? {} : { currency }),
                ...(window === null ? {} : { from: iso(fromMs), to: iso(toMs) }),
                ...(past === null ? {} : { at: iso(atMs) }),
              };
              expect(await pages(reader, input, 'oldest_first', sizes)).toEqual(whole);
              expect(await pages(reader, input, 'newest_first', sizes)).toEqual([...whole].reverse());
            }
          }
        },
      ),
      fcOptions({ runs: 150 }),
    );
  }, 600_000);
});

describe('cursors', () => {
  async function customerWithHistory() {
    const store = memoryStore();
    const clock = sequenceClock();
    const ledger = createLedger({ catalog: sequenceCatalog, store, clock: clock.now, snapshotEvery: 5 });
    for (const customerId of ['cus_a', 'cus_b']) {
      await ledger.createCustomer({ customerId });
      await ledger.grant({ customerId, currency: 'credits', amount: '1000', source: 'top_up' });
      for (let i = 0; i < 12; i++) await ledger.trackUsage({ customerId, feature: 'gen', quantity: 1 });
    }
    return ledger;
  }

  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (error: unknown) => error,
    );

  test('a tampered cursor, one of another customer, another read or another order is refused naming cursor', async () => {
    const ledger = await customerWithHistory();
    const first = await ledger.entries({ customerId: 'cus_a', currency: 'credits', limit: 5 });
    const cursor = first.nextCursor!;
    const body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const tampered = [
      Buffer.from(JSON.stringify({ ...body, b: [['credits', '999999']] })).toString('base64url'),
      Buffer.from(JSON.stringify({ ...body, n: body.n + 1 })).toString('base64url'),
      `${cursor.slice(0, -2)}AA`,
      'not-a-cursor',
    ];
    const attempts = [
      ...tampered.map((c) =>
        ledger.entries({ customerId: 'cus_a', currency: 'credits', limit: 5, cursor: c }),
      ),
      ledger.entries({ customerId: 'cus_b', currency: 'credits', limit: 5, cursor }),
      ledger.entries({ customerId: 'cus_a', limit: 5, cursor }),
      ledger.entries({ customerId: 'cus_a', currency: 'credits', limit: 5, cursor, order: 'newest_first' }),
      ledger.entries({
        customerId: 'cus_a',
        currency: 'credits',
        limit: 5,
        cursor,
        from: iso(SEQUENCE_START),
      }),
    ];
    for (const attempt of attempts) {
      const error = await refusal(attempt);
      expect(error).toBeInstanceOf(TallyError);
      expect(error).toMatchObject({ code: 'invalid_input', field: 'cursor' });
    }
    // The genuine cursor still reads on, with a different page size too.
    const second = await ledger.entries({ customerId: 'cus_a', currency: 'credits', limit: 3, cursor });
    expect(second.data.map((e) => e.balance)).toEqual(['950', '940', '930']);
  });

  test('the latest page, newest first, carries the account balance down the page', async () => {
    const ledger = await customerWithHistory();
    const page = await ledger.entries({
      customerId: 'cus_a',
      currency: 'credits',
      limit: 4,
      order: 'newest_first',
    });
    expect(page.data.map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['usage', '-10', '880'],
      ['usage', '-10', '890'],
      ['usage', '-10', '900'],
      ['usage', '-10', '910'],
    ]);
  });
});
