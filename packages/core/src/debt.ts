import { allocate, spendableGrants } from './consumption-order.js';
import { formatAmount } from './money.js';
import type { Recorder } from './recorder.js';

/**
 * Pays an account's overdraft from whatever unscoped live credit it has, in consumption order. Called
 * after anything that can bring credit (a grant becoming effective, a reversal), so debt never sits
 * beside credit that could pay it. Scoped credit never pays debt: it is only ever spent on its features.
 */
export function settleDebt(recorder: Recorder, currency: string, atMs: number, at: string, id: string): void {
  const account = recorder.state.accounts.get(currency);
  if (account === undefined || account.debt === 0n) return;
  const { allocations, shortfall } = allocate(spendableGrants(account, atMs, null), account.debt);
  const amount = account.debt - shortfall;
  if (amount === 0n) return;
  recorder.record(
    {
      type: 'debt_settled',
      data: {
        currency,
        amount: formatAmount(amount, account.decimals),
        allocations: allocations.map((a) => ({
          grantId: a.grant.grantId,
          amount: formatAmount(a.amount, account.decimals),
        })),
      },
    },
    id,
    at,
  );
}
