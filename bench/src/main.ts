/**
 * `pnpm bench`: runs every group, prints a table per group, writes bench/results/latest.json.
 * BENCH_QUICK=1 shrinks every workload for a CI smoke run; BENCH_GROUPS=derivation,reads picks groups (derivation, reads, writes, peer, writes-citus, pages,
 * hot-customer, http, cache, read-load). BENCH_SCHEMA_PREFIX prefixes its Postgres schemas; BENCH_RESULTS writes the JSON elsewhere.
 * Each group runs in a process of its own (`isolate.ts`) when more than one is picked; BENCH_IN_PROCESS=1 runs them all in this one.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheGroup } from './cache.ts';
import { citusWritesGroup } from './citus.ts';
import { derivationGroup } from './derivation.ts';
import { formatGroup, type GroupResult, progress, QUICK } from './harness.ts';
import { hotCustomerGroups } from './hot-customer.ts';
import { httpGroups } from './http.ts';
import { failedGroup, isChild, progressAtStart, runInChild } from './isolate.ts';
import { pagesGroups } from './pages.ts';
import { peerGroups } from './peer.ts';
import { readLoadGroups } from './read-load.ts';
import { readsGroups } from './reads.ts';
import { removeScratch } from './stores.ts';
import { writesGroups } from './writes.ts';

interface GroupDef {
  readonly id: string;
  /** Measurements it makes, for the progress counter. */
  readonly measurements: number;
  readonly run: () => Promise<GroupResult | GroupResult[]>;
}

const GROUPS: GroupDef[] = [
  { id: 'derivation', measurements: 3, run: derivationGroup },
  { id: 'reads', measurements: 16, run: readsGroups },
  { id: 'writes', measurements: 5 + 5 + 8, run: writesGroups },
  { id: 'peer', measurements: 4 + 6, run: peerGroups },
  // Opt-in: TALLY_CITUS_URL names a Citus coordinator; without it the group says it did not run.
  { id: 'writes-citus', measurements: 6, run: citusWritesGroup },
  { id: 'pages', measurements: 2 * 3, run: pagesGroups },
  // Three server processes on one customer over HTTP (SQLite FULL, Postgres): the 409s they surface.
  { id: 'hot-customer', measurements: 2 + 2, run: hotCustomerGroups },
  { id: 'http', measurements: 2 * 2, run: httpGroups },
  { id: 'cache', measurements: 1, run: cacheGroup },
  { id: 'read-load', measurements: 2 * 2, run: readLoadGroups },
];

const picked = process.env.BENCH_GROUPS?.split(',').map((s) => s.trim());
const groups = GROUPS.filter((g) => picked === undefined || picked.includes(g.id));
Object.assign(progress, progressAtStart(groups.reduce((sum, g) => sum + g.measurements, 0)));
const script = fileURLToPath(import.meta.url);
const inProcess = isChild || process.env.BENCH_IN_PROCESS === '1' || groups.length <= 1;

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
const startedAt = new Date();
if (!isChild) {
  console.log(
    `Tally bench${QUICK ? ' (quick)' : ''} · ${machine.cpus} × ${machine.cpuModel} · node ${machine.node} · ${startedAt.toISOString()}`,
  );
}

const results: GroupResult[] = [];
if (inProcess) {
  for (const group of groups) {
    let ran: GroupResult | GroupResult[];
    try {
      ran = await group.run();
    } catch (error) {
      // A group that cannot run (a store that fails to open, say) is reported, and the run goes on.
      ran = failedGroup(group.id, error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exitCode = 1;
    }
    for (const result of [ran].flat()) {
      results.push(result);
      progress.clear();
      console.log(`\n${formatGroup(result)}`);
    }
  }
} else {
  const dir = mkdtempSync(join(tmpdir(), 'tally-bench-groups-'));
  try {
    for (const group of groups) {
      const outcome = await runInChild(script, group.id, progress, dir);
      progress.done += group.measurements;
      results.push(...outcome.results);
      if (!outcome.ok) process.exitCode = 1;
      // A child prints its own tables; one that died before it could is reported here.
      if (outcome.printed) continue;
      progress.clear();
      for (const result of outcome.results) console.log(`\n${formatGroup(result)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
progress.clear();
removeScratch();

// BENCH_RESULTS names another file (a smoke run writes to a scratch path, not the committed results).
const out = process.env.BENCH_RESULTS ?? join(dirname(script), '..', 'results', 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      quick: QUICK,
      startedAt: startedAt.toISOString(),
      seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine,
      groups: results,
    },
    null,
    2,
  )}\n`,
);
if (!isChild) console.log(`\nwrote ${out}`);
