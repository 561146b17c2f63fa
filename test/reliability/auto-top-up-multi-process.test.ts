import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedger, runAutoTopUps } from '@tally/core';
import { upcast } from '@tally/core/pure';
import { describe, expect, it } from 'vitest';
import {
  choosePostgres,
  itOnPostgresServer,
  postgresTarget,
  type StoreTarget,
  sqliteTarget,
} from '../support/stores.js';
import { catalog } from './support/catalog.js';
import { filePayments, paymentsIn } from './support/fake-payments.js';
import { finished, startWorker } from './support/processes.js';
import type { AutoTopUpTask } from './workers/auto-top-up.js';

/**
 * Four OS processes share one store and one fake payment API (a directory: a charge per idempotency
 * key, every call logged). Each tracks two usages at the same instant, together taking the balance
 * below the rule's threshold, then runs the top-up executor. Exactly one request may be recorded and
 * exactly one charge made; with every process killed right after its purchase returns, a restarted
 * executor finishes the same request, with the same key, and the credits arrive once.
 */

const PROCESSES = 4;
const USAGES_EACH = 2;
const postgres = await choosePostgres();

async function crossing(target: StoreTarget, crash: boolean): Promise<void> {
  const opened = await target.open();
  const paymentsDir = await mkdtemp(join(tmpdir(), 'tally-payments-'));
  const customerId = `cus_topup_${crash ? 'crash' : 'race'}`;
  try {
    const ledger = createLedger({ catalog, store: opened.store });
    await ledger.createCustomer({ customerId });
    await ledger.grant({ customerId, currency: 'credits', amount: '200' });
    // 8 usages of 10 take 200 to 120: the 6th crosses 150, whichever process makes it.
    await ledger.setAutoTopUp({ customerId, currency: 'credits', threshold: '150', amount: '500' });
    const startAt = Date.now() + 2_500;
    const runs = await Promise.all(
      Array.from({ length: PROCESSES }, (_, worker) => {
        const task: AutoTopUpTask = {
          spec: opened.spec!,
          worker,
          customerId,
          usages: USAGES_EACH,
          paymentsDir,
          crashAfterPurchase: crash,
          startAt,
        };
        return finished(startWorker('auto-top-up', task), 120_000);
      }),
    );
    for (const [worker, run] of runs.entries()) {
      if (crash && run.signal === 'SIGKILL') continue;
      expect(run.code, `worker ${worker} exited with ${run.code ?? run.signal}: ${run.stderr}`).toBe(0);
    }
    const killed = runs.filter((r) => r.signal === 'SIGKILL').length;
    if (crash) {
      // At least the process that bought first died between the purchase and the grant.
      expect(killed).toBeGreaterThan(0);
      const cold = createLedger({ catalog, store: opened.store });
      await runAutoTopUps({ ledger: cold, purchase: filePayments(paymentsDir, 'restart'), customerId });
    } else expect(killed).toBe(0);

    const events = (await opened.store.readStream(`customer-${customerId}`)).map(upcast);
    const requested = events.filter((e) => e.type === 'auto_top_up_requested');
    const purchases = events.filter((e) => e.type === 'credits_granted' && e.data.source === 'purchase');
    expect(events.filter((e) => e.type === 'credits_deducted')).toHaveLength(PROCESSES * USAGES_EACH);
    expect(requested).toHaveLength(1);
    expect(purchases).toHaveLength(1);
    const { charges, calls } = paymentsIn(paymentsDir);
    expect(charges).toHaveLength(1);
    const key = requested[0]!.type === 'auto_top_up_requested' ? requested[0]!.data.idempotencyKey : '';
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set([key]));
    if (crash) expect(calls.length).toBeGreaterThan(1); // retried after the crash, same key
    const [account] = await createLedger({ catalog, store: opened.store }).creditAccounts({ customerId });
    expect(account!.balance).toBe('620');
    console.info(
      `${target.name}${crash ? ' (killed after purchase)' : ''}: ${PROCESSES} processes x ${USAGES_EACH} usages, ` +
        `${calls.length} purchase calls, ${charges.length} charge, ${killed} killed`,
    );
  } finally {
    await opened.close();
    await rm(paymentsDir, { recursive: true, force: true });
  }
}

describe('auto top-up across processes', () => {
  it(
    'SQLite file: 8 usages crossing at once, one request, one charge',
    () => crossing(sqliteTarget(), false),
    180_000,
  );
  it(
    'SQLite file: killed after the purchase, the restart charges nothing more and the credits arrive',
    () => crossing(sqliteTarget(), true),
    180_000,
  );
  itOnPostgresServer(
    postgres,
    'Postgres server: 8 usages crossing at once, one request, one charge',
    async () => crossing(await postgresTarget(), false),
    180_000,
  );
  itOnPostgresServer(
    postgres,
    'Postgres server: killed after the purchase, the restart charges nothing more and the credits arrive',
    async () => crossing(await postgresTarget(), true),
    180_000,
  );
});
