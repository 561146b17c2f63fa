import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore } from '@tally/core';
import { describe, expect, it } from 'vitest';
import { finished } from '../reliability/support/processes.js';
import { citusTarget, itOnCitus } from '../support/citus.js';
import type { StoreSpec } from '../support/store-spec.js';
import {
  choosePostgres,
  itOnPostgresServer,
  postgresTarget,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';
import { readAllSettled } from './helpers.js';
import { readEveryPartition } from './partitions.js';
import type { WorkerReport, WorkerTask } from './workers/append-worker.js';

/**
 * Four OS processes append to the same streams of one store at once, each retrying on conflicts.
 * Afterwards every acknowledged append is in its place, no version is missing or doubled, and the
 * global order holds each event once. The Postgres half needs a server: PGlite lives inside one
 * process (see test/support/stores.ts for which server).
 */
const here = dirname(fileURLToPath(import.meta.url));
const processes = 4;
const appendsPerProcess = 40;
const streams = ['mp-0', 'mp-1', 'mp-2'];
const choice = await choosePostgres();

/** Runs the workers on a fresh store of `target`, then checks it through the test's own connection. */
async function appendFromProcesses(target: StoreTarget): Promise<void> {
  const opened = await target.open();
  try {
    if (opened.spec === undefined) throw new Error(`${target.name} cannot be opened by another process`);
    const reports = await runWorkers(opened.spec);
    await expectConsistent(opened.store, reports);
  } finally {
    await opened.close();
  }
}

describe('several processes appending to one store', () => {
  it('SQLite file: every acknowledged append is kept, versions dense, nothing doubled', () =>
    appendFromProcesses(sqliteTarget()));

  itOnPostgresServer(
    choice,
    'Postgres server: every acknowledged append is kept, versions dense, nothing doubled',
    async () => appendFromProcesses(await postgresTarget()),
  );

  itOnCitus(
    'Postgres on Citus: every acknowledged append is kept, versions dense, nothing doubled',
    async (url) => appendFromProcesses(citusTarget(url)),
  );
});

async function runWorkers(target: StoreSpec): Promise<WorkerReport[]> {
  // Far enough ahead for every process to have loaded tsx and the stores.
  const startAt = Date.now() + 2_000;
  return Promise.all(
    Array.from({ length: processes }, (_, worker) =>
      runWorker({ target, worker, appends: appendsPerProcess, streams, startAt }),
    ),
  );
}

async function runWorker(task: WorkerTask): Promise<WorkerReport> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'workers', 'append-worker.ts'), JSON.stringify(task)],
    { cwd: here, stdio: 'pipe' },
  );
  const { code, signal, stdout, stderr } = await finished(child, 30_000);
  if (code !== 0) throw new Error(`worker ${task.worker} ended with ${code ?? signal}:\n${stderr}`);
  return JSON.parse(stdout) as WorkerReport;
}

async function expectConsistent(store: EventStore, reports: WorkerReport[]): Promise<void> {
  const acknowledged = reports.flatMap((report) => report.acknowledged);
  expect(acknowledged).toHaveLength(processes * appendsPerProcess);

  for (const streamId of streams) {
    const stream = await store.readStream(streamId);
    expect(stream.map((e) => e.version)).toEqual(stream.map((_, i) => i + 1));
    const mine = acknowledged.filter((a) => a.streamId === streamId);
    expect(stream).toHaveLength(mine.length);
    for (const a of mine) expect(stream[a.version - 1]?.id).toBe(a.id);
  }

  const all = await readAllSettled(store, acknowledged.length);
  expect(all).toHaveLength(acknowledged.length);
  expect(new Set(all.map((e) => e.id)).size).toBe(acknowledged.length);
  // Positions increase within each partition of the global order (the one partition on one server).
  for (const events of await readEveryPartition(store)) {
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.position).toBeGreaterThan(events[i - 1]!.position);
  }
  // How often writers collided depends on scheduling, so it is reported rather than asserted.
  console.info(`conflicts retried per process: ${reports.map((report) => report.conflicts).join(', ')}`);
}
