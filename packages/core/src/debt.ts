import { allocate, spendableGrants } from './consumption-order.js';
import { formatAmount } from './money.js';
import type { Recorder } from './recorder.js';

/**
 * Pays an account's overdraft from whatever live credit it has, in consumption order. Called after
 * anything that can bring credit (a grant becoming effective, a reversal), so debt never sits beside
 * spendable credit.
 */
export function settleDebt(recorder: Recorder, currency: string, atMs: number, at: string, id: string): void {
  const account = recorder.state.accounts.get(currency);
  if (account === undefined || account.debt === 0n) return;
  const { allocations, shortfall } = allocate(spendableGrants(account, atMs), account.debt);
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
