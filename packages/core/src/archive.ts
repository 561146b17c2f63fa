import type { CustomerState, GrantState, HoldState } from './state.js';

/**
 * Grants and holds that are out of play, kept out of the hot state (`CustomerState.grants` and
 * `.holds`) so that copying, sweeping and snapshotting a state cost what is in play, not the whole
 * history. `fold` never archives; the ledger's stream cache does, on the states it keeps. An entry in
 * the hot state wins over one here with the same id, and `recent` over `frozen`.
 *
 * @example
 * const { archive } = fold(events); // fold keeps everything in the hot state: its archive is empty
 * console.log(archive.grants.frozen.size + archive.holds.recent.size, archive.complete); // 0 true
 */
export interface Archive {
  readonly grants: ArchivedMap<GrantState>;
  readonly holds: ArchivedMap<HoldState>;
  /**
   * False for a state loaded from a snapshot, which leaves what is out of play out: those grants and
   * holds exist but are not here, and a lookup that misses must throw `ArchiveNeeded` instead of
   * deciding the id is unknown.
   */
  readonly complete: boolean;
  /** Grants and holds left hot by the last `sweepFinished`: the next sweep waits for twice as many. */
  readonly hotAfterSweep: number;
}

/**
 * One kind of archived entry, by id: a map shared by every copy of the state and never changed once
 * made, and the entries archived since, which each copy has its own of.
 *
 * @example
 * const grant = archive.grants.recent.get(id) ?? archive.grants.frozen.get(id);
 */
export interface ArchivedMap<T> {
  readonly frozen: ReadonlyMap<string, T>;
  readonly recent: Map<string, T>;
}

/**
 * Thrown by a lookup that misses on a state whose archive is incomplete: the answer needs what the
 * snapshot left out, so the caller must rebuild the state from the whole stream. Internal: the
 * ledger's stream cache (for a fold) and writer (for a decision) catch it and load the whole stream;
 * it never reaches a user.
 */
export class ArchiveNeeded extends Error {
  constructor(readonly id: string) {
    super(`${id} may be out of play, and this state does not hold what is`);
    this.name = 'ArchiveNeeded';
  }
}

export const emptyArchive = (complete: boolean): Archive => ({
  grants: { frozen: new Map(), recent: new Map() },
  holds: { frozen: new Map(), recent: new Map() },
  complete,
  hotAfterSweep: 0,
});

/** The archive for a copy of its state: the frozen maps shared, the recent ones copied. */
export const copyArchive = (archive: Archive): Archive => ({
  ...archive,
  grants: { frozen: archive.grants.frozen, recent: new Map(archive.grants.recent) },
  holds: { frozen: archive.holds.frozen, recent: new Map(archive.holds.recent) },
});

/**
 * Whether a grant is out of play, so it may leave the hot state: out of every live list, because it
 * expired, was voided or was spent. Only a reversal can bring a spent one back, and a reversal is
 * rare enough to pay for looking it up (`findGrant`).
 */
export const isFinishedGrant = (grant: GrantState): boolean => !grant.inLive;

/** Whether a hold is out of play: captured, released or expired. Nothing changes it again. */
export const isFinishedHold = (hold: HoldState): boolean => hold.status !== 'active';

/**
 * The grant with this id wherever it is: the hot state, then the archive. Undefined if it was never
 * made; throws `ArchiveNeeded` if the archive is incomplete and the grant is not in the hot state.
 */
export function findGrant(state: CustomerState, grantId: string): GrantState | undefined {
  return find(state.grants, state.archive.grants, state.archive.complete, grantId);
}

/** `findGrant` for holds. */
export function findHold(state: CustomerState, holdId: string): HoldState | undefined {
  return find(state.holds, state.archive.holds, state.archive.complete, holdId);
}

function find<T>(
  hot: Map<string, T>,
  archived: ArchivedMap<T>,
  complete: boolean,
  id: string,
): T | undefined {
  const found = hot.get(id) ?? archived.recent.get(id) ?? archived.frozen.get(id);
  if (found === undefined && !complete) throw new ArchiveNeeded(id);
  return found;
}

/** Every grant the state knows of, each once (hot before archived); throws `ArchiveNeeded` if it cannot. */
export function allGrants(state: CustomerState): GrantState[] {
  return all(state.grants, state.archive.grants, state.archive.complete);
}

/** `allGrants` for holds. */
export function allHolds(state: CustomerState): HoldState[] {
  return all(state.holds, state.archive.holds, state.archive.complete);
}

function all<T>(hot: Map<string, T>, archived: ArchivedMap<T>, complete: boolean): T[] {
  if (!complete) throw new ArchiveNeeded('(all)');
  const out = [...hot.values()];
  for (const [id, entry] of archived.recent) if (!hot.has(id)) out.push(entry);
  for (const [id, entry] of archived.frozen) if (!hot.has(id) && !archived.recent.has(id)) out.push(entry);
  return out;
}

/** How many archived entries a `recent` map may hold before they are merged into a new `frozen` map. */
const RECENT_LIMIT = 64;

/**
 * Moves what is out of play from the hot state into its archive, in place. Costs a walk of the hot
 * state, plus a copy of a frozen map once its `recent` holds more than `RECENT_LIMIT` entries.
 * Results do not change: lookups and views see archived entries as before.
 */
export function archiveFinished(state: CustomerState): void {
  const grants = moveOut(state.grants, state.archive.grants, isFinishedGrant);
  const holds = moveOut(state.holds, state.archive.holds, isFinishedHold);
  const hotAfterSweep = state.grants.size + state.holds.size;
  state.archive = { grants, holds, complete: state.archive.complete, hotAfterSweep };
}

function moveOut<T>(hot: Map<string, T>, archived: ArchivedMap<T>, finished: (entry: T) => boolean) {
  // Deleting the entry being visited is safe for a Map: iteration goes on with the next one.
  for (const [id, entry] of hot) {
    if (!finished(entry)) continue;
    hot.delete(id);
    archived.recent.set(id, entry);
  }
  if (archived.recent.size <= RECENT_LIMIT) return archived;
  const merged = new Map(archived.frozen);
  for (const [id, entry] of archived.recent) merged.set(id, entry);
  return { frozen: merged, recent: new Map<string, T>() };
}

/**
 * `archiveFinished` once the hot state has doubled since the last sweep (and holds at least 32
 * entries): a state that is kept and written to for a long time pays for each entry's walk a constant
 * number of times, not once per write.
 */
export function sweepFinished(state: CustomerState): void {
  const hot = state.grants.size + state.holds.size;
  if (hot >= Math.max(32, 2 * state.archive.hotAfterSweep)) archiveFinished(state);
}

/**
 * An archived grant put back into the hot state (as a copy: the archive may be shared), for an event
 * that changes it: a reversal that restores a spent grant.
 */
export function unarchive(state: CustomerState, grant: GrantState): GrantState {
  const copy = { ...grant };
  state.archive.grants.recent.delete(grant.grantId);
  state.grants.set(copy.grantId, copy);
  return copy;
}
