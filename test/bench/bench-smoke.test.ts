/**
 * The bench's CI smoke: `BENCH_QUICK=1` for the groups that run in seconds, as a child process, the
 * way `pnpm bench` runs it. It checks that the run ends well and that every group prints its table
 * and its goals (MET or MISS), never how fast anything was: figures are the bench's to report.
 *
 * It leaves nothing behind: its Postgres schemas carry a prefix of its own (BENCH_SCHEMA_PREFIX) and
 * are dropped after, its SQLite files and results go to a scratch directory (TMPDIR, BENCH_RESULTS),
 * and the committed bench/results/latest.json is not touched.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
const COMMITTED = join(BENCH, 'results', 'latest.json');
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PREFIX = `bench_smoke_${process.pid}_`;
/** The quick groups (the others generate 100k–1M-event streams, or need Emmett or Citus). */
const GROUPS = ['reads', 'writes', 'http', 'cache', 'read-load'];

/** Each group's sections (a group may print one per store), and whether the section carries goals. */
const SECTIONS: readonly { readonly title: string; readonly goals: boolean; readonly postgres: boolean }[] = [
  { title: '2. Balance read on a long stream: creditAccounts, memory store', goals: true, postgres: false },
  { title: '2. Balance read on a long stream: creditAccounts, SQLite store', goals: true, postgres: false },
  { title: '3. Writes through the ledger API: memory store', goals: true, postgres: false },
  { title: '3. Writes through the ledger API: SQLite store', goals: true, postgres: false },
  { title: '3. Writes through the ledger API: Postgres store', goals: true, postgres: true },
  { title: '6. HTTP vs the library: SQLite store', goals: true, postgres: false },
  { title: '6. HTTP vs the library: Postgres store', goals: true, postgres: true },
  { title: "7. Heap per customer in the ledger's cache (memory store)", goals: true, postgres: false },
  { title: '8. Reads under write load: SQLite store', goals: false, postgres: false },
  { title: '8. Reads under write load: Postgres store', goals: false, postgres: true },
];

const scratch = mkdtempSync(join(tmpdir(), 'bench-smoke-'));

async function dropOwnSchemas(): Promise<string[]> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch {
    return []; // No server: the Postgres groups said so and made nothing.
  }
  try {
    const like = `${PREFIX.replaceAll('_', '\\_')}%`;
    const { rows } = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
      [like],
    );
    for (const { nspname } of rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
    return rows.map((row) => row.nspname);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await dropOwnSchemas();
  rmSync(scratch, { recursive: true, force: true });
});

function runBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'src/main.ts'], {
      cwd: BENCH,
      env: {
        ...process.env,
        BENCH_QUICK: '1',
        BENCH_GROUPS: GROUPS.join(','),
        BENCH_SCHEMA_PREFIX: PREFIX,
        BENCH_RESULTS: join(scratch, 'latest.json'),
        BENCH_DATABASE_URL: PG_URL,
        TMPDIR: scratch,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('BENCH_QUICK=1 bench (CI smoke)', () => {
  it('exits 0, prints every group with its MET/MISS lines, and leaves nothing behind', async () => {
    const committedBefore = existsSync(COMMITTED) ? statSync(COMMITTED).mtimeMs : null;
    const { code, stdout, stderr } = await runBench();
    expect(code, `bench failed:\n${stdout}\n${stderr.slice(-4000)}`).toBe(0);

    // One section per `## title`, up to the next.
    const sections = new Map(
      stdout
        .split('\n## ')
        .slice(1)
        .map((text) => [text.slice(0, text.indexOf('\n')), text] as const),
    );
    for (const { title, goals, postgres } of SECTIONS) {
      const text = sections.get(title);
      expect(text, `no section "${title}" in:\n${stdout}`).toBeDefined();
      if (postgres && text!.includes('note: not measured:')) continue; // no server here: said, not failed
      expect(text, title).toMatch(/^\s+ops\/s\s+p50\s+p99\s+calls\s+× ref\s+ref$|^ {3}MET |^ {3}MISS/m);
      expect(text, title).not.toMatch(/failed/);
      if (goals) expect(text, title).toMatch(/^ {3}(MET |MISS) {2}\S.*\(goal [≥≤] \d/m);
    }
    expect(stdout).toMatch(/miss ÷ warm, 150 events/);
    expect(stdout).toMatch(/cold ÷ warm, 150 events/);

    // The run wrote its results where it was told, and only there.
    const written = JSON.parse(readFileSync(join(scratch, 'latest.json'), 'utf8')) as { quick: boolean };
    expect(written.quick).toBe(true);
    expect(existsSync(COMMITTED) ? statSync(COMMITTED).mtimeMs : null).toBe(committedBefore);
    // The bench removed its SQLite scratch directory (tsx keeps its compile cache here too, and goes with ours).
    expect(readdirSync(scratch).filter((name) => name.startsWith('tally-bench-'))).toEqual([]);
    // The groups that drop their schemas at the end did; what is left (group 3's) the test drops.
    const left = await dropOwnSchemas();
    expect(
      left.every((schema) => /_(tally_bench|bench_sql|bench_sql_events)$/.test(schema)),
      left.join(', '),
    ).toBe(true);
  }, 300_000);
});
