import { availableOf, type WatchIds } from '../alerts/watch.js';
import { formatAmount, toMinor } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { CustomerState } from '../state.js';
import { iso } from '../time.js';
import type { AutoTopUpState } from './state.js';

/**
 * What one purchase must buy to lift `available` to the rule's level: enough to reach `target`, or
 * as many `amount`s as the deficit below the threshold needs (a deficit of 3.5 increments is one
 * purchase of 4), never one purchase per increment.
 */
export function topUpSize(rule: AutoTopUpState, available: bigint): bigint {
  if (rule.target !== null) return toMinor(rule.target) - available;
  const step = toMinor(rule.amount!);
  const deficit = toMinor(rule.threshold) - available;
  const steps = deficit <= 0n ? 1n : (deficit + step - 1n) / step;
  return steps * step;
}

/**
 * The instant before which caps or the cooldown hold back a request of `size` at `atMs`, or null if
 * nothing does (Infinity: a size over the amount cap never fits).
 */
export function blockedUntil(rule: AutoTopUpState, atMs: number, size: bigint): number | null {
  let until = Number.NEGATIVE_INFINITY;
  const last = rule.recent.at(-1);
  if (last !== undefined && rule.cooldownMs > 0)
    until = Math.max(until, Date.parse(last.at) + rule.cooldownMs);
  const cap = rule.maxPerPeriod;
  if (cap !== null) {
    const inWindow = rule.recent.filter((r) => Date.parse(r.at) > atMs - cap.periodMs);
    if (cap.count !== null && inWindow.length >= cap.count) {
      until = Math.max(until, Date.parse(inWindow[inWindow.length - cap.count]!.at) + cap.periodMs);
    }
    if (cap.amount !== null) {
      const limit = toMinor(cap.amount);
      if (size > limit) return Number.POSITIVE_INFINITY;
      // Drop the oldest requests until this one fits beside the rest: it frees when the last dropped leaves.
      let total = inWindow.reduce((sum, r) => sum + toMinor(r.amount), 0n);
      for (const r of inWindow) {
        if (total + size <= limit) break;
        total -= toMinor(r.amount);
        until = Math.max(until, Date.parse(r.at) + cap.periodMs);
      }
    }
  }
  return until > atMs ? until : null;
}

/**
 * Records `auto_top_up_requested` for each rule whose currency's available balance is below its
 * threshold at `atMs` with nothing in flight, not paused and not held back by caps or the cooldown.
 * Its idempotency key is derived from the event that took the balance there (the last recorded), so
 * retries of it charge once.
 */
export function watchTopUps(recorder: Recorder, atMs: number, ids: WatchIds): void {
  const state = recorder.state;
  if (state.autoTopUps.size === 0) return;
  const customerId = state.customer?.customerId ?? '';
  const at = iso(atMs);
  for (const rule of [...state.autoTopUps.values()]) {
    if (rule.paused || rule.pending !== null) continue;
    const account = state.accounts.get(rule.currency);
    const available = account === undefined ? 0n : availableOf(account, atMs);
    if (available >= toMinor(rule.threshold)) continue;
    const size = topUpSize(rule, available);
    if (size <= 0n || blockedUntil(rule, atMs, size) !== null) continue;
    const requestId = ids(`${rule.currency}:auto_top_up_requested`);
    // The event of this instant that took the balance below (never one of an earlier instant, so a
    // read that folds due events in chunks derives the same key as the write that stores them).
    const last = recorder.events.at(-1);
    const triggeredBy = last !== undefined && last.at === at ? last.id : requestId;
    const d = account?.decimals ?? decimalsOfRule(rule);
    recorder.record(
      {
        type: 'auto_top_up_requested',
        data: {
          requestId,
          currency: rule.currency,
          amount: formatAmount(size, d),
          available: formatAmount(available, d),
          triggeredBy,
          idempotencyKey: `tally-auto-top-up:${customerId}:${rule.currency}:${triggeredBy}`,
        },
      },
      requestId,
      at,
    );
  }
}

const decimalsOfRule = (rule: AutoTopUpState): number => {
  const dot = rule.threshold.indexOf('.');
  return dot < 0 ? 0 : rule.threshold.length - dot - 1;
};

/**
 * The next instant after `afterMs` at which a request held back by caps or the cooldown may be made,
 * if the balance is still below the threshold then.
 */
export function nextTopUpInstant(state: CustomerState, afterMs: number): number | null {
  let next = Number.POSITIVE_INFINITY;
  for (const rule of state.autoTopUps.values()) {
    if (rule.paused || rule.pending !== null) continue;
    const account = state.accounts.get(rule.currency);
    const available = account === undefined ? 0n : availableOf(account, afterMs);
    if (available >= toMinor(rule.threshold)) continue;
    const until = blockedUntil(rule, afterMs, topUpSize(rule, available));
    if (until !== null && until > afterMs && until < next) next = until;
  }
  return Number.isFinite(next) ? next : null;
}
