import type { StoredEvent } from '@tally/core';

/**
 * The outbox of one endpoint is one stream of the ledger's store, `$webhook-outbox-<endpointId>`:
 * a delivery is enqueued there (once per ledger event, by idempotency key), each attempt is claimed
 * there before the request is sent, and its outcome recorded after. The deliveries' state is the fold
 * of that stream, so a restarted sender, or another process, knows exactly what was delivered,
 * what is due and what was in flight when a sender died.
 */

export const outboxStreamOf = (endpointId: string): string => `$webhook-outbox-${endpointId}`;

/** A delivery's id names its endpoint and the ledger event: `<endpointId>.<eventId>`. */
export const deliveryIdOf = (endpointId: string, eventId: string): string => `${endpointId}.${eventId}`;

/** The endpoint a delivery id names (endpoint ids hold no '.'), or null if it is not a delivery id. */
export function endpointOfDelivery(deliveryId: string): string | null {
  const at = deliveryId.indexOf('.');
  return at <= 0 || at === deliveryId.length - 1 ? null : deliveryId.slice(0, at);
}

export type DeliveryEvent =
  | {
      readonly type: 'webhook_delivery_enqueued';
      readonly data: {
        readonly deliveryId: string;
        readonly eventId: string;
        readonly eventType: string;
        readonly customerId: string | null;
        /** The stream whose events reach the endpoint in their order: the customer's. */
        readonly orderingKey: string;
        /** The exact JSON sent on every attempt. */
        readonly body: string;
      };
    }
  | {
      readonly type: 'webhook_delivery_attempted';
      readonly data: { readonly deliveryId: string; readonly attempt: number; readonly leaseUntil: string };
    }
  | {
      readonly type: 'webhook_delivery_failed';
      readonly data: {
        readonly deliveryId: string;
        readonly attempt: number;
        readonly status: number | null;
        readonly error: string;
        readonly nextAttemptAt: string;
      };
    }
  | {
      readonly type: 'webhook_delivery_succeeded';
      readonly data: { readonly deliveryId: string; readonly attempt: number; readonly status: number };
    }
  | {
      readonly type: 'webhook_delivery_dead_lettered';
      readonly data: {
        readonly deliveryId: string;
        readonly attempt: number;
        readonly status: number | null;
        readonly error: string;
      };
    }
  | { readonly type: 'webhook_delivery_replayed'; readonly data: { readonly deliveryId: string } };

/**
 * Where a delivery stands: waiting for its next attempt (or in flight), delivered, or given up on
 * after the last attempt (until replayed).
 *
 * @example
 * const failed = await webhooks.deliveries({ endpointId: 'we_1', status: 'dead_lettered' satisfies DeliveryStatus });
 */
export type DeliveryStatus = 'pending' | 'succeeded' | 'dead_lettered';

export interface DeliveryRecord {
  readonly id: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly customerId: string | null;
  readonly orderingKey: string;
  readonly body: string;
  /** Position in the outbox: the order deliveries of one key must succeed in. */
  readonly seq: number;
  readonly createdAt: string;
  status: DeliveryStatus;
  /** Attempts since it was enqueued or last replayed; the last one may still be in flight. */
  attempts: number;
  totalAttempts: number;
  nextAttemptAt: number;
  /** Set while an attempt is claimed and has no outcome; past it, the attempt is taken as lost. */
  leaseUntil: number | null;
  lastAttemptAt: string | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface Outbox {
  /** The stream version folded so far. */
  version: number;
  readonly deliveries: Map<string, DeliveryRecord>;
  /** Deliveries that are pending, by id. */
  readonly pending: Map<string, DeliveryRecord>;
}

export const emptyOutbox = (): Outbox => ({ version: 0, deliveries: new Map(), pending: new Map() });

/** Folds more of the outbox stream into `outbox`. */
export function foldOutbox(outbox: Outbox, events: readonly StoredEvent[]): Outbox {
  for (const stored of events) {
    outbox.version = stored.version;
    const event = stored as unknown as DeliveryEvent;
    if (event.type === 'webhook_delivery_enqueued') {
      const { deliveryId, eventId, eventType, customerId, orderingKey, body } = event.data;
      const record: DeliveryRecord = {
        id: deliveryId,
        eventId,
        eventType,
        customerId,
        orderingKey,
        body,
        seq: stored.version,
        createdAt: stored.at,
        status: 'pending',
        attempts: 0,
        totalAttempts: 0,
        nextAttemptAt: Date.parse(stored.at),
        leaseUntil: null,
        lastAttemptAt: null,
        lastResponseStatus: null,
        lastError: null,
        deliveredAt: null,
      };
      outbox.deliveries.set(deliveryId, record);
      outbox.pending.set(deliveryId, record);
      continue;
    }
    const record = outbox.deliveries.get(event.data.deliveryId);
    if (record === undefined) continue;
    switch (event.type) {
      case 'webhook_delivery_attempted':
        record.attempts = event.data.attempt;
        record.totalAttempts += 1;
        record.leaseUntil = Date.parse(event.data.leaseUntil);
        record.lastAttemptAt = stored.at;
        break;
      case 'webhook_delivery_failed':
        if (event.data.attempt !== record.attempts) break;
        record.leaseUntil = null;
        record.lastResponseStatus = event.data.status;
        record.lastError = event.data.error;
        record.nextAttemptAt = Date.parse(event.data.nextAttemptAt);
        break;
      case 'webhook_delivery_succeeded':
        record.leaseUntil = null;
        record.status = 'succeeded';
        record.lastResponseStatus = event.data.status;
        record.lastError = null;
        record.deliveredAt = stored.at;
        outbox.pending.delete(record.id);
        break;
      case 'webhook_delivery_dead_lettered':
        record.leaseUntil = null;
        record.status = 'dead_lettered';
        record.lastResponseStatus = event.data.status;
        record.lastError = event.data.error;
        outbox.pending.delete(record.id);
        break;
      case 'webhook_delivery_replayed':
        record.status = 'pending';
        record.attempts = 0;
        record.leaseUntil = null;
        record.nextAttemptAt = Date.parse(stored.at);
        outbox.pending.set(record.id, record);
        break;
      default:
        break;
    }
  }
  return outbox;
}

/**
 * What is to be done now: the first pending delivery of each ordering key, if it is due and not in
 * flight (a later delivery of a key waits until the earlier one succeeds or is dead-lettered), and
 * those whose last attempt is lost (its lease ran out without an outcome) with no attempts left.
 */
export function dueDeliveries(
  outbox: Outbox,
  nowMs: number,
  maxAttempts: number,
  limit: number,
): { readonly send: DeliveryRecord[]; readonly exhausted: DeliveryRecord[] } {
  const send: DeliveryRecord[] = [];
  const exhausted: DeliveryRecord[] = [];
  const blocked = new Set<string>();
  const pending = [...outbox.pending.values()].sort((a, b) => a.seq - b.seq);
  for (const record of pending) {
    if (blocked.has(record.orderingKey)) continue;
    blocked.add(record.orderingKey);
    if (record.leaseUntil !== null) {
      if (record.leaseUntil > nowMs) continue;
      if (record.attempts >= maxAttempts) {
        exhausted.push(record);
        continue;
      }
    } else if (record.nextAttemptAt > nowMs) continue;
    if (send.length < limit) send.push(record);
  }
  return { send, exhausted };
}

/**
 * A delivery as the API shows it.
 *
 * @example
 * const [delivery]: WebhookDelivery[] = await webhooks.deliveries({ endpointId: 'we_1' });
 * console.log(delivery!.eventId, delivery!.status, delivery!.attempts, delivery!.lastError);
 */
export interface WebhookDelivery {
  /** `<endpointId>.<eventId>`: what `replayDelivery` takes. */
  readonly id: string;
  readonly endpointId: string;
  /** The ledger event delivered, sent as `Tally-Event-Id` on every attempt. */
  readonly eventId: string;
  readonly eventType: string;
  readonly customerId: string | null;
  readonly status: DeliveryStatus;
  /** Attempts since it was enqueued or last replayed. */
  readonly attempts: number;
  readonly totalAttempts: number;
  readonly createdAt: string;
  readonly lastAttemptAt: string | null;
  /** The HTTP status of the last answered attempt; null when it got none (refused, timed out). */
  readonly lastResponseStatus: number | null;
  readonly lastError: string | null;
  /** When a pending delivery is tried next (ISO-8601); null otherwise. */
  readonly nextAttemptAt: string | null;
  readonly deliveredAt: string | null;
}

export function publicDelivery(endpointId: string, record: DeliveryRecord): WebhookDelivery {
  return {
    id: record.id,
    endpointId,
    eventId: record.eventId,
    eventType: record.eventType,
    customerId: record.customerId,
    status: record.status,
    attempts: record.attempts,
    totalAttempts: record.totalAttempts,
    createdAt: record.createdAt,
    lastAttemptAt: record.lastAttemptAt,
    lastResponseStatus: record.lastResponseStatus,
    lastError: record.lastError,
    nextAttemptAt:
      record.status === 'pending'
        ? new Date(Math.max(record.nextAttemptAt, record.leaseUntil ?? 0)).toISOString()
        : null,
    deliveredAt: record.deliveredAt,
  };
}
