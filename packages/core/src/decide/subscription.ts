import { isPaid } from '../catalog/index.js';
import { grantCycle, planGrantIds } from '../cycles.js';
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
 * What `ledger.subscribe`, `ledger.changePlan` and `ledger.confirmPayment` return: the subscription and
 * the ids of the grants the call made (none for a paid plan still waiting for its payment).
 *
 * @example
 * const { subscriptionId, status, grantIds } = await ledger.subscribe({ customerId: 'cus_123', planId: 'pro' });
 * // a paid plan: status 'incomplete', grantIds [] until confirmPayment
 */
export interface SubscribeResult extends SubscriptionView {
  /** Grants made by this call, one per plan grant rule of the cycle it started or paid. */
  readonly grantIds: readonly string[];
}

const billing = {
  /** How it was sold; default 'self_serve'. */
  salesMotion: field.oneOf(['self_serve', 'sales_led']).optional(),
  /** How its invoices are collected; default 'charge_automatically'. */
  collectionMethod: field.oneOf(['charge_automatically', 'send_invoice']).optional(),
};

/**
 * Starts a plan. A free plan (no price, or a price of zero) is active at once and grants its first
 * cycle's credits; a paid plan is `incomplete` and grants nothing until `confirmPayment`. A plan the
 * customer already has (running, past due or incomplete) is refused with `already_subscribed`: a
 * retry without an idempotency key must not grant twice. Another plan may run beside it;
 * `cancelSubscription` and `changePlan` then need the `subscriptionId`.
 */
export const subscribe = defineCommand({
  input: writeInput({ planId: field.id('unknown_plan'), ...billing }),
  decide(recorder, command, context) {
    requireCustomer(recorder.state);
    return start(recorder, command.planId, command, context);
  },
  result: (state, started, context) => subscribeResult(state, started, context),
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
 * bought with the old plan), then the new plan starts with a fresh cycle anchored now (or, paid,
 * waits for its payment).
 */
export const changePlan = defineCommand({
  input: writeInput({
    planId: field.id('unknown_plan'),
    subscriptionId: field.id().nullish(),
    ...billing,
  }),
  recall: (command, state) => ({ grants: cycleGrantsOf(state, command.subscriptionId ?? null) }),
  decide(recorder, command, context) {
    planToStart(context, command.planId);
    const sub = activeSubscription(recorder, command.subscriptionId ?? null, context);
    cancel(recorder, sub, 'now', true, context);
    return start(recorder, command.planId, command, context);
  },
  result: (state, started, context) => subscribeResult(state, started, context),
});

/**
 * Records that the host's billing was paid for a paid subscription: the first payment starts an
 * `incomplete` one (its first cycle anchored now, its credits granted); a later one pays a renewed
 * cycle that was `past_due` (its credits granted now, expiring at the cycle's end, unless a grace
 * period granted them already). `amount` must be the subscription's price. A `paymentId` seen before
 * is recorded once: the repeat answers as the first did and writes nothing.
 */
export const confirmPayment = defineCommand({
  input: writeInput({
    subscriptionId: field.id('unknown_subscription'),
    /** The host's id of the payment (an invoice or payment intent id). */
    paymentId: field.id(),
    /** What was paid: the subscription's price. */
    amount: field.money,
    /** When the host's billing says it was paid; default now, never in the future. */
    at: field.time.nullish(),
  }),
  decide(recorder, command, context) {
    const { state } = recorder;
    requireCustomer(state);
    const sub = state.subscriptions.get(command.subscriptionId);
    if (sub === undefined) {
      throw new TallyError('unknown_subscription', `no subscription ${quote(command.subscriptionId)}`, {
        field: 'subscriptionId',
      });
    }
    const seen = state.payments.get(command.paymentId);
    if (seen !== undefined) {
      if (seen.subscriptionId !== sub.subscriptionId) {
        throw new TallyError('invalid_input', `payment ${quote(command.paymentId)} paid for something else`, {
          field: 'paymentId',
        });
      }
      // Seen before: answer as the first time did, recording nothing.
      return { subscriptionId: sub.subscriptionId, grantIds: [] };
    }
    if (sub.endsAtMs <= context.nowMs) {
      throw new TallyError('subscription_inactive', `subscription ${sub.subscriptionId} has ended`, {
        field: 'subscriptionId',
      });
    }
    if (sub.price === null || !isPaid(sub)) {
      throw new TallyError('payment_not_due', `subscription ${sub.subscriptionId} is on a free plan`, {
        field: 'subscriptionId',
      });
    }
    const starting = sub.anchorMs === null;
    if (!starting && sub.paidCycle >= sub.cycle) {
      throw new TallyError('payment_not_due', `subscription ${sub.subscriptionId} owes nothing now`, {
        field: 'subscriptionId',
      });
    }
    if (command.amount.amount !== sub.price.amount || command.amount.currency !== sub.price.currency) {
      throw new TallyError(
        'invalid_amount',
        `amount must be the price, ${sub.price.amount} ${sub.price.currency}`,
        { field: 'amount' },
      );
    }
    const paidAtMs = command.at ?? context.nowMs;
    if (paidAtMs > context.nowMs)
      throw new TallyError('invalid_time', 'at must not be in the future', { field: 'at' });
    const cycle = starting ? 0 : sub.cycle;
    recorder.record({
      type: 'payment_confirmed',
      data: {
        subscriptionId: sub.subscriptionId,
        paymentId: command.paymentId,
        amount: command.amount,
        cycle,
        paidAt: iso(paidAtMs),
      },
    });
    const grantIds = paidCycleGrants(recorder, sub, cycle, context);
    settleAll(recorder, context);
    return { subscriptionId: sub.subscriptionId, grantIds };
  },
  result: (state, paid, context) => subscribeResult(state, paid, context),
});

/**
 * The grants a payment makes: a new subscription's first cycle; a renewed cycle's, unless its grace
 * period granted them up front and they still stand (after an unpaid grace end, afresh, under ids of
 * their own).
 */
function paidCycleGrants(recorder: Recorder, sub: SubscriptionState, cycle: number, context: DecideContext) {
  const nothing = new Map<number, bigint>();
  if (cycle === 0 || sub.gracePeriodDays === 0) {
    return grantCycle(recorder, sub, cycle, context.now, { plan: true, carries: nothing });
  }
  const upFront = planGrantIds(sub, cycle).slice(0, sub.rules.length);
  const standing = upFront.some((id) => findGrant(recorder.state, id)?.status === 'active');
  return standing
    ? []
    : grantCycle(recorder, sub, cycle, context.now, { plan: true, carries: nothing, late: true });
}

/**
 * A subscription just started or paid, and the grants that made: what a decision hands its result.
 *
 * @example
 * const started: Started = { subscriptionId: 'sub_01J…', grantIds: ['sub_01J…_c0_g0'] };
 */
export interface Started {
  readonly subscriptionId: string;
  readonly grantIds: readonly string[];
}

/** The plan a subscription may start on now: in the catalog, not archived. */
function planToStart(context: DecideContext, planId: string) {
  const plan = context.catalog.plans.get(planId);
  if (plan === undefined)
    throw new TallyError('unknown_plan', `the catalog has no plan ${quote(planId)}`, { field: 'planId' });
  if (plan.archived) {
    throw new TallyError(
      'plan_archived',
      `plan ${quote(planId)} is archived: it takes no new subscriptions`,
      {
        field: 'planId',
      },
    );
  }
  return plan;
}

function start(
  recorder: Recorder,
  planId: string,
  facts: {
    salesMotion?: 'self_serve' | 'sales_led' | undefined;
    collectionMethod?: 'charge_automatically' | 'send_invoice' | undefined;
  },
  context: DecideContext,
): Started {
  const plan = planToStart(context, planId);
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
  const data = {
    subscriptionId,
    planId: plan.id,
    planVersion: plan.version,
    catalogVersion: context.catalog.version,
    interval: plan.interval,
    price: plan.price,
    grants: plan.grants,
    gracePeriodDays: plan.gracePeriodDays,
    salesMotion: facts.salesMotion ?? 'self_serve',
    collectionMethod: facts.collectionMethod ?? 'charge_automatically',
  } as const;
  if (isPaid(plan)) {
    recorder.record({ type: 'subscription_created', data });
    return { subscriptionId, grantIds: [] };
  }
  recorder.record({ type: 'subscription_activated', data: { ...data, anchorAt: context.now } });
  const sub = recorder.state.subscriptions.get(subscriptionId)!;
  const grantIds = grantCycle(recorder, sub, 0, context.now, { plan: true, carries: new Map() });
  settleAll(recorder, context);
  return { subscriptionId, grantIds };
}

const subscribeResult = (
  state: CustomerState,
  started: Started,
  context: DecideContext,
): SubscribeResult => ({
  ...subscriptionView(state.subscriptions.get(started.subscriptionId)!, context.nowMs),
  grantIds: started.grantIds,
});

function cancel(
  recorder: Recorder,
  sub: SubscriptionState,
  at: 'now' | 'cycle_end',
  expireCredits: boolean,
  context: DecideContext,
): void {
  const endsAtMs =
    at === 'now' || sub.anchorMs === null
      ? context.nowMs
      : cycleStart(sub.anchorMs, sub.interval, sub.cycle + 1);
  recorder.record({
    type: 'subscription_canceled',
    data: { subscriptionId: sub.subscriptionId, endsAt: iso(endsAtMs) },
  });
  if (expireCredits && sub.anchorMs !== null) expireCycleCredits(recorder, sub, context);
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
