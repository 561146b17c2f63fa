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
import { allEntries } from '../../../test/support/statement.js';
import { createLedger, EXPORT_COLUMNS, type Ledger, type LedgerEntry, TallyError } from '../src/index.js';
import { toMinor } from '../src/money.js';
import { DAY, memoryStore } from './support.js';

const iso = (ms: number) => new Date(ms).toISOString();

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const chunk of chunks) out += chunk;
  return out;
}

/** RFC 4180, as a spreadsheet reads it: quoted fields may hold commas, quotes and line breaks. */
function parseCsv(csv: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let value = '';
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const ch = csv[i]!;
    if (quoted) {
      if (ch === '"' && csv[i + 1] === '"') {
        value += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else value += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(value);
      value = '';
    } else if (ch === '\r' && csv[i + 1] === '\n') {
      row.push(value);
      rows.push(row);
      row = [];
      value = '';
      i += 1;
    } else value += ch;
  }
  expect(value).toBe('');
  return rows;
}

/** An entry as its CSV row reads: every field as text, null as empty. */
const asRow = (customerId: string, entry: LedgerEntry): string[] => {
  const values: Record<string, unknown> = { customerId, ...entry };
  return EXPORT_COLUMNS.map((column) => (values[column] === null ? '' : String(values[column])));
};

async function sequenceLedger(steps: Parameters<typeof runSequence>[3]) {
  const store = memoryStore();
  const clock = sequenceClock();
  const ledger = createLedger({ catalog: sequenceCatalog, store, clock: clock.now, snapshotEvery: 3 });
  await runSequence(ledger, store, clock, steps, { check: false });
  const customers: string[] = [];
  for (const e of await store.readAll()) {
    const id = e.streamId.slice('customer-'.length);
    if (e.streamId.startsWith('customer-') && !customers.includes(id)) customers.push(id);
  }
  return { ledger: createLedger({ catalog: sequenceCatalog, store, clock: clock.now }), customers, clock };
}

describe('exportEntries', () => {
  test('the CSV and NDJSON exports, of one customer or all, hold exactly the entries', async () => {
    await fc.assert(
      fc.asyncProperty(
        commandSequence({ maxLength: 24 }),
        fc.constantFrom(undefined, 'credits', 'usd'),
        async (steps, currency) => {
          const { ledger, customers } = await sequenceLedger(steps);
          const filter = currency === undefined ? {} : { currency };
          const expected = new Map<string, LedgerEntry[]>();
          for (const customerId of customers)
            expected.set(customerId, await allEntries(ledger, { customerId, ...filter }));
          for (const customerId of customers) {
            const ndjson = await text(ledger.exportEntries({ customerId, format: 'ndjson', ...filter }));
            const lines = ndjson === '' ? [] : ndjson.trimEnd().split('\n');
            expect(lines.map((l) => JSON.parse(l))).toEqual(
              expected.get(customerId)!.map((e) => ({ customerId, ...e })),
            );
            const csv = parseCsv(await text(ledger.exportEntries({ customerId, format: 'csv', ...filter })));
            expect(csv[0]).toEqual([...EXPORT_COLUMNS]);
            expect(csv.slice(1)).toEqual(expected.get(customerId)!.map((e) => asRow(customerId, e)));
          }
          // Every customer, in the order they first appear in the log.
          const all = parseCsv(await text(ledger.exportEntries({ format: 'csv', ...filter })));
          expect(all.slice(1)).toEqual(
            customers.flatMap((customerId) => expected.get(customerId)!.map((e) => asRow(customerId, e))),
          );
        },
      ),
      fcOptions({ runs: 60 }),
    );
  }, 300_000);

  test('a window exports the lines dated in it, with the running balance of the whole statement', async () => {
    const clock = { ms: SEQUENCE_START };
    const ledger = createLedger({
      catalog: sequenceCatalog,
      store: memoryStore(),
      clock: () => new Date(clock.ms),
    });
    await ledger.createCustomer({ customerId: 'cus_1' });
    await ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '100', source: 'top_up' });
    for (let day = 1; day <= 5; day++) {
      clock.ms = SEQUENCE_START + day * DAY;
      await ledger.trackUsage({ customerId: 'cus_1', feature: 'gen', quantity: 1 });
    }
    const window = { from: iso(SEQUENCE_START + 2 * DAY), to: iso(SEQUENCE_START + 4 * DAY) };
    const ndjson = await text(ledger.exportEntries({ customerId: 'cus_1', format: 'ndjson', ...window }));
    expect(
      ndjson
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).balance),
    ).toEqual(['80', '70']);
  });

  test('text that starts like a spreadsheet formula is written so a spreadsheet does not run it', async () => {
    const ledger = createLedger({ catalog: sequenceCatalog, store: memoryStore() });
    await ledger.createCustomer({ customerId: 'cus_1' });
    const { grantId } = await ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '5',
      source: 'manual',
    });
    await ledger.voidGrant({ customerId: 'cus_1', grantId, reason: '=HYPERLINK("http://x","y"), "quoted"' });
    const rows = parseCsv(await text(ledger.exportEntries({ customerId: 'cus_1', format: 'csv' })));
    expect(rows.at(-1)!.at(-1)).toBe(`'=HYPERLINK("http://x","y"), "quoted"`);
  });

  test('refuses before the first chunk: a bad format, an unknown customer, a closed ledger', async () => {
    const ledger = createLedger({ catalog: sequenceCatalog, store: memoryStore() });
    const refusal = (input: unknown) =>
      text(ledger.exportEntries(input as never)).then(
        () => null,
        (error: unknown) => error,
      );
    expect(await refusal({ format: 'xml' })).toMatchObject({ code: 'invalid_input', field: 'format' });
    expect(await refusal({ customerId: 'nobody', format: 'csv' })).toMatchObject({
      code: 'unknown_customer',
    });
    expect(await refusal({ format: 'csv', extra: 1 })).toMatchObject({
      code: 'invalid_input',
      field: 'extra',
    });
    // No customer at all: the header alone.
    expect(await text(ledger.exportEntries({ format: 'csv' }))).toBe(`${EXPORT_COLUMNS.join(',')}\r\n`);
    expect(await text(ledger.exportEntries({ format: 'ndjson' }))).toBe('');
    await ledger.close();
    expect(await refusal({ format: 'csv' })).toBeInstanceOf(TallyError);
  });
});

describe('usageSummary', () => {
  /** Per currency, the usage and reversal lines of `entries` in the window, summed. */
  function spentIn(entries: readonly LedgerEntry[], fromMs: number, toMs: number) {
    const spent = new Map<string, bigint>();
    for (const e of entries) {
      const at = Date.parse(e.at);
      if (at < fromMs || at >= toMs || (e.kind !== 'usage' && e.kind !== 'reversal')) continue;
      spent.set(e.currency, (spent.get(e.currency) ?? 0n) - toMinor(e.amount));
    }
    return spent;
  }

  test('totals equal the usage entries net of reversals, and every grouping adds up to them', async () => {
    await fc.assert(
      fc.asyncProperty(
        commandSequence({ maxLength: 30 }),
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
        async (steps, [a, b]) => {
          const { ledger, customers, clock } = await sequenceLedger(steps);
          const span = clock.ms - SEQUENCE_START + DAY;
          const fromMs = SEQUENCE_START + Math.floor(Math.min(a, b) * span);
          const toMs = SEQUENCE_START + Math.floor(Math.max(a, b) * span) + 1;
          for (const customerId of customers) {
            const entries = await allEntries(ledger, { customerId });
            const expected = spentIn(entries, fromMs, toMs);
            for (const groupBy of ['feature', 'day', 'month'] as const) {
              const summary = await ledger.usageSummary({
                customerId,
                from: iso(fromMs),
                to: iso(toMs),
                groupBy,
              });
              const totals = new Map(summary.totals.map((t) => [t.currency, toMinor(t.spent)]));
              for (const [currency, amount] of expected) expect(totals.get(currency) ?? 0n).toBe(amount);
              for (const t of summary.totals) {
                expect(toMinor(t.spent)).toBe(expected.get(t.currency) ?? 0n);
                expect(toMinor(t.charged) - toMinor(t.reversed)).toBe(toMinor(t.spent));
                const groups = summary.groups.filter((g) => g.currency === t.currency);
                const sum = (pick: (g: (typeof groups)[number]) => bigint) =>
                  groups.reduce((s, g) => s + pick(g), 0n);
                expect(sum((g) => toMinor(g.spent))).toBe(toMinor(t.spent));
                expect(groups.reduce((n, g) => n + g.usages, 0)).toBe(t.usages);
                // The grants of a group (and its overdraft) account for all it spent.
                for (const g of groups)
                  expect(g.grants.reduce((s, x) => s + toMinor(x.spent), 0n)).toBe(toMinor(g.spent));
              }
            }
          }
        },
      ),
      fcOptions({ runs: 60 }),
    );
  }, 300_000);

  test('a burn-down: spending by feature and by day, with the grants it came from', async () => {
    const clock = { ms: SEQUENCE_START };
    const ledger = createLedger({
      catalog: sequenceCatalog,
      store: memoryStore(),
      clock: () => new Date(clock.ms),
    });
    await ledger.createCustomer({ customerId: 'cus_1' });
    const promo = await ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '15',
      source: 'promotion',
      priority: 10,
    });
    const topUp = await ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '100',
      source: 'top_up',
    });
    await ledger.trackUsage({ customerId: 'cus_1', feature: 'gen', quantity: 2 }); // 20: 15 promo + 5 top-up
    clock.ms += DAY;
    const img = await ledger.trackUsage({ customerId: 'cus_1', feature: 'img', quantity: 4 }); // 10 from the top-up
    await ledger.trackUsage({ customerId: 'cus_1', feature: 'gen', quantity: 1 }); // 10
    await ledger.reverseUsage({ customerId: 'cus_1', usageId: img.usageId, reason: 'failed job' });

    const window = { customerId: 'cus_1', from: iso(SEQUENCE_START), to: iso(SEQUENCE_START + 2 * DAY) };
    const byFeature = await ledger.usageSummary({ ...window, groupBy: 'feature' });
    expect(byFeature.totals).toEqual([
      { currency: 'credits', spent: '30', charged: '40', reversed: '10', usages: 3, reversals: 1 },
    ]);
    expect(byFeature.groups.map((g) => [g.key, g.spent, g.grants.map((x) => [x.source, x.spent])])).toEqual([
      // An equal share from each: listed by grant id, the older first.
      [
        'gen',
        '30',
        [
          ['promotion', '15'],
          ['top_up', '15'],
        ],
      ],
      ['img', '0', [['top_up', '0']]],
    ]);
    expect(byFeature.groups[0]!.grants.map((x) => x.grantId)).toEqual([promo.grantId, topUp.grantId]);
    const byDay = await ledger.usageSummary({ ...window, groupBy: 'day' });
    expect(byDay.groups.map((g) => [g.key, g.spent, g.usages])).toEqual([
      ['2025-01-31', '20', 1],
      ['2025-02-01', '10', 2],
    ]);
    const byMonth = await ledger.usageSummary({ ...window, groupBy: 'month', currency: 'credits' });
    expect(byMonth.groups.map((g) => [g.key, g.spent])).toEqual([
      ['2025-01', '20'],
      ['2025-02', '10'],
    ]);
    await expect(ledger.usageSummary({ ...window, to: window.from, groupBy: 'day' })).rejects.toMatchObject({
      code: 'invalid_time',
      field: 'to',
    });
  });
});

describe('paging refusals', () => {
  test('a window that ends before it starts, a limit out of range', async () => {
    const ledger: Ledger = createLedger({ catalog: sequenceCatalog, store: memoryStore() });
    await ledger.createCustomer({ customerId: 'cus_1' });
    const at = iso(SEQUENCE_START);
    await expect(ledger.entries({ customerId: 'cus_1', from: at, to: at })).rejects.toMatchObject({
      code: 'invalid_time',
      field: 'to',
    });
    for (const limit of [0, 1001, 2.5, '12a'])
      await expect(ledger.entries({ customerId: 'cus_1', limit: limit as number })).rejects.toMatchObject({
        code: 'invalid_input',
        field: 'limit',
      });
    expect((await ledger.entries({ customerId: 'cus_1', limit: '7' as unknown as number })).data).toEqual([]);
  });
});
