import { unreachable } from './errors.js';
import type { GrantSource, RecordedEvent } from './events.js';
import { decimalsOf, formatAmount, toMinor } from './money.js';

/**
 * What a statement line records: a grant, a usage, an expiry, a void, a reversal, a hold placed or
 * ended, or a debt settlement. Hold lines change `held`; hold and settlement lines leave the balance.
 *
 * @example
 * const usage = (await ledger.entries({ customerId: 'cus_123' })).filter((e) => e.kind === 'usage');
 */
export type EntryKind =
  | 'grant'
  | 'usage'
  | 'expiry'
  | 'void'
  | 'reversal'
  | 'hold'
  | 'hold_release'
  | 'debt_settlement';

/**
 * One line of a customer's statement in one currency, with the running balance after it, so a
 * statement can be shown without any arithmetic.
 *
 * @example
 * for (const e of await ledger.entries({ customerId: 'cus_123', currency: 'credits' })) {
 *   console.log(e.at, e.kind, e.amount, e.balance); // e.g. 2025-01-02T10:00:00.000Z usage -10 90
 * }
 */
export interface LedgerEntry {
  /** Stable across reads: the id of the event it comes from. */
  readonly entryId: string;
  readonly kind: EntryKind;
  readonly currency: string;
  /** Signed change of the balance ('+100', no: '100' or '-10'); holds and settlements move 0. */
  readonly amount: string;
  /** Running balance after this entry. */
  readonly balance: string;
  /** Change of the held amount (holds reserve without moving the balance). */
  readonly held: string;
  /** Change of the overdraft owed: up when a usage goes into debt, down when debt is settled or reversed. */
  readonly debt: string;
  readonly at: string;
  readonly grantId: string | null;
  readonly usageId: string | null;
  readonly holdId: string | null;
  readonly feature: string | null;
  readonly quantity: number | null;
  readonly source: GrantSource | null;
  readonly reason: string | null;
}

type Line = Omit<LedgerEntry, 'balance' | 'amount' | 'held' | 'debt'> & {
  debt: bigint;
  amount: bigint;
  held: bigint;
  atMs: number;
  seq: number;
};

/**
 * The statement of one currency up to `toMs`, oldest first, with a running balance. A grant is dated
 * when it becomes effective, so a future top-up appears when it starts to count; everything else is
 * dated when it happened. The last running balance equals the account's balance at `toMs`.
 *
 * @example
 * const lines = ledgerEntries(events, 'credits', Date.now());
 * const balance = lines.at(-1)?.balance ?? '0';
 */
export function ledgerEntries(
  events: readonly RecordedEvent[],
  currency: string,
  toMs: number,
): LedgerEntry[] {
  const lines: Line[] = [];
  const effectiveAt = new Map<string, string>();
  let decimals: number | null = null;
  const base = {
    grantId: null,
    usageId: null,
    holdId: null,
    feature: null,
    quantity: null,
    source: null,
    reason: null,
  };
  const push = (
    event: RecordedEvent,
    kind: EntryKind,
    amount: string,
    at: string,
    extra: Partial<Line>,
    held = 0n,
    debt = 0n,
  ) => {
    decimals ??= decimalsOf(amount);
    const sign = kind === 'usage' || kind === 'expiry' || kind === 'void' ? -1n : 1n;
    const moves =
      kind === 'hold' || kind === 'hold_release' || kind === 'debt_settlement' ? 0n : sign * toMinor(amount);
    lines.push({
      ...base,
      ...extra,
      entryId: event.id,
      kind,
      currency,
      amount: moves,
      held,
      debt,
      at,
      atMs: Date.parse(at),
      seq: lines.length,
    });
  };
  for (const event of events) {
    if ('currency' in event.data && event.data.currency !== currency) continue;
    switch (event.type) {
      case 'credits_granted':
        effectiveAt.set(event.data.grantId, event.data.effectiveAt);
        push(event, 'grant', event.data.amount, event.data.effectiveAt, {
          grantId: event.data.grantId,
          source: event.data.source,
        });
        break;
      case 'credits_deducted':
        push(
          event,
          'usage',
          event.data.cost,
          event.at,
          {
            usageId: event.data.usageId,
            feature: event.data.feature,
            quantity: event.data.quantity,
            holdId: event.data.holdId,
          },
          0n,
          toMinor(event.data.debt),
        );
        break;
      case 'grant_expired':
        // An early expiry also ends grants already spent (so a reversal cannot revive them): that moves
        // nothing, and is no line of the statement.
        if (toMinor(event.data.amount) !== 0n)
          push(event, 'expiry', event.data.amount, event.at, { grantId: event.data.grantId });
        break;
      case 'grant_voided': {
        // Voiding a grant that has not started yet takes effect, in the statement, when it would have.
        const starts = effectiveAt.get(event.data.grantId) ?? event.at;
        push(event, 'void', event.data.amount, starts > event.at ? starts : event.at, {
          grantId: event.data.grantId,
          reason: event.data.reason,
        });
        break;
      }
      case 'usage_reversed': {
        let returned = toMinor(event.data.debtCleared);
        for (const r of event.data.restored) returned += toMinor(r.amount);
        const d = decimalsOf(event.data.debtCleared);
        push(
          event,
          'reversal',
          formatAmount(returned, d),
          event.at,
          { usageId: event.data.usageId, reason: event.data.reason },
          0n,
          -toMinor(event.data.debtCleared),
        );
        break;
      }
      case 'credits_held':
        push(
          event,
          'hold',
          event.data.amount,
          event.at,
          { holdId: event.data.holdId, feature: event.data.feature, quantity: event.data.quantity },
          toMinor(event.data.amount),
        );
        break;
      case 'hold_released':
        push(
          event,
          'hold_release',
          event.data.amount,
          event.at,
          { holdId: event.data.holdId, reason: event.data.reason },
          -toMinor(event.data.amount),
        );
        break;
      case 'debt_settled':
        push(event, 'debt_settlement', event.data.amount, event.at, {}, 0n, -toMinor(event.data.amount));
        break;
      // No money moves: the limit shows on the account, the rest on the customer and its subscriptions.
      case 'credit_limit_set':
      case 'customer_created':
      case 'subscription_activated':
      case 'subscription_created':
      case 'payment_confirmed':
      case 'subscription_renewed':
      case 'subscription_canceled':
      // Alerts are about the balance; they move none of it.
      case 'balance_alert_set':
      case 'balance_alert_triggered':
      case 'balance_alert_rearmed':
      case 'credits_expiring':
      // The purchase's credit is its credits_granted; these record why and when.
      case 'auto_top_up_set':
      case 'auto_top_up_requested':
      case 'auto_top_up_failed':
      case 'auto_top_up_completed':
        break;
      default:
        unreachable(event);
    }
  }
  const d = decimals ?? 0;
  let balance = 0n;
  return lines
    .filter((line) => line.atMs <= toMs)
    .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)
    .map(({ atMs: _atMs, seq: _seq, amount, held, debt, ...line }) => {
      balance += amount;
      return {
        ...line,
        amount: formatAmount(amount, d),
        held: formatAmount(held, d),
        debt: formatAmount(debt, d),
        balance: formatAmount(balance, d),
      };
    });
}
