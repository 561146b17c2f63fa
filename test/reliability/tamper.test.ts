import { createLedger, type StoredEvent } from '@tally/core';
import { describe, expect, it } from 'vitest';
import { postgresTarget, sqliteTarget } from '../support/stores.js';
import { catalog } from './support/catalog.js';
import { chainHash, GENESIS } from './support/chain.js';
import { openForSuite } from './support/suite.js';

/**
 * Tamper evidence. Rows are edited directly in the database, past the store, as someone with access to
 * the file or the server could. `ledger.verify` recomputes the customer's hash chain and names the
 * first event that no longer matches.
 */

describe.each([sqliteTarget(), await postgresTarget()])('tampering with the $name store', (target) => {
  const opened = openForSuite(target);
  let n = 0;

  /** A customer with 7 events: created, granted, five usages. */
  async function customerWithHistory(): Promise<{ customerId: string; events: StoredEvent[] }> {
    const customerId = `cus_tamper_${n++}`;
    const ledger = createLedger({ catalog, store: opened().store });
    await ledger.createCustomer({ customerId });
    await ledger.grant({ customerId, currency: 'credits', amount: '100' });
    for (let i = 0; i < 5; i++)
      await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 });
    expect(await ledger.verify({ customerId })).toMatchObject({ ok: true, events: 7 });
    return { customerId, events: await opened().store.readStream(`customer-${customerId}`) };
  }

  /** `UPDATE events SET <column> = value WHERE stream_id = ... AND version = ...` in the store's dialect. */
  async function update(customerId: string, version: number, column: string, value: unknown): Promise<void> {
    const [a, b, c] = opened().dialect === 'sqlite' ? ['?', '?', '?'] : ['$1', '$2', '$3'];
    await opened().sql!(
      `UPDATE ${opened().eventsTable} SET ${column} = ${a} WHERE stream_id = ${b} AND version = ${c}`,
      [value, `customer-${customerId}`, version],
    );
  }

  const verify = (customerId: string) =>
    createLedger({ catalog, store: opened().store }).verify({ customerId });

  it('finds an edited amount in the data column', async () => {
    const { customerId, events } = await customerWithHistory();
    const target = events[3]!; // the second usage
    expect(target.type).toBe('credits_deducted');
    const forged = JSON.stringify({ ...target.data, cost: '1', allocations: [] });
    await update(customerId, 4, 'data', forged);
    expect(await verify(customerId)).toMatchObject({
      ok: false,
      firstBadVersion: 4,
      eventId: target.id,
      problem: 'stored hash does not match the event content',
    });
  });

  it('finds an edited time, type or metadata', async () => {
    for (const [column, value] of [
      ['at', '2020-01-01T00:00:00.000Z'],
      ['type', 'grant_voided'],
      ['metadata', JSON.stringify({ command: 'grant', hash: 'f'.repeat(64) })],
    ] as const) {
      const { customerId, events } = await customerWithHistory();
      await update(customerId, 6, column, value);
      expect(await verify(customerId), column).toMatchObject({
        ok: false,
        firstBadVersion: 6,
        eventId: events[5]!.id,
      });
    }
  });

  it('finds a deleted event', async () => {
    const { customerId, events } = await customerWithHistory();
    const placeholder = opened().dialect === 'sqlite' ? ['?', '?'] : ['$1', '$2'];
    await opened().sql!(
      `DELETE FROM ${opened().eventsTable} WHERE stream_id = ${placeholder[0]} AND version = ${placeholder[1]}`,
      [`customer-${customerId}`, 3],
    );
    expect(await verify(customerId)).toMatchObject({ ok: false, firstBadVersion: 4, eventId: events[3]!.id });
  });

  it('finds an edit whose own hash was recomputed, at the next event', async () => {
    const { customerId, events } = await customerWithHistory();
    const edited = { ...events[2]!, data: { ...events[2]!.data, cost: '0', allocations: [] } };
    const hash = chainHash(String(events[1]!.metadata.hash), edited);
    await update(customerId, 3, 'data', JSON.stringify(edited.data));
    await update(customerId, 3, 'metadata', JSON.stringify({ ...edited.metadata, hash }));
    expect(await verify(customerId)).toMatchObject({ ok: false, firstBadVersion: 4, eventId: events[3]!.id });
  });

  it('cannot see a rewrite of the whole chain, but the head it reports changes', async () => {
    // The chain proves the stream is the one whose head you kept: keep `verify().head` somewhere else
    // (a receipt, another system) to detect someone who recomputes every hash after an edit.
    const { customerId, events } = await customerWithHistory();
    const headBefore = await verify(customerId);
    let previous = GENESIS;
    for (const event of events) {
      const data = event.version === 7 ? { ...event.data, cost: '0', allocations: [] } : event.data;
      const hash = chainHash(previous, { ...event, data });
      if (event.version >= 7) {
        await update(customerId, event.version, 'data', JSON.stringify(data));
        await update(customerId, event.version, 'metadata', JSON.stringify({ ...event.metadata, hash }));
      }
      previous = hash;
    }
    const after = await verify(customerId);
    expect(after.ok).toBe(true);
    expect(headBefore.ok && after.ok && after.head !== headBefore.head).toBe(true);
  });
});
