import { unreachable } from './errors.js';
import type { GrantSource, RecordedEvent } from './events.js';
import { decimalsOf, formatAmount, toMinor } from './money.js';

/**
 * What a statement line records: a grant, a usage, an expiry, a void, a reversal, a hold placed or
 * ended, or a debt settlement. Hold lines change `held`; hold and settlement lines leave the balance.
 *
 * @example
 * const { data } = await ledger.entries({ customerId: 'cus_123' });
 * const usage = data.filter((e) => e.kind === 'usage');
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
 * const { data } = await ledger.entries({ customerId: 'cus_123', currency: 'credits' });
 * for (const e of data) {
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

/**
 * One event's line in its currency's statement, amounts still in minor units and without the running
 * balance; null for an event that moves nothing (a customer created, a limit set, an expiry of nothing).
 * A line is dated when its event happened, except a grant (when it becomes effective); the statement
 * dates the void of a grant that had not started yet at the grant's start (see `ledgerEntries`).
 *
 * @example
 * const line = entryLine(event); // { kind: 'usage', amount: -10n, currency: 'credits', ... }
 */
export interface EntryLine extends Omit<LedgerEntry, 'balance' | 'amount' | 'held' | 'debt'> {
  readonly amount: bigint;
  readonly held: bigint;
  readonly debt: bigint;
  readonly atMs: number;
  /** Places of the amounts the event was written with. */
  readonly decimals: number;
}

const base = {
  grantId: null,
  usageId: null,
  holdId: null,
  feature: null,
  quantity: null,
  source: null,
  reason: null,
} as const;

/**
 * The statement line `event` makes, or null if it moves nothing.
 *
 * @example
 * const lines = events.map((event) => entryLine(event)).filter((line) => line !== null);
 */
export function entryLine(event: RecordedEvent): EntryLine | null {
  const line = (
    kind: EntryKind,
    amount: string,
    at: string,
    extra: Partial<EntryLine>,
    held = 0n,
    debt = 0n,
  ): EntryLine => {
    const sign = kind === 'usage' || kind === 'expiry' || kind === 'void' ? -1n : 1n;
    const moves =
      kind === 'hold' || kind === 'hold_release' || kind === 'debt_settlement' ? 0n : sign * toMinor(amount);
    return {
      ...base,
      ...extra,
      entryId: event.id,
      kind,
      currency: (event.data as { currency: string }).currency,
      amount: moves,
      held,
      debt,
      at,
      atMs: Date.parse(at),
      decimals: decimalsOf(amount),
    };
  };
  switch (event.type) {
    case 'credits_granted':
      return line('grant', event.data.amount, event.data.effectiveAt, {
        grantId: event.data.grantId,
        source: event.data.source,
      });
    case 'credits_deducted':
      return line(
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
    case 'grant_expired':
      // An early expiry also ends grants already spent (so a reversal cannot revive them): that moves
      // nothing, and is no line of the statement.
      return toMinor(event.data.amount) === 0n
        ? null
        : line('expiry', event.data.amount, event.at, { grantId: event.data.grantId });
    case 'grant_voided':
      return line('void', event.data.amount, event.at, {
        grantId: event.data.grantId,
        reason: event.data.reason,
      });
    case 'usage_reversed': {
      let returned = toMinor(event.data.debtCleared);
      for (const r of event.data.restored) returned += toMinor(r.amount);
      const d = decimalsOf(event.data.debtCleared);
      return line(
        'reversal',
        formatAmount(returned, d),
        event.at,
        { usageId: event.data.usageId, reason: event.data.reason },
        0n,
        -toMinor(event.data.debtCleared),
      );
    }
    case 'credits_held':
      return line(
        'hold',
        event.data.amount,
        event.at,
        { holdId: event.data.holdId, feature: event.data.feature, quantity: event.data.quantity },
        toMinor(event.data.amount),
      );
    case 'hold_released':
      return line(
        'hold_release',
        event.data.amount,
        event.at,
        { holdId: event.data.holdId, reason: event.data.reason },
        -toMinor(event.data.amount),
      );
    case 'debt_settled':
      return line('debt_settlement', event.data.amount, event.at, {}, 0n, -toMinor(event.data.amount));
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
      return null;
    default:
      return unreachable(event);
  }
}

/** `line` dated at `atMs` instead (a deferred void shows when its grant would have started). */
export const lineAt = (line: EntryLine, atMs: number): EntryLine =>
  atMs === line.atMs ? line : { ...line, at: new Date(atMs).toISOString(), atMs };

/**
 * A line as a read returns it, with the running balance after it, amounts in `decimals` places.
 *
 * @example
 * const line = entryLine(event);
 * if (line !== null) console.log(formatLine(line, line.amount, 0)); // the first line: its balance is its amount
 */
export function formatLine(line: EntryLine, balance: bigint, decimals: number): LedgerEntry {
  const { atMs: _atMs, decimals: _d, amount, held, debt, ...rest } = line;
  return {
    ...rest,
    amount: formatAmount(amount, decimals),
    held: formatAmount(held, decimals),
    debt: formatAmount(debt, decimals),
    balance: formatAmount(balance, decimals),
  };
}

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
  const lines: { line: EntryLine; seq: number }[] = [];
  const effectiveAtMs = new Map<string, number>();
  for (const event of events) {
    if ('currency' in event.data && event.data.currency !== currency) continue;
    let line = entryLine(event);
    if (line === null) continue;
    if (event.type === 'credits_granted') effectiveAtMs.set(event.data.grantId, line.atMs);
    if (event.type === 'grant_voided') {
      // Voiding a grant that has not started yet takes effect, in the statement, when it would have.
      const starts = effectiveAtMs.get(event.data.grantId) ?? line.atMs;
      if (starts > line.atMs) line = lineAt(line, starts);
    }
    lines.push({ line, seq: lines.length });
  }
  const d = lines[0]?.line.decimals ?? 0;
  let balance = 0n;
  return lines
    .filter(({ line }) => line.atMs <= toMs)
    .sort((a, b) => a.line.atMs - b.line.atMs || a.seq - b.seq)
    .map(({ line }) => {
      balance += line.amount;
      return formatLine(line, balance, d);
    });
}
