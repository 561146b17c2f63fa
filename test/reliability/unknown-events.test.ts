import { createLedger, type Ledger, TallyError, type TallyErrorCode } from '@tally/core';
import { CURRENT_SCHEMA_VERSIONS } from '@tally/core/pure';
import { describe, expect, it } from 'vitest';
import { storeTargets } from '../support/stores.js';
import { storeFingerprint } from './support/audit.js';
import { catalog } from './support/catalog.js';
import { appendForged } from './support/chain.js';
import { openForSuite } from './support/suite.js';

/**
 * A stream holding an event this version of Tally cannot read (a type it does not know, a schema
 * version from newer code, or data that does not fold) makes every read and write of that customer
 * fail with a typed error naming the event. Never a balance computed without it, never a write on top.
 */

interface Case {
  readonly name: string;
  readonly code: TallyErrorCode;
  readonly forge: (grantId: string) => { type: string; schemaVersion: number; data: Record<string, unknown> };
}

const CASES: readonly Case[] = [
  {
    name: 'an unknown event type',
    code: 'unknown_event',
    forge: () => ({
      type: 'credits_teleported',
      schemaVersion: 1,
      data: { currency: 'credits', amount: '1000' },
    }),
  },
  {
    name: 'a schema version from newer code',
    code: 'unknown_event',
    forge: (grantId) => ({
      type: 'credits_deducted',
      schemaVersion: CURRENT_SCHEMA_VERSIONS.credits_deducted + 1,
      data: {
        usageId: 'usage_future',
        currency: 'credits',
        cost: '5',
        allocations: [{ grantId, amount: '5' }],
      },
    }),
  },
  {
    name: 'schema version 0',
    code: 'unknown_event',
    forge: () => ({
      type: 'credits_granted',
      schemaVersion: 0,
      data: { grantId: 'g0', currency: 'credits', amount: '1000' },
    }),
  },
  {
    name: 'a known event whose data does not fold',
    code: 'corrupt_stream',
    forge: () => ({
      type: 'credits_granted',
      schemaVersion: 1,
      data: { grantId: 'g_bad', currency: 'credits', amount: 'lots' },
    }),
  },
  {
    name: 'a deduction from a grant that was never made',
    code: 'corrupt_stream',
    forge: () => ({
      type: 'credits_deducted',
      schemaVersion: 2,
      data: {
        usageId: 'usage_ghost',
        currency: 'credits',
        feature: 'unit',
        quantity: 1,
        cost: '1',
        allocations: [{ grantId: 'grant_ghost', amount: '1' }],
        debt: '0',
        holdId: null,
        metadata: {},
      },
    }),
  },
];

describe.each(await storeTargets())('unreadable events on the $name store', (target) => {
  const opened = openForSuite(target);

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s fails every read and write loudly',
    async (_name, c) => {
      const customerId = `cus_${c.name.replace(/\W+/g, '_')}`;
      // A small snapshot interval, so the cold read starts from a snapshot and meets the event in the tail.
      const warm = createLedger({ catalog, store: opened().store, snapshotEvery: 2 });
      await warm.createCustomer({ customerId });
      const { grantId } = await warm.grant({ customerId, currency: 'credits', amount: '100' });
      const usage = await warm.trackUsage({ customerId, feature: 'unit', quantity: 10 });
      expect((await warm.creditAccounts({ customerId }))[0]?.balance).toBe('90');

      const forged = await appendForged(opened().store, customerId, {
        id: `evt_forged_${customerId}`,
        at: new Date().toISOString(),
        ...c.forge(grantId),
      });
      const before = await storeFingerprint(opened().store, [`customer-${customerId}`]);
      const cold = createLedger({ catalog, store: opened().store });

      const expectLoud = async (what: string, call: Promise<unknown>) => {
        const error = await call.then(
          (value) => {
            throw new Error(`${what} answered ${JSON.stringify(value)} over an unreadable event`);
          },
          (e: unknown) => e,
        );
        expect(error, what).toBeInstanceOf(TallyError);
        expect((error as TallyError).code, what).toBe(c.code);
        expect((error as TallyError).message, what).toContain(forged.id);
        expect((error as TallyError).details?.eventId, what).toBe(forged.id);
      };
      for (const [label, ledger] of [
        ['warm', warm],
        ['cold', cold],
      ] as const satisfies readonly (readonly [string, Ledger])[]) {
        await expectLoud(`${label} creditAccounts`, ledger.creditAccounts({ customerId }));
        await expectLoud(`${label} customer`, ledger.customer({ customerId }));
        await expectLoud(`${label} entries`, ledger.entries({ customerId, currency: 'credits' }));
        await expectLoud(`${label} grants`, ledger.grants({ customerId }));
        await expectLoud(`${label} holds`, ledger.holds({ customerId }));
        await expectLoud(`${label} check`, ledger.check({ customerId, feature: 'unit', quantity: 1 }));
        await expectLoud(
          `${label} trackUsage`,
          ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 }),
        );
        await expectLoud(`${label} grant`, ledger.grant({ customerId, currency: 'credits', amount: '5' }));
        await expectLoud(`${label} hold`, ledger.hold({ customerId, feature: 'unit', quantity: 1 }));
        await expectLoud(
          `${label} reverseUsage`,
          ledger.reverseUsage({ customerId, usageId: usage.usageId }),
        );
        await expectLoud(
          `${label} idempotent retry`,
          ledger.trackUsage({ customerId, feature: 'unit', quantity: 1, idempotencyKey: 'after-forgery' }),
        );
      }
      // Nothing was written on top of the unreadable event, and the chain itself is intact: this is an
      // event the reader does not understand, not a tampered one.
      expect(await storeFingerprint(opened().store, [`customer-${customerId}`])).toBe(before);
      expect(await cold.verify({ customerId })).toMatchObject({ ok: true, events: 4 });
    },
  );
});
