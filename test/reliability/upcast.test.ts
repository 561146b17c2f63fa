import { createLedger } from '@tally/core';
import { CURRENT_SCHEMA_VERSIONS } from '@tally/core/pure';
import { describe, expect, it } from 'vitest';
import { allEntries } from '../support/statement.js';
import { storeTargets } from '../support/stores.js';
import { auditCustomer } from './support/audit.js';
import { catalog } from './support/catalog.js';
import { appendForged } from './support/chain.js';
import { openForSuite } from './support/suite.js';

/**
 * Schema evolution: `credits_deducted` v1 (written before overdraft and holds existed: no `debt`,
 * `holdId` or `metadata`) is upcast to v2 on read. A v1 event in a durable store reads as the correct
 * balance, can be reversed, and new events chain onto it; the stored row itself is never rewritten.
 */

describe.each(await storeTargets())('upcasting on the $name store', (target) => {
  const opened = openForSuite(target);

  it('reads a credits_deducted v1 event written by older code as the right balance', async () => {
    expect(CURRENT_SCHEMA_VERSIONS.credits_deducted).toBe(3);
    const customerId = 'cus_legacy';
    const writer = createLedger({ catalog, store: opened().store });
    await writer.createCustomer({ customerId });
    const { grantId } = await writer.grant({ customerId, currency: 'credits', amount: '100' });

    const legacy = await appendForged(opened().store, customerId, {
      id: 'evt_legacy_usage',
      type: 'credits_deducted',
      schemaVersion: 1,
      at: new Date().toISOString(),
      data: {
        usageId: 'usage_legacy',
        currency: 'credits',
        feature: 'ai-generation',
        quantity: 3,
        cost: '30',
        allocations: [{ grantId, amount: '30' }],
      },
      metadata: { command: 'trackUsage' },
    });
    expect(legacy.schemaVersion).toBe(1);
    expect(legacy.data).not.toHaveProperty('debt');

    // A ledger that has never seen the customer folds the v1 event from the store.
    const reader = createLedger({ catalog, store: opened().store });
    const [account] = await reader.creditAccounts({ customerId });
    expect(account).toMatchObject({ balance: '70', debt: '0', held: '0' });
    const entries = await allEntries(reader, { customerId, currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({
      kind: 'usage',
      usageId: 'usage_legacy',
      amount: '-30',
      balance: '70',
      holdId: null,
    });

    // New code writes on top of it, reverses it (which needs the v2 `debt` field), and the chain holds.
    await reader.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
    const reversal = await reader.reverseUsage({ customerId, usageId: 'usage_legacy', reason: 'migrated' });
    expect(reversal).toMatchObject({ returned: '30', forfeited: '0' });
    const audit = await auditCustomer(
      createLedger({ catalog, store: opened().store }),
      opened().store,
      customerId,
      'credits',
      0,
    );
    expect(audit.problems).toEqual([]);
    expect(audit.reported.balance).toBe('90');
    expect(await reader.verify({ customerId })).toMatchObject({ ok: true, events: 5 });

    // Upcasting happens on read only: the stored row is still version 1, as it was written.
    const [stored] = (await opened().store.readStream(`customer-${customerId}`)).filter(
      (e) => e.id === 'evt_legacy_usage',
    );
    expect(stored).toMatchObject({ schemaVersion: 1, data: legacy.data });
    const { sql, dialect, eventsTable } = opened();
    if (sql !== undefined) {
      const placeholder = dialect === 'sqlite' ? '?' : '$1';
      const rows = await sql(`SELECT schema_version, data FROM ${eventsTable} WHERE id = ${placeholder}`, [
        'evt_legacy_usage',
      ]);
      expect(Number(rows[0]?.schema_version)).toBe(1);
      expect(JSON.parse(String(rows[0]?.data))).toEqual(legacy.data);
    }
  });
});
