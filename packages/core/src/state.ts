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
   * Grants by id. A grant out of play (see `isFinished`) may instead be in `archive`, which a long
   * history fills; look a grant up with `findGrant`, not here alone.
   */
  readonly grants: Map<string, GrantState>;
  readonly accounts: Map<string, AccountState>;
  readonly subscriptions: Map<string, SubscriptionState>;
  readonly holds: Map<string, HoldState>;
  readonly reversedUsages: Set<string>;
  /** Events folded so far: the stream version this state is at. */
  version: number;
  /** `at` of the last event folded ('' before the first): the stream's clock never runs backwards. */
  lastAt: string;
  /** Finished grants moved out of `grants` (by `archiveFinished`); not part of a snapshot. */
  archive: GrantArchive;
}

/**
 * Finished grants, kept out of the hot state so that copying and snapshotting a state costs what can
 * still change, not the whole history. `fold` never archives; the ledger's stream cache does, on the
 * states it keeps. A grant in `CustomerState.grants` wins over one here with the same id, and `recent`
 * over `frozen`.
 *
 * @example
 * const { archive } = fold(events); // fold keeps every grant in `grants`: its archive is empty
 * console.log(archive.frozen.size + archive.recent.size, archive.complete); // 0 true
 */
export interface GrantArchive {
  /** Shared by every copy of the state and never changed once made. */
  readonly frozen: ReadonlyMap<string, GrantState>;
  /** Archived since `frozen` was made; each copy of the state has its own. */
  readonly recent: Map<string, GrantState>;
  /**
   * False for a state loaded from a snapshot that left finished grants out: they exist but are not
   * here, and a lookup that misses must throw `ArchiveNeeded` instead of deciding the grant is unknown.
   */
  readonly complete: boolean;
  /** Grants left in the hot state by the last `sweepFinished`: the next sweep waits for twice as many. */
  readonly hotAfterSweep: number;
}

/**
 * Thrown by a grant lookup that misses on a state whose archive is incomplete: the answer needs the
 * finished grants, so the caller must rebuild the state from the whole stream. Internal: the ledger's
 * stream cache (for a fold) and writer (for a decision) catch it and load the whole stream; it never
 * reaches a user.
 */
export class ArchiveNeeded extends Error {
  constructor(readonly grantId: string) {
    super(`grant ${grantId} may be a finished grant, which this state does not hold`);
    this.name = 'ArchiveNeeded';
  }
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

const emptyArchive = (complete: boolean): GrantArchive => ({
  frozen: new Map(),
  recent: new Map(),
  complete,
  hotAfterSweep: 0,
});

/**
 * Whether a grant is out of play, so it may leave the hot state: out of every live list, because it
 * expired, was voided or was spent. Only a reversal can bring a spent one back, and a reversal is
 * rare enough to pay for looking it up (`findGrant`).
 */
export function isFinished(grant: GrantState): boolean {
  return !grant.inLive;
}

/**
 * The grant with this id wherever it is: the hot state, then the archive. Undefined if it was never
 * made; throws `ArchiveNeeded` if the archive is incomplete and the grant is not in the hot state.
 */
export function findGrant(state: CustomerState, grantId: string): GrantState | undefined {
  const hot = state.grants.get(grantId);
  if (hot !== undefined) return hot;
  const archived = state.archive.recent.get(grantId) ?? state.archive.frozen.get(grantId);
  if (archived === undefined && !state.archive.complete) throw new ArchiveNeeded(grantId);
  return archived;
}

/** Every grant the state knows of, each once (hot before archived); throws `ArchiveNeeded` if it cannot. */
export function* allGrants(state: CustomerState): Generator<GrantState> {
  const { frozen, recent, complete } = state.archive;
  if (!complete) throw new ArchiveNeeded('(all)');
  yield* state.grants.values();
  for (const grant of recent.values()) if (!state.grants.has(grant.grantId)) yield grant;
  for (const grant of frozen.values()) {
    if (!state.grants.has(grant.grantId) && !recent.has(grant.grantId)) yield grant;
  }
}

/** How many archived grants `recent` may hold before they are merged into a new `frozen` map. */
const RECENT_LIMIT = 64;

/**
 * Moves the finished grants of the hot state into its archive, in place. Costs a walk of the hot
 * state, plus a copy of the frozen map once `recent` holds more than `RECENT_LIMIT` grants.
 * Results do not change: lookups and views see archived grants as before.
 */
export function archiveFinished(state: CustomerState): void {
  const { frozen, recent, complete } = state.archive;
  // Deleting the entry being visited is safe for a Map: iteration goes on with the next one.
  for (const grant of state.grants.values()) {
    if (!isFinished(grant)) continue;
    state.grants.delete(grant.grantId);
    recent.set(grant.grantId, grant);
  }
  const hotAfterSweep = state.grants.size;
  if (recent.size > RECENT_LIMIT) {
    const merged = new Map(frozen);
    for (const [id, grant] of recent) merged.set(id, grant);
    state.archive = { frozen: merged, recent: new Map(), complete, hotAfterSweep };
  } else state.archive = { frozen, recent, complete, hotAfterSweep };
}

/**
 * `archiveFinished` once the hot state has doubled since the last sweep (and holds at least 32
 * grants): a state that is kept and written to for a long time pays for each grant's walk a constant
 * number of times, not once per write.
 */
export function sweepFinished(state: CustomerState): void {
  if (state.grants.size >= Math.max(32, 2 * state.archive.hotAfterSweep)) archiveFinished(state);
}

/**
 * An archived grant put back into the hot state (as a copy: the archive may be shared), for an event
 * that changes it: a reversal that restores a spent grant.
 */
export function unarchive(state: CustomerState, grant: GrantState): GrantState {
  const copy = { ...grant };
  state.archive.recent.delete(grant.grantId);
  state.grants.set(copy.grantId, copy);
  return copy;
}

/**
 * A copy a command can be decided on and thrown away if the append fails. Only what can still change
 * is copied: grants outside the live lists and finished holds are shared, and the fold copies such a
 * grant before touching it (see `writableGrant`); the archive's frozen map is shared too, so a long
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
    archive: { ...state.archive, recent: new Map(state.archive.recent) },
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
 * another version is ignored and the stream replayed). 2: finished grants left out (see `isFinished`).
 */
export const STATE_SCHEMA_VERSION = 2;

/**
 * Snapshot shapes `fromSnapshotState` reads: version 1 differs only in holding every grant (no
 * `archiveComplete`), so a store's old snapshots keep serving cold reads after an upgrade.
 */
export const READABLE_STATE_SCHEMA_VERSIONS: ReadonlySet<number> = new Set([1, STATE_SCHEMA_VERSION]);

/**
 * The state as JSON-safe data (bigints as strings, Infinity as null) for snapshot storage. Finished
 * grants are left out, so its size follows the grants in play, not the length of the history; a
 * state loaded from it knows its archive is incomplete and asks for the stream when it needs one.
 */
export function toSnapshotState(state: CustomerState): unknown {
  const grants: SnapshotShape['grants'] = [];
  let left = state.archive.recent.size + state.archive.frozen.size;
  for (const g of state.grants.values()) {
    if (isFinished(g)) {
      left++;
      continue;
    }
    grants.push({
      ...g,
      amount: g.amount.toString(),
      remaining: g.remaining.toString(),
      expiresAtMs: finiteOrNull(g.expiresAtMs),
    });
  }
  const shape: SnapshotShape = {
    customer: state.customer,
    grants,
    archiveComplete: state.archive.complete && left === 0,
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
    holds: [...state.holds.values()].map((h) => ({
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
  /** The grants in play (see `isFinished`), in the order of `CustomerState.grants`. */
  grants: (Omit<GrantState, 'amount' | 'remaining' | 'expiresAtMs'> & {
    amount: string;
    remaining: string;
    expiresAtMs: number | null;
  })[];
  /**
   * True if no grant was left out: the loaded state's (empty) archive is then complete. Absent from
   * version 1, which held every grant.
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
