import type { AlertEvent, AlertThreshold } from './events.js';

/**
 * A balance alert on one currency, as the stream folds it: what is watched, and what has fired.
 * The flags change only through events (`balance_alert_triggered`, `_rearmed`, `credits_expiring`),
 * so a replay, a snapshot and the live path agree on what fires next.
 *
 * @example
 * const rule = fold(events).alerts.get('credits'); // { thresholds, below: Set { 'amount:100' }, ... }
 */
export interface AlertRuleState {
  readonly currency: string;
  readonly thresholds: readonly AlertThreshold[];
  readonly expiringWithinMs: number | null;
  /** Thresholds the available balance is below: fired, waiting to re-arm. */
  readonly below: Set<string>;
  /** Grants in play whose `credits_expiring` is recorded. */
  readonly noticed: Set<string>;
  /**
   * The id of the `balance_alert_set` that first set this alert: kept when the alert is replaced, new
   * once it has been removed and set again. A spent grant's notice belongs to it (see `retire`).
   */
  readonly since: string;
}

/** Folds an alert event (`eventId` its id) into the alerts by currency, in place. */
export function applyAlertEvent(
  alerts: Map<string, AlertRuleState>,
  event: AlertEvent,
  eventId: string,
): string | null {
  const { data } = event;
  switch (event.type) {
    case 'balance_alert_set': {
      const d = event.data;
      if (d.thresholds.length === 0 && d.expiringWithinMs === null) {
        alerts.delete(d.currency);
        return null;
      }
      alerts.set(d.currency, {
        currency: d.currency,
        thresholds: d.thresholds,
        expiringWithinMs: d.expiringWithinMs,
        below: new Set(d.below),
        // A grant noticed under the old settings is not noticed twice.
        noticed: alerts.get(d.currency)?.noticed ?? new Set(),
        since: alerts.get(d.currency)?.since ?? eventId,
      });
      return null;
    }
    case 'balance_alert_triggered':
    case 'balance_alert_rearmed': {
      const rule = alerts.get(data.currency);
      if (rule === undefined) return `names an alert on ${data.currency}, which is not set`;
      const threshold = event.data.threshold;
      if (event.type === 'balance_alert_triggered') rule.below.add(threshold);
      else rule.below.delete(threshold);
      return null;
    }
    case 'credits_expiring': {
      const rule = alerts.get(data.currency);
      if (rule === undefined) return `names an alert on ${data.currency}, which is not set`;
      rule.noticed.add(event.data.grantId);
      return null;
    }
  }
}

/** A copy whose flags can change without touching `alerts`. */
export function cloneAlerts(alerts: ReadonlyMap<string, AlertRuleState>): Map<string, AlertRuleState> {
  const copy = new Map<string, AlertRuleState>();
  for (const [currency, rule] of alerts)
    copy.set(currency, { ...rule, below: new Set(rule.below), noticed: new Set(rule.noticed) });
  return copy;
}

/** An alert as a snapshot stores it. */
export interface AlertRuleSnapshot {
  readonly currency: string;
  readonly thresholds: readonly AlertThreshold[];
  readonly expiringWithinMs: number | null;
  readonly below: readonly string[];
  readonly noticed: readonly string[];
  readonly since: string;
}

export const alertsToSnapshot = (alerts: ReadonlyMap<string, AlertRuleState>): AlertRuleSnapshot[] =>
  [...alerts.values()].map((rule) => ({ ...rule, below: [...rule.below], noticed: [...rule.noticed] }));

export function alertsFromSnapshot(
  rules: readonly AlertRuleSnapshot[],
  into: Map<string, AlertRuleState>,
): void {
  for (const rule of rules)
    into.set(rule.currency, { ...rule, below: new Set(rule.below), noticed: new Set(rule.noticed) });
}
