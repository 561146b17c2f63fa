import type { CreditAccount, LedgerEntry } from '@tally/core';
import {
  Gate,
  TallyClientError,
  useCreditAccounts,
  useLedger,
  useTallyRefresh,
  useTopUp,
} from '@tally/react';
import { useMutation } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { BalanceChart } from './chart.js';

const FEATURE = 'ai-generation';

/** A JSON POST to the service's own endpoints; the session cookie says who is asking. */
async function post<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok) {
    throw new TallyClientError(
      (json?.error?.code ?? 'internal_error') as TallyClientError['code'],
      json?.error?.message ?? `HTTP ${res.status}`,
      { status: res.status },
    );
  }
  return json as T;
}

/** A request id per click: the service's idempotency key is made from it, so a retry is charged once. */
const requestId = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

function Accounts({ accounts }: { accounts: readonly CreditAccount[] }): ReactNode {
  if (accounts.length === 0) return <p>No credits yet.</p>;
  return (
    <div className="accounts">
      {accounts.map((account) => (
        <div key={account.currency} className="account">
          <div className="label">{account.currency}</div>
          <div className="balance" data-testid={account.currency === 'credits' ? 'balance' : undefined}>
            {account.balance}
          </div>
          <div className="detail">
            available {account.available}
            {account.held !== '0' && <> · held {account.held}</>}
            {account.debt !== '0' && <> · owed {account.debt}</>}
          </div>
          {account.scoped.map((part) => (
            <div key={part.features.join(',')} className="detail">
              {part.balance} only for {part.features.join(', ')}
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}

const what = (e: LedgerEntry): string =>
  e.kind === 'usage'
    ? `${e.feature ?? 'usage'} × ${e.quantity ?? 1}`
    : e.kind === 'grant'
      ? `grant (${e.source ?? 'manual'})`
      : e.kind.replace('_', ' ');

function Ledger({ entries }: { entries: readonly LedgerEntry[] }): ReactNode {
  return (
    <table className="ledger">
      <thead>
        <tr>
          <th>When</th>
          <th>What</th>
          <th className="num">Amount</th>
          <th className="num">Balance</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.entryId} data-testid="ledger-row">
            <td>{new Date(e.at).toLocaleString('en-GB', { timeZone: 'UTC' })}</td>
            <td>{what(e)}</td>
            <td className={`num ${e.amount.startsWith('-') ? 'debit' : 'credit'}`}>
              {e.amount.startsWith('-') || e.amount === '0' ? e.amount : `+${e.amount}`}
            </td>
            <td className="num">{e.balance}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The metered feature: the service checks, does the work and records the usage. */
function Generate(): ReactNode {
  const refresh = useTallyRefresh();
  const generate = useMutation<{ output: string; balance: string }, TallyClientError, string>({
    mutationFn: (prompt) => post('/ai/generate', { prompt }, { 'x-request-id': requestId() }),
    onSettled: () => refresh(),
  });
  return (
    <div className="action">
      <Gate
        feature={FEATURE}
        quantity={1}
        loading={
          <button type="button" disabled>
            Generate
          </button>
        }
        fallback={
          <p className="closed" data-testid="gate-closed">
            Out of credits: buy more to generate.
          </p>
        }
      >
        <button
          type="button"
          data-testid="generate"
          disabled={generate.isPending}
          onClick={() => generate.mutate('a lighthouse at dusk')}
        >
          Generate (10 credits)
        </button>
      </Gate>
      {generate.data && <p data-testid="output">{generate.data.output}</p>}
      {generate.error && <p className="error">{generate.error.code}</p>}
    </div>
  );
}

function Buy(): ReactNode {
  const buy = useTopUp(() => post<{ grantId: string }>('/demo/purchase', {}));
  return (
    <div className="action">
      <button type="button" data-testid="buy" disabled={buy.isPending} onClick={() => buy.mutate()}>
        Buy 100 credits
      </button>
      {buy.error && <p className="error">{buy.error.code}</p>}
    </div>
  );
}

/** The signed-in customer's credits: balance, the two actions, the chart and the statement. */
export function App({ customerId }: { customerId: string }): ReactNode {
  const accounts = useCreditAccounts();
  const ledger = useLedger({ currency: 'credits', pageSize: 100 });
  const error = accounts.error ?? ledger.error;
  return (
    <main>
      <header>
        <h1>Your credits</h1>
        <span className="who">signed in as {customerId}</span>
      </header>
      {error && <p className="error">Could not load your credits ({error.code})</p>}
      {accounts.isLoading ? <p>Loading…</p> : <Accounts accounts={accounts.data ?? []} />}
      <section className="actions">
        <Generate />
        <Buy />
      </section>
      <section>
        <h2>Balance over time</h2>
        <BalanceChart entries={ledger.data ?? []} />
      </section>
      <section>
        <h2>Ledger</h2>
        {ledger.data && <Ledger entries={ledger.data} />}
        {ledger.hasMore && (
          <button type="button" onClick={ledger.loadMore} disabled={ledger.isLoadingMore}>
            Older entries
          </button>
        )}
      </section>
    </main>
  );
}
