/**
 * Runs the example service: `npx -y pnpm@10 --filter @tally/example-service start`.
 *
 * Environment: PORT (default 3000; 0 picks a free one), HOST (default 127.0.0.1), TALLY_DB (default
 * .tally/example.db), TALLY_API_KEYS (comma-separated; default a development key, with a warning),
 * TALLY_CATALOG (default catalog.json beside this package).
 */
import { loadCatalog, startService } from './service.js';

const DEV_KEY = 'sk_test_tally_example_0000';

const apiKeys = (process.env.TALLY_API_KEYS ?? '')
  .split(',')
  .map((key) => key.trim())
  .filter((key) => key !== '');
if (apiKeys.length === 0) {
  console.warn(`TALLY_API_KEYS is not set: accepting the development key ${DEV_KEY}`);
  apiKeys.push(DEV_KEY);
}

const service = await startService({
  port: Number(process.env.PORT ?? 3000),
  hostname: process.env.HOST ?? '127.0.0.1',
  database: process.env.TALLY_DB ?? '.tally/example.db',
  apiKeys,
  catalog: loadCatalog(process.env.TALLY_CATALOG ?? new URL('../catalog.json', import.meta.url)),
});
console.log(`tally example service listening on ${service.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service.close().then(() => process.exit(0));
  });
}
