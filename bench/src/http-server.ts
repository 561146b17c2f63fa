/**
 * The server side of group 6, run as its own process by `http.ts`: `@tally/http` on `node:http`
 * (through the package's `toNodeListener`, i.e. `@hono/node-server`), on a SQLite file
 * (synchronous FULL) or a Postgres schema, with the customers it is told to fund. It prints
 * `listening <port>` once it answers; on SIGTERM it prints `appends <store calls> customers <parts>`
 * (how many customers each append carried), closes the ledger and exits (so a `--cpu-prof` profile
 * is written).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { createHttpHandler, toNodeListener } from '@tally/http';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import { catalogInput } from './stream.ts';
import { fund } from './writes.ts';

const kind = process.env.BENCH_HTTP_STORE;
const target = process.env.BENCH_HTTP_TARGET;
const apiKey = process.env.BENCH_HTTP_KEY;
const customers = (process.env.BENCH_HTTP_CUSTOMERS ?? '').split(',').filter((id) => id !== '');
if (target === undefined || apiKey === undefined || (kind !== 'sqlite' && kind !== 'postgres')) {
  throw new Error(
    'http-server: set BENCH_HTTP_STORE (sqlite|postgres), BENCH_HTTP_TARGET and BENCH_HTTP_KEY',
  );
}
const inner: EventStore =
  kind === 'sqlite'
    ? sqliteStore({ filename: target, synchronous: 'FULL' })
    : postgresStore({ connectionString: process.env.BENCH_DATABASE_URL ?? '' }, { schema: target });
// Counted: how many customers each store call carried, i.e. how well group commit batched the requests.
let calls = 0;
let parts = 0;
const store: EventStore = {
  ...inner,
  append: (streamId, events, options) => {
    calls++;
    parts++;
    return inner.append(streamId, events, options);
  },
  ...(inner.appendMany === undefined
    ? {}
    : {
        appendMany: (batch: Parameters<NonNullable<EventStore['appendMany']>>[0]) => {
          calls++;
          parts += batch.length;
          return inner.appendMany!(batch);
        },
      }),
};
const ledger = createLedger({ catalog: defineCatalog(catalogInput), store });
for (const customerId of customers) await fund(ledger, customerId);
calls = 0;
parts = 0;

const server = createServer(
  { keepAliveTimeout: 60_000 },
  toNodeListener(createHttpHandler({ ledger, apiKeys: [apiKey] })),
);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    process.stdout.write(`appends ${calls} customers ${parts}\n`);
    void ledger.close().then(() => process.exit(0));
  });
});
