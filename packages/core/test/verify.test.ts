import { describe, expect, test } from 'vitest';
import { createLedger, type EventStore, type StoredEvent } from '../src/index.js';
import { catalog, customerWith, expectTallyError, memoryStore, setup } from './support.js';

/** A memory store whose reads pass through `tamper`, as if someone edited the table underneath. */
function tampered(inner: EventStore, tamper: (events: StoredEvent[]) => StoredEvent[]): EventStore {
  return {
    ...inner,
    readStream: async (streamId, options) => tamper(await inner.readStream(streamId, options)),
  };
}

async function history() {
  const s = setup();
  await customerWith(s, 'free');
  await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
  await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '5' });
  await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
  const events = await s.store.readStream((await s.store.readAll())[0]!.streamId);
  expect(events).toHaveLength(6);
  const verifyWith = (tamper: (events: StoredEvent[]) => StoredEvent[]) =>
    createLedger({ catalog, store: tampered(s.store, tamper), clock: s.clock.now }).verify({
      customerId: 'cus_1',
    });
  return { s, events, verifyWith };
}

describe('verify: the hash chain over a customer stream', () => {
  test('an untouched stream verifies, and every event carries its hash', async () => {
    const { s, events } = await history();
    const result = await s.ledger.verify({ customerId: 'cus_1' });
    expect(result).toEqual({ ok: true, events: 6, head: events.at(-1)!.metadata.hash });
    expect(events.every((e) => typeof e.metadata.hash === 'string' && e.metadata.hash.length === 64)).toBe(
      true,
    );
  });

  test('an edited amount is reported at its version', async () => {
    const { verifyWith } = await history();
    const result = await verifyWith((events) =>
      events.map((e) => (e.version === 4 ? { ...e, data: { ...e.data, cost: '1' } } : e)),
    );
    expect(result).toMatchObject({ ok: false, events: 6, firstBadVersion: 4 });
  });

  test('an edited time, type or stored hash is reported at its version', async () => {
    const { verifyWith } = await history();
    expect(
      await verifyWith((ev) =>
        ev.map((e) => (e.version === 2 ? { ...e, at: '2020-01-01T00:00:00.000Z' } : e)),
      ),
    ).toMatchObject({
      ok: false,
      firstBadVersion: 2,
    });
    expect(
      await verifyWith((ev) =>
        ev.map((e) => (e.version === 5 ? { ...e, metadata: { ...e.metadata, hash: 'f'.repeat(64) } } : e)),
      ),
    ).toMatchObject({
      ok: false,
      firstBadVersion: 5,
    });
  });

  test('a removed event breaks the chain where it was', async () => {
    const { verifyWith } = await history();
    const result = await verifyWith((events) =>
      events.filter((e) => e.version !== 3).map((e, i) => ({ ...e, version: i + 1 })),
    );
    expect(result).toMatchObject({ ok: false, firstBadVersion: 3 });
  });

  test('swapped events break the chain at the first of them', async () => {
    const { verifyWith } = await history();
    const result = await verifyWith((events) => {
      const swapped = [...events];
      [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
      return swapped.map((e, i) => ({ ...e, version: i + 1 }));
    });
    expect(result).toMatchObject({ ok: false, firstBadVersion: 4 });
  });

  test('materialized events (renewals written later) are chained like any other', async () => {
    const { s } = await history();
    s.clock.set('2025-04-01T00:00:00.000Z');
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    const result = await s.ledger.verify({ customerId: 'cus_1' });
    expect(result.ok).toBe(true);
    expect(result.events).toBeGreaterThan(10);
  });

  test('a customer with no stream at all is unknown, not verified', async () => {
    const ledger = createLedger({ catalog, store: memoryStore() });
    await expectTallyError(ledger.verify({ customerId: 'nobody' }), 'unknown_customer', 'customerId');
  });
});
