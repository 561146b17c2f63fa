/**
 * The process the crash test kills. It writes as fast as it can until SIGKILL arrives, and prints a
 * line for every write the moment it is acknowledged (synchronously, so an acknowledged write is on
 * the pipe before the next instruction runs):
 *
 *   U <usageId>            trackUsage answered
 *   C <usageId> <holdId>   captureHold answered (hold_released + credits_deducted in one command)
 *   G <grantId>            grant answered
 *   B <stream> <batch> <size>  a raw store append of <size> events answered
 *
 * Several callers write at once, so the ledger's group commit appends several commands per batch.
 *
 * Usage: node --import tsx crash-appender.ts '<CrashTask as JSON>'
 */
import { createLedger, type NewEvent } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { printNow, workerTask } from '../../support/worker-io.js';
import { catalog } from '../support/catalog.js';

export interface CrashTask {
  readonly spec: StoreSpec;
  readonly customerId: string;
  /** Distinguishes the runs (ids, keys, batch streams) of one test. */
  readonly run: number;
  readonly callers: number;
}

const task = workerTask<CrashTask>();

const store = openStoreSpec(task.spec);
const ledger = createLedger({ catalog, store });
const { customerId, run } = task;
await ledger.creditAccounts({ customerId }); // connected and warm
printNow('ready');

async function ledgerCaller(caller: number): Promise<never> {
  for (let i = 0; ; i++) {
    const kind = (caller + i) % 4;
    if (kind === 0 || kind === 1) {
      const r = await ledger.trackUsage({
        customerId,
        feature: 'unit',
        quantity: 1 + (i % 3),
        ...(kind === 1 ? { idempotencyKey: `r${run}-c${caller}-${i}` } : {}),
      });
      printNow(`U ${r.usageId}`);
    } else if (kind === 2) {
      const { holdId } = await ledger.hold({ customerId, feature: 'unit', quantity: 3 });
      const r = await ledger.captureHold({ customerId, holdId, quantity: 2 });
      printNow(`C ${r.usageId} ${holdId}`);
    } else {
      const r = await ledger.grant({ customerId, currency: 'credits', amount: '4', source: 'top_up' });
      printNow(`G ${r.grantId}`);
    }
  }
}

async function batchCaller(caller: number): Promise<never> {
  const streamId = `crash-batches-${run}-${caller}`;
  for (let batch = 0; ; batch++) {
    const size = 2 + ((batch * 7 + caller) % 40);
    const events: NewEvent[] = Array.from({ length: size }, (_, index) => ({
      id: `b-${run}-${caller}-${batch}-${index}`,
      type: 'crash_batch',
      schemaVersion: 1,
      at: new Date().toISOString(),
      data: { batch, index, size, padding: 'x'.repeat(100) },
      metadata: {},
    }));
    const { nextVersion } = await store.append(streamId, events, {
      expectedVersion: nextVersionOf(streamId),
    });
    versions.set(streamId, nextVersion);
    printNow(`B ${streamId} ${batch} ${size}`);
  }
}
const versions = new Map<string, number>();
const nextVersionOf = (streamId: string) => versions.get(streamId) ?? 0;

await Promise.all([
  ...Array.from({ length: task.callers }, (_, c) => ledgerCaller(c)),
  batchCaller(0),
  batchCaller(1),
]);
