import type { AutoTopUpEvent, TopUpCap } from './events.js';

/**
 * A request in flight: asked for, not yet completed or given up.
 *
 * @example
 * const pending = fold(events).autoTopUps.get('credits')?.pending; // { requestId, idempotencyKey, ... }
 */
export interface PendingTopUp {
  readonly requestId: string;
  readonly idempotencyKey: string;
  readonly amount: string;
  readonly requestedAt: string;
  readonly attempts: number;
  /** Not to be tried before this instant (after a failure); null: now. */
  readonly retryAt: string | null;
}

/**
 * An auto top-up rule on one currency as the stream folds it: the rule, the request in flight and
 * the recent requests that caps and the cooldown count.
 *
 * @example
 * const rule = fold(events).autoTopUps.get('credits'); // { threshold: '100', pending: null, ... }
 */
export interface AutoTopUpState {
  readonly currency: string;
  readonly threshold: string;
  readonly amount: string | null;
  readonly target: string | null;
  readonly maxPerPeriod: TopUpCap | null;
  readonly cooldownMs: number;
  readonly maxFailures: number;
  readonly retryBackoffMs: number;
  paused: boolean;
  pending: PendingTopUp | null;
  /** Requests inside the cap's period (at least the last, for the cooldown), oldest first. */
  recent: readonly { readonly requestId: string; readonly at: string; readonly amount: string }[];
}

/** Folds an auto top-up event in place; returns what is wrong with it, if the stream cannot be folded. */
export function applyTopUpEvent(
  rules: Map<string, AutoTopUpState>,
  event: AutoTopUpEvent & { at: string },
): string | null {
  if (event.type === 'auto_top_up_set') {
    const before = rules.get(event.data.currency);
    // A rule set again keeps what is in flight and what its caps have counted.
    rules.set(event.data.currency, {
      ...event.data,
      pending: before?.pending ?? null,
      recent: before?.recent ?? [],
    });
    return null;
  }
  const rule = rules.get(event.data.currency);
  if (rule === undefined) return `names an auto top-up on ${event.data.currency}, which is not set`;
  switch (event.type) {
    case 'auto_top_up_requested': {
      if (rule.pending !== null) return `asks for a top-up while ${rule.pending.requestId} is in flight`;
      const { data } = event;
      rule.pending = {
        requestId: data.requestId,
        idempotencyKey: data.idempotencyKey,
        amount: data.amount,
        requestedAt: event.at,
        attempts: 0,
        retryAt: null,
      };
      const atMs = Date.parse(event.at);
      const periodMs = rule.maxPerPeriod?.periodMs ?? 0;
      rule.recent = [
        ...rule.recent.filter((r) => Date.parse(r.at) > atMs - periodMs),
        { requestId: data.requestId, at: event.at, amount: data.amount },
      ];
      return null;
    }
    case 'auto_top_up_failed': {
      if (rule.pending?.requestId !== event.data.requestId)
        return `fails ${event.data.requestId}, which is not in flight`;
      if (event.data.paused) {
        // Given up: it charged nothing, so caps do not count it.
        rule.pending = null;
        rule.paused = true;
        rule.recent = rule.recent.filter((r) => r.requestId !== event.data.requestId);
      } else rule.pending = { ...rule.pending, attempts: event.data.attempt, retryAt: event.data.retryAt };
      return null;
    }
    case 'auto_top_up_completed':
      if (rule.pending?.requestId !== event.data.requestId)
        return `completes ${event.data.requestId}, which is not in flight`;
      rule.pending = null;
      return null;
  }
}

/** A copy whose fields can change without touching `rules` (entries are replaced, never mutated deeply). */
export function cloneTopUps(rules: ReadonlyMap<string, AutoTopUpState>): Map<string, AutoTopUpState> {
  const copy = new Map<string, AutoTopUpState>();
  for (const [currency, rule] of rules) copy.set(currency, { ...rule });
  return copy;
}
