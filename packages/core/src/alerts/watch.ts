import { formatAmount, toMinor } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { AccountState, CustomerState, GrantState } from '../state.js';
import { iso } from '../time.js';
import { accountFigures } from '../views.js';
import type { AlertThreshold } from './events.js';
import type { AlertRuleState } from './state.js';

/**
 * Where the facts a watch records get their ids: a decision gives fresh ones, `advance` derives them
 * from what they are and the instant, so a read and the write after it make the same events.
 */
export type WatchIds = (what: string) => string;

/** balance − held at `atMs`: what an alert watches and a top-up refills. */
export function availableOf(account: AccountState, atMs: number): bigint {
  return accountFigures(account, atMs, null).balance - account.held;
}

/** A threshold's value now: its amount, or its percentage of the credit granted in the cycle (rounded down). */
export function thresholdMinor(threshold: AlertThreshold, account: AccountState): bigint {
  if (threshold.amount !== null) return toMinor(threshold.amount);
  const basisPoints = BigInt(Math.round((threshold.percent ?? 0) * 100));
  return (account.granted * basisPoints) / 10_000n;
}

/** The thresholds `available` is below now, by key. */
export function thresholdsBelow(
  rule: Pick<AlertRuleState, 'thresholds'>,
  account: AccountState,
  available: bigint,
): string[] {
  return rule.thresholds.filter((t) => available < thresholdMinor(t, account)).map((t) => t.key);
}

/**
 * When the grant's `credits_expiring` is due under `rule`, or null if it never is (nothing left,
 * never expires, already noticed): `expiringWithin` before the expiry, not before it is effective.
 */
export function noticeDueAt(rule: AlertRuleState, grant: GrantState): number | null {
  if (rule.expiringWithinMs === null || grant.remaining <= 0n || !Number.isFinite(grant.expiresAtMs))
    return null;
  if (rule.noticed.has(grant.grantId)) return null;
  return Math.max(grant.expiresAtMs - rule.expiringWithinMs, grant.effectiveAtMs);
}

/**
 * Records what the customer's alerts make due at `atMs` on the state as it is now: a threshold the
 * available balance has fallen below fires, one it is back at or above re-arms, a grant entering its
 * notice window is noticed. Pure, and run after every decision and at every instant `advance`
 * processes, so every change of the available balance is looked at exactly once.
 */
export function watchAlerts(recorder: Recorder, atMs: number, ids: WatchIds): void {
  const state = recorder.state;
  if (state.alerts.size === 0) return;
  const at = iso(atMs);
  for (const rule of [...state.alerts.values()]) {
    const account = state.accounts.get(rule.currency);
    // No account, no balance to cross yet: what it was when the alert was set stands.
    if (account === undefined) continue;
    const available = availableOf(account, atMs);
    const d = account.decimals;
    for (const threshold of rule.thresholds) {
      const value = thresholdMinor(threshold, account);
      const below = available < value;
      if (below === rule.below.has(threshold.key)) continue;
      const data = {
        currency: rule.currency,
        threshold: threshold.key,
        amount: formatAmount(value, d),
        available: formatAmount(available, d),
      };
      const type = below ? 'balance_alert_triggered' : 'balance_alert_rearmed';
      recorder.record({ type, data }, ids(`${rule.currency}:${type}:${threshold.key}`), at);
    }
    const due = account.live
      .filter((grant) => {
        const noticeAt = noticeDueAt(rule, grant);
        return noticeAt !== null && noticeAt <= atMs && grant.expiresAtMs > atMs;
      })
      .sort((a, b) => (a.grantId < b.grantId ? -1 : 1));
    for (const grant of due) {
      recorder.record(
        {
          type: 'credits_expiring',
          data: {
            grantId: grant.grantId,
            currency: grant.currency,
            amount: formatAmount(grant.remaining, d),
            expiresAt: iso(grant.expiresAtMs),
          },
        },
        ids(`${grant.grantId}:expiring`),
        at,
      );
    }
  }
}

/**
 * The next instant after `afterMs` at which the alerts have something to look at that no event
 * marks: a notice window opening, or a grant becoming effective (the balance rises without an event).
 */
export function nextAlertInstant(state: CustomerState, afterMs: number): number | null {
  let next = Number.POSITIVE_INFINITY;
  for (const rule of state.alerts.values()) {
    const account = state.accounts.get(rule.currency);
    if (account === undefined) continue;
    for (const grant of account.live) {
      const noticeAt = noticeDueAt(rule, grant);
      if (noticeAt !== null && noticeAt > afterMs && noticeAt < next) next = noticeAt;
      if (rule.thresholds.length > 0 && grant.effectiveAtMs > afterMs && grant.effectiveAtMs < next)
        next = grant.effectiveAtMs;
    }
  }
  return Number.isFinite(next) ? next : null;
}
