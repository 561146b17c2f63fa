/**
 * Group 5: the writes of group 3 on the Postgres store distributed on Citus (`distributed: 'citus'`,
 * a coordinator and its workers) beside the same store on one server, in the same run: `trackUsage`
 * with one caller, 8 callers on one customer, 8 callers on 8 customers. **Baseline:** the one-server
 * store's one-caller rate; the ratios read Citus ÷ one server, row by row. Runs when
 * TALLY_CITUS_URL names the coordinator; otherwise it says why it did not.
 */
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { postgresStore } from '@tally/store-postgres';
import pg from 'pg';
import {
  type GroupResult,
  goal,
  type Measurement,
  measureAll,
  onOwnId,
  progress,
  ratioOf,
} from './harness.ts';
import { PG_URL, postgresReachable, resetSchemas, schemaName } from './stores.ts';
import { catalogInput } from './stream.ts';
import { CALLERS, fund } from './writes.ts';

const CITUS_URL = process.env.TALLY_CITUS_URL;
const SCHEMA = schemaName('tally_bench_citus');

/** The rows of one store: one caller, 8 callers on one customer, 8 callers on 8 customers. */
async function storeRows(label: string, store: EventStore, baseline: boolean) {
  const ledger = createLedger({ catalog: defineCatalog(catalogInput), store });
  const prefix = `cus_${label.replace(/\W/g, '_')}_${Date.now().toString(36)}`;
  const one = `${prefix}_one`;
  const shared = `${prefix}_shared`;
  const own = Array.from({ length: CALLERS }, (_, i) => `${prefix}_own${i}`);
  progress.line(`writes on Citus · ${label} · creating customers`);
  for (const customerId of [one, shared, ...own]) await fund(ledger, customerId);
  const usage = (customerId: string) => () =>
    ledger.trackUsage({ customerId, feature: 'api-call', quantity: 1 });
  const measurements: Measurement[] = [
    { name: `${label}: 1 caller`, baseline, fn: usage(one) },
    { name: `${label}: ${CALLERS} callers on 1 customer`, callers: CALLERS, fn: usage(shared) },
    {
      name: `${label}: ${CALLERS} callers on ${CALLERS} customers`,
      callers: CALLERS,
      fn: onOwnId(own, (customerId) => usage(customerId)()),
    },
  ];
  return { ledger, measurements };
}

async function citusNodes(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ workers: number; version: string }>(
      `SELECT (SELECT count(*)::int FROM pg_dist_node WHERE shouldhaveshards AND noderole = 'primary') AS workers,
              (SELECT extversion FROM pg_extension WHERE extname = 'citus') AS version`,
    );
    return `Citus ${rows[0]!.version}, ${rows[0]!.workers} workers`;
  } finally {
    await client.end();
  }
}

export async function citusWritesGroup(): Promise<GroupResult> {
  const id = 'writes-citus';
  const title = '5. Writes through the ledger API: Postgres store on Citus vs one server';
  if (CITUS_URL === undefined || CITUS_URL === '') {
    return {
      id,
      title,
      unit: '–',
      rows: [],
      goals: [],
      extra: {},
      notes: ['not measured: TALLY_CITUS_URL is not set (the coordinator of a Citus cluster)'],
    };
  }
  const unreachable = await postgresReachable();
  if (unreachable !== null) {
    return { id, title, unit: '–', rows: [], goals: [], extra: {}, notes: [`not measured: ${unreachable}`] };
  }
  await resetSchemas(SCHEMA);
  const coordinator = new pg.Client({ connectionString: CITUS_URL });
  await coordinator.connect();
  await coordinator.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await coordinator.end();

  const single = await storeRows(
    'one server',
    postgresStore({ connectionString: PG_URL }, { schema: SCHEMA }),
    true,
  );
  const citus = await storeRows(
    'Citus',
    postgresStore({ connectionString: CITUS_URL }, { schema: SCHEMA, distributed: 'citus' }),
    false,
  );
  // Interleaved as one group: each Citus row right after its one-server twin in every round.
  const measurements = single.measurements.flatMap((m, i) => [m, { ...citus.measurements[i]!, vs: m.name }]);
  const rows = await measureAll('writes on Citus', measurements);
  await single.ledger.close();
  await citus.ledger.close();
  const ratio = (n: number) => ratioOf(rows, citus.measurements[n]!.name, single.measurements[n]!.name);
  return {
    id,
    title,
    unit: 'one command answered (trackUsage); p50/p99 per command; × ref is Citus ÷ one server on the same row',
    rows,
    // The point on one machine: the single-shard path costs about what one server costs.
    goals: [goal('Citus ÷ one server, 1 caller', ratio(0), 0.5)],
    extra: {
      'Citus ÷ one server, 1 caller': ratio(0),
      [`Citus ÷ one server, ${CALLERS} callers on 1 customer`]: ratio(1),
      [`Citus ÷ one server, ${CALLERS} callers on ${CALLERS} customers`]: ratio(2),
    },
    notes: [
      `one server: ${PG_URL}; Citus: ${CITUS_URL} (${await citusNodes(CITUS_URL)}, 32 shards), all on this machine`,
    ],
  };
}
