import { unreachable } from './errors.js';
import type { RecordedEvent } from './events.js';
import type { CustomerState, UsageRecord } from './state.js';

/**
 * What the ledger must look up in a stream before folding or deciding on a state that holds only what
 * is in play (see `CustomerState`). Pure: it reads ids, the shell fetches.
 */

/**
 * The grants `events` name that `state` does not hold and the events do not create: grants that
 * finished before the state's version, which a later void, early expiry or reversal names again.
 * Empty for almost every tail.
 *
 * @example
 * const needs = recallNeeds(snapshotState, tail); // ['grant_01J…'] if the tail voids a spent grant
 */
export function recallNeeds(state: CustomerState, events: readonly RecordedEvent[]): string[] {
  const needed = new Set<string>();
  const made = new Set<string>();
  const need = (grantId: string) => {
    if (!made.has(grantId) && !state.grants.has(grantId) && !state.recalled.grants.has(grantId))
      needed.add(grantId);
  };
  for (const event of events) {
    switch (event.type) {
      case 'credits_granted':
        made.add(event.data.grantId);
        break;
      case 'grant_expired':
      case 'grant_voided':
        need(event.data.grantId);
        break;
      case 'usage_reversed':
        for (const allocation of event.data.restored) need(allocation.grantId);
        break;
      // Deductions and settlements spend only grants in play; the rest name no grant.
      case 'credits_deducted':
      case 'debt_settled':
      case 'customer_created':
      case 'subscription_activated':
      case 'subscription_created':
      case 'payment_confirmed':
      case 'subscription_renewed':
      case 'subscription_canceled':
      case 'credits_held':
      case 'hold_released':
      case 'credit_limit_set':
      case 'balance_alert_set':
      case 'balance_alert_triggered':
      case 'balance_alert_rearmed':
        break;
      // Names only grants in play: a notice is recorded while the grant still holds credit.
      case 'credits_expiring':
      // The purchase's credit is its credits_granted; these record why and when.
      case 'auto_top_up_set':
      case 'auto_top_up_requested':
      case 'auto_top_up_failed':
      case 'auto_top_up_completed':
        break;
      default:
        return unreachable(event);
    }
  }
  return [...needed];
}

/**
 * The recorded usages with these ids in a stream, each with whether it was reversed: what a reversal
 * decides on. Usages never stay in the state (a customer makes millions), so they are found here.
 *
 * @example
 * const usages = findUsages(events, ['usage_01J…']); // Map { 'usage_01J…' => { deduction, reversed } }
 */
export function findUsages(
  events: readonly RecordedEvent[],
  usageIds: readonly string[],
): Map<string, UsageRecord> {
  const wanted = new Set(usageIds);
  const found = new Map<string, UsageRecord>();
  for (const event of events) {
    if (event.type === 'credits_deducted' && wanted.has(event.data.usageId)) {
      found.set(event.data.usageId, { deduction: event.data, reversed: false });
    } else if (event.type === 'usage_reversed' && found.has(event.data.usageId)) {
      found.set(event.data.usageId, { ...found.get(event.data.usageId)!, reversed: true });
    }
  }
  return found;
}
