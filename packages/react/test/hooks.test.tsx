// @vitest-environment jsdom
/**
 * The hooks against a real `@tally/http` server on an in-memory ledger (test/server.ts), through the
 * real `fetch`: nothing is mocked between a hook and the ledger.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from '@testing-library/react';
import { type ReactNode, useEffect } from 'react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Gate,
  TallyProvider,
  useCheckout,
  useCreditAccounts,
  useGrants,
  useLedger,
  useTopUp,
  useTrackUsage,
} from '../src/index.js';
import { KEY, startServer, type TestServer, walkthroughCustomer } from './server.js';

let server: TestServer;
let customers = 0;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());
afterEach(cleanup);

/** A fresh walkthrough customer (balance 90) for each test, so tests share nothing but the server. */
async function customer(): Promise<string> {
  customers += 1;
  const customerId = `cus_react_${customers}`;
  await walkthroughCustomer(server.ledger, customerId);
  return customerId;
}

function provider(customerId: string, options: { token?: string } = {}) {
  return ({ children }: { children: ReactNode }) => (
    <TallyProvider baseUrl={server.url} customerId={customerId} getToken={() => options.token ?? KEY}>
      {children}
    </TallyProvider>
  );
}

const balanceOf = async (customerId: string) =>
  (await server.ledger.creditAccounts({ customerId })).find((a) => a.currency === 'credits')?.balance;
const usagesOf = async (customerId: string) =>
  (await server.ledger.entries({ customerId })).data.filter((e) => e.kind === 'usage');
const posts = (path: string) => server.seen.filter((r) => r.method === 'POST' && r.path === path);

describe('reads', () => {
  it('useCreditAccounts goes from loading to the balance the ledger has', async () => {
    const customerId = await customer();
    const { result } = renderHook(() => useCreditAccounts(), { wrapper: provider(customerId) });
    expect(result.current.isLoading).toBe(true);
    expect(result.current.data).toBeUndefined();
    await waitFor(() => expect(result.current.isLoading).toBe(false));
    expect(result.current.error).toBeNull();
    expect(result.current.data).toEqual(await server.ledger.creditAccounts({ customerId }));
    expect(result.current.data?.[0]).toMatchObject({ currency: 'credits', balance: '90', available: '90' });
  });

  it('useGrants lists the plan grant with what is left of it', async () => {
    const customerId = await customer();
    const { result } = renderHook(() => useGrants({ currency: 'credits' }), {
      wrapper: provider(customerId),
    });
    await waitFor(() => expect(result.current.data).toBeDefined());
    expect(result.current.data).toEqual(await server.ledger.grants({ customerId, currency: 'credits' }));
    expect(result.current.data?.[0]).toMatchObject({ amount: '100', remaining: '90' });
  });

  it('surfaces the server error code, not retried when it is a refusal', async () => {
    const before = server.seen.length;
    const { result } = renderHook(() => useCreditAccounts(), { wrapper: provider('cus_react_nobody') });
    await waitFor(() => expect(result.current.error).not.toBeNull());
    expect(result.current.error).toMatchObject({ name: 'TallyError', code: 'unknown_customer', status: 404 });
    expect(result.current.data).toBeUndefined();
    expect(server.seen.length - before).toBe(1);

    const bad = renderHook(() => useCreditAccounts(), {
      wrapper: provider(await customer(), { token: 'sk_test_not_a_key_at_all' }),
    });
    await waitFor(() => expect(bad.result.current.error).not.toBeNull());
    expect(bad.result.current.error).toMatchObject({ code: 'unauthorized', status: 401 });
  });

  it('surfaces a server that is not there as network_error', async () => {
    const wrapper = ({ children }: { children: ReactNode }) => (
      <TallyProvider baseUrl="http://127.0.0.1:1" customerId="cus_x" getToken={() => KEY}>
        {children}
      </TallyProvider>
    );
    const { result } = renderHook(() => useLedger({ currency: 'credits' }), { wrapper });
    await waitFor(() => expect(result.current.error).not.toBeNull(), { timeout: 10_000 });
    expect(result.current.error).toMatchObject({ code: 'network_error', status: 0 });
  });
});

describe('useLedger', () => {
  it('pages to the end with loadMore, each page in order, the running balance on every entry', async () => {
    const customerId = await customer();
    for (let i = 1; i <= 5; i++) {
      await server.ledger.grant({ customerId, currency: 'credits', amount: String(i), source: 'promotion' });
    }
    const { data: all } = await server.ledger.entries({ customerId, currency: 'credits' });
    expect(all).toHaveLength(7);
    const { result } = renderHook(() => useLedger({ currency: 'credits', pageSize: 3 }), {
      wrapper: provider(customerId),
    });
    await waitFor(() => expect(result.current.data).toHaveLength(3));
    expect(result.current.hasMore).toBe(true);
    act(() => result.current.loadMore());
    await waitFor(() => expect(result.current.data).toHaveLength(6));
    expect(result.current.hasMore).toBe(true);
    act(() => result.current.loadMore());
    await waitFor(() => expect(result.current.data).toHaveLength(7));
    expect(result.current.hasMore).toBe(false);
    expect(result.current.pages.map((page) => page.data.length)).toEqual([3, 3, 1]);
    expect(result.current.data).toEqual(all);
    expect(result.current.data?.at(-1)?.balance).toBe('105');
    // At the end, loadMore asks for nothing.
    const requests = server.seen.length;
    act(() => result.current.loadMore());
    expect(server.seen.length).toBe(requests);

    // Newest first: the latest entries open the statement.
    const newest = renderHook(() => useLedger({ currency: 'credits', pageSize: 3, order: 'newest_first' }), {
      wrapper: provider(customerId),
    });
    await waitFor(() => expect(newest.result.current.data).toHaveLength(3));
    expect(newest.result.current.data).toEqual(all.slice(-3).reverse());
    expect(newest.result.current.hasMore).toBe(true);
  });
});

function Wallet({ onMount }: { onMount?: (track: ReturnType<typeof useTrackUsage>) => void }) {
  const accounts = useCreditAccounts();
  const ledger = useLedger({ currency: 'credits', pageSize: 50 });
  const track = useTrackUsage({ retryDelay: () => 10 });
  // Once per mount (StrictMode runs it twice on purpose).
  // biome-ignore lint/correctness/useExhaustiveDependencies: on mount only, whatever the props
  useEffect(() => {
    onMount?.(track);
  }, []);
  return (
    <div>
      <p data-testid="balance">{accounts.data?.[0]?.balance ?? '…'}</p>
      <p data-testid="rows">{ledger.data?.length ?? '…'}</p>
      <p data-testid="error">{track.error?.code ?? ''}</p>
      <button type="button" onClick={() => track.mutate({ feature: 'ai-generation', quantity: 1 })}>
        Generate
      </button>
      <Gate feature="ai-generation" quantity={1} fallback={<span>gate closed</span>}>
        <span>gate open</span>
      </Gate>
    </div>
  );
}

/** Tops up through the host's own call: here a grant made with the secret key, as a backend would. */
function Buy({ customerId }: { customerId: string }) {
  const topUp = useTopUp(async (credits: string) => {
    const res = await fetch(`${server.url}/v1/grants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId, currency: 'credits', amount: credits, source: 'top_up' }),
    });
    if (!res.ok) throw (await res.json()).error;
    return res.json();
  });
  return (
    <button type="button" onClick={() => topUp.mutate('50')}>
      Buy
    </button>
  );
}

function Checkout({ customerId }: { customerId: string }) {
  const accounts = useCreditAccounts();
  const checkout = useCheckout<{ customerId: string; credits: string }, { grantId: string }>(
    `${server.url}/host/checkout`,
  );
  return (
    <div>
      <p data-testid="balance">{accounts.data?.[0]?.balance ?? '…'}</p>
      <p data-testid="grant">{checkout.data?.grantId ?? ''}</p>
      <button type="button" onClick={() => checkout.mutate({ customerId, credits: '100' })}>
        Buy 100 credits
      </button>
    </div>
  );
}

describe('useTrackUsage', () => {
  it('records the usage and refreshes the balance, the ledger and the gate', async () => {
    const customerId = await customer();
    render(<Wallet />, { wrapper: provider(customerId) });
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('90'));
    await waitFor(() => expect(screen.getByTestId('rows').textContent).toBe('2'));
    await waitFor(() => expect(screen.getByText('gate open')).toBeTruthy());
    fireEvent.click(screen.getByText('Generate'));
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('80'));
    await waitFor(() => expect(screen.getByTestId('rows').textContent).toBe('3'));
    expect(await balanceOf(customerId)).toBe('80');
    const sent = posts('/v1/usage').at(-1);
    expect(sent?.idempotencyKey).toMatch(/^tally-react-[0-9a-f]{32}$/);
  });

  it('closes the gate when the credits run out, surfaces insufficient_credits, and a top-up opens it', async () => {
    const customerId = await customer();
    for (let i = 0; i < 9; i++) {
      await server.ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
    }
    render(
      <>
        <Wallet />
        <Buy customerId={customerId} />
      </>,
      { wrapper: provider(customerId) },
    );
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('0'));
    expect(screen.getByText('gate closed')).toBeTruthy();
    fireEvent.click(screen.getByText('Generate'));
    await waitFor(() => expect(screen.getByTestId('error').textContent).toBe('insufficient_credits'));
    fireEvent.click(screen.getByText('Buy'));
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('50'));
    await waitFor(() => expect(screen.getByText('gate open')).toBeTruthy());
  });

  it('retries a call whose answer was lost under the same key: charged once', async () => {
    const customerId = await customer();
    const { result } = renderHook(() => useTrackUsage({ retryDelay: () => 10 }), {
      wrapper: provider(customerId),
    });
    const before = posts('/v1/usage').length;
    server.dropUsageAnswers(2);
    const usage = await act(() => result.current.mutateAsync({ feature: 'ai-generation', quantity: 1 }));
    const sent = posts('/v1/usage').slice(before);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(usage).toMatchObject({ cost: '10', balance: '80' });
    expect(await usagesOf(customerId)).toHaveLength(2);
    expect(await balanceOf(customerId)).toBe('80');

    // A second call is a new intent with a key of its own.
    await act(() => result.current.mutateAsync({ feature: 'ai-generation', quantity: 1 }));
    const keys = posts('/v1/usage')
      .slice(before)
      .map((r) => r.idempotencyKey);
    expect(new Set(keys).size).toBe(2);
    expect(await balanceOf(customerId)).toBe('70');
  });
});

describe('with a customer token, as a browser has it', () => {
  // The server in a process of its own (serve.ts): jsdom's TextEncoder breaks jose's key checks here.
  let child: ChildProcess;
  let base = '';
  beforeAll(async () => {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(dirname(fileURLToPath(import.meta.url)), 'serve.ts')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const found = /listening on (\S+)/.exec(out);
        if (found !== null) resolve(found[1]!);
      });
      child.once('exit', (code) => reject(new Error(`the token server exited with ${code}: ${out}`)));
    });
  });
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  const post = async (path: string, body: unknown, token = KEY) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const tokenFor = async (customerId: string, scopes: string[]) =>
    (await post('/host/token', { customerId, scopes })).token as string;
  const wrapper =
    (customerId: string, token: string) =>
    ({ children }: { children: ReactNode }) => (
      <TallyProvider baseUrl={base} customerId={customerId} getToken={() => token}>
        {children}
      </TallyProvider>
    );

  it("reads its own customer, gets forbidden for another's, and writes only what its scopes name", async () => {
    for (const customerId of ['cus_token_own', 'cus_token_other']) {
      await post('/v1/customers', { customerId });
      await post('/v1/subscriptions', { customerId, planId: 'free' });
    }
    const readOnly = await tokenFor('cus_token_own', ['read']);
    const own = renderHook(() => useCreditAccounts(), { wrapper: wrapper('cus_token_own', readOnly) });
    await waitFor(() => expect(own.result.current.data).toBeDefined());
    expect(own.result.current.data?.[0]?.balance).toBe('100');

    const theirs = renderHook(() => useGrants(), { wrapper: wrapper('cus_token_other', readOnly) });
    await waitFor(() => expect(theirs.result.current.error).not.toBeNull());
    expect(theirs.result.current.error).toMatchObject({ code: 'forbidden', status: 403 });

    const track = renderHook(() => useTrackUsage(), { wrapper: wrapper('cus_token_own', readOnly) });
    const refused = await act(() =>
      track.result.current
        .mutateAsync({ feature: 'ai-generation', quantity: 1 })
        .catch((error: unknown) => error),
    );
    expect(refused).toMatchObject({ code: 'forbidden', status: 403 });

    const metering = await tokenFor('cus_token_own', ['read', 'trackUsage']);
    const allowed = renderHook(() => useTrackUsage(), { wrapper: wrapper('cus_token_own', metering) });
    const usage = await act(() =>
      allowed.result.current.mutateAsync({ feature: 'ai-generation', quantity: 1 }),
    );
    // One usage: the refused call wrote nothing.
    expect(usage).toMatchObject({ cost: '10', balance: '90' });

    const bad = renderHook(() => useCreditAccounts(), {
      wrapper: wrapper('cus_token_own', `${metering.slice(0, -4)}AAAA`),
    });
    await waitFor(() => expect(bad.result.current.error).not.toBeNull());
    expect(bad.result.current.error).toMatchObject({ code: 'unauthorized', status: 401 });
  });
});

describe('under StrictMode', () => {
  it('mounting twice reads and writes nothing twice: one usage for an effect keyed once, none from the reads', async () => {
    const customerId = await customer();
    const before = server.seen.length;
    let mounts = 0;
    render(
      <Wallet
        onMount={(track) => {
          mounts += 1;
          track.mutate({ feature: 'ai-generation', quantity: 1, idempotencyKey: `welcome-${customerId}` });
        }}
      />,
      // StrictMode at the root, where React 19 double-runs effects (not inside a wrapper component).
      { wrapper: provider(customerId), reactStrictMode: true },
    );
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('80'), { timeout: 5_000 });
    expect(mounts).toBe(2);
    expect(await usagesOf(customerId)).toHaveLength(2);
    const writes = server.seen.slice(before).filter((r) => r.method === 'POST' && r.path !== '/v1/check');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(writes.every((r) => r.path === '/v1/usage' && r.idempotencyKey === `welcome-${customerId}`)).toBe(
      true,
    );
    // The reads were asked for once each, not once per effect run.
    expect(server.seen.slice(before).filter((r) => r.path === '/v1/credit-accounts')).toHaveLength(
      1 + writes.length,
    );

    // A click is one call, whatever StrictMode renders twice.
    fireEvent.click(screen.getByText('Generate'));
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('70'), { timeout: 5_000 });
    expect(await usagesOf(customerId)).toHaveLength(3);
    const clicks = server.seen
      .slice(before)
      .filter((r) => r.path === '/v1/usage' && !r.idempotencyKey?.startsWith('welcome'));
    expect(clicks).toHaveLength(1);
  });
});

describe('useCheckout', () => {
  it("posts to the host's endpoint with the token and refreshes the balance after", async () => {
    const customerId = await customer();
    render(<Checkout customerId={customerId} />, { wrapper: provider(customerId) });
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('90'));
    fireEvent.click(screen.getByText('Buy 100 credits'));
    await waitFor(() => expect(screen.getByTestId('balance').textContent).toBe('190'));
    const grants = await server.ledger.grants({ customerId });
    const purchase = grants.find((g) => g.source === 'purchase');
    expect(purchase).toMatchObject({ amount: '100', paymentId: expect.stringMatching(/^pay_/) });
    expect(screen.getByTestId('grant').textContent).toBe(purchase?.grantId);
  });
});
