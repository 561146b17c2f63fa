import { planGrantIds, renew } from '../advance.js';
import { TallyError } from '../errors.js';
import * as field from '../input/fields.js';
import { formatAmount, quote } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { CustomerState, SubscriptionState } from '../state.js';
import { cycleStart, iso } from '../time.js';
import { type SubscriptionView, subscriptionView } from '../views.js';
import { defineCommand, writeInput } from './command.js';
import { type DecideContext, requireCustomer } from './context.js';
import { findGrant } from './grant.js';
import { settleAll } from './settle.js';

/**
 * What `ledger.subscribe` and `ledger.changePlan` return: the new subscription and the ids of the
 * grants its first cycle made.
 *
 * @example
 * const { subscriptionId, grantIds, currentPeriodEnd } = await ledger.subscribe({
 *   customerId: 'cus_123',
 *   planId: 'pro',
 * });
 */
export interface SubscribeResult extends SubscriptionView {
  /** Grants made on activation, one per plan grant rule. */
  readonly grantIds: readonly string[];
}

/**
 * Activates a plan now and grants its first cycle's credits. A plan the customer already has running
 * is refused (`already_subscribed`): a retry without an idempotency key must not grant twice. Another
 * plan may run beside it; `cancelSubscription` and `changePlan` then need the `subscriptionId`.
 */
export const subscribe = defineCommand({
  input: writeInput({ planId: field.id('unknown_plan') }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    return activate(recorder, command.planId, context);
  },
  result: (state, activated, context) => subscribeResult(state, activated, context),
});

/**
 * Stops renewals. `at: 'now'` ends it at once, `'cycle_end'` at the end of the current cycle. The cycle's
 * plan credits stay usable until their own expiry unless `expireCredits` is set, which expires them now.
 */
export const cancelSubscription = defineCommand({
  input: writeInput({
    /** Needed only when the customer has several active subscriptions. */
    subscriptionId: field.id().nullish(),
    /** 'now' (default) or the end of the current cycle. */
    at: field.oneOf(['now', 'cycle_end']).optional(),
    /** Expire the subscription's unused plan credits now instead of at their cycle end. Default false. */
    expireCredits: field.flag.optional(),
  }),
  // The cycle's plan grants that were spent are out of play: an early expiry must end them too, or a
  // later reversal would bring their credit back.
  recall: (command, state) => ({ grants: cycleGrantsOf(state, command.subscriptionId ?? null) }),
  decide(recorder, command, context) {
    const sub = activeSubscription(recorder, command.subscriptionId ?? null, context);
    cancel(recorder, sub, command.at ?? 'now', command.expireCredits ?? false, context);
    return sub.subscriptionId;
  },
  result: (state, subscriptionId, context): SubscriptionView =>
    subscriptionView(state.subscriptions.get(subscriptionId)!, context.nowMs),
});

/**
 * Switches plans now: the old subscription ends and its unused plan credits expire at once (they were
 * bought with the old plan), then the new plan activates with a fresh cycle anchored now.
 */
export const changePlan = defineCommand({
  input: writeInput({
    planId: field.id('unknown_plan'),
    subscriptionId: field.id().nullish(),
  }),
  recall: (command, state) => ({ grants: cycleGrantsOf(state, command.subscriptionId ?? null) }),
  decide(recorder, command, context) {
    if (!context.catalog.plans.has(command.planId)) {
      throw new TallyError('unknown_plan', `the catalog has no plan ${quote(command.planId)}`, {
        field: 'planId',
      });
    }
    const sub = activeSubscription(recorder, command.subscriptionId ?? null, context);
    cancel(recorder, sub, 'now', true, context);
    return activate(recorder, command.planId, context);
  },
  result: (state, activated, context) => subscribeResult(state, activated, context),
});

/** A subscription just started, and the grants its first cycle made. */
export interface Activated {
  readonly subscriptionId: string;
  readonly grantIds: readonly string[];
}

function activate(recorder: Recorder, planId: string, context: DecideContext): Activated {
  const plan = context.catalog.plans.get(planId);
  if (plan === undefined)
    throw new TallyError('unknown_plan', `the catalog has no plan ${quote(planId)}`, { field: 'planId' });
  for (const sub of recorder.state.subscriptions.values()) {
    if (sub.planId === plan.id && sub.endsAtMs > context.nowMs) {
      throw new TallyError(
        'already_subscribed',
        `the customer already has plan ${quote(plan.id)} running (${sub.subscriptionId})`,
        { field: 'planId', details: { subscriptionId: sub.subscriptionId } },
      );
    }
  }
  const subscriptionId = context.newId('sub');
  recorder.record({
    type: 'subscription_activated',
    data: {
      subscriptionId,
      planId: plan.id,
      interval: plan.interval,
      price: plan.price,
      grants: plan.grants,
      anchorAt: context.now,
    },
  });
  const before = recorder.events.length;
  renew(recorder, recorder.state.subscriptions.get(subscriptionId)!, 0, new Map(), context.now);
  const grantIds = recorder.events
    .slice(before)
    .flatMap((e) => (e.type === 'credits_granted' ? [e.data.grantId] : []));
  settleAll(recorder, context);
  return { subscriptionId, grantIds };
}

const subscribeResult = (state: CustomerState, activated: Activated, context: DecideContext) => ({
  ...subscriptionView(state.subscriptions.get(activated.subscriptionId)!, context.nowMs),
  grantIds: activated.grantIds,
});

function cancel(
  recorder: Recorder,
  sub: SubscriptionState,
  at: 'now' | 'cycle_end',
  expireCredits: boolean,
  context: DecideContext,
): void {
  const endsAtMs = at === 'now' ? context.nowMs : cycleStart(sub.anchorMs, sub.interval, sub.cycle + 1);
  recorder.record({
    type: 'subscription_canceled',
    data: { subscriptionId: sub.subscriptionId, endsAt: iso(endsAtMs) },
  });
  if (expireCredits) expireCycleCredits(recorder, sub, context);
}

function activeSubscription(
  recorder: Recorder,
  subscriptionId: string | null,
  context: DecideContext,
): SubscriptionState {
  requireCustomer(recorder.state);
  const found = findSubscription(recorder.state, subscriptionId, context.nowMs);
  if (typeof found !== 'string') return found;
  const [code, message] = SUBSCRIPTION_PROBLEMS[found];
  throw new TallyError(code, message(subscriptionId), { field: 'subscriptionId' });
}

const SUBSCRIPTION_PROBLEMS = {
  none: ['unknown_subscription', () => 'the customer has no active subscription'],
  several: ['invalid_input', () => 'the customer has several subscriptions: pass subscriptionId'],
  unknown: ['unknown_subscription', (id) => `no subscription ${quote(id)}`],
  ended: ['subscription_inactive', (id) => `subscription ${id} has ended`],
} as const satisfies Record<string, readonly [TallyError['code'], (id: string | null) => string]>;

/** The subscription a command names (or the only active one), or why there is none. */
function findSubscription(
  state: CustomerState,
  subscriptionId: string | null,
  nowMs: number,
): SubscriptionState | keyof typeof SUBSCRIPTION_PROBLEMS {
  if (subscriptionId === null) {
    const active = [...state.subscriptions.values()].filter((s) => s.endsAtMs > nowMs);
    if (active.length === 1) return active[0]!;
    return active.length === 0 ? 'none' : 'several';
  }
  const sub = state.subscriptions.get(subscriptionId);
  if (sub === undefined) return 'unknown';
  return sub.endsAtMs <= nowMs ? 'ended' : sub;
}

/**
 * The ids of the current cycle's plan grants of the subscription a command names (of each, when it
 * names none), as far as the state, not yet advanced to now, tells: what an early expiry may end.
 */
function cycleGrantsOf(state: CustomerState, subscriptionId: string | null): string[] {
  const named = subscriptionId === null ? undefined : state.subscriptions.get(subscriptionId);
  const subs =
    subscriptionId === null ? [...state.subscriptions.values()] : named === undefined ? [] : [named];
  return subs.flatMap((sub) => planGrantIds(sub, sub.cycle));
}

/**
 * Expires the cycle's plan credit now, spent grants included: a grant spent to nothing still ends, so a
 * reversal of usage it paid for forfeits that share instead of bringing it back.
 */
function expireCycleCredits(recorder: Recorder, sub: SubscriptionState, context: DecideContext): void {
  for (const grantId of planGrantIds(sub, sub.cycle)) {
    const grant = findGrant(recorder.state, grantId);
    if (grant === undefined || grant.status !== 'active' || grant.expiresAtMs <= context.nowMs) continue;
    if (!Number.isFinite(grant.expiresAtMs)) continue;
    recorder.record({
      type: 'grant_expired',
      data: {
        grantId: grant.grantId,
        currency: grant.currency,
        amount: formatAmount(grant.remaining, recorder.state.accounts.get(grant.currency)!.decimals),
      },
    });
  }
}
