import { findGrant, unarchive } from './archive.js';
import { TallyError } from './errors.js';
import type { RecordedEvent } from './events.js';
import { decimalsOf, toMinor } from './money.js';
import {
  type AccountState,
  type CustomerState,
  cloneState,
  type GrantState,
  initialState,
  writableGrant,
} from './state.js';

/**
 * Folds one event into `state` in place. This is the hot path of every balance read, so it does only
 * integer arithmetic and map lookups, and checks the invariants a corrupt stream would break.
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
        spend(state, event, allocation.grantId, toMinor(allocation.amount));
      const debt = toMinor(data.debt);
      if (debt !== 0n) acc.debt += debt;
      break;
    }
    case 'credits_granted': {
      const data = event.data;
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
        status: 'active',
        endedAt: null,
        inLive: true,
      };
      const { frozen, recent } = state.archive.grants;
      if (state.grants.has(grant.grantId) || recent.has(grant.grantId) || frozen.has(grant.grantId))
        corrupt(event, `grant ${grant.grantId} is granted twice`);
      state.grants.set(grant.grantId, grant);
      account(state, data.currency, data.amount).live.push(grant);
      break;
    }
    case 'grant_expired':
    case 'grant_voided': {
      const grant = writableGrant(state, grantOf(state, event, event.data.grantId));
      spend(state, event, grant.grantId, toMinor(event.data.amount));
      grant.status = event.type === 'grant_expired' ? 'expired' : 'voided';
      grant.endedAt = event.at;
      retire(state, grant);
      break;
    }
    case 'debt_settled': {
      const data = event.data;
      for (const allocation of data.allocations)
        spend(state, event, allocation.grantId, toMinor(allocation.amount));
      const acc = account(state, data.currency, data.amount);
      acc.debt -= toMinor(data.amount);
      if (acc.debt < 0n) corrupt(event, 'settles more debt than the account owes');
      break;
    }
    case 'usage_reversed': {
      const data = event.data;
      const acc = account(state, data.currency, data.debtCleared);
      // Every grant found before any changes: a lookup that needs the archive (see `ArchiveNeeded`)
      // then leaves the balances as it found them, for whoever else holds this state.
      for (const allocation of data.restored) grantOf(state, event, allocation.grantId);
      for (const allocation of data.restored) {
        const grant = writableGrant(state, grantOf(state, event, allocation.grantId));
        grant.remaining += toMinor(allocation.amount);
        if (grant.remaining > grant.amount)
          corrupt(event, `grant ${grant.grantId} would hold more than it granted`);
        if (!grant.inLive) {
          grant.inLive = true;
          acc.live.push(grant);
        }
      }
      acc.debt -= toMinor(data.debtCleared);
      if (acc.debt < 0n) corrupt(event, 'clears more debt than the account owes');
      state.reversedUsages.add(data.usageId);
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
      if (hold === undefined || hold.status !== 'active') corrupt(event, `hold ${data.holdId} is not active`);
      hold.status = data.reason;
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
    case 'subscription_activated': {
      const data = event.data;
      state.subscriptions.set(data.subscriptionId, {
        subscriptionId: data.subscriptionId,
        planId: data.planId,
        interval: data.interval,
        price: data.price,
        rules: data.grants,
        anchorMs: Date.parse(data.anchorAt),
        activatedAt: event.at,
        cycle: 0,
        endsAtMs: Number.POSITIVE_INFINITY,
      });
      break;
    }
    case 'subscription_renewed':
      subscriptionOf(state, event, event.data.subscriptionId).cycle = event.data.cycle;
      break;
    case 'subscription_canceled':
      subscriptionOf(state, event, event.data.subscriptionId).endsAtMs = Date.parse(event.data.endsAt);
      break;
    default: {
      const unknown = event as { type: unknown; id: unknown };
      throw new TallyError(
        'unknown_event',
        `event ${String(unknown.id)} has unknown type ${String(unknown.type)}`,
        {
          details: { eventId: unknown.id, type: unknown.type },
        },
      );
    }
  }
  state.version += 1;
  state.lastAt = event.at;
  return state;
}

/**
 * Folds events into a fresh state (or a copy-free continuation of `from`, which it mutates).
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

function spend(state: CustomerState, event: RecordedEvent, grantId: string, amount: bigint): void {
  const grant = grantOf(state, event, grantId);
  grant.remaining -= amount;
  if (grant.remaining < 0n) corrupt(event, `grant ${grantId} would go below zero`);
  if (grant.remaining === 0n && grant.effectiveAtMs <= Date.parse(event.at)) retire(state, grant);
}

/**
 * Takes a finished grant (spent, expired or voided) out of its account's live list, as `spendableGrants`
 * does at the next decision. Without it a replayed stream keeps every grant it ever made live, and
 * every later read and write walks and copies them all. A reversal puts the grant back.
 */
function retire(state: CustomerState, grant: GrantState): void {
  if (!grant.inLive) return;
  const live = state.accounts.get(grant.currency)?.live;
  const at = live === undefined ? -1 : live.indexOf(grant);
  if (at < 0) return;
  live!.splice(at, 1);
  grant.inLive = false;
}

/** The grant an event names, in the hot state (an archived one is put back: see `unarchive`). */
function grantOf(state: CustomerState, event: RecordedEvent, grantId: string): GrantState {
  const hot = state.grants.get(grantId);
  if (hot !== undefined) return hot;
  const grant = findGrant(state, grantId);
  if (grant === undefined) corrupt(event, `names grant ${grantId}, which was never granted`);
  return unarchive(state, grant);
}

function subscriptionOf(state: CustomerState, event: RecordedEvent, subscriptionId: string) {
  const sub = state.subscriptions.get(subscriptionId);
  if (sub === undefined) corrupt(event, `names subscription ${subscriptionId}, which was never activated`);
  return sub;
}

/** The account for `currency`, opened on first sight with the places of an amount Tally wrote in it. */
function account(state: CustomerState, currency: string, sampleAmount: string): AccountState {
  let acc = state.accounts.get(currency);
  if (acc === undefined) {
    acc = { currency, decimals: decimalsOf(sampleAmount), live: [], debt: 0n, creditLimit: 0n, held: 0n };
    state.accounts.set(currency, acc);
  }
  return acc;
}

function corrupt(event: RecordedEvent, problem: string): never {
  throw new TallyError('corrupt_stream', `event ${event.id} (${event.type}) ${problem}`, {
    details: { eventId: event.id, type: event.type },
  });
}
