/**
 * Group 6: the HTTP path. `@tally/http` served on `node:http` in a server process of its own
 * (`http-server.ts`), 32 keep-alive connections sending `POST /v1/usage`, each request on a customer
 * no other request in flight holds (32 customers: a service with many customers at once), against the
 * library alone at 32 callers on 32 customers, in this process, on the same kind of store (its own
 * SQLite file or Postgres schema). Rows are interleaved in rounds like every group's.
 *
 * The load client is undici's `Pool` of 32 keep-alive connections (`jsonPool`), driven by tinybench like
 * every row (32 closed loops: each sends its next request when its last is answered). It runs in the
 * bench process, so on a 2-core machine it takes CPU the server could have: its CPU time per request
 * is printed under the table. BENCH_HTTP_PROFILE=<dir> runs the server under `node --cpu-prof`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import {
  type GroupResult,
  goal,
  type Measurement,
  measureAll,
  onOwnId,
  progress,
  QUICK,
  ratioOf,
} from './harness.ts';
import { jsonPool } from './http-client.ts';
import {
  PG_URL,
  postgresDurability,
  postgresReachable,
  resetSchemas,
  schemaName,
  sqlitePath,
} from './stores.ts';
import { catalogInput } from './stream.ts';
import { fund, skipped } from './writes.ts';

export const CONNECTIONS = 32;
/**
 * Warm-up of each row before its first round. The server is a process started for this group, so
 * its JIT has compiled nothing when the rounds begin, where a running service's has: with the
 * harness's 300 ms it served 1.2k requests/s in the rounds and 3.2k/s after 1.5 s of load in a
 * standalone run (4.2k/s after 10 s). Both rows get the same warm-up, so the ratio compares warm
 * with warm.
 */
const WARM_UP_MS = QUICK ? 300 : 3000;
const API_KEY = 'bench_secret_key_0123456789';
const LIBRARY = `library: trackUsage, ${CONNECTIONS} callers on ${CONNECTIONS} customers`;
const HTTP = `HTTP: POST /v1/usage, ${CONNECTIONS} connections on ${CONNECTIONS} customers`;
const LIBRARY_SCHEMA = schemaName('tally_bench_http_lib');
const SERVER_SCHEMA = schemaName('tally_bench_http_srv');

export async function httpGroups(): Promise<GroupResult[]> {
  const results: GroupResult[] = [];
  results.push(
    await storeGroup(
      'SQLite',
      () => sqliteStore({ filename: sqlitePath('http-library'), synchronous: 'FULL' }),
      { BENCH_HTTP_STORE: 'sqlite', BENCH_HTTP_TARGET: sqlitePath('http-server') },
      'each side its own file, WAL, synchronous FULL',
    ),
  );
  const unreachable = await postgresReachable();
  if (unreachable !== null) {
    results.push(skipped('http-postgres', '6. HTTP vs the library: Postgres store', unreachable));
    return results;
  }
  await resetSchemas(LIBRARY_SCHEMA, SERVER_SCHEMA);
  try {
    results.push(
      await storeGroup(
        'Postgres',
        () => postgresStore({ connectionString: PG_URL }, { schema: LIBRARY_SCHEMA }),
        { BENCH_HTTP_STORE: 'postgres', BENCH_HTTP_TARGET: SERVER_SCHEMA, BENCH_DATABASE_URL: PG_URL },
        `schemas ${LIBRARY_SCHEMA} (library) and ${SERVER_SCHEMA} (server), dropped at the end; server: ${await postgresDurability()}`,
      ),
    );
  } finally {
    await resetSchemas(LIBRARY_SCHEMA, SERVER_SCHEMA);
  }
  return results;
}

async function storeGroup(
  name: string,
  open: () => EventStore,
  serverEnv: Record<string, string>,
  setting: string,
): Promise<GroupResult> {
  const customers = Array.from({ length: CONNECTIONS }, (_, i) => `cus_http_${i}`);
  progress.line(`http · ${name} · creating customers, starting the server`);
  const ledger = createLedger({ catalog: defineCatalog(catalogInput), store: open() });
  for (const customerId of customers) await fund(ledger, customerId);
  const server = await startServer({ ...serverEnv, BENCH_HTTP_CUSTOMERS: customers.join(',') });
  const client = jsonPool(server.port, CONNECTIONS, API_KEY);
  let cpuAtStart = process.cpuUsage();
  let requests = 0;
  let clientCpuPerRequest = Number.NaN;
  let stopped = false;
  try {
    const measurements: Measurement[] = [
      {
        name: LIBRARY,
        baseline: true,
        callers: CONNECTIONS,
        warmupTime: WARM_UP_MS,
        fn: onOwnId(customers, (customerId) =>
          ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 }),
        ),
      },
      {
        name: HTTP,
        callers: CONNECTIONS,
        warmupTime: WARM_UP_MS,
        fn: onOwnId(customers, async (customerId) => {
          await postUsage(client, customerId);
          requests++;
        }),
        before: () => {
          cpuAtStart = process.cpuUsage();
          requests = 0;
        },
        after: (phase) => {
          if (phase !== 'run' || requests === 0) return;
          const used = process.cpuUsage(cpuAtStart);
          clientCpuPerRequest = (used.user + used.system) / requests;
        },
      },
    ];
    const rows = await measureAll(`http · ${name}`, measurements);
    const perAppend = await server.stop();
    stopped = true;
    return {
      id: `http-${name.toLowerCase()}`,
      title: `6. HTTP vs the library: ${name} store`,
      unit: 'one usage recorded (a trackUsage call, or a POST /v1/usage answered 201)',
      rows,
      goals: [
        goal(
          `HTTP ${CONNECTIONS} connections ÷ library ${CONNECTIONS} callers`,
          ratioOf(rows, HTTP, LIBRARY),
          0.5,
        ),
      ],
      extra: {
        'server: customers per append (group commit, warm-up and all rounds)':
          perAppend === null ? 'n/a' : perAppend.toFixed(1),
        'load client CPU per request (µs, in the bench process, last round)': Number.isFinite(
          clientCpuPerRequest,
        )
          ? Math.round(clientCpuPerRequest)
          : 'n/a',
      },
      notes: [
        `server: @tally/http on node:http (toNodeListener, @hono/node-server) in its own process; client: undici Pool of ${CONNECTIONS} keep-alive connections, in the bench process; ${setting}`,
      ],
    };
  } finally {
    await client.close();
    if (!stopped) await server.stop();
    await ledger.close();
  }
}

/** One `POST /v1/usage`, refused unless answered 201. */
async function postUsage(client: ReturnType<typeof jsonPool>, customerId: string): Promise<void> {
  const body = JSON.stringify({ customerId, feature: 'api-call', quantity: 1 });
  const { status, text } = await client.post('/v1/usage', body);
  if (status !== 201) throw new Error(`POST /v1/usage answered ${status}: ${text}`);
}

interface Server {
  readonly port: number;
  /** Stops the server; answers the customers per store call it saw (group commit's batching). */
  readonly stop: () => Promise<number | null>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const profile = process.env.BENCH_HTTP_PROFILE;
  const script = join(dirname(fileURLToPath(import.meta.url)), 'http-server.ts');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]),
      '--import',
      'tsx',
      script,
    ],
    {
      cwd: dirname(script),
      env: { ...process.env, ...env, BENCH_HTTP_KEY: API_KEY },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the HTTP server exited (${code}) before listening`)));
  });
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      const counted = /appends (\d+) customers (\d+)/.exec(out);
      return counted === null || counted[1] === '0' ? null : Number(counted[2]) / Number(counted[1]);
    },
  };
}
