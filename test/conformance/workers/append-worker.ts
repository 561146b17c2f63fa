/**
 * One of the processes of multi-process.test.ts: opens the shared store, waits for the common start
 * time so all processes write at once, appends one event at a time (reading the version, pausing
 * 1 ms as a decision would, appending, retrying on conflicts) and prints what was acknowledged as
 * one JSON line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { partitionsOf } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { workerTask } from '../../support/worker-io.js';
import { appendWithRetry, event } from '../helpers.js';
import { readPartition } from '../partitions.js';

export interface WorkerTask {
  readonly target: StoreSpec;
  readonly worker: number;
  readonly appends: number;
  readonly streams: readonly string[];
  /** Epoch milliseconds at which every worker starts appending. */
  readonly startAt: number;
}

export interface WorkerReport {
  readonly acknowledged: { readonly streamId: string; readonly id: string; readonly version: number }[];
  readonly conflicts: number;
}

async function main(task: WorkerTask): Promise<WorkerReport> {
  // Every worker opens (and may create) the file or schema at about the same time, then all start
  // appending together: opening first keeps one slow opener from running alone afterwards.
  const store = openStoreSpec(task.target);
  if (task.target.kind === 'postgres') {
    // Creates the schema now (on Citus, listing the partitions does).
    await readPartition(store, (await partitionsOf(store))[0]!, { limit: 0 });
  }
  await sleep(Math.max(0, task.startAt - Date.now()));
  const acknowledged: WorkerReport['acknowledged'] = [];
  let conflicts = 0;
  try {
    for (let n = 0; n < task.appends; n++) {
      const streamId = task.streams[(task.worker + n) % task.streams.length]!;
      const id = `p${task.worker}-${n}`;
      const result = await appendWithRetry(store, streamId, [event(id)], 1);
      acknowledged.push({ streamId, id, version: result.nextVersion });
      conflicts += result.conflicts;
    }
  } finally {
    await store.close();
  }
  return { acknowledged, conflicts };
}

const report = await main(workerTask<WorkerTask>());
process.stdout.write(`${JSON.stringify(report)}\n`);
