import { settleDebt } from '../debt.js';
import type { Recorder } from '../recorder.js';
import type { DecideContext } from './context.js';

/** After a decision that may have brought credit, pay down any debt with it. */
export function settleAll(recorder: Recorder, context: DecideContext): void {
  for (const account of recorder.state.accounts.values()) {
    if (account.debt > 0n)
      settleDebt(recorder, account.currency, context.nowMs, context.now, context.newId('evt'));
  }
}
