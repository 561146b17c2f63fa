import type { GrantSource, RecordedEvent } from '../events.js';
import { formatAmount, toMinor } from '../money.js';

/**
 * What a customer spent over a window, in one currency: what usage charged, what reversals gave
 * back, and the difference, the credits spent net of reversals.
 *
 * @example
 * const [credits] = (await ledger.usageSummary({ customerId: 'cus_123', from: '2025-03-01', to: '2025-04-01', groupBy: 'feature' })).totals;
 * console.log(credits?.spent); // e.g. '420'
 */
export interface UsageTotal {
  readonly currency: string;
  /** charged - reversed. */
  readonly spent: string;
  /** What the usages of the window cost. */
  readonly charged: string;
  /** What the reversals of the window returned (to grants, or off the debt). */
  readonly reversed: string;
  /** Usages recorded in the window. */
  readonly usages: number;
  /** Reversals recorded in the window. */
  readonly reversals: number;
}

/**
 * Spending of one feature or one period, with the grants it came out of (a burn-down).
 *
 * @example
 * const summary = await ledger.usageSummary({ customerId: 'cus_123', from: '2025-03-01', to: '2025-04-01', groupBy: 'feature' });
 * for (const group of summary.groups) console.log(group.key, group.spent, group.grants.map((g) => g.grantId));
 */
export interface UsageGroup extends UsageTotal {
  /** The feature (null: amounts charged without one), or the period's UTC day (2025-03-14) or month (2025-03). */
  readonly key: string | null;
  /** Net spending per grant, largest first; `grantId: null` is what went into overdraft. */
  readonly grants: readonly GrantSpending[];
}

/**
 * What one grant paid for in a group, net of what reversals put back into it.
 *
 * @example
 * const { groups } = await ledger.usageSummary({ customerId: 'cus_123', from: '2025-03-01', to: '2025-04-01', groupBy: 'day' });
 * const fromPromotions = groups.flatMap((group) => group.grants.filter((g) => g.source === 'promotion'));
 */
export interface GrantSpending {
  /** null: the part no grant covered (overdraft), net of the debt reversals cleared. */
  readonly grantId: string | null;
  readonly source: GrantSource | null;
  readonly spent: string;
}

/**
 * The answer of `ledger.usageSummary`: totals per currency and the groups asked for, each in one
 * currency, in key order.
 *
 * @example
 * const summary: UsageSummary = await ledger.usageSummary({ customerId: 'cus_123', from: '2025-03-01', to: '2025-04-01', groupBy: 'month' });
 */
export interface UsageSummary {
  readonly customerId: string;
  readonly from: string;
  readonly to: string;
  readonly groupBy: 'feature' | 'day' | 'month';
  readonly totals: readonly UsageTotal[];
  readonly groups: readonly UsageGroup[];
}

interface Tally {
  charged: bigint;
  reversed: bigint;
  usages: number;
  reversals: number;
  readonly grants: Map<string | null, bigint>;
}

const tally = (): Tally => ({ charged: 0n, reversed: 0n, usages: 0, reversals: 0, grants: new Map() });
const add = (map: Map<string | null, bigint>, key: string | null, amount: bigint) =>
  map.set(key, (map.get(key) ?? 0n) + amount);

/**
 * Sums usages and reversals as they are handed in (a window of the stream, in order), by currency and
 * by the group's key: memory grows with the groups, not the events.
 *
 * @example
 * const spending = new UsageTally('feature', null);
 * for (const event of events) spending.add(event);
 */
export class UsageTally {
  private readonly totals = new Map<string, Tally>();
  private readonly groups = new Map<string, { key: string | null; currency: string; tally: Tally }>();
  /** Grants the window names, for their sources. */
  readonly grantIds = new Set<string>();

  constructor(
    private readonly groupBy: UsageSummary['groupBy'],
    private readonly currency: string | null,
  ) {}

  add(event: RecordedEvent): void {
    if (event.type !== 'credits_deducted' && event.type !== 'usage_reversed') return;
    const { currency, feature } = event.data;
    if (this.currency !== null && currency !== this.currency) return;
    const key = this.groupBy === 'feature' ? feature : event.at.slice(0, this.groupBy === 'day' ? 10 : 7);
    const groupId = JSON.stringify([currency, key]);
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { key, currency, tally: tally() };
      this.groups.set(groupId, group);
    }
    let total = this.totals.get(currency);
    if (total === undefined) {
      total = tally();
      this.totals.set(currency, total);
    }
    for (const t of [group.tally, total]) {
      if (event.type === 'credits_deducted') {
        t.charged += toMinor(event.data.cost);
        t.usages += 1;
        for (const a of event.data.allocations) add(t.grants, a.grantId, toMinor(a.amount));
        add(t.grants, null, toMinor(event.data.debt));
      } else {
        let returned = toMinor(event.data.debtCleared);
        for (const r of event.data.restored) {
          returned += toMinor(r.amount);
          add(t.grants, r.grantId, -toMinor(r.amount));
        }
        add(t.grants, null, -toMinor(event.data.debtCleared));
        t.reversed += returned;
        t.reversals += 1;
      }
    }
    if (event.type === 'credits_deducted')
      for (const a of event.data.allocations) this.grantIds.add(a.grantId);
    else for (const r of event.data.restored) this.grantIds.add(r.grantId);
  }

  /** The totals and groups, amounts in each currency's places, grants' sources from `sourceOf`. */
  result(
    decimals: (currency: string) => number,
    sourceOf: (grantId: string) => GrantSource | null,
  ): Pick<UsageSummary, 'totals' | 'groups'> {
    const totalOf = (currency: string, t: Tally): UsageTotal => {
      const d = decimals(currency);
      return {
        currency,
        spent: formatAmount(t.charged - t.reversed, d),
        charged: formatAmount(t.charged, d),
        reversed: formatAmount(t.reversed, d),
        usages: t.usages,
        reversals: t.reversals,
      };
    };
    const totals = [...this.totals]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([currency, t]) => totalOf(currency, t));
    const groups = [...this.groups.values()]
      .sort((a, b) => compare(a.key, b.key) || compare(a.currency, b.currency))
      .map(({ key, currency, tally: t }) => ({
        ...totalOf(currency, t),
        key,
        grants: [...t.grants]
          .filter(([grantId, amount]) => amount !== 0n || grantId !== null)
          .sort(([ga, a], [gb, b]) => (a === b ? compare(ga, gb) : a > b ? -1 : 1))
          .map(([grantId, amount]) => ({
            grantId,
            source: grantId === null ? null : sourceOf(grantId),
            spent: formatAmount(amount, decimals(currency)),
          })),
      }));
    return { totals, groups };
  }
}

/** Nulls first, then code-unit order (locale-free, so every process sorts alike). */
function compare(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
