/**
 * Group 9: several server processes on one hot customer. Three processes, each `@tally/http` on Node's
 * http server over its own `createLedger` (`hot-server.ts`), share one SQLite file (WAL, synchronous
 * FULL) or one Postgres schema; 128 keep-alive connections, spread over the three, all send
 * `POST /v1/usage` for the same customer, each connection a closed loop (its next request when its
 * last is answered). Every response is counted by status: a `409 concurrency_conflict` is a lost race
 * the ledger gave up on and handed to the caller, which is what this group is for.
 *
 * Baseline: the same 128 connections all on one of the three processes, where group commit serializes
 * the customer's writes within the process and no race is lost. After the rows the customer's balance
 * is held against the 201s counted: each one, and nothing else, took its 0.25.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import { type GroupResult, type Measurement, measureAll, progress, QUICK } from './harness.ts';
import type { HotServerTask } from './hot-server.ts';
import { postJson } from './http-client.ts';
import { PG_URL, postgresDurability, postgresReachable, resetSchemas, sqlitePath } from './stores.ts';
import { catalogInput } from './stream.ts';
import { fund, skipped } from './writes.ts';

export const PROCESSES = 3;
export const CONNECTIONS = 128;
const SCHEMA = 'tally_hot';
const API_KEY = 'bench-hot-customer-key-0123456789';
const GRANT_MINOR = 100_000_000_000n; // fund()'s grant, in cents
const COST_MINOR = 25n;
const ONE_PROCESS = `1 process, ${CONNECTIONS} connections`;
const MANY_PROCESSES = `${PROCESSES} processes, ${CONNECTIONS} connections`;

/** Responses of one row's run phase by status ('error' for a request that got no response). */
type Counts = Map<string, number>;

export async function hotCustomerGroups(): Promise<GroupResult[]> {
  const results: GroupResult[] = [];
  const filename = sqlitePath('hot-customer');
  results.push(
    await storeGroup(
      'SQLite',
      () => sqliteStore({ filename, synchronous: 'FULL' }),
      { store: 'sqlite', filename, apiKey: API_KEY },
      'one file in WAL mode, synchronous FULL (an fsync per commit), on the project disk',
    ),
  );
  const unreachable = await postgresReachable();
  if (unreachable !== null) {
    results.push(skipped('hot-customer-postgres', title('Postgres'), unreachable));
  } else {
    await resetSchemas(SCHEMA);
    results.push(
      await storeGroup(
        'Postgres',
        () => postgresStore({ connectionString: PG_URL }, { schema: SCHEMA }),
        { store: 'postgres', url: PG_URL, schema: SCHEMA, apiKey: API_KEY },
        `${PG_URL}, schema ${SCHEMA}; server: ${await postgresDurability()}`,
      ),
    );
  }
  return results;
}

const title = (store: string) =>
  `9. ${PROCESSES} server processes on one hot customer: POST /v1/usage over HTTP, ${store} store`;

async function storeGroup(
  name: string,
  open: () => EventStore,
  task: HotServerTask,
  setting: string,
): Promise<GroupResult> {
  const id = `hot-customer-${name.toLowerCase()}`;
  const store = open();
  const ledger = createLedger({ catalog: defineCatalog(catalogInput), store });
  const customerId = `cus_hot_${name.toLowerCase()}_${Date.now().toString(36)}`;
  await fund(ledger, customerId);
  progress.line(`hot-customer · ${name} · starting ${PROCESSES} server processes`);
  const servers = await Promise.all(Array.from({ length: PROCESSES }, () => startServer(task)));
  const agents: Agent[] = [];
  let created = 0n;
  try {
    const body = JSON.stringify({ customerId, feature: 'api-call', quantity: 1 });
    const row = (rowName: string, portOf: (connection: number) => number, baseline: boolean) => {
      // One agent of one socket per connection: exactly CONNECTIONS keep-alive connections.
      const connections = Array.from({ length: CONNECTIONS }, (_, i) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        agents.push(agent);
        return { agent, port: portOf(i), apiKey: API_KEY };
      });
      const counts: Counts = new Map();
      let counting = false;
      const measurement: Measurement = {
        name: rowName,
        baseline,
        callers: CONNECTIONS,
        time: QUICK ? 900 : 9_000,
        warmupTime: QUICK ? 100 : 500,
        before: (phase) => {
          counting = phase === 'run';
        },
        fn: async () => {
          const connection = connections.pop();
          if (connection === undefined) throw new Error('more callers in flight than connections');
          try {
            const status = String((await postJson(connection, '/v1/usage', body)).status);
            if (status === '201') created += 1n;
            if (counting) counts.set(status, (counts.get(status) ?? 0) + 1);
          } finally {
            connections.push(connection);
          }
        },
      };
      return { measurement, counts };
    };
    const one = row(ONE_PROCESS, () => servers[0]!.port, true);
    const many = row(MANY_PROCESSES, (i) => servers[i % PROCESSES]!.port, false);
    const rows = await measureAll(`hot-customer · ${name}`, [one.measurement, many.measurement]);

    const [account] = await createLedger({ catalog: defineCatalog(catalogInput), store }).creditAccounts({
      customerId,
    });
    const balanceMinor = BigInt(account!.balance.replace('.', ''));
    const expected = GRANT_MINOR - COST_MINOR * created;
    const extra: Record<string, unknown> = { setting };
    for (const [label, counts] of [
      [ONE_PROCESS, one.counts],
      [MANY_PROCESSES, many.counts],
    ] as const) {
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const conflicts = counts.get('409') ?? 0;
      const share = total === 0 ? 0 : (100 * conflicts) / total;
      extra[`${label}: responses by status`] = [...counts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([status, n]) => `${status} × ${n}`)
        .join(', ');
      extra[`${label}: 409 concurrency_conflict`] =
        `${conflicts} of ${total} (${share.toFixed(3)} %) ${conflicts === 0 ? 'MET' : 'MISS'} (goal 0)`;
    }
    extra['balance = grant − 0.25 × every 201 (warm-up included)'] =
      balanceMinor === expected ? 'yes' : `NO: balance ${account!.balance}, 201s ${created}`;
    return {
      id,
      title: title(name),
      unit: `one request answered (any status); ${CONNECTIONS} keep-alive connections, each a closed loop; ◆ = all ${CONNECTIONS} on one of the processes`,
      rows,
      goals: [],
      extra,
      notes: [],
    };
  } finally {
    for (const agent of agents) agent.destroy();
    await Promise.all(servers.map((server) => server.stop()));
    await ledger.close();
  }
}

interface Server {
  readonly port: number;
  readonly stop: () => Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Starts `hot-server.ts` in its own process and waits for the port it listens on. */
function startServer(task: HotServerTask): Promise<Server> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'hot-server.ts'), JSON.stringify(task)],
    {
      cwd: here,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error('a hot-customer server did not start within 30 s'));
    }, 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve({ port: (JSON.parse(line) as { port: number }).port, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`a hot-customer server exited with ${code} before listening`));
    });
  });
}
