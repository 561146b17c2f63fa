import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedger } from '@tally/core';
import { describe, expect, it } from 'vitest';
import { readEverything } from '../conformance/partitions.js';
import { citusTarget, itOnCitus } from '../support/citus.js';
import {
  choosePostgres,
  itOnPostgresServer,
  postgresTarget,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';
import { catalog } from './support/catalog.js';
import { soak } from './support/env.js';
import { finished, startWorker } from './support/processes.js';
import {
  checkRun,
  HAMMER_CUSTOMERS,
  type Outcome,
  parseOutcomes,
  setupCustomers,
} from './support/workload.js';
import type { HammerTask } from './workers/hammer.js';

/**
 * Several OS processes, each with many async callers, hammer the same three customers of one store
 * with usage, holds with capture or release, top-ups, reversals, and idempotent calls whose keys all
 * processes share. Each process logs every answer it got; afterwards the logs are held against the
 * store: no account below its credit limit, balances equal to the fold of the ledger and to what the
 * callers were told, every success in the store exactly once, every refusal without a trace, every
 * shared key written once. Snapshots are written every 20 events, so the final reads (which start
 * from the newest snapshot) are checked against a fold of every event.
 */

const PROCESSES = 4;
const CALLERS = 8;
const OPS = 50 * soak();
const SHARED_KEYS = 4;

const postgres = await choosePostgres();

async function hammer(target: StoreTarget): Promise<void> {
  const opened = await target.open();
  const dir = await mkdtemp(join(tmpdir(), 'tally-hammer-'));
  try {
    const outcomes: Outcome[] = await setupCustomers(createLedger({ catalog, store: opened.store }));
    const seed = Date.now() % 1_000_000;
    const startAt = Date.now() + 2_500; // time for every process to load tsx and connect
    const started = performance.now();
    const runs = await Promise.all(
      Array.from({ length: PROCESSES }, (_, worker) => {
        const task: HammerTask = {
          spec: opened.spec!,
          worker,
          callers: CALLERS,
          ops: OPS,
          seed,
          sharedKeys: SHARED_KEYS,
          snapshotEvery: 20,
          outFile: join(dir, `worker-${worker}.jsonl`),
          startAt,
        };
        return finished(startWorker('hammer', task), 120_000 * soak());
      }),
    );
    const elapsed = performance.now() - started;
    runs.forEach((r, worker) => {
      expect(r.code, `worker ${worker} exited with ${r.code ?? r.signal}: ${r.stderr}`).toBe(0);
    });
    for (let worker = 0; worker < PROCESSES; worker++) {
      outcomes.push(...parseOutcomes(await readFile(join(dir, `worker-${worker}.jsonl`), 'utf8')));
    }
    const calls = outcomes.filter((o) => o.op !== 'setup');
    // Every caller finished its fixed count (each op may add a release or a capture).
    expect(new Set(calls.map((o) => o.caller)).size).toBe(PROCESSES * CALLERS);

    const problems = await checkRun(createLedger({ catalog, store: opened.store }), opened.store, outcomes);
    expect(problems, `seed ${seed}`).toEqual([]);
    for (const { customerId } of HAMMER_CUSTOMERS) {
      expect(
        await opened.store.readSnapshot(`customer-${customerId}`),
        `no snapshot of ${customerId}`,
      ).not.toBeNull();
    }

    // The run contended for real: shared keys were answered in several processes, credit ran out.
    const sharedAcrossProcesses = new Map<string, Set<string>>();
    for (const o of calls) {
      if (!o.ok || o.key === undefined || !o.key.startsWith('shared-')) continue;
      const processes = sharedAcrossProcesses.get(o.key) ?? new Set();
      processes.add(o.caller.split('C')[0]!);
      sharedAcrossProcesses.set(o.key, processes);
    }
    expect([...sharedAcrossProcesses.values()].some((p) => p.size > 1)).toBe(true);
    expect(calls.some((o) => o.code === 'insufficient_credits')).toBe(true);
    const refused = (code: string) => calls.filter((o) => o.code === code).length;
    const events = (await readEverything(opened.store)).length;
    console.info(
      `${target.name}: ${PROCESSES} processes x ${CALLERS} callers, ${calls.length} calls in ${(elapsed / 1000).toFixed(1)} s ` +
        `(${events} events); refused: ${refused('insufficient_credits')} insufficient_credits, ` +
        `${refused('concurrency_conflict')} concurrency_conflict, ${refused('usage_already_reversed')} already reversed; ` +
        `customers ${HAMMER_CUSTOMERS.map((c) => c.customerId).join(', ')}; seed ${seed}`,
    );
  } finally {
    await opened.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('several processes on one store', () => {
  it('SQLite file (synchronous FULL)', () => hammer(sqliteTarget()), 180_000 * soak());
  itOnPostgresServer(
    postgres,
    'Postgres server',
    async () => hammer(await postgresTarget()),
    180_000 * soak(),
  );
  itOnCitus('Postgres on Citus', async (url) => hammer(citusTarget(url)), 240_000 * soak());
});
