/**
 * The process the batch crash test kills. Raw callers write straight through `appendMany`, each batch
 * 2-5 parts on streams of their own, and ledger callers write usage for customers of their own, so
 * the ledger's writer commits several customers in one batch. Every write is printed the moment it
 * is acknowledged (synchronously, so it is on the pipe before the next instruction runs):
 *
 *   M <caller> <batch> <parts>   an appendMany answered, every part stored
 *   U <customerId> <usageId>     trackUsage answered
 *
 * Usage: node --import tsx batch-appender.ts '<BatchCrashTask as JSON>'
 */
import { appendAll, createLedger, type NewEvent, type StreamAppend } from '@tally/core';
import { openStoreSpec, type StoreSpec } from '../../support/store-spec.js';
import { printNow, workerTask } from '../../support/worker-io.js';
import { catalog } from '../support/catalog.js';

export interface BatchCrashTask {
  readonly spec: StoreSpec;
  /** Distinguishes the runs (stream ids, event ids) of one test. */
  readonly run: number;
  readonly rawCallers: number;
  readonly customers: readonly string[];
}

/** The streams raw caller `caller` of run `run` writes (the test reads the same names): its batches take 2-5 of them. */
const batchStreams = (run: number, caller: number): string[] =>
  Array.from({ length: 5 }, (_, k) => `batch-${run}-${caller}-${k}`);

const task = workerTask<BatchCrashTask>();

const store = openStoreSpec(task.spec);
const ledger = createLedger({ catalog, store });
await Promise.all(task.customers.map((customerId) => ledger.creditAccounts({ customerId })));
printNow('ready');

async function rawCaller(caller: number): Promise<never> {
  const streams = batchStreams(task.run, caller);
  const versions = new Map<string, number>();
  for (let batch = 0; ; batch++) {
    const parts = 2 + ((batch + caller) % 4);
    const chosen = Array.from({ length: parts }, (_, k) => streams[(batch + k) % streams.length]!);
    const appends: StreamAppend[] = chosen.map((streamId, part) => {
      const size = 1 + ((batch * 3 + part) % 7);
      const events: NewEvent[] = Array.from({ length: size }, (_, index) => ({
        id: `m-${task.run}-${caller}-${batch}-${part}-${index}`,
        type: 'crash_batch',
        schemaVersion: 1,
        at: new Date().toISOString(),
        data: { caller, batch, parts, part, index, size, padding: 'x'.repeat(200) },
        metadata: {},
      }));
      return { streamId, events, expectedVersion: versions.get(streamId) ?? 0 };
    });
    const outcomes = await appendAll(store, appends);
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok) throw outcome.error; // only this caller writes these streams
      versions.set(appends[i]!.streamId, outcome.result.nextVersion);
    });
    printNow(`M ${caller} ${batch} ${parts}`);
  }
}

async function ledgerCaller(customerId: string): Promise<never> {
  for (let i = 0; ; i++) {
    const usage = await ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 + (i % 3) });
    printNow(`U ${customerId} ${usage.usageId}`);
  }
}

await Promise.all([
  ...Array.from({ length: task.rawCallers }, (_, c) => rawCaller(c)),
  ...task.customers.map((customerId) => ledgerCaller(customerId)),
]);
