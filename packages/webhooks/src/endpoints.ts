import type { StoredEvent } from '@tally/core';
import { EVENT_TYPES } from '@tally/core/pure';
import { z } from 'zod';

/**
 * Endpoints live in one stream of the ledger's own store, `$webhooks`: each registration and change is
 * an event, and the endpoints are their fold. Endpoints are few and change rarely, so one stream (with
 * its optimistic concurrency) is the whole registry on every store, without a table of its own.
 */

export const ENDPOINTS_STREAM = '$webhooks';

/** An endpoint as the registry holds it, secret included. */
export interface EndpointRecord {
  readonly id: string;
  readonly url: string;
  readonly secret: string;
  /** The secret replaced by the last rotation, still signed with until `previousSecretUntil`. */
  readonly previousSecret: string | null;
  readonly previousSecretUntil: string | null;
  /** Event types delivered to it; `['*']` for every type. */
  readonly eventTypes: readonly string[];
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface EndpointRegistered {
  readonly type: 'webhook_endpoint_registered';
  readonly data: {
    readonly endpointId: string;
    readonly url: string;
    readonly secret: string;
    readonly eventTypes: readonly string[];
    readonly enabled: boolean;
  };
}

export interface EndpointUpdated {
  readonly type: 'webhook_endpoint_updated';
  readonly data: {
    readonly endpointId: string;
    readonly url?: string;
    readonly eventTypes?: readonly string[];
    readonly enabled?: boolean;
    /** A rotation: the new secret, and until when the old one still signs too. */
    readonly secret?: string;
    readonly previousSecretUntil?: string;
  };
}

export type EndpointEvent = EndpointRegistered | EndpointUpdated;

/** The registry folded from its stream, in registration order. */
export function foldEndpoints(
  into: Map<string, EndpointRecord>,
  events: readonly StoredEvent[],
): Map<string, EndpointRecord> {
  for (const stored of events) {
    const event = stored as unknown as EndpointEvent & { at: string };
    switch (event.type) {
      case 'webhook_endpoint_registered': {
        const { endpointId, url, secret, eventTypes, enabled } = event.data;
        into.set(endpointId, {
          id: endpointId,
          url,
          secret,
          previousSecret: null,
          previousSecretUntil: null,
          eventTypes,
          enabled,
          createdAt: stored.at,
          updatedAt: stored.at,
        });
        break;
      }
      case 'webhook_endpoint_updated': {
        const before = into.get(event.data.endpointId);
        if (before === undefined) break;
        const { url, eventTypes, enabled, secret, previousSecretUntil } = event.data;
        into.set(before.id, {
          ...before,
          ...(url === undefined ? {} : { url }),
          ...(eventTypes === undefined ? {} : { eventTypes }),
          ...(enabled === undefined ? {} : { enabled }),
          ...(secret === undefined
            ? {}
            : {
                secret,
                previousSecret: before.secret,
                previousSecretUntil: previousSecretUntil ?? stored.at,
              }),
          updatedAt: stored.at,
        });
        break;
      }
      default:
        // Another version's event type: the registry reads what it knows.
        break;
    }
  }
  return into;
}

/** Whether the endpoint takes events of this type. */
export const subscribes = (endpoint: EndpointRecord, type: string): boolean =>
  endpoint.eventTypes.includes('*') || endpoint.eventTypes.includes(type);

/** The secrets a delivery at `nowMs` is signed with: the current one, and the previous during rotation. */
export function signingSecrets(endpoint: EndpointRecord, nowMs: number): string[] {
  const until = endpoint.previousSecretUntil === null ? 0 : Date.parse(endpoint.previousSecretUntil);
  return endpoint.previousSecret !== null && nowMs < until
    ? [endpoint.secret, endpoint.previousSecret]
    : [endpoint.secret];
}

// ---------------------------------------------------------------------------------------------------
// Inputs

const endpointId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, {
  message: 'must be 1-64 letters, digits, "_" or "-", starting with a letter or digit',
});
const url = z
  .string()
  .max(2048)
  .refine(
    (value) => {
      try {
        const parsed = new URL(value);
        return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.username === '';
      } catch {
        return false;
      }
    },
    { message: 'must be an http(s) URL without credentials' },
  );
const secret = z
  .string()
  .min(16, { message: 'must be at least 16 characters' })
  .max(256)
  .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' });
const eventType = z
  .string()
  .refine((value) => value === '*' || EVENT_TYPES.has(value), { message: 'is not a Tally event type' });
const eventTypes = z.array(eventType).min(1).max(100);

export const registerEndpointInput = z.strictObject({
  /** Default: a fresh `we_…` id. Giving one makes registering idempotent-by-refusal. */
  id: endpointId.optional(),
  url,
  /** Default: a fresh `whsec_…` secret, returned once. */
  secret: secret.optional(),
  eventTypes,
  enabled: z.boolean().optional(),
});

export const updateEndpointInput = z.strictObject({
  endpointId,
  url: url.optional(),
  /** A new secret starts a rotation: the old one still signs for `rotationGraceSeconds`. */
  secret: secret.optional(),
  eventTypes: eventTypes.optional(),
  enabled: z.boolean().optional(),
});

/** A list of everything takes no input (an empty object). */
export const noInput = z.strictObject({});

export const endpointRefInput = z.strictObject({ endpointId });

export const deliveriesInput = z.strictObject({
  endpointId,
  status: z.enum(['pending', 'succeeded', 'dead_lettered']).optional(),
});

export const replayInput = z.strictObject({
  deliveryId: z.string().min(1).max(300),
});

/**
 * An endpoint as the API shows it: without its secret, which only registration and a rotation return.
 *
 * @example
 * const [endpoint]: WebhookEndpoint[] = await webhooks.endpoints();
 * console.log(endpoint!.id, endpoint!.url, endpoint!.eventTypes, endpoint!.enabled);
 */
export interface WebhookEndpoint {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * What registering an endpoint (or rotating its secret) answers: the endpoint and its secret, which
 * the receiver needs for `verifyWebhook` and which is not shown again.
 *
 * @example
 * const { id, secret }: WebhookEndpointWithSecret = await webhooks.registerEndpoint({ url: 'https://example.com/hooks', eventTypes: ['*'] });
 */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  readonly secret: string;
}

export const publicEndpoint = (record: EndpointRecord): WebhookEndpoint => ({
  id: record.id,
  url: record.url,
  eventTypes: record.eventTypes,
  enabled: record.enabled,
  createdAt: record.createdAt,
  updatedAt: record.updatedAt,
});
