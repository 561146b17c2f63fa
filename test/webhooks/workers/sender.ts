/**
 * The webhook sender the crash test kills: the feed processor hands the store's events to the
 * webhooks' outbox, and the sender delivers it, until SIGKILL. Prints "ready" once both run.
 *
 * Usage: node --import tsx sender.ts '<SenderTask as JSON>'
 */
import { createProcessor } from '@tally/core';
import { createWebhooks } from '@tally/webhooks';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { printNow, workerTask } from '../../support/worker-io.js';

export interface SenderTask {
  readonly spec: StoreSpec;
  readonly timeoutMs: number;
}

const task = workerTask<SenderTask>();
const store = openStoreSpec(task.spec);
const webhooks = createWebhooks({
  store,
  timeoutMs: task.timeoutMs,
  maxAttempts: 1_000,
  backoff: { baseMs: 50, maxMs: 400 },
  pollIntervalMs: 20,
});
const processor = createProcessor({
  store,
  name: 'webhooks',
  handle: webhooks.handle,
  pollInterval: { min: 10, max: 100 },
  leaseTtlMs: 1_000,
  onError: (error) => console.error(error),
});
processor.start();
webhooks.start();
printNow('ready');
