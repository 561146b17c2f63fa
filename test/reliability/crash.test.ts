import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLedger, type EventStore, type StoredEvent } from '@tally/core';
import { describe, expect, it } from 'vitest';
import { citusTarget, itOnCitus } from '../support/citus.js';
import {
  choosePostgres,
  itOnPostgresServer,
  openStoreSpec,
  postgresTarget,
  type StoreSpec,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';
import { auditCustomer } from './support/audit.js';
import { catalog } from './support/catalog.js';
import { soak } from './support/env.js';
import { finished, startWorker } from './support/processes.js';
import type { CrashTask } from './workers/crash-appender.js';
import type { StallTask } from './workers/stall.js';

/**
 * Crashes. A child process writes through the ledger (several callers, so commands are group-committed
 * in batches) and straight through the store (batches of 2-41 events), printing each write the moment
 * it is acknowledged; it is killed with SIGKILL at a random moment, again and again. After every kill
 * the store is opened afresh and must hold every acknowledged write exactly once, no part of any batch
 * without the rest, dense versions, an intact hash chain and balanced books.
 *
 * SQLite runs at both synchronous levels. In WAL mode a commit is in the WAL file when the append
 * returns; FULL also fsyncs the WAL then, NORMAL only at checkpoints. A killed process loses nothing
 * acknowledged at either level (the OS still has the pages); what NORMAL risks is the last commits on
 * an OS crash or power loss, which a test cannot cause, so only the process crash is tested here.
 */

const KILLS = 15 * soak();
const postgres = await choosePostgres();

interface Acks {
  readonly usages: Map<string, string | null>;
  readonly grants: Set<string>;
  readonly batches: Map<string, Map<number, number>>;
}

/** The acknowledgement lines of a killed child; a last line cut off by the kill is ignored. */
function parseAcks(stdout: string, into: Acks): number {
  let count = 0;
  for (const line of stdout.split('\n').slice(0, -1)) {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'U') into.usages.set(a!, null);
    else if (kind === 'C') into.usages.set(a!, b!);
    else if (kind === 'G') into.grants.add(a!);
    else if (kind === 'B') {
      const batches = into.batches.get(a!) ?? new Map<number, number>();
      batches.set(Number(b), Number(c));
      into.batches.set(a!, batches);
    } else continue;
    count += 1;
  }
  return count;
}

/** Resolves once the worker has printed `line` (a whole line), or a line `line` matches when a pattern. */
function waitForLine(
  child: ChildProcessWithoutNullStreams,
  line: string | RegExp,
  timeoutMs = 30_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${line}" from the worker within ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (typeof line === 'string' ? seen.includes(`${line}\n`) : line.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (${code}) before "${line}": ${stderr}`));
    });
  });
}

/**
 * Everything a store must show after a crash; returns the problems found. Batch streams are checked
 * for the runs in `runs` (the last one after each kill, all of them at the end).
 */
async function afterCrash(
  store: EventStore,
  customerId: string,
  acks: Acks,
  runs: readonly number[],
): Promise<string[]> {
  const problems: string[] = [];
  const ledger = createLedger({ catalog, store });
  const audit = await auditCustomer(ledger, store, customerId, 'credits', 0);
  problems.push(...audit.problems);
  const events = audit.recorded;

  const deducted = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'credits_deducted') deducted.set(e.data.usageId, (deducted.get(e.data.usageId) ?? 0) + 1);
  }
  for (const [usageId, holdId] of acks.usages) {
    if (deducted.get(usageId) !== 1)
      problems.push(`acknowledged usage ${usageId} is in the store ${deducted.get(usageId) ?? 0} times`);
    if (holdId !== null) {
      const deduction = events.find((e) => e.type === 'credits_deducted' && e.data.usageId === usageId);
      if (deduction?.type === 'credits_deducted' && deduction.data.holdId !== holdId) {
        problems.push(`acknowledged capture ${usageId} is not stored against hold ${holdId}`);
      }
    }
  }
  for (const grantId of acks.grants) {
    if (!events.some((e) => e.type === 'credits_granted' && e.data.grantId === grantId)) {
      problems.push(`acknowledged grant ${grantId} is missing`);
    }
  }
  // A capture is two events of one command: a release without its deduction would be half a command.
  events.forEach((e, i) => {
    const next = events[i + 1];
    if (e.type === 'hold_released' && e.data.reason === 'captured') {
      if (next?.type !== 'credits_deducted' || next.data.holdId !== e.data.holdId) {
        problems.push(`capture of ${e.data.holdId} at v${i + 1} is not followed by its deduction`);
      }
    }
    if (e.type === 'credits_deducted' && e.data.holdId !== null) {
      const previous = events[i - 1];
      if (previous?.type !== 'hold_released' || previous.data.holdId !== e.data.holdId) {
        problems.push(
          `deduction ${e.data.usageId} of hold ${e.data.holdId} at v${i + 1} has no release before it`,
        );
      }
    }
  });

  // Raw batches: all of a batch or none of it, and every acknowledged batch there.
  const byStream = new Map<string, StoredEvent[]>();
  for (const run of runs) {
    for (const caller of [0, 1]) {
      const streamId = `crash-batches-${run}-${caller}`;
      byStream.set(streamId, await store.readStream(streamId));
    }
  }
  for (const [streamId, stream] of byStream) {
    const batches = new Map<number, StoredEvent[]>();
    stream.forEach((e, i) => {
      if (e.version !== i + 1) problems.push(`${streamId} has version ${e.version} at index ${i}`);
      const batch = Number(e.data.batch);
      batches.set(batch, [...(batches.get(batch) ?? []), e]);
    });
    for (const [batch, members] of batches) {
      const size = Number(members[0]!.data.size);
      const indices = members.map((e) => Number(e.data.index));
      const contiguous = members.every((e, i) => e.version === members[0]!.version + i);
      if (members.length !== size || !indices.every((index, i) => index === i) || !contiguous) {
        problems.push(
          `${streamId} batch ${batch} is partial: ${members.length} of ${size} events (${indices.join(',')})`,
        );
      }
    }
  }
  for (const [streamId, acked] of acks.batches) {
    if (!byStream.has(streamId)) continue;
    const stored = new Set((byStream.get(streamId) ?? []).map((e) => Number(e.data.batch)));
    for (const batch of acked.keys()) {
      if (!stored.has(batch)) problems.push(`acknowledged batch ${batch} of ${streamId} is missing`);
    }
  }
  return problems;
}

async function killRepeatedly(target: StoreTarget): Promise<void> {
  const opened = await target.open();
  const spec: StoreSpec = opened.spec!;
  const customerId = 'cus_crash';
  const setup = createLedger({ catalog, store: opened.store });
  await setup.createCustomer({ customerId });
  await setup.grant({ customerId, currency: 'credits', amount: '1000000000' });
  await opened.store.close(); // from here on only the child writes, and every check opens the store anew
  const acks: Acks = { usages: new Map(), grants: new Set(), batches: new Map() };
  const perKill: number[] = [];
  const started = performance.now();
  try {
    for (let run = 0; run < KILLS; run++) {
      const task: CrashTask = { spec, customerId, run, callers: 6 };
      const child = startWorker('crash-appender', task);
      const done = finished(child, 60_000);
      await waitForLine(child, 'ready');
      // Kill while writes are flowing: after the first acknowledged write, at a random moment. A fixed
      // delay after start-up could land before the first write on a loaded machine.
      await waitForLine(child, /^[UCGB] /m);
      await sleep(Math.random() * 250);
      child.kill('SIGKILL');
      const result = await done;
      expect(result.signal, `the writer stopped on its own: ${result.stderr}`).toBe('SIGKILL');
      perKill.push(parseAcks(result.stdout, acks));

      const store = openStoreSpec(spec); // opens cleanly after the crash, or this throws
      try {
        expect(await afterCrash(store, customerId, acks, [run]), `after kill ${run + 1}`).toEqual([]);
      } finally {
        await store.close();
      }
    }
    // Every kill landed while writes were flowing, and its acknowledged writes were all read back.
    expect(perKill.filter((n) => n === 0)).toEqual([]);
    // And the books carry on: a fresh process writes on top of everything the crashes left.
    const store = openStoreSpec(spec);
    try {
      await createLedger({ catalog, store }).trackUsage({ customerId, feature: 'unit', quantity: 1 });
      const allRuns = Array.from({ length: KILLS }, (_, run) => run);
      expect(await afterCrash(store, customerId, acks, allRuns)).toEqual([]);
    } finally {
      await store.close();
    }
    console.info(
      `${target.name}: ${KILLS} kills in ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
        `${acks.usages.size} usages, ${acks.grants.size} grants and ${[...acks.batches.values()].reduce((n, b) => n + b.size, 0)} ` +
        `raw batches acknowledged, all found (acks per kill: ${perKill.join(' ')})`,
    );
  } finally {
    await opened.close();
  }
}

// Generous bounds: each of the kills starts a process, and a loaded machine starts one slowly; the
// bound is for that machine, not what a case usually takes.
describe('SIGKILL at random moments', () => {
  it('SQLite, synchronous FULL', () => killRepeatedly(sqliteTarget()), 300_000 * soak());
  it(
    'SQLite, synchronous NORMAL',
    () => killRepeatedly(sqliteTarget({ synchronous: 'NORMAL' })),
    300_000 * soak(),
  );
  itOnPostgresServer(
    postgres,
    'Postgres server',
    async () => killRepeatedly(await postgresTarget()),
    300_000 * soak(),
  );
  itOnCitus('Postgres on Citus', async (url) => killRepeatedly(citusTarget(url)), 300_000 * soak());
});

describe('a writer killed inside its transaction', () => {
  it('SQLite: its uncommitted pages in the WAL are ignored and the write lock is free', async () => {
    const opened = await sqliteTarget().open();
    const spec = opened.spec!;
    if (spec.kind !== 'sqlite') throw new Error('expected a SQLite store');
    try {
      const customerId = 'cus_stall';
      const ledger = createLedger({ catalog, store: opened.store });
      await ledger.createCustomer({ customerId });
      await ledger.grant({ customerId, currency: 'credits', amount: '100' });
      const streamId = `customer-${customerId}`;
      const version = (await opened.store.readStream(streamId)).length;
      const walBefore = statSync(`${spec.filename}-wal`).size;

      const task: StallTask = { spec, streamId, version, rows: 4000 };
      const child = startWorker('stall', task);
      const done = finished(child, 60_000);
      await waitForLine(child, 'in-transaction');
      // The transaction's pages did not fit the page cache: they are in the WAL, uncommitted.
      expect(statSync(`${spec.filename}-wal`).size).toBeGreaterThan(walBefore + 1_000_000);
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');

      const store = openStoreSpec(spec);
      try {
        const t0 = performance.now();
        const usage = await createLedger({ catalog, store }).trackUsage({
          customerId,
          feature: 'unit',
          quantity: 1,
        });
        expect(performance.now() - t0, 'the next writer waited for a lock').toBeLessThan(2_000);
        const events = await store.readStream(streamId);
        expect(events.map((e) => e.id).filter((id) => id.startsWith('evt_stalled'))).toEqual([]);
        expect(events.map((e) => e.version)).toEqual([1, 2, 3]);
        const audit = await auditCustomer(createLedger({ catalog, store }), store, customerId, 'credits', 0);
        expect(audit.problems).toEqual([]);
        expect(audit.fold.balance).toBe(99n);
        expect(audit.recorded.at(-1)).toMatchObject({
          type: 'credits_deducted',
          data: { usageId: usage.usageId },
        });
      } finally {
        await store.close();
      }
    } finally {
      await opened.close();
    }
  });

  itOnPostgresServer(
    postgres,
    'Postgres: nothing of it is visible, and the writer it blocked goes on',
    async () => {
      const opened = await (await postgresTarget()).open();
      try {
        const customerId = 'cus_stall';
        const ledger = createLedger({ catalog, store: opened.store });
        await ledger.createCustomer({ customerId });
        await ledger.grant({ customerId, currency: 'credits', amount: '100' });
        const streamId = `customer-${customerId}`;
        const before = await opened.store.readStream(streamId);
        const lastPosition = (await opened.store.readAll()).at(-1)!.position;

        const task: StallTask = { spec: opened.spec!, streamId, version: before.length, rows: 1 };
        const child = startWorker('stall', task);
        const done = finished(child, 60_000);
        await waitForLine(child, 'in-transaction');

        // The stalled transaction holds the next version of the stream: a writer must wait for it.
        let settled = false;
        const blocked = ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 }).finally(() => {
          settled = true;
        });
        await sleep(500);
        expect(settled, 'the writer did not wait for the open transaction').toBe(false);
        expect(await opened.store.readAll({ after: lastPosition })).toEqual([]);

        child.kill('SIGKILL');
        expect((await done).signal).toBe('SIGKILL');
        const t0 = performance.now();
        const usage = await blocked;
        expect(performance.now() - t0, 'the server took long to notice the dead client').toBeLessThan(5_000);

        const events = await opened.store.readStream(streamId);
        expect(events.map((e) => e.id).filter((id) => id.startsWith('evt_stalled'))).toEqual([]);
        expect(events.map((e) => e.version)).toEqual([1, 2, 3]);
        // Readers are not held back any more: the new event is readable in global order.
        expect((await opened.store.readAll({ after: lastPosition })).map((e) => e.streamId)).toEqual([
          streamId,
        ]);
        const audit = await auditCustomer(
          createLedger({ catalog, store: opened.store }),
          opened.store,
          customerId,
          'credits',
          0,
        );
        expect(audit.problems).toEqual([]);
        expect(audit.recorded.at(-1)).toMatchObject({
          type: 'credits_deducted',
          data: { usageId: usage.usageId },
        });
      } finally {
        await opened.close();
      }
    },
  );
});
