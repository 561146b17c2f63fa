import type { AccountState, GrantState } from './state.js';
import { appliesTo } from './views.js';

/**
 * Which grant pays first: the lower priority number, then the one that expires soonest (never-expiring
 * last), then the one that became effective first, then the lower grant id, so the order is total.
 *
 * @example
 * const payingOrder = [...fold(events).accounts.get('credits')!.live].sort(consumptionOrder);
 */
export function consumptionOrder(a: GrantState, b: GrantState): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.expiresAtMs !== b.expiresAtMs) return a.expiresAtMs < b.expiresAtMs ? -1 : 1;
  if (a.effectiveAtMs !== b.effectiveAtMs) return a.effectiveAtMs - b.effectiveAtMs;
  return a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0;
}

/**
 * Grants that can pay for `feature` at `atMs`, in consumption order: in play, effective, not expired,
 * with credit left, and unscoped or scoped to the feature (an amount, `feature` null, is paid by
 * unscoped credit only). Reads only: finished grants leave the account's live list in `evolve`.
 */
export function spendableGrants(account: AccountState, atMs: number, feature: string | null): GrantState[] {
  const spendable: GrantState[] = [];
  for (const grant of account.live) {
    if (
      grant.remaining > 0n &&
      grant.effectiveAtMs <= atMs &&
      grant.expiresAtMs > atMs &&
      appliesTo(grant, feature)
    )
      spendable.push(grant);
  }
  return spendable.sort(consumptionOrder);
}

export interface Allocated {
  readonly allocations: { readonly grant: GrantState; readonly amount: bigint }[];
  /** What the grants could not cover. */
  readonly shortfall: bigint;
}

/** Takes `amount` from `grants` (already in consumption order), each down to zero before the next. */
export function allocate(grants: readonly GrantState[], amount: bigint): Allocated {
  const allocations: { grant: GrantState; amount: bigint }[] = [];
  let left = amount;
  for (const grant of grants) {
    if (left === 0n) break;
    const take = grant.remaining < left ? grant.remaining : left;
    if (take === 0n) continue;
    allocations.push({ grant, amount: take });
    left -= take;
  }
  return { allocations, shortfall: left };
}
