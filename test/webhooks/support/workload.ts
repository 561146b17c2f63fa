import { createLedger, type EventStore, type StoredEvent } from '@tally/core';
import { catalog } from '../../reliability/support/catalog.js';

/** Writes a few customers' histories through the ledger: a customer, a grant, then usages. */
export async function writeHistories(
  store: EventStore,
  options: { customers: readonly string[]; usages: number; clock?: () => Date },
): Promise<void> {
  const ledger = createLedger({
    catalog,
    store,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  for (const customerId of options.customers) {
    await ledger.createCustomer({ customerId });
    await ledger.grant({ customerId, currency: 'credits', amount: '100000' });
  }
  for (let i = 0; i < options.usages; i++) {
    for (const customerId of options.customers) {
      await ledger.trackUsage({ customerId, feature: 'unit', quantity: 1 + (i % 3) });
    }
  }
  // Not closed: closing a ledger closes its store, which the test goes on using.
}

/** Every customer event in the store, per customer, in stream order. */
export async function customerEvents(store: EventStore): Promise<Map<string, StoredEvent[]>> {
  const byCustomer = new Map<string, StoredEvent[]>();
  for (const event of await store.readAll()) {
    if (!event.streamId.startsWith('customer-')) continue;
    const customerId = event.streamId.slice('customer-'.length);
    byCustomer.set(customerId, [...(byCustomer.get(customerId) ?? []), event]);
  }
  for (const events of byCustomer.values()) events.sort((a, b) => a.version - b.version);
  return byCustomer;
}

/**
 * Problems with what a receiver got against what the store holds: every event received (and every
 * request verified), the same body under one id every time, and per customer no event received
 * before an earlier event of that customer was.
 */
export function deliveryProblems(
  byCustomer: ReadonlyMap<string, readonly StoredEvent[]>,
  received: readonly { eventId: string; body: string; verified: { ok: boolean } }[],
): string[] {
  const problems: string[] = [];
  const bodies = new Map<string, string>();
  const firstSeen = new Map<string, number>();
  received.forEach((r, i) => {
    if (!r.verified.ok) problems.push(`delivery ${i} of ${r.eventId} failed verifyWebhook`);
    const id = (JSON.parse(r.body) as { id: string }).id;
    if (id !== r.eventId) problems.push(`Tally-Event-Id ${r.eventId} is not the body's id ${id}`);
    const before = bodies.get(r.eventId);
    if (before !== undefined && before !== r.body) problems.push(`${r.eventId} was sent with two bodies`);
    bodies.set(r.eventId, r.body);
    if (!firstSeen.has(r.eventId)) firstSeen.set(r.eventId, i);
  });
  for (const [customerId, events] of byCustomer) {
    let previous = -1;
    for (const event of events) {
      const at = firstSeen.get(event.id);
      if (at === undefined) {
        problems.push(`${customerId}'s event ${event.id} (v${event.version}, ${event.type}) never arrived`);
        continue;
      }
      if (at < previous) {
        problems.push(`${customerId}'s event v${event.version} arrived before an earlier event of theirs`);
      }
      previous = at;
    }
  }
  return problems;
}
