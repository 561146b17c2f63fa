/**
 * Runs the example service: `npx -y pnpm@10 --filter @tally/example-service start`.
 *
 * Environment: PORT (default 3000; 0 picks a free one), HOST (default 127.0.0.1), TALLY_DB (default
 * .tally/example.db), TALLY_API_KEYS (comma-separated; default a development key, with a warning),
 * TALLY_CATALOG (default catalog.json beside this package), TALLY_TOKEN_SECRET (signs the page's
 * customer tokens; default a development secret, with a warning), TALLY_DEMO_CUSTOMER (who the page
 * signs in; default cus_123), TALLY_WEB_ROOT (the built page; default web/dist beside this package).
 */
import { fileURLToPath } from 'node:url';
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

const DEV_TOKEN_SECRET = 'dev-only-customer-token-secret-0000000000';
let tokenSecret = process.env.TALLY_TOKEN_SECRET ?? '';
if (tokenSecret === '') {
  console.warn('TALLY_TOKEN_SECRET is not set: signing customer tokens with a development secret');
  tokenSecret = DEV_TOKEN_SECRET;
}

const service = await startService({
  port: Number(process.env.PORT ?? 3000),
  hostname: process.env.HOST ?? '127.0.0.1',
  database: process.env.TALLY_DB ?? '.tally/example.db',
  apiKeys,
  catalog: loadCatalog(process.env.TALLY_CATALOG ?? new URL('../catalog.json', import.meta.url)),
  page: {
    tokenSecret,
    demoCustomerId: process.env.TALLY_DEMO_CUSTOMER ?? 'cus_123',
    webRoot: process.env.TALLY_WEB_ROOT ?? fileURLToPath(new URL('../web/dist', import.meta.url)),
  },
});
console.log(`tally example service listening on ${service.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service.close().then(() => process.exit(0));
  });
}
