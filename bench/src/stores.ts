/**
 * The databases every group shares: SQLite files in one scratch directory on the same disk as the
 * project (not a tmpfs, so FULL means an fsync), and a Postgres schema per user of the server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Prefixed to every Postgres schema the bench makes (`BENCH_SCHEMA_PREFIX`, lowercase letters, digits
 * and `_`), so a run beside another one on the same server (the smoke test in CI, say) never drops the
 * other's tables, and can drop exactly its own when it ends.
 */
const SCHEMA_PREFIX = process.env.BENCH_SCHEMA_PREFIX ?? '';
if (!/^[a-z0-9_]*$/.test(SCHEMA_PREFIX)) throw new Error(`bad BENCH_SCHEMA_PREFIX ${SCHEMA_PREFIX}`);

/** A schema name of the bench's, with the run's prefix. */
export function schemaName(name: string): string {
  return `${SCHEMA_PREFIX}${name}`;
}

let scratch: string | undefined;

/** A fresh path for a SQLite file; the directory goes when the run ends. */
export function sqlitePath(name: string): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'tally-bench-'));
  return join(scratch, `${name}.db`);
}

export function removeScratch(): void {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** Whether the Postgres server answers; the groups that need it say so instead of failing the run. */
export async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `Postgres at ${PG_URL} is not reachable: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops and recreates schemas so every run starts from empty tables. */
export async function resetSchemas(...schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const schema of schemas) {
      if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  } finally {
    await client.end();
  }
}

/** What the server does on commit, for the README's record of the durability measured. */
export async function postgresDurability(): Promise<string> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const settings: string[] = [];
    for (const name of ['fsync', 'synchronous_commit', 'wal_sync_method']) {
      const { rows } = await client.query<Record<string, string>>(`SHOW ${name}`);
      settings.push(`${name}=${Object.values(rows[0]!)[0]}`);
    }
    return settings.join(' ');
  } finally {
    await client.end();
  }
}
