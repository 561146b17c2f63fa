import { createLedger, type Ledger, TallyError } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { describe, expect, it } from 'vitest';
import { auditCustomer } from './support/audit.js';
import { catalog } from './support/catalog.js';
import { soak } from './support/env.js';
import { checkRun, type Outcome, runCaller, setupCustomers } from './support/workload.js';

/**
 * Concurrency inside one process, on the reference memory store. Several ledgers share the store, as
 * several processes would share a database: each has its own cache and writer, so their appends race
 * and lose to each other (version conflicts, retried by re-reading and re-deciding), while many async
 * callers per ledger exercise the group commit.
 */

const LEDGERS = 4;

function ledgersOver(store = memoryStore()) {
  return {
    store,
    ledgers: Array.from({ length: LEDGERS }, () => createLedger({ catalog, store, snapshotEvery: 20 })),
  };
}

async function settle<T>(calls: Promise<T>[]): Promise<{ ok: T[]; errors: unknown[] }> {
  const results = await Promise.allSettled(calls);
  return {
    ok: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
  };
}

describe('concurrency in one process (memory store, several ledgers on one store)', () => {
  it('never spends a credit twice: 300 parallel deductions against 100 credits', async () => {
    const { store, ledgers } = ledgersOver();
    await ledgers[0]!.createCustomer({ customerId: 'cus_race' });
    await ledgers[0]!.grant({ customerId: 'cus_race', currency: 'credits', amount: '100', source: 'top_up' });
    const { ok, errors } = await settle(
      Array.from({ length: 300 }, (_, i) =>
        ledgers[i % LEDGERS]!.trackUsage({ customerId: 'cus_race', feature: 'unit', quantity: 1 }),
      ),
    );
    for (const error of errors) {
      expect(error).toBeInstanceOf(TallyError);
      expect(['insufficient_credits', 'concurrency_conflict']).toContain((error as TallyError).code);
    }
    const refused = errors.filter((e) => (e as TallyError).code === 'insufficient_credits').length;
    const audit = await auditCustomer(createLedger({ catalog, store }), store, 'cus_race', 'credits', 0);
    expect(audit.problems).toEqual([]);
    expect(audit.fold.balance).toBe(100n - BigInt(ok.length));
    expect(ok.length).toBeLessThanOrEqual(100);
    // Deductions only lower the balance, so once one was refused for want of credit, none was left.
    if (refused > 0) expect(audit.fold.balance).toBe(0n);
    expect(new Set(ok.map((r) => r.usageId)).size).toBe(ok.length);
    expect(audit.recorded.filter((e) => e.type === 'credits_deducted')).toHaveLength(ok.length);
  });

  it('writes an idempotent call once when its retries race from every ledger', async () => {
    const { store, ledgers } = ledgersOver();
    await ledgers[0]!.createCustomer({ customerId: 'cus_key' });
    await ledgers[0]!.grant({ customerId: 'cus_key', currency: 'credits', amount: '1000', source: 'top_up' });
    const input = {
      customerId: 'cus_key',
      feature: 'unit',
      quantity: 3,
      idempotencyKey: 'retry-me',
    } as const;
    const grantInput = {
      customerId: 'cus_key',
      currency: 'credits',
      amount: '7',
      source: 'promotion',
      idempotencyKey: 'grant-once',
    } as const;
    const [usages, grants] = await Promise.all([
      settle(Array.from({ length: 60 }, (_, i) => ledgers[i % LEDGERS]!.trackUsage(input))),
      settle(Array.from({ length: 60 }, (_, i) => ledgers[(i + 1) % LEDGERS]!.grant(grantInput))),
    ]);
    for (const error of [...usages.errors, ...grants.errors]) {
      expect((error as TallyError).code).toBe('concurrency_conflict');
    }
    expect(usages.ok.length).toBeGreaterThan(0);
    expect(new Set(usages.ok.map((r) => r.usageId)).size).toBe(1);
    expect(new Set(grants.ok.map((r) => r.grantId)).size).toBe(1);
    const audit = await auditCustomer(createLedger({ catalog, store }), store, 'cus_key', 'credits', 0);
    expect(audit.problems).toEqual([]);
    expect(audit.recorded.filter((e) => e.type === 'credits_deducted')).toHaveLength(1);
    expect(audit.recorded.filter((e) => e.type === 'credits_granted')).toHaveLength(2);
    expect(audit.fold.balance).toBe(1000n - 3n + 7n);

    // The same key with another request is refused and writes nothing.
    const before = audit.events.length;
    await expect(ledgers[2]!.trackUsage({ ...input, quantity: 4 })).rejects.toMatchObject({
      code: 'idempotency_conflict',
      field: 'idempotencyKey',
    });
    expect(await store.readStream('customer-cus_key')).toHaveLength(before);
  });

  it('keeps every invariant under a mixed workload: usage, holds, captures, top-ups, reversals, shared keys', async () => {
    const { store, ledgers } = ledgersOver();
    const outcomes: Outcome[] = await setupCustomers(ledgers[0]!);
    const callersPerLedger = 12;
    const ops = 50 * soak();
    const seed = Date.now() % 1_000_000;
    const started = performance.now();
    await Promise.all(
      ledgers.flatMap((ledger: Ledger, l) => {
        const reversible: string[] = [];
        return Array.from({ length: callersPerLedger }, (_, c) =>
          runCaller(
            ledger,
            { caller: `L${l}C${c}`, ops, seed: seed + l * 1000 + c, sharedKeys: 5, reversible },
            (o) => outcomes.push(o),
          ),
        );
      }),
    );
    const elapsed = performance.now() - started;
    const problems = await checkRun(createLedger({ catalog, store }), store, outcomes);
    expect(problems, `seed ${seed}`).toEqual([]);

    // The run really contended: every kind of call succeeded somewhere and credit ran out somewhere.
    const succeeded = new Set(outcomes.filter((o) => o.ok).map((o) => o.op));
    for (const op of [
      'trackUsage',
      'sharedUsage',
      'hold',
      'capture',
      'release',
      'grant',
      'sharedGrant',
      'reverse',
    ]) {
      expect(succeeded, `no ${op} succeeded (seed ${seed})`).toContain(op);
    }
    expect(outcomes.some((o) => o.code === 'insufficient_credits')).toBe(true);
    console.info(
      `concurrency (memory): ${outcomes.length} calls by ${LEDGERS * callersPerLedger} callers in ${elapsed.toFixed(0)} ms, ` +
        `${outcomes.filter((o) => !o.ok).length} refused (seed ${seed})`,
    );
  });
});
