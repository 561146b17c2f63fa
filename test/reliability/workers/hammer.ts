/**
 * One OS process of the multi-process test: opens the shared store, waits for the common start time,
 * runs its callers concurrently and appends every answer to its outcome file as a JSON line.
 *
 * Usage: node --import tsx hammer.ts '<HammerTask as JSON>'
 */
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLedger } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { workerTask } from '../../support/worker-io.js';
import { catalog } from '../support/catalog.js';
import { runCaller } from '../support/workload.js';

export interface HammerTask {
  readonly spec: StoreSpec;
  readonly worker: number;
  readonly callers: number;
  readonly ops: number;
  readonly seed: number;
  readonly sharedKeys: number;
  /** Small, so snapshots are written and read under contention (after every conflict the cache reloads). */
  readonly snapshotEvery: number;
  readonly outFile: string;
  /** Epoch ms at which every process starts, so they overlap. */
  readonly startAt: number;
}

const task = workerTask<HammerTask>();
const store = openStoreSpec(task.spec);
const ledger = createLedger({ catalog, store, snapshotEvery: task.snapshotEvery });
await store.readStream('customer-warmup'); // connect (and load native code) before the start line
await sleep(Math.max(0, task.startAt - Date.now()));

const reversible: string[] = [];
await Promise.all(
  Array.from({ length: task.callers }, (_, c) =>
    runCaller(
      ledger,
      {
        caller: `P${task.worker}C${c}`,
        ops: task.ops,
        seed: task.seed + task.worker * 1000 + c,
        sharedKeys: task.sharedKeys,
        reversible,
      },
      (outcome) => appendFileSync(task.outFile, `${JSON.stringify(outcome)}\n`),
    ),
  ),
);
await ledger.close();
