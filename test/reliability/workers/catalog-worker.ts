/**
 * One OS process of the catalog test: either changes a feature's price again and again, logging
 * when each change's call began and when it returned, or tracks usage, logging when each call began
 * and what it cost. Both run on a ledger whose catalog is kept in the shared store.
 *
 * Usage: node --import tsx catalog-worker.ts '<CatalogTask as JSON>'
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLedger } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { workerTask } from '../../support/worker-io.js';

export interface CatalogTask {
  readonly spec: StoreSpec;
  readonly role: 'reprice' | 'usage';
  readonly customers: readonly string[];
  readonly ops: number;
  readonly outFile: string;
  /** The usage worker's log, which the repricer watches so that the two surely overlap. */
  readonly usageFile: string;
  /** Written by the repricer when it is done; the usage worker goes on until it is there. */
  readonly doneFile: string;
  readonly startAt: number;
}

/** One line of a worker's log: wall times on the one machine both processes run on. */
export type CatalogLog =
  | { readonly kind: 'change'; readonly perUnit: string; readonly startedMs: number; readonly doneMs: number }
  | {
      readonly kind: 'usage';
      readonly usageId: string;
      readonly cost: string;
      readonly startedMs: number;
      readonly doneMs: number;
    };

const task = workerTask<CatalogTask>();
const store = openStoreSpec(task.spec);
const ledger = createLedger({ store });
await ledger.catalog(); // connect and load the catalog before the start line
await sleep(Math.max(0, task.startAt - Date.now()));

const linesIn = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0);

async function usagesLogged(more: number): Promise<void> {
  const target = linesIn(task.usageFile) + more;
  const until = Date.now() + 60_000;
  while (linesIn(task.usageFile) < target) {
    if (Date.now() > until) throw new Error(`no ${more} usages logged within 60 s`);
    await sleep(10);
  }
}

const log = (line: CatalogLog) => appendFileSync(task.outFile, `${JSON.stringify(line)}\n`);
if (task.role === 'reprice') {
  for (let i = 1; i <= task.ops; i++) {
    const perUnit = String(10 + i);
    const startedMs = Date.now();
    await ledger.updateFeature({ key: 'gen', perUnit });
    log({ kind: 'change', perUnit, startedMs, doneMs: Date.now() });
    // After the first change, wait for usages that surely began after it (a customer's calls run one
    // at a time, so of customers + 1 lines logged from now, some customer's second began after now),
    // however late the other process started: the race is then certain to overlap, on any machine.
    if (i === 1) await usagesLogged(task.customers.length + 1);
    await sleep(5);
  }
  writeFileSync(task.doneFile, 'done');
} else {
  await Promise.all(
    task.customers.map(async (customerId) => {
      // At least `ops` each, and on for as long as the prices are changing (bounded).
      for (let i = 0; i < task.ops * 50 && (i < task.ops || !existsSync(task.doneFile)); i++) {
        const startedMs = Date.now();
        const usage = await ledger.trackUsage({ customerId, feature: 'gen', quantity: 1 });
        log({ kind: 'usage', usageId: usage.usageId, cost: usage.cost, startedMs, doneMs: Date.now() });
      }
    }),
  );
}
await ledger.close();
