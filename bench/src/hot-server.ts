/**
 * One server process of the hot-customer group (`hot-customer.ts`): `@tally/http` on Node's http
 * server over its own `createLedger`, on the store the parent names. It prints `{"port": n}` on stdout
 * once it listens, and serves until SIGTERM. Started as
 * `node --import tsx hot-server.ts '{"store":"sqlite","filename":"…"}'` or
 * `'{"store":"postgres","url":"…","schema":"…"}'`.
 */
import { createServer } from 'node:http';
import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { createHttpHandler, toNodeListener } from '@tally/http';
import { postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import { catalogInput } from './stream.ts';

export type HotServerTask =
  | { readonly store: 'sqlite'; readonly filename: string; readonly apiKey: string }
  | { readonly store: 'postgres'; readonly url: string; readonly schema: string; readonly apiKey: string };

const task = JSON.parse(process.argv[2] ?? '') as HotServerTask;
const store: EventStore =
  task.store === 'sqlite'
    ? sqliteStore({ filename: task.filename, synchronous: 'FULL' })
    : postgresStore({ connectionString: task.url }, { schema: task.schema });
const ledger = createLedger({ catalog: defineCatalog(catalogInput), store });
// 409s are what this group counts; anything else unexpected goes to the parent's stderr.
const handler = createHttpHandler({
  ledger,
  apiKeys: [task.apiKey],
  onError: (error) => console.error(error),
});
const server = createServer(toNodeListener(handler));
// The load client keeps its connections open across rounds: do not close them between rounds.
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    void ledger.close().finally(() => process.exit(0));
  });
});
