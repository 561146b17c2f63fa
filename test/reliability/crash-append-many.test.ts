import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLedger, type EventStore } from '@tally/core';
import { describe, expect, it } from 'vitest';
import {
  choosePostgres,
  itOnPostgresServer,
  openStoreSpec,
  postgresTarget,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';
import { auditCustomer } from './support/audit.js';
import { catalog } from './support/catalog.js';
import { soak } from './support/env.js';
import { finished, startWorker } from './support/processes.js';
import type { BatchCrashTask } from './workers/batch-appender.js';

/**
 * Crashes in the middle of batch appends. A child writes `appendMany` batches across several streams
 * and, through the ledger, usage for several customers at once (which the writer commits together),
 * printing each write the moment it is acknowledged; it is killed with SIGKILL at a random moment,
 * again and again. After every kill the store, opened afresh, must hold each batch whole in every one
 * of its streams or not at all, every acknowledged batch and usage exactly once, dense versions, and
 * for each customer an intact hash chain and balanced books.
 */

const KILLS = 8 * soak();
const RAW_CALLERS = 3;
const CUSTOMERS = ['cus_b0', 'cus_b1', 'cus_b2', 'cus_b3', 'cus_b4', 'cus_b5'];
const postgres = await choosePostgres();

/** The streams raw caller `caller` of run `run` writes, named as the worker names them. */
const batchStreams = (run: number, caller: number): string[] =>
  Array.from({ length: 5 }, (_, k) => `batch-${run}-${caller}-${k}`);

interface Acks {
  /** `<caller> <batch>` of every appendMany the last run acknowledged, with its part count. */
  readonly batches: Map<string, number>;
  readonly usages: Map<string, Set<string>>;
}

function parseAcks(stdout: string, into: Acks): number {
  let count = 0;
  for (const line of stdout.split('\n').slice(0, -1)) {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'M') into.batches.set(`${a} ${b}`, Number(c));
    else if (kind === 'U') into.usages.set(a!, (into.usages.get(a!) ?? new Set()).add(b!));
    else continue;
    count += 1;
  }
  return count;
}

function waitForReady(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('ready\n')) resolve();
    });
    child.on('close', (code) =>
      reject(new Error(`the worker exited (${code}) before it was ready: ${stderr}`)),
    );
  });
}

async function afterCrash(store: EventStore, run: number, acks: Acks): Promise<string[]> {
  const problems: string[] = [];
  // Every part of every batch this run wrote, by batch: a batch must be whole in all its streams or absent.
  const parts = new Map<string, { part: number; parts: number; events: number; size: number }[]>();
  for (let caller = 0; caller < RAW_CALLERS; caller++) {
    for (const streamId of batchStreams(run, caller)) {
      const stream = await store.readStream(streamId);
      stream.forEach((e, i) => {
        if (e.version !== i + 1) problems.push(`${streamId} has version ${e.version} at index ${i}`);
      });
      const byPart = new Map<string, typeof stream>();
      for (const e of stream) {
        const key = `${e.data.caller} ${e.data.batch} ${e.data.part}`;
        byPart.set(key, [...(byPart.get(key) ?? []), e]);
      }
      for (const members of byPart.values()) {
        const { caller: c, batch, part, parts: count, size } = members[0]!.data as Record<string, number>;
        const contiguous = members.every((e, i) => e.version === members[0]!.version + i);
        if (!contiguous) problems.push(`${streamId}: part ${part} of batch ${c} ${batch} is not contiguous`);
        const key = `${c} ${batch}`;
        parts.set(key, [
          ...(parts.get(key) ?? []),
          { part: part!, parts: count!, events: members.length, size: size! },
        ]);
      }
    }
  }
  for (const [key, found] of parts) {
    const parts = found[0]!.parts;
    const whole = found.length === parts && found.every((p) => p.events === p.size);
    if (!whole) problems.push(`batch ${key} is partial: ${found.length} of ${parts} parts stored`);
  }
  for (const [key, count] of acks.batches) {
    if (parts.get(key)?.length !== count) problems.push(`acknowledged batch ${key} is missing`);
  }
  for (const customerId of CUSTOMERS) {
    const audit = await auditCustomer(createLedger({ catalog, store }), store, customerId, 'credits', 0);
    problems.push(...audit.problems.map((p) => `${customerId}: ${p}`));
    const deducted = new Map<string, number>();
    for (const e of audit.recorded) {
      if (e.type === 'credits_deducted')
        deducted.set(e.data.usageId, (deducted.get(e.data.usageId) ?? 0) + 1);
    }
    for (const usageId of acks.usages.get(customerId) ?? []) {
      if (deducted.get(usageId) !== 1)
        problems.push(
          `${customerId}: acknowledged usage ${usageId} is stored ${deducted.get(usageId) ?? 0} times`,
        );
    }
  }
  return problems;
}

async function killRepeatedly(target: StoreTarget): Promise<void> {
  const opened = await target.open();
  const spec = opened.spec!;
  const setup = createLedger({ catalog, store: opened.store });
  for (const customerId of CUSTOMERS) {
    await setup.createCustomer({ customerId });
    await setup.grant({ customerId, currency: 'credits', amount: '1000000000' });
  }
  await opened.store.close(); // from here on only the child writes, and every check opens the store anew
  const usages = new Map<string, Set<string>>();
  const perKill: number[] = [];
  try {
    for (let run = 0; run < KILLS; run++) {
      const task: BatchCrashTask = { spec, run, rawCallers: RAW_CALLERS, customers: CUSTOMERS };
      const child = startWorker('batch-appender', task);
      const done = finished(child, 60_000);
      await waitForReady(child);
      await sleep(100 + Math.random() * 300);
      child.kill('SIGKILL');
      const result = await done;
      expect(result.signal, `the writer stopped on its own: ${result.stderr}`).toBe('SIGKILL');
      const acks: Acks = { batches: new Map(), usages };
      perKill.push(parseAcks(result.stdout, acks));
      const store = openStoreSpec(spec); // opens cleanly after the crash, or this throws
      try {
        expect(await afterCrash(store, run, acks), `after kill ${run + 1}`).toEqual([]);
      } finally {
        await store.close();
      }
    }
    // The kills landed while writes were flowing, not before the first or after the last.
    expect(perKill.filter((n) => n > 0).length, `acks per kill: ${perKill.join(' ')}`).toBeGreaterThan(
      KILLS / 2,
    );
    console.info(`${target.name}: ${KILLS} kills, acknowledged writes per kill: ${perKill.join(' ')}`);
  } finally {
    await opened.close();
  }
}

describe('SIGKILL in the middle of batch appends', () => {
  it('SQLite, synchronous FULL', () => killRepeatedly(sqliteTarget()), 120_000 * soak());
  itOnPostgresServer(
    postgres,
    'Postgres server',
    async () => killRepeatedly(await postgresTarget()),
    120_000 * soak(),
  );
});
