/**
 * The limit baseline of group 3: the least work a correct, tamper-evident usage command must do, written
 * here in plain code so Tally's `trackUsage` on the memory store can be read as a fraction of it.
 *
 * One call: look up the customer's state in a `Map`; pick grants in order and subtract the cost from
 * each until it is covered (bigint minor units), refusing if they cannot cover it; build the event
 * object (id, type, time, the usage, the allocations as decimal strings, the balance after);
 * `JSON.stringify` it; SHA-256 that text onto the previous event's hash and keep the new hash. No
 * input validation, no ids beyond a counter, no store, no promise: a floor, not a rival design.
 */
import { createHash } from 'node:crypto';

interface Grant {
  readonly id: string;
  remaining: bigint;
}

interface CustomerState {
  readonly grants: Grant[];
  balance: bigint;
  version: number;
  hash: string;
}

/** A deduct of `cost` minor units on customers each holding one large grant, as the ledger rows do. */
export function limitBaseline(customers: readonly string[], grantMinor: bigint, decimals: number) {
  const states = new Map<string, CustomerState>();
  for (const customerId of customers) {
    states.set(customerId, {
      grants: [{ id: `grant_${customerId}`, remaining: grantMinor }],
      balance: grantMinor,
      version: 2,
      hash: '0'.repeat(64),
    });
  }
  const scale = 10n ** BigInt(decimals);
  const decimal = (minor: bigint) => {
    const sign = minor < 0n ? '-' : '';
    const abs = minor < 0n ? -minor : minor;
    return `${sign}${abs / scale}.${(abs % scale).toString().padStart(decimals, '0')}`;
  };
  return (customerId: string, feature: string, quantity: number, costMinor: bigint) => {
    const state = states.get(customerId);
    if (state === undefined) throw new Error(`no customer ${customerId}`);
    let left = costMinor;
    const allocations: { grantId: string; amount: string }[] = [];
    for (const grant of state.grants) {
      if (left === 0n) break;
      if (grant.remaining === 0n) continue;
      const take = grant.remaining < left ? grant.remaining : left;
      grant.remaining -= take;
      left -= take;
      allocations.push({ grantId: grant.id, amount: decimal(take) });
    }
    if (left > 0n) throw new Error('insufficient credit');
    state.balance -= costMinor;
    state.version += 1;
    const event = {
      id: `evt_${customerId}_${state.version}`,
      type: 'credits_deducted',
      at: new Date().toISOString(),
      data: {
        usageId: `usage_${customerId}_${state.version}`,
        feature,
        quantity,
        cost: decimal(costMinor),
        allocations,
        balanceAfter: decimal(state.balance),
      },
    };
    const text = JSON.stringify(event);
    state.hash = createHash('sha256').update(state.hash).update(text).digest('hex');
    return { usageId: event.data.usageId, balance: event.data.balanceAfter };
  };
}
