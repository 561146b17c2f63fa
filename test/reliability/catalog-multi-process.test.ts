import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedger } from '@tally/core';
import { describe, expect, it } from 'vitest';
import {
  choosePostgres,
  itOnPostgresServer,
  postgresTarget,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';
import { soak } from './support/env.js';
import { finished, startWorker } from './support/processes.js';
import type { CatalogLog, CatalogTask } from './workers/catalog-worker.js';

/**
 * Two OS processes share one store whose catalog is kept in it: one changes a price again and again,
 * the other tracks usage meanwhile, each on its own ledger, never restarted. Every usage must be
 * priced by the price in force when it happened: a usage whose call began after a change had been
 * acknowledged pays at least that change's price, and one acknowledged before a change began pays
 * less. Prices only go up here, so "at least" is "that version or a later one".
 */

const CHANGES = 15 * soak();
const USAGES = 40 * soak();
const CUSTOMERS = ['cus_a', 'cus_b', 'cus_c'];
const postgres = await choosePostgres();

async function race(target: StoreTarget): Promise<void> {
  const opened = await target.open();
  const dir = await mkdtemp(join(tmpdir(), 'tally-catalog-'));
  try {
    const setup = createLedger({ store: opened.store });
    await setup.defineCurrency({ code: 'credits', decimals: 0 });
    await setup.defineFeature({ key: 'gen', cost: { currency: 'credits', perUnit: '10' } });
    for (const customerId of CUSTOMERS) {
      await setup.createCustomer({ customerId });
      await setup.grant({ customerId, currency: 'credits', amount: '1000000' });
    }
    const startAt = Date.now() + 2_500;
    const run = (role: CatalogTask['role'], ops: number) =>
      finished(
        startWorker('catalog-worker', {
          spec: opened.spec!,
          role,
          customers: CUSTOMERS,
          ops,
          outFile: join(dir, `${role}.jsonl`),
          usageFile: join(dir, 'usage.jsonl'),
          doneFile: join(dir, 'done'),
          startAt,
        } satisfies CatalogTask),
        120_000,
      );
    const results = await Promise.all([run('reprice', CHANGES), run('usage', USAGES)]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const read = async (role: string): Promise<CatalogLog[]> =>
      (await readFile(join(dir, `${role}.jsonl`), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as CatalogLog);
    const changes = (await read('reprice')).filter((l) => l.kind === 'change');
    const usages = (await read('usage')).filter((l) => l.kind === 'usage');
    expect(changes).toHaveLength(CHANGES);
    expect(usages.length).toBeGreaterThanOrEqual(USAGES * CUSTOMERS.length);
    const overlapped = usages.filter(
      (u) => u.startedMs > changes[0]!.doneMs && u.doneMs < changes.at(-1)!.startedMs,
    );
    expect(overlapped.length, 'the usage and the price changes did not overlap').toBeGreaterThan(0);
    for (const usage of usages) {
      const cost = Number(usage.cost);
      const seen = changes.filter((c) => c.doneMs < usage.startedMs).map((c) => Number(c.perUnit));
      const notYet = changes.filter((c) => c.startedMs > usage.doneMs).map((c) => Number(c.perUnit));
      const floor = Math.max(10, ...seen);
      expect(cost, `${usage.usageId} began after the price ${floor} was acknowledged`).toBeGreaterThanOrEqual(
        floor,
      );
      if (notYet.length > 0)
        expect(
          cost,
          `${usage.usageId} was answered before the price ${Math.min(...notYet)} was asked for`,
        ).toBeLessThan(Math.min(...notYet));
    }
    // The books agree: every usage is in the store once, at the cost it was answered with.
    const stored = (await opened.store.readAll()).filter((e) => e.type === 'credits_deducted');
    expect(new Map(stored.map((e) => [e.data.usageId, e.data.cost]))).toEqual(
      new Map(usages.map((u) => [u.usageId, u.cost])),
    );
  } finally {
    await opened.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('a price changed by one process while another tracks usage', () => {
  it('SQLite file: every usage is priced by the version in force at its instant, none by a stale cache', async () => {
    await race(sqliteTarget());
  });
  itOnPostgresServer(
    postgres,
    'Postgres: every usage is priced by the version in force at its instant, none by a stale cache',
    async () => {
      await race(await postgresTarget());
    },
  );
});
