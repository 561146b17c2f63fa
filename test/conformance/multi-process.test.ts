import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { finished } from '../reliability/support/processes.js';
import { readAllSettled } from './helpers.js';
import type { WorkerReport, WorkerTarget, WorkerTask } from './workers/append-worker.js';

/**
 * Four OS processes append to the same streams of one store at once, each retrying on conflicts.
 * Afterwards every acknowledged append is in its place, no version is missing or doubled, and the
 * global order holds each event once. The Postgres half needs a server (DATABASE_URL): PGlite lives
 * inside one process.
 */
const here = dirname(fileURLToPath(import.meta.url));
const processes = 4;
const appendsPerProcess = 40;
const streams = ['mp-0', 'mp-1', 'mp-2'];
const url = process.env.DATABASE_URL;

describe('several processes appending to one store', () => {
  it('SQLite file: every acknowledged append is kept, versions dense, nothing doubled', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-mp-'));
    const filename = join(dir, 'events.db');
    try {
      const reports = await runWorkers({ kind: 'sqlite', filename });
      const store = sqliteStore({ filename });
      try {
        await expectConsistent(store, reports);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(url !== undefined)(
    'Postgres server: every acknowledged append is kept, versions dense, nothing doubled',
    async () => {
      const connectionString = url!;
      const schema = `tally_test_mp_${randomBytes(4).toString('hex')}`;
      const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: 5_000 });
      try {
        const reports = await runWorkers({ kind: 'postgres', connectionString, schema });
        const store = postgresStore({ pool }, { schema });
        await expectConsistent(store, reports);
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await pool.end();
      }
    },
  );
});

async function runWorkers(target: WorkerTarget): Promise<WorkerReport[]> {
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
  for (let i = 1; i < all.length; i++) expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position);
  // How often writers collided depends on scheduling, so it is reported rather than asserted.
  console.info(`conflicts retried per process: ${reports.map((report) => report.conflicts).join(', ')}`);
}
