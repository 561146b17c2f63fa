import { renew } from '../advance.js';
import { TallyError } from '../errors.js';
import { formatAmount, quote } from '../money.js';
import type { Recorder } from '../recorder.js';
import type { SubscriptionState } from '../state.js';
import { cycleStart, iso } from '../time.js';
import { type SubscriptionView, subscriptionView } from '../views.js';
import type { CancelSubscription, ChangePlan, Subscribe } from './commands.js';
import { type DecideContext, type Decision, requireCustomer } from './context.js';
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

export const subscribe: Decision<Subscribe, SubscribeResult> = (recorder, command, context) => {
  requireCustomer(recorder.state);
  return activate(recorder, command.planId, context);
};

function activate(recorder: Recorder, planId: string, context: DecideContext): SubscribeResult {
  const plan = context.catalog.plans.get(planId);
  if (plan === undefined)
    throw new TallyError('unknown_plan', `the catalog has no plan ${quote(planId)}`, { field: 'planId' });
  const subscriptionId = context.newId('sub');
  recorder.record(
    {
      type: 'subscription_activated',
      data: {
        subscriptionId,
        planId: plan.id,
        interval: plan.interval,
        price: plan.price,
        grants: plan.grants,
        anchorAt: context.now,
      },
    },
    context.newId('evt'),
    context.now,
  );
  const sub = recorder.state.subscriptions.get(subscriptionId)!;
  const before = recorder.events.length;
  renew(recorder, sub, 0, new Map(), context.now);
  const grantIds = recorder.events
    .slice(before)
    .flatMap((e) => (e.type === 'credits_granted' ? [e.data.grantId] : []));
  settleAll(recorder, context);
  return { ...subscriptionView(sub, context.nowMs), grantIds };
}

/**
 * Stops renewals. `at: 'now'` ends it at once, `'cycle_end'` at the end of the current cycle. The cycle's
 * plan credits stay usable until their own expiry unless `expireCredits` is set, which expires them now.
 */
export const cancelSubscription: Decision<CancelSubscription, SubscriptionView> = (
  recorder,
  command,
  context,
) => {
  const sub = activeSubscription(recorder, command.subscriptionId, context);
  const endsAtMs =
    command.at === 'now' ? context.nowMs : cycleStart(sub.anchorMs, sub.interval, sub.cycle + 1);
  recorder.record(
    { type: 'subscription_canceled', data: { subscriptionId: sub.subscriptionId, endsAt: iso(endsAtMs) } },
    context.newId('evt'),
    context.now,
  );
  if (command.expireCredits) expireSubscriptionCredits(recorder, sub, context);
  return subscriptionView(sub, context.nowMs);
};

/**
 * Switches plans now: the old subscription ends and its unused plan credits expire at once (they were
 * bought with the old plan), then the new plan activates with a fresh cycle anchored now.
 */
export const changePlan: Decision<ChangePlan, SubscribeResult> = (recorder, command, context) => {
  if (!context.catalog.plans.has(command.planId)) {
    throw new TallyError('unknown_plan', `the catalog has no plan ${quote(command.planId)}`, {
      field: 'planId',
    });
  }
  cancelSubscription(
    recorder,
    { type: 'cancelSubscription', subscriptionId: command.subscriptionId, at: 'now', expireCredits: true },
    context,
  );
  return activate(recorder, command.planId, context);
};

function activeSubscription(
  recorder: Recorder,
  subscriptionId: string | null,
  context: DecideContext,
): SubscriptionState {
  requireCustomer(recorder.state);
  const active = [...recorder.state.subscriptions.values()].filter((s) => s.endsAtMs > context.nowMs);
  if (subscriptionId === null) {
    if (active.length === 1) return active[0]!;
    throw new TallyError(
      active.length === 0 ? 'unknown_subscription' : 'invalid_input',
      active.length === 0
        ? 'the customer has no active subscription'
        : 'the customer has several subscriptions: pass subscriptionId',
      { field: 'subscriptionId' },
    );
  }
  const sub = recorder.state.subscriptions.get(subscriptionId);
  if (sub === undefined)
    throw new TallyError('unknown_subscription', `no subscription ${quote(subscriptionId)}`, {
      field: 'subscriptionId',
    });
  if (sub.endsAtMs <= context.nowMs) {
    throw new TallyError('subscription_inactive', `subscription ${subscriptionId} has ended`, {
      field: 'subscriptionId',
    });
  }
  return sub;
}

function expireSubscriptionCredits(recorder: Recorder, sub: SubscriptionState, context: DecideContext): void {
  for (const grant of [...recorder.state.grants.values()]) {
    if (grant.subscriptionId !== sub.subscriptionId || grant.status !== 'active' || grant.remaining === 0n)
      continue;
    if (!Number.isFinite(grant.expiresAtMs)) continue;
    const decimals = recorder.state.accounts.get(grant.currency)!.decimals;
    recorder.record(
      {
        type: 'grant_expired',
        data: {
          grantId: grant.grantId,
          currency: grant.currency,
          amount: formatAmount(grant.remaining, decimals),
        },
      },
      context.newId('evt'),
      context.now,
    );
  }
}
