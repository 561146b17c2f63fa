/**
 * One OS process of the auto top-up test: opens the shared store, waits for the common start line,
 * tracks its usages concurrently, then carries out the customer's top-ups through the shared fake
 * payment API. With `crashAfterPurchase` it is killed (SIGKILL) right after a purchase returns,
 * before the grant is recorded.
 *
 * Usage: node --import tsx auto-top-up.ts '<AutoTopUpTask as JSON>'
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLedger, type PurchaseRequest, runAutoTopUps } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { workerTask } from '../../support/worker-io.js';
import { catalog } from '../support/catalog.js';
import { filePayments } from '../support/fake-payments.js';

export interface AutoTopUpTask {
  readonly spec: StoreSpec;
  readonly worker: number;
  readonly customerId: string;
  readonly usages: number;
  readonly paymentsDir: string;
  readonly crashAfterPurchase: boolean;
  /** Epoch ms at which every process starts, so their usages overlap. */
  readonly startAt: number;
}

const task = workerTask<AutoTopUpTask>();
const store = openStoreSpec(task.spec);
const ledger = createLedger({ catalog, store });
await store.readStream('customer-warmup'); // connect before the start line
await sleep(Math.max(0, task.startAt - Date.now()));

const { customerId } = task;
await Promise.all(
  Array.from({ length: task.usages }, () =>
    ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 }),
  ),
);
const pay = filePayments(task.paymentsDir, `P${task.worker}`);
const purchase = async (request: PurchaseRequest) => {
  const paid = await pay(request);
  if (task.crashAfterPurchase) process.kill(process.pid, 'SIGKILL');
  return paid;
};
await runAutoTopUps({ ledger, purchase, customerId });
await ledger.close();
