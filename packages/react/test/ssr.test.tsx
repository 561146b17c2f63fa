// @vitest-environment node
/**
 * Server rendering: with `initialData` the hooks render it at once, and nothing is fetched on the
 * server (no request, no token asked for).
 */
import type { CreditAccount, LedgerEntry } from '@tally/core';
import { renderToString } from 'react-dom/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Gate, TallyProvider, useCreditAccounts, useLedger } from '../src/index.js';
import { startServer, type TestServer, walkthroughCustomer } from './server.js';

function Page({ initial, entries }: { initial: readonly CreditAccount[]; entries: readonly LedgerEntry[] }) {
  const { data, isLoading } = useCreditAccounts({ initialData: initial });
  const ledger = useLedger({
    currency: 'credits',
    initialData: { data: entries, nextCursor: null, hasMore: false },
  });
  const rows = ledger.data?.map((e) => `${e.kind} ${e.amount} ${e.balance}`).join('; ');
  return (
    <main>
      <p>balance {isLoading ? 'loading' : data?.[0]?.balance}</p>
      <p>{rows}</p>
      <Gate feature="ai-generation" fallback={<span>closed</span>} loading={<span>checking</span>}>
        <span>open</span>
      </Gate>
    </main>
  );
}

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
  await walkthroughCustomer(server.ledger, 'cus_ssr');
});
afterAll(() => server.close());

it('renders initialData without a request or a token on the server', async () => {
  const accounts = await server.ledger.creditAccounts({ customerId: 'cus_ssr' });
  const { data: entries } = await server.ledger.entries({ customerId: 'cus_ssr', currency: 'credits' });
  let tokens = 0;
  const before = server.seen.length;
  const html = renderToString(
    <TallyProvider
      baseUrl={server.url}
      customerId="cus_ssr"
      getToken={() => {
        tokens += 1;
        return 'unused';
      }}
    >
      <Page initial={accounts} entries={entries} />
    </TallyProvider>,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(html).toContain('balance <!-- -->90');
  expect(html).toContain('grant 100 100; usage -10 90');
  // No initialData for the check: the gate waits for the browser.
  expect(html).toContain('checking');
  expect(server.seen.length - before).toBe(0);
  expect(tokens).toBe(0);
});
