/**
 * `pnpm bench`: runs every group, prints a table per group, writes bench/results/latest.json.
 * BENCH_QUICK=1 shrinks every workload for a CI smoke run; BENCH_GROUPS=derivation,reads picks groups (derivation, reads, writes, peer, writes-citus, pages,
 * hot-customer, http, cache, read-load). BENCH_SCHEMA_PREFIX prefixes its Postgres schemas; BENCH_RESULTS writes the JSON elsewhere.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheGroup } from './cache.ts';
import { citusWritesGroup } from './citus.ts';
import { derivationGroup } from './derivation.ts';
import { formatGroup, type GroupResult, progress, QUICK } from './harness.ts';
import { hotCustomerGroups } from './hot-customer.ts';
import { httpGroups } from './http.ts';
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
progress.total = groups.reduce((sum, g) => sum + g.measurements, 0);

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
const startedAt = new Date();
console.log(
  `Tally bench${QUICK ? ' (quick)' : ''} · ${machine.cpus} × ${machine.cpuModel} · node ${machine.node} · ${startedAt.toISOString()}`,
);

const results: GroupResult[] = [];
for (const group of groups) {
  let ran: GroupResult | GroupResult[];
  try {
    ran = await group.run();
  } catch (error) {
    // A group that cannot run (a store that fails to open, say) is reported, and the run goes on.
    const why = error instanceof Error ? (error.stack ?? error.message) : String(error);
    ran = {
      id: group.id,
      title: group.id,
      unit: '–',
      rows: [],
      goals: [],
      extra: {},
      notes: [`failed: ${why}`],
    };
    process.exitCode = 1;
  }
  for (const result of [ran].flat()) {
    results.push(result);
    progress.clear();
    console.log(`\n${formatGroup(result)}`);
  }
}
progress.clear();
removeScratch();

// BENCH_RESULTS names another file (a smoke run writes to a scratch path, not the committed results).
const out =
  process.env.BENCH_RESULTS ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json');
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
console.log(`\nwrote ${out}`);
