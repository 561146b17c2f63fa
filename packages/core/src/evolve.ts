import { applyAlertEvent } from './alerts/state.js';
import { applyTopUpEvent } from './auto-top-up/state.js';
import { TallyError } from './errors.js';
import type { RecordedEvent } from './events.js';
import { decimalsOf, toMinor } from './money.js';
import { type AccountState, type CustomerState, cloneState, type GrantState, initialState } from './state.js';

/**
 * Folds one event into `state` in place. This is the hot path of every balance read, so it does only
 * integer arithmetic and map lookups. It throws only for a stream that cannot be folded: an event that
 * names a grant, hold or subscription the state does not hold is `corrupt_stream` (the ledger recalls
 * the finished grants an event names before folding it: see `recallNeeds`), an unknown type
 * `unknown_event`.
 *
 * @example
 * const state = initialState();
 * for (const event of events) applyEvent(state, event); // `state` now reflects the whole stream
 */
export function applyEvent(state: CustomerState, event: RecordedEvent): CustomerState {
  switch (event.type) {
    case 'credits_deducted': {
      const data = event.data;
      // Opened even by a zero-cost deduction, as the decision that recorded it did: replay must show
      // the same accounts as the live path.
      const acc = account(state, data.currency, data.cost);
      for (const allocation of data.allocations)
        spend(state, event, grantOf(state, event, allocation.grantId), toMinor(allocation.amount));
      const debt = toMinor(data.debt);
      if (debt !== 0n) acc.debt += debt;
      if (data.carry !== null && data.feature !== null) state.carries.set(data.feature, data.carry);
      break;
    }
    case 'credits_granted': {
      const data = event.data;
      if (state.grants.has(data.grantId) || state.recalled.grants.has(data.grantId))
        corrupt(event, `grant ${data.grantId} is granted twice`);
      const amount = toMinor(data.amount);
      const grant: GrantState = {
        grantId: data.grantId,
        currency: data.currency,
        amount,
        remaining: amount,
        priority: data.priority,
        source: data.source,
        effectiveAtMs: Date.parse(data.effectiveAt),
        expiresAtMs: data.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(data.expiresAt),
        subscriptionId: data.subscriptionId,
        cycle: data.cycle,
        ruleIndex: data.ruleIndex,
        metadata: data.metadata,
        appliesTo: data.appliesTo === null ? null : data.appliesTo.features,
        price: data.price,
        paymentId: data.paymentId,
        status: 'active',
        endedAt: null,
      };
      state.grants.set(grant.grantId, grant);
      const acc = account(state, data.currency, data.amount);
      acc.live.push(grant);
      // A reversal pays back debt already settled: credit returned, not granted.
      if (data.source !== 'reversal') acc.granted += amount;
      if (grant.effectiveAtMs > Date.parse(event.at)) defer(state, grant.effectiveAtMs, data.currency);
      if (data.paymentId !== null)
        state.payments.set(data.paymentId, { subscriptionId: null, cycle: null, grantId: data.grantId });
      break;
    }
    case 'grant_expired':
    case 'grant_voided': {
      const grant = grantOf(state, event, event.data.grantId);
      if (grant.status !== 'active') corrupt(event, `grant ${grant.grantId} has already ended`);
      // A grant voided before it starts: the statement shows the void when the grant would have started.
      if (event.type === 'grant_voided' && grant.effectiveAtMs > Date.parse(event.at))
        defer(state, grant.effectiveAtMs, grant.currency);
      spend(state, event, grant, toMinor(event.data.amount));
      grant.status = event.type === 'grant_expired' ? 'expired' : 'voided';
      grant.endedAt = event.at;
      retire(state, grant);
      break;
    }
    case 'debt_settled': {
      const data = event.data;
      for (const allocation of data.allocations)
        spend(state, event, grantOf(state, event, allocation.grantId), toMinor(allocation.amount));
      const acc = account(state, data.currency, data.amount);
      acc.debt -= toMinor(data.amount);
      if (acc.debt < 0n) corrupt(event, 'settles more debt than the account owes');
      break;
    }
    case 'usage_reversed': {
      const data = event.data;
      const acc = account(state, data.currency, data.debtCleared);
      for (const allocation of data.restored) {
        const grant = grantOf(state, event, allocation.grantId);
        if (grant.status !== 'active') corrupt(event, `restores grant ${grant.grantId}, which has ended`);
        grant.remaining += toMinor(allocation.amount);
        if (grant.remaining > grant.amount)
          corrupt(event, `grant ${grant.grantId} would hold more than it granted`);
        // A spent grant is back in play.
        if (!state.grants.has(grant.grantId)) {
          state.recalled.grants.delete(grant.grantId);
          state.grants.set(grant.grantId, grant);
          acc.live.push(grant);
          if (grant.noticedWhenSpent !== undefined) {
            const rule = state.alerts.get(grant.currency);
            if (rule?.since === grant.noticedWhenSpent) rule.noticed.add(grant.grantId);
            delete grant.noticedWhenSpent;
          }
        }
      }
      acc.debt -= toMinor(data.debtCleared);
      if (acc.debt < 0n) corrupt(event, 'clears more debt than the account owes');
      const usage = state.recalled.usages.get(data.usageId);
      if (usage !== undefined) state.recalled.usages.set(data.usageId, { ...usage, reversed: true });
      if (data.carry !== null && data.feature !== null) state.carries.set(data.feature, data.carry);
      break;
    }
    case 'credits_held': {
      const data = event.data;
      const amount = toMinor(data.amount);
      state.holds.set(data.holdId, {
        holdId: data.holdId,
        currency: data.currency,
        amount,
        feature: data.feature,
        quantity: data.quantity,
        expiresAtMs: data.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(data.expiresAt),
        createdAt: event.at,
        status: 'active',
      });
      account(state, data.currency, data.amount).held += amount;
      break;
    }
    case 'hold_released': {
      const data = event.data;
      const hold = state.holds.get(data.holdId);
      if (hold === undefined) corrupt(event, `hold ${data.holdId} is not active`);
      state.holds.delete(hold.holdId);
      state.recalled.holds.set(hold.holdId, { ...hold, status: data.reason });
      account(state, data.currency, data.amount).held -= hold.amount;
      break;
    }
    case 'credit_limit_set':
      account(state, event.data.currency, event.data.limit).creditLimit = toMinor(event.data.limit);
      break;
    case 'customer_created':
      state.customer = {
        customerId: event.data.customerId,
        externalId: event.data.externalId,
        metadata: event.data.metadata,
        createdAt: event.at,
      };
      break;
    case 'subscription_activated':
    case 'subscription_created': {
      const data = event.data;
      if (event.type === 'subscription_activated') startCycle(state, data.grants);
      if (state.subscriptions.has(data.subscriptionId))
        corrupt(event, `subscription ${data.subscriptionId} starts twice`);
      const activated = event.type === 'subscription_activated';
      state.subscriptions.set(data.subscriptionId, {
        subscriptionId: data.subscriptionId,
        planId: data.planId,
        planVersion: data.planVersion,
        interval: data.interval,
        price: data.price,
        rules: data.grants,
        gracePeriodDays: data.gracePeriodDays,
        salesMotion: data.salesMotion,
        collectionMethod: data.collectionMethod,
        createdAt: event.at,
        anchorMs: activated ? Date.parse(event.data.anchorAt) : null,
        activatedAt: activated ? event.at : null,
        activatedBy: null,
        cycle: 0,
        // A free plan's cycles need no payment; a paid one's first waits for it.
        paidCycle: activated ? 0 : -1,
        endsAtMs: Number.POSITIVE_INFINITY,
      });
      break;
    }
    case 'payment_confirmed': {
      const data = event.data;
      const sub = subscriptionOf(state, event, data.subscriptionId);
      if (state.payments.has(data.paymentId)) corrupt(event, `payment ${data.paymentId} is recorded twice`);
      state.payments.set(data.paymentId, {
        subscriptionId: sub.subscriptionId,
        cycle: data.cycle,
        grantId: null,
      });
      if (sub.anchorMs === null) {
        // The first payment starts the subscription: its first cycle is anchored now.
        sub.anchorMs = Date.parse(event.at);
        sub.activatedAt = event.at;
        sub.activatedBy = data.paymentId;
      }
      if (data.cycle > sub.paidCycle) sub.paidCycle = data.cycle;
      break;
    }
    case 'subscription_renewed': {
      const data = event.data;
      const sub = subscriptionOf(state, event, data.subscriptionId);
      sub.cycle = data.cycle;
      if (data.paid) sub.paidCycle = data.cycle;
      if (data.terms !== null) {
        sub.planVersion = data.terms.version;
        sub.price = data.terms.price;
        sub.rules = data.terms.grants;
        sub.gracePeriodDays = data.terms.gracePeriodDays;
      }
      startCycle(state, sub.rules);
      break;
    }
    case 'balance_alert_set':
    case 'balance_alert_triggered':
    case 'balance_alert_rearmed':
    case 'credits_expiring': {
      const problem = applyAlertEvent(state.alerts, event, event.id);
      if (problem !== null) corrupt(event, problem);
      break;
    }
    case 'auto_top_up_set':
    case 'auto_top_up_requested':
    case 'auto_top_up_failed':
    case 'auto_top_up_completed': {
      const problem = applyTopUpEvent(state.autoTopUps, event);
      if (problem !== null) corrupt(event, problem);
      break;
    }
    case 'subscription_canceled':
      subscriptionOf(state, event, event.data.subscriptionId).endsAtMs = Date.parse(event.data.endsAt);
      break;
    default: {
      // `upcast` lets only known types through; an event built by hand may still get here.
      const unknown: never = event;
      const { id, type } = unknown as { id: unknown; type: unknown };
      throw new TallyError('unknown_event', `event ${String(id)} has unknown type ${String(type)}`, {
        details: { eventId: id, type },
      });
    }
  }
  state.version += 1;
  state.lastAt = event.at;
  return state;
}

/**
 * Folds events into a fresh state (or a copy-free continuation of `from`, which it mutates). A fold
 * from the first event keeps every grant and hold that finished in `recalled`: the whole history.
 *
 * @example
 * const state = fold(events);
 * fold(moreEvents, state); // continues from `state`, in place
 */
export function fold(events: Iterable<RecordedEvent>, from: CustomerState = initialState()): CustomerState {
  for (const event of events) applyEvent(from, event);
  return from;
}

/**
 * The pure reducer: returns a new state and leaves `state` untouched. It copies the state per event,
 * which suits callers that keep intermediate states; `fold` is the fast path for replaying a stream.
 *
 * @example
 * const before = fold(events);
 * const after = evolve(before, event); // `before` is unchanged
 */
export function evolve(state: CustomerState, event: RecordedEvent): CustomerState {
  return applyEvent(cloneState(state), event);
}

/** Notes that the event being folded (the next version) shows in the statement at `atMs`. */
function defer(state: CustomerState, atMs: number, currency: string): void {
  state.deferred = [...state.deferred, { version: state.version + 1, atMs, currency }];
}

/** Takes `amount` off a grant; one spent down to nothing leaves play once it has become effective. */
function spend(state: CustomerState, event: RecordedEvent, grant: GrantState, amount: bigint): void {
  grant.remaining -= amount;
  if (grant.remaining < 0n) corrupt(event, `grant ${grant.grantId} would go below zero`);
  if (grant.remaining === 0n && grant.effectiveAtMs <= Date.parse(event.at)) retire(state, grant);
}

/**
 * Moves a finished grant (spent, expired or voided) out of play into `recalled`: nothing but a
 * reversal changes it again, so reads and writes need not walk or copy it.
 */
function retire(state: CustomerState, grant: GrantState): void {
  const rule = state.alerts.get(grant.currency);
  // The alert keeps notices only of grants in play. A spent grant can come back through a reversal,
  // so it carries its notice with it, naming the alert that gave it: brought back while that alert
  // is still set, it is not noticed a second time.
  if (rule?.noticed.delete(grant.grantId) === true && grant.status === 'active') {
    grant.noticedWhenSpent = rule.since;
  }
  if (state.grants.get(grant.grantId) !== grant) {
    state.recalled.grants.set(grant.grantId, grant);
    return;
  }
  state.grants.delete(grant.grantId);
  const live = state.accounts.get(grant.currency)!.live;
  live.splice(live.indexOf(grant), 1);
  state.recalled.grants.set(grant.grantId, grant);
}

/**
 * The grant an event names, safe to change: in play, or recalled (as a copy, since a recalled grant
 * may be shared with the state it was copied from).
 */
function grantOf(state: CustomerState, event: RecordedEvent, grantId: string): GrantState {
  const inPlay = state.grants.get(grantId);
  if (inPlay !== undefined) return inPlay;
  const recalled = state.recalled.grants.get(grantId);
  if (recalled === undefined) corrupt(event, `names grant ${grantId}, which this state does not hold`);
  const copy = { ...recalled };
  state.recalled.grants.set(grantId, copy);
  return copy;
}

function subscriptionOf(state: CustomerState, event: RecordedEvent, subscriptionId: string) {
  const sub = state.subscriptions.get(subscriptionId);
  if (sub === undefined) corrupt(event, `names subscription ${subscriptionId}, which was never activated`);
  return sub;
}

/** A cycle starts: the credit granted in it, which percentage alerts are of, counts from zero again. */
function startCycle(state: CustomerState, rules: readonly { readonly currency: string }[]): void {
  for (const rule of rules) {
    const acc = state.accounts.get(rule.currency);
    if (acc !== undefined) acc.granted = 0n;
  }
}

/** The account for `currency`, opened on first sight with the places of an amount Tally wrote in it. */
function account(state: CustomerState, currency: string, sampleAmount: string): AccountState {
  let acc = state.accounts.get(currency);
  if (acc === undefined) {
    acc = {
      currency,
      decimals: decimalsOf(sampleAmount),
      live: [],
      debt: 0n,
      creditLimit: 0n,
      held: 0n,
      granted: 0n,
    };
    state.accounts.set(currency, acc);
  }
  return acc;
}

function corrupt(event: RecordedEvent, problem: string): never {
  throw new TallyError('corrupt_stream', `event ${event.id} (${event.type}) ${problem}`, {
    details: { eventId: event.id, type: event.type },
  });
}
