import type { EventStore, Ledger, RecordedEvent } from '@tally/core';
import { auditCustomer, errorCode, minor } from './audit.js';

/**
 * The hammering workload shared by the in-process concurrency test and the multi-process workers:
 * many async callers on a few customers doing usage, holds with capture or release, top-ups,
 * reversals and idempotent calls whose keys every caller (in every process) shares.
 */

/** Every customer's account is in whole credits; `unit` costs 1 credit a unit. */
export const CURRENCY = 'credits';
export const DECIMALS = 0;

export interface HammerCustomer {
  readonly customerId: string;
  readonly initialCredit: number;
  readonly creditLimit: number;
}

export const HAMMER_CUSTOMERS: readonly HammerCustomer[] = [
  { customerId: 'cus_a', initialCredit: 200, creditLimit: 0 },
  { customerId: 'cus_b', initialCredit: 100, creditLimit: 0 },
  { customerId: 'cus_c', initialCredit: 50, creditLimit: 40 },
];

export type Op =
  | 'setup'
  | 'trackUsage'
  | 'sharedUsage'
  | 'hold'
  | 'capture'
  | 'release'
  | 'grant'
  | 'sharedGrant'
  | 'reverse';

/** What one call was answered, as a worker logs it (one JSON line each). */
export interface Outcome {
  readonly op: Op;
  readonly caller: string;
  readonly customerId: string;
  readonly key?: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly usageId?: string;
  readonly holdId?: string;
  readonly grantId?: string;
  /** Signed change of the balance the call reported: -cost, +amount, +returned. */
  readonly delta?: string;
  /** Amount reserved by a hold. */
  readonly held?: string;
}

/** Errors a call may legitimately get under contention; anything else is a failure of the test. */
export const CONTENTION_CODES: ReadonlySet<string> = new Set([
  'insufficient_credits',
  'concurrency_conflict',
  'usage_already_reversed',
]);

/** A small seeded generator, so a failing run can be repeated from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Creates the hammered customers with their opening credit and limits; returns the setup outcomes. */
export async function setupCustomers(ledger: Ledger): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of HAMMER_CUSTOMERS) {
    await ledger.createCustomer({ customerId: c.customerId });
    const grant = await ledger.grant({
      customerId: c.customerId,
      currency: CURRENCY,
      amount: String(c.initialCredit),
      source: 'top_up',
    });
    outcomes.push({
      op: 'setup',
      caller: 'setup',
      customerId: c.customerId,
      ok: true,
      grantId: grant.grantId,
      delta: grant.amount,
    });
    if (c.creditLimit > 0) {
      await ledger.setCreditLimit({
        customerId: c.customerId,
        currency: CURRENCY,
        limit: String(c.creditLimit),
      });
    }
  }
  return outcomes;
}

export interface CallerOptions {
  /** Unique across every process of a run. */
  readonly caller: string;
  readonly ops: number;
  readonly seed: number;
  /** Keys `shared-usage-<customer>-<k>` and `shared-grant-<customer>-<k>` for k below this are used by every caller. */
  readonly sharedKeys: number;
  /** Usage ids any caller of this process may try to reverse (reversals race on them). */
  readonly reversible: string[];
}

/** Runs one caller's operations one after another, logging each answer. */
export async function runCaller(
  ledger: Ledger,
  options: CallerOptions,
  log: (outcome: Outcome) => void,
): Promise<void> {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const call = async (
    op: Op,
    customerId: string,
    key: string | undefined,
    run: () => Promise<Omit<Outcome, 'op' | 'caller' | 'customerId' | 'ok' | 'key'>>,
  ): Promise<Outcome> => {
    let outcome: Outcome;
    try {
      outcome = {
        op,
        caller: options.caller,
        customerId,
        ok: true,
        ...(key === undefined ? {} : { key }),
        ...(await run()),
      };
    } catch (error) {
      outcome = {
        op,
        caller: options.caller,
        customerId,
        ok: false,
        ...(key === undefined ? {} : { key }),
        ...errorCode(error),
      };
    }
    log(outcome);
    return outcome;
  };

  for (let i = 0; i < options.ops; i++) {
    const { customerId } = pick(HAMMER_CUSTOMERS);
    const ownKey = random() < 0.5 ? `${options.caller}-${i}` : undefined;
    const roll = random();
    if (roll < 0.35) {
      const quantity = int(1, 6);
      const outcome = await call('trackUsage', customerId, ownKey, async () => {
        const r = await ledger.trackUsage({
          customerId,
          feature: 'unit',
          quantity,
          metadata: { caller: options.caller, op: String(i) },
          ...(ownKey === undefined ? {} : { idempotencyKey: ownKey }),
        });
        return { usageId: r.usageId, delta: `-${r.cost}` };
      });
      if (outcome.ok && random() < 0.5) options.reversible.push(`${customerId}/${outcome.usageId}`);
    } else if (roll < 0.5) {
      const k = int(0, options.sharedKeys - 1);
      const key = `shared-usage-${customerId}-${k}`;
      await call('sharedUsage', customerId, key, async () => {
        const r = await ledger.trackUsage({
          customerId,
          feature: 'unit',
          quantity: 1 + (k % 3),
          metadata: { shared: String(k) },
          idempotencyKey: key,
        });
        return { usageId: r.usageId, delta: `-${r.cost}` };
      });
    } else if (roll < 0.7) {
      const hold = await call('hold', customerId, ownKey, async () => {
        const r = await ledger.hold({
          customerId,
          feature: 'unit',
          quantity: int(1, 8),
          ...(ownKey === undefined ? {} : { idempotencyKey: ownKey }),
        });
        return { holdId: r.holdId, held: r.amount };
      });
      if (!hold.ok) continue;
      const holdId = hold.holdId!;
      // Give other callers a moment to run while the credit is reserved.
      await new Promise((resolve) => setTimeout(resolve, int(0, 3)));
      let settled = false;
      if (random() < 0.7) {
        const captureKey = ownKey === undefined ? undefined : `${ownKey}-capture`;
        const capture = await call('capture', customerId, captureKey, async () => {
          const r = await ledger.captureHold({
            customerId,
            holdId,
            quantity: int(1, 10),
            ...(captureKey === undefined ? {} : { idempotencyKey: captureKey }),
          });
          return { usageId: r.usageId, holdId, delta: `-${r.cost}` };
        });
        settled = capture.ok;
      }
      // A refused capture (or none) releases, retrying while other writers keep winning.
      for (let attempt = 0; !settled && attempt < 5; attempt++) {
        const release = await call('release', customerId, undefined, async () => {
          const r = await ledger.releaseHold({ customerId, holdId });
          return { holdId: r.holdId };
        });
        settled = release.ok;
      }
    } else if (roll < 0.8) {
      const amount = int(1, 15);
      await call('grant', customerId, ownKey, async () => {
        const r = await ledger.grant({
          customerId,
          currency: CURRENCY,
          amount: String(amount),
          source: 'top_up',
          ...(ownKey === undefined ? {} : { idempotencyKey: ownKey }),
        });
        return { grantId: r.grantId, delta: r.amount };
      });
    } else if (roll < 0.87) {
      const k = int(0, options.sharedKeys - 1);
      const key = `shared-grant-${customerId}-${k}`;
      await call('sharedGrant', customerId, key, async () => {
        const r = await ledger.grant({
          customerId,
          currency: CURRENCY,
          amount: String(5 + (k % 4)),
          source: 'promotion',
          idempotencyKey: key,
        });
        return { grantId: r.grantId, delta: r.amount };
      });
    } else if (options.reversible.length > 0) {
      const target = pick(options.reversible);
      const [owner, usageId] = target.split('/') as [string, string];
      await call('reverse', owner, ownKey, async () => {
        const r = await ledger.reverseUsage({
          customerId: owner,
          usageId,
          reason: 'reliability test',
          ...(ownKey === undefined ? {} : { idempotencyKey: ownKey }),
        });
        return { usageId: r.usageId, delta: r.returned };
      });
    }
  }
}

/**
 * Checks a finished run against the store: every success is there exactly once, every refusal left no
 * trace, shared keys wrote once, balances match both the fold and what callers were told, no account is
 * below its limit. Returns the problems found (empty when all is well).
 */
export async function checkRun(
  ledger: Ledger,
  store: EventStore,
  outcomes: readonly Outcome[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const o of outcomes) {
    if (!o.ok && !CONTENTION_CODES.has(o.code!)) {
      problems.push(`${o.caller} ${o.op} on ${o.customerId} failed with ${o.code}: ${o.message}`);
    }
  }
  for (const { customerId, creditLimit } of HAMMER_CUSTOMERS) {
    const mine = outcomes.filter((o) => o.customerId === customerId);
    const audit = await auditCustomer(ledger, store, customerId, CURRENCY, DECIMALS);
    problems.push(...audit.problems.map((p) => `${customerId}: ${p}`));
    if (minor(audit.reported.creditLimit, DECIMALS) !== BigInt(creditLimit)) {
      problems.push(`${customerId}: credit limit is ${audit.reported.creditLimit}, set ${creditLimit}`);
    }
    problems.push(
      ...matchEvents(
        customerId,
        audit.recorded,
        audit.events.map((e) => e.metadata),
        mine,
      ),
    );

    // What callers were told adds up to the balance: each distinct success counted once.
    let told = 0n;
    const counted = new Set<string>();
    let held = 0n;
    const holdsOpen = new Map<string, bigint>();
    for (const o of mine) {
      if (!o.ok) continue;
      if (o.op === 'hold') holdsOpen.set(o.holdId!, minor(o.held!, DECIMALS));
      if (o.op === 'capture' || o.op === 'release') holdsOpen.delete(o.holdId!);
      if (o.delta === undefined) continue;
      const identity = o.op === 'reverse' ? `reverse:${o.usageId}` : (o.usageId ?? o.grantId)!;
      if (counted.has(identity)) continue;
      counted.add(identity);
      told += minor(o.delta, DECIMALS);
    }
    for (const amount of holdsOpen.values()) held += amount;
    if (told !== audit.fold.balance) {
      problems.push(
        `${customerId}: callers were told the balance moved to ${told}, the store folds to ${audit.fold.balance}`,
      );
    }
    if (held !== audit.fold.held) {
      problems.push(
        `${customerId}: holds left open by callers total ${held}, the store holds ${audit.fold.held}`,
      );
    }
  }
  return problems;
}

/** Every success has exactly its events in the stream, and every event of the stream belongs to a success. */
function matchEvents(
  customerId: string,
  events: readonly RecordedEvent[],
  metadata: readonly Readonly<Record<string, unknown>>[],
  outcomes: readonly Outcome[],
): string[] {
  const problems: string[] = [];
  const ok = outcomes.filter((o) => o.ok);
  const count = (predicate: (e: RecordedEvent) => boolean) => events.filter(predicate).length;
  const deductions = new Map<string, RecordedEvent>();
  for (const e of events) {
    if (e.type !== 'credits_deducted') continue;
    if (deductions.has(e.data.usageId)) problems.push(`usage ${e.data.usageId} is deducted twice`);
    deductions.set(e.data.usageId, e);
  }

  const usageIds = new Set<string>();
  const holdIds = new Set<string>();
  const captured = new Set<string>();
  const released = new Set<string>();
  const grantIds = new Set<string>();
  const reversed = new Set<string>();
  const byKey = new Map<string, Set<string>>();
  for (const o of ok) {
    const id = o.usageId ?? o.grantId ?? o.holdId ?? '';
    if (o.key !== undefined) byKey.set(o.key, (byKey.get(o.key) ?? new Set()).add(`${o.op}:${id}`));
    switch (o.op) {
      case 'trackUsage':
      case 'sharedUsage':
      case 'capture': {
        usageIds.add(o.usageId!);
        const event = deductions.get(o.usageId!);
        if (event === undefined)
          problems.push(`${o.caller} was told usage ${o.usageId} succeeded; it is not in the store`);
        else if (event.type === 'credits_deducted' && `-${event.data.cost}` !== o.delta) {
          problems.push(`usage ${o.usageId} cost ${event.data.cost} in the store, ${o.delta} to the caller`);
        }
        if (o.op === 'capture') {
          captured.add(o.holdId!);
          if (event?.type === 'credits_deducted' && event.data.holdId !== o.holdId) {
            problems.push(
              `capture ${o.usageId} is stored against hold ${event.data.holdId}, not ${o.holdId}`,
            );
          }
        }
        break;
      }
      case 'hold':
        holdIds.add(o.holdId!);
        if (count((e) => e.type === 'credits_held' && e.data.holdId === o.holdId) !== 1) {
          problems.push(`hold ${o.holdId} is not in the store exactly once`);
        }
        break;
      case 'release':
        released.add(o.holdId!);
        break;
      case 'grant':
      case 'sharedGrant':
      case 'setup':
        grantIds.add(o.grantId!);
        if (count((e) => e.type === 'credits_granted' && e.data.grantId === o.grantId) !== 1) {
          problems.push(`grant ${o.grantId} is not in the store exactly once`);
        }
        break;
      case 'reverse':
        if (reversed.has(o.usageId!) && o.key === undefined)
          problems.push(`usage ${o.usageId} was reversed twice`);
        reversed.add(o.usageId!);
        break;
    }
  }
  for (const [key, ids] of byKey) {
    if (ids.size !== 1)
      problems.push(`idempotency key ${key} answered with different results: ${[...ids].join(', ')}`);
  }
  for (const holdId of captured) {
    const n = count(
      (e) => e.type === 'hold_released' && e.data.holdId === holdId && e.data.reason === 'captured',
    );
    if (n !== 1) problems.push(`hold ${holdId} was captured ${n} times in the store`);
  }
  for (const holdId of released) {
    const n = count(
      (e) => e.type === 'hold_released' && e.data.holdId === holdId && e.data.reason === 'released',
    );
    if (n !== 1) problems.push(`hold ${holdId} was released ${n} times in the store`);
  }
  for (const usageId of reversed) {
    const n = count((e) => e.type === 'usage_reversed' && e.data.usageId === usageId);
    if (n !== 1) problems.push(`usage ${usageId} is reversed ${n} times in the store`);
  }

  // The other way round: nothing in the store that no caller was told succeeded.
  events.forEach((e, index) => {
    const where = `${customerId} v${index + 1} ${e.type} ${e.id}`;
    switch (e.type) {
      case 'credits_deducted':
        if (!usageIds.has(e.data.usageId))
          problems.push(`${where}: usage ${e.data.usageId} was never acknowledged`);
        break;
      case 'credits_held':
        if (!holdIds.has(e.data.holdId))
          problems.push(`${where}: hold ${e.data.holdId} was never acknowledged`);
        break;
      case 'hold_released': {
        const acknowledged = e.data.reason === 'captured' ? captured : released;
        if (!acknowledged.has(e.data.holdId))
          problems.push(`${where}: ${e.data.reason} ${e.data.holdId} was never acknowledged`);
        break;
      }
      case 'credits_granted':
        if (e.data.source === 'reversal') {
          if (!reversed.has(e.data.metadata.usageId ?? ''))
            problems.push(`${where}: reversal grant for an unacknowledged reversal`);
        } else if (!grantIds.has(e.data.grantId)) {
          problems.push(`${where}: grant ${e.data.grantId} was never acknowledged`);
        }
        break;
      case 'usage_reversed':
        if (!reversed.has(e.data.usageId))
          problems.push(`${where}: reversal of ${e.data.usageId} was never acknowledged`);
        break;
      case 'customer_created':
      case 'credit_limit_set':
      case 'debt_settled':
        break;
      default:
        problems.push(`${where}: unexpected event`);
    }
    const key = metadata[index]?.idempotencyKey;
    if (typeof key === 'string' && !byKey.has(key))
      problems.push(`${where}: idempotency key ${key} belongs to no success`);
  });
  return problems;
}

/** Parses a worker's JSON-lines outcome log. */
export function parseOutcomes(text: string): Outcome[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Outcome);
}
