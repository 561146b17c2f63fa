/**
 * One process of the feed crash test: runs a processor for each consumer name on the shared store
 * until it is killed, and prints (synchronously, so a line is on the pipe before the next step runs):
 *
 *   A <name> <epoch ms>            this process took the lease on <name>
 *   L <name> <epoch ms>            it lost it
 *   B <name>                       the handler was given a batch (its events follow)
 *   D <name> <position> <stream> <version>   the handler was given this event
 *
 * Usage: node --import tsx feed-consumer.ts '<FeedConsumerTask as JSON>'
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConsumerStore, createProcessor } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { printNow, workerTask } from '../../support/worker-io.js';

export interface FeedConsumerTask {
  readonly spec: StoreSpec;
  readonly names: readonly string[];
  readonly leaseTtlMs: number;
  readonly slot: number;
}

const task = workerTask<FeedConsumerTask>();

const opened = openStoreSpec(task.spec);
const inner = opened.consumers!;
// Every answer of the lease, seen where the processor sees it: a change of hands is printed before
// the processor can act on it.
const holding = new Map<string, boolean>();
const consumers: ConsumerStore = {
  ...inner,
  async acquireLease(name, holder, ttlMs) {
    const held = await inner.acquireLease(name, holder, ttlMs);
    if (held !== (holding.get(name) ?? false)) printNow(`${held ? 'A' : 'L'} ${name} ${Date.now()}`);
    holding.set(name, held);
    return held;
  },
};
const store = { ...opened, consumers };
await store.readAll({ limit: 1 }); // connected before the start line

for (const name of task.names) {
  createProcessor({
    store,
    name,
    holder: `slot${task.slot}-pid${process.pid}-${name}`,
    batchSize: 1 + Math.floor(Math.random() * 25),
    leaseTtlMs: task.leaseTtlMs,
    pollInterval: { min: 5, max: 100 },
    retryInterval: { min: 10, max: 200 },
    async handle({ events }) {
      printNow(`B ${name}`);
      for (const e of events) {
        printNow(`D ${name} ${e.position} ${e.streamId} ${e.version}`);
        // A handler that takes a while, so kills land in the middle of batches.
        if (Math.random() < 0.05) await sleep(Math.random() * 5);
      }
    },
  }).start();
}
printNow('ready');
