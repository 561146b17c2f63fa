import { type Archive, copyArchive, emptyArchive, isFinishedGrant, isFinishedHold } from './archive.js';
import type { PlanGrantRule } from './catalog.js';
import type { GrantSource } from './events.js';
import type { Interval } from './time.js';

/**
 * What a customer's stream folds into. Internal and mutable on purpose: the fold is the hot path, so
 * it updates bigints in place instead of copying. Public reads hand out frozen views, never this.
 *
 * @example
 * const state: CustomerState = fold(events);
 * console.log(state.version, state.customer?.customerId, [...state.accounts.keys()]);
 */
export interface CustomerState {
  customer: CustomerInfo | null;
  /**
   * Grants by id. A grant out of play may instead be in `archive`, which a long history fills; look a
   * grant up with `findGrant`, not here alone.
   */
  readonly grants: Map<string, GrantState>;
  readonly accounts: Map<string, AccountState>;
  readonly subscriptions: Map<string, SubscriptionState>;
  /** Holds by id; like grants, one out of play may be in `archive` instead (see `findHold`). */
  readonly holds: Map<string, HoldState>;
  readonly reversedUsages: Set<string>;
  /** Events folded so far: the stream version this state is at. */
  version: number;
  /** `at` of the last event folded ('' before the first): the stream's clock never runs backwards. */
  lastAt: string;
  /** Grants and holds out of play, moved out of `grants` and `holds` (see `Archive`). */
  archive: Archive;
}

/**
 * The customer record in the state, set by `customer_created`; `CustomerState.customer` is null before it.
 *
 * @example
 * const info: CustomerInfo | null = fold(events).customer;
 */
export interface CustomerInfo {
  readonly customerId: string;
  readonly externalId: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

/**
 * One currency's account in the state, in bigint minor units so the fold can update it in place;
 * reads turn it into a `CreditAccount` of decimal strings.
 *
 * @example
 * const account = fold(events).accounts.get('credits'); // { debt: 0n, held: 300n, creditLimit: 0n, ... }
 */
export interface AccountState {
  readonly currency: string;
  readonly decimals: number;
  /** Grants that may still hold credit or are not yet effective; pruned when spent (see `liveGrants`). */
  live: GrantState[];
  /** Overdraft used, in minor units (>= 0). */
  debt: bigint;
  creditLimit: bigint;
  held: bigint;
}

/**
 * A grant in the state, amounts in bigint minor units and times in epoch milliseconds; reads turn it
 * into a `GrantView`.
 *
 * @example
 * const open = [...fold(events).grants.values()].filter((g) => g.status === 'active' && g.remaining > 0n);
 */
export interface GrantState {
  readonly grantId: string;
  readonly currency: string;
  readonly amount: bigint;
  remaining: bigint;
  readonly priority: number;
  readonly source: GrantSource;
  readonly effectiveAtMs: number;
  /** Infinity for a grant that never expires, so comparisons need no special case. */
  readonly expiresAtMs: number;
  readonly subscriptionId: string | null;
  readonly cycle: number | null;
  readonly ruleIndex: number | null;
  readonly metadata: Readonly<Record<string, string>>;
  status: 'active' | 'expired' | 'voided';
  /** When it expired or was voided. */
  endedAt: string | null;
  inLive: boolean;
}

/**
 * A subscription in the state, with the plan terms it was activated with; `cycle` and `endsAtMs` decide
 * when it renews next. Reads turn it into a `SubscriptionView`.
 *
 * @example
 * const running = [...fold(events).subscriptions.values()].filter((s) => s.endsAtMs > Date.now());
 */
export interface SubscriptionState {
  readonly subscriptionId: string;
  readonly planId: string;
  readonly interval: Interval;
  readonly price: string | null;
  readonly rules: readonly PlanGrantRule[];
  readonly anchorMs: number;
  readonly activatedAt: string;
  /** Last cycle whose grants were made (0 = the activation cycle). */
  cycle: number;
  /** No renewal at or after this instant; Infinity while the subscription runs on. */
  endsAtMs: number;
}

/**
 * A hold in the state, its amount in bigint minor units; reads turn it into a `HoldView`.
 *
 * @example
 * const active = [...fold(events).holds.values()].filter((h) => h.status === 'active');
 */
export interface HoldState {
  readonly holdId: string;
  readonly currency: string;
  readonly amount: bigint;
  readonly feature: string | null;
  readonly quantity: number | null;
  readonly expiresAtMs: number;
  readonly createdAt: string;
  status: 'active' | 'released' | 'expired' | 'captured';
}

/**
 * The state of a customer with no events yet: where every fold starts.
 *
 * @example
 * const state = events.reduce(applyEvent, initialState()); // the same as fold(events)
 */
export function initialState(): CustomerState {
  return {
    customer: null,
    grants: new Map(),
    accounts: new Map(),
    subscriptions: new Map(),
    holds: new Map(),
    reversedUsages: new Set(),
    version: 0,
    lastAt: '',
    archive: emptyArchive(true),
  };
}

/**
 * A copy a command can be decided on and thrown away if the append fails. Only what can still change
 * is copied: grants outside the live lists and finished holds are shared, and the fold copies such a
 * grant before touching it (see `writableGrant`); the archive's frozen maps are shared too, so a long
 * history does not make every write slower.
 */
export function cloneState(state: CustomerState): CustomerState {
  const grants = new Map(state.grants);
  const accounts = new Map<string, AccountState>();
  for (const [code, account] of state.accounts) {
    const live = account.live.map((grant) => {
      const copy = { ...grant };
      grants.set(copy.grantId, copy);
      return copy;
    });
    accounts.set(code, { ...account, live });
  }
  const subscriptions = new Map<string, SubscriptionState>();
  for (const [id, sub] of state.subscriptions) subscriptions.set(id, { ...sub });
  const holds = new Map(state.holds);
  for (const [id, hold] of holds) if (hold.status === 'active') holds.set(id, { ...hold });
  return {
    customer: state.customer,
    grants,
    accounts,
    subscriptions,
    holds,
    reversedUsages: new Set(state.reversedUsages),
    version: state.version,
    lastAt: state.lastAt,
    archive: copyArchive(state.archive),
  };
}

/** The grant, safe to change: one outside the live lists may be shared with a clone, so copy it first. */
export function writableGrant(state: CustomerState, grant: GrantState): GrantState {
  if (grant.inLive) return grant;
  const copy = { ...grant };
  state.grants.set(copy.grantId, copy);
  return copy;
}

/**
 * Shape version of `toSnapshotState`'s output; bump it when the state shape changes (a snapshot of
 * another version is ignored and the stream replayed). 2: grants and holds out of play left out.
 */
export const STATE_SCHEMA_VERSION = 2;

/**
 * Snapshot shapes `fromSnapshotState` reads: version 1 differs only in holding every grant and hold
 * (no `archiveComplete`), so a store's old snapshots keep serving cold reads after an upgrade.
 */
export const READABLE_STATE_SCHEMA_VERSIONS: ReadonlySet<number> = new Set([1, STATE_SCHEMA_VERSION]);

/**
 * The state as JSON-safe data (bigints as strings, Infinity as null) for snapshot storage. Grants and
 * holds out of play are left out, so its size follows what is in play, not the length of the history;
 * a state loaded from it knows its archive is incomplete and asks for the stream when it needs one.
 */
export function toSnapshotState(state: CustomerState): unknown {
  const grants = [...state.grants.values()].filter((g) => !isFinishedGrant(g));
  const holds = [...state.holds.values()].filter((h) => !isFinishedHold(h));
  const { grants: oldGrants, holds: oldHolds } = state.archive;
  const archived =
    oldGrants.frozen.size + oldGrants.recent.size + oldHolds.frozen.size + oldHolds.recent.size;
  const leftOut = archived + state.grants.size - grants.length + state.holds.size - holds.length;
  const shape: SnapshotShape = {
    customer: state.customer,
    grants: grants.map((g) => ({
      ...g,
      amount: g.amount.toString(),
      remaining: g.remaining.toString(),
      expiresAtMs: finiteOrNull(g.expiresAtMs),
    })),
    archiveComplete: state.archive.complete && leftOut === 0,
    accounts: [...state.accounts.values()].map((a) => ({
      currency: a.currency,
      decimals: a.decimals,
      live: a.live.map((g) => g.grantId),
      debt: a.debt.toString(),
      creditLimit: a.creditLimit.toString(),
      held: a.held.toString(),
    })),
    subscriptions: [...state.subscriptions.values()].map((s) => ({
      ...s,
      endsAtMs: finiteOrNull(s.endsAtMs),
    })),
    holds: holds.map((h) => ({
      ...h,
      amount: h.amount.toString(),
      expiresAtMs: finiteOrNull(h.expiresAtMs),
    })),
    reversedUsages: [...state.reversedUsages],
    version: state.version,
    lastAt: state.lastAt,
  };
  return shape;
}

interface SnapshotShape {
  customer: CustomerInfo | null;
  /** The grants in play (see `isFinishedGrant`), in the order of `CustomerState.grants`. */
  grants: (Omit<GrantState, 'amount' | 'remaining' | 'expiresAtMs'> & {
    amount: string;
    remaining: string;
    expiresAtMs: number | null;
  })[];
  /**
   * True if nothing was left out: the loaded state's (empty) archive is then complete. Absent from
   * version 1, which held every grant and hold.
   */
  archiveComplete?: boolean;
  accounts: {
    currency: string;
    decimals: number;
    live: string[];
    debt: string;
    creditLimit: string;
    held: string;
  }[];
  subscriptions: (Omit<SubscriptionState, 'endsAtMs'> & { endsAtMs: number | null })[];
  /** The holds in play (see `isFinishedHold`). */
  holds: (Omit<HoldState, 'amount' | 'expiresAtMs'> & { amount: string; expiresAtMs: number | null })[];
  reversedUsages: string[];
  version: number;
  lastAt: string;
}

export function fromSnapshotState(data: unknown): CustomerState {
  const shape = data as SnapshotShape;
  const state = initialState();
  state.customer = shape.customer;
  state.archive = emptyArchive(shape.archiveComplete ?? true);
  for (const g of shape.grants) {
    state.grants.set(g.grantId, {
      ...g,
      amount: BigInt(g.amount),
      remaining: BigInt(g.remaining),
      expiresAtMs: g.expiresAtMs ?? Number.POSITIVE_INFINITY,
    });
  }
  for (const a of shape.accounts) {
    state.accounts.set(a.currency, {
      currency: a.currency,
      decimals: a.decimals,
      live: a.live.map((id) => state.grants.get(id)!),
      debt: BigInt(a.debt),
      creditLimit: BigInt(a.creditLimit),
      held: BigInt(a.held),
    });
  }
  for (const s of shape.subscriptions) {
    state.subscriptions.set(s.subscriptionId, { ...s, endsAtMs: s.endsAtMs ?? Number.POSITIVE_INFINITY });
  }
  for (const h of shape.holds) {
    state.holds.set(h.holdId, {
      ...h,
      amount: BigInt(h.amount),
      expiresAtMs: h.expiresAtMs ?? Number.POSITIVE_INFINITY,
    });
  }
  for (const id of shape.reversedUsages) state.reversedUsages.add(id);
  state.version = shape.version;
  state.lastAt = shape.lastAt;
  return state;
}

const finiteOrNull = (ms: number): number | null => (Number.isFinite(ms) ? ms : null);
