import { type Catalog, isPaid } from './catalog/index.js';
import { formatAmount, minBig, toMinor } from './money.js';
import type { Recorder } from './recorder.js';
import type { CustomerState, SubscriptionState } from './state.js';
import { cycleStart, iso } from './time.js';

/**
 * A subscription's cycles: when the next one starts, what it grants, and what a paid one that is not
 * paid in time takes back. Every event here has an id derived from what it is, so a read and the
 * write that follows it record the same events.
 */

const DAY_MS = 86_400_000;

/** When the subscription's next cycle starts, or null: it has ended, or it has not started yet. */
export function nextBoundary(sub: SubscriptionState): number | null {
  if (sub.anchorMs === null) return null;
  const boundary = cycleStart(sub.anchorMs, sub.interval, sub.cycle + 1);
  return boundary < sub.endsAtMs ? boundary : null;
}

/** When cycle `cycle` of the subscription ends (its plan credits expire then). */
export const cycleEnd = (sub: SubscriptionState, cycle: number): number =>
  cycleStart(sub.anchorMs!, sub.interval, cycle + 1);

/**
 * When the grace period of the current cycle ends with the cycle still unpaid and credits granted up
 * front still in play, or null: nothing to take back.
 */
export function graceEndDue(state: CustomerState, sub: SubscriptionState): number | null {
  if (sub.anchorMs === null || sub.paidCycle >= sub.cycle || sub.gracePeriodDays === 0) return null;
  const graceEnd = cycleStart(sub.anchorMs, sub.interval, sub.cycle) + sub.gracePeriodDays * DAY_MS;
  if (graceEnd >= cycleEnd(sub, sub.cycle) || graceEnd >= sub.endsAtMs) return null;
  const upFront = cyclePlanGrantIds(sub, sub.cycle);
  return upFront.some((id) => (state.grants.get(id)?.remaining ?? 0n) > 0n) ? graceEnd : null;
}

/** The credits a paid cycle granted up front, expired at its grace end because it was not paid. */
export function expireUnpaidCycle(recorder: Recorder, sub: SubscriptionState, at: string): void {
  for (const grantId of cyclePlanGrantIds(sub, sub.cycle)) {
    const grant = recorder.state.grants.get(grantId);
    if (grant === undefined || grant.remaining === 0n) continue;
    recorder.record(
      {
        type: 'grant_expired',
        data: {
          grantId,
          currency: grant.currency,
          amount: formatAmount(grant.remaining, recorder.state.accounts.get(grant.currency)!.decimals),
        },
      },
      `${grantId}:unpaid`,
      at,
    );
  }
}

/** Unused credit of each rollover rule's current cycle (plan grant plus what rolled into it), capped at `max`. */
export function rolloverCarries(state: CustomerState, sub: SubscriptionState): Map<number, bigint> {
  const carries = new Map<number, bigint>();
  sub.rules.forEach((rule, ruleIndex) => {
    if (rule.rollover === null) return;
    let unused = 0n;
    for (const grant of state.accounts.get(rule.currency)?.live ?? []) {
      if (
        grant.subscriptionId === sub.subscriptionId &&
        grant.cycle === sub.cycle &&
        grant.ruleIndex === ruleIndex
      ) {
        unused += grant.remaining;
      }
    }
    const carry = minBig(unused, toMinor(rule.rollover.max));
    if (carry > 0n) carries.set(ruleIndex, carry);
  });
  return carries;
}

/**
 * Starts cycle `cycle` at a boundary: the renewal (adopting a plan version published for renewals,
 * if one is in force), then the cycle's plan grants if it needs no payment or has a grace period (a
 * paid cycle without one waits for `confirmPayment`), then the credit rolled over from the last cycle,
 * which was paid for already.
 */
export function renew(
  recorder: Recorder,
  sub: SubscriptionState,
  cycle: number,
  carries: ReadonlyMap<number, bigint>,
  at: string,
  catalog: Catalog | undefined,
): void {
  const atMs = Date.parse(at);
  const adopted = catalog?.renewalTerms(sub.planId, sub.planVersion, atMs) ?? null;
  const paid = !isPaid(adopted ?? sub);
  recorder.record(
    {
      type: 'subscription_renewed',
      data: {
        subscriptionId: sub.subscriptionId,
        cycle,
        periodEnd: iso(cycleEnd(sub, cycle)),
        terms: adopted,
        paid,
      },
    },
    `${sub.subscriptionId}:c${cycle}:renewed`,
    at,
  );
  grantCycle(recorder, sub, cycle, at, { plan: paid || sub.gracePeriodDays > 0, carries });
}

/**
 * Records a cycle's grants, effective at `at` and (for rules that expire) expiring at the cycle's
 * end: the plan grant of each rule when `plan`, then the rolled-over credit. Activation and a late
 * payment use it too, so every cycle grants the same way.
 */
export function grantCycle(
  recorder: Recorder,
  sub: SubscriptionState,
  cycle: number,
  at: string,
  what: {
    readonly plan: boolean;
    readonly carries: ReadonlyMap<number, bigint>;
    /** A payment after the grace period took the up-front grants back: these get ids of their own. */
    readonly late?: boolean;
  },
): string[] {
  const periodEnd = iso(cycleEnd(sub, cycle));
  const made: string[] = [];
  const grantRule = (ruleIndex: number, amount: string, source: 'plan' | 'rollover', suffix: Suffix) => {
    const rule = sub.rules[ruleIndex]!;
    const grantId = planGrantId(sub.subscriptionId, cycle, suffix, ruleIndex);
    recorder.record(
      {
        type: 'credits_granted',
        data: {
          grantId,
          currency: rule.currency,
          amount,
          priority: rule.priority,
          source,
          effectiveAt: at,
          expiresAt: rule.expires === 'cycle_end' ? periodEnd : null,
          subscriptionId: sub.subscriptionId,
          cycle,
          ruleIndex,
          metadata: {},
          // A rolled-over remainder keeps its scope.
          appliesTo: rule.appliesTo,
          price: null,
          paymentId: null,
        },
      },
      `${grantId}:granted`,
      at,
    );
    made.push(grantId);
  };
  if (what.plan)
    sub.rules.forEach((rule, ruleIndex) => {
      grantRule(ruleIndex, rule.amount, 'plan', what.late === true ? 'p' : 'g');
    });
  for (const [ruleIndex, carry] of what.carries) {
    const decimals = recorder.state.accounts.get(sub.rules[ruleIndex]!.currency)!.decimals;
    grantRule(ruleIndex, formatAmount(carry, decimals), 'rollover', 'r');
  }
  return made;
}

/** A cycle's grant of a rule: the plan grant (`g`), one paid after its grace period (`p`), a rollover (`r`). */
type Suffix = 'g' | 'p' | 'r';

/** The id of a cycle's grant of a rule: derived, so it never repeats. */
const planGrantId = (subscriptionId: string, cycle: number, suffix: Suffix, ruleIndex: number): string =>
  `${subscriptionId}_c${cycle}_${suffix}${ruleIndex}`;

/** The plan grants of a cycle, one per rule (rollovers aside). */
const cyclePlanGrantIds = (sub: SubscriptionState, cycle: number): string[] =>
  sub.rules.map((_, i) => planGrantId(sub.subscriptionId, cycle, 'g', i));

/**
 * Every grant a cycle of a subscription can have made: its rules' plan grants (first, one per rule),
 * those of a payment after the grace period, then the rollovers.
 */
export function planGrantIds(sub: SubscriptionState, cycle: number): string[] {
  const ids = cyclePlanGrantIds(sub, cycle);
  sub.rules.forEach((_, i) => {
    ids.push(planGrantId(sub.subscriptionId, cycle, 'p', i));
  });
  sub.rules.forEach((rule, i) => {
    if (rule.rollover !== null) ids.push(planGrantId(sub.subscriptionId, cycle, 'r', i));
  });
  return ids;
}
