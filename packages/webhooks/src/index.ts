/**
 * `@tally/webhooks`: signed webhooks for a Tally ledger. Endpoints and a durable outbox per endpoint
 * are streams of the ledger's own store (memory, SQLite, Postgres alike); the feed processor hands
 * the ledger's events to `handle`, and the sender delivers them with Stripe-style signatures, retries
 * with backoff and jitter, dead letters and replay, in each customer's order. Receivers check a
 * delivery with `verifyWebhook`.
 *
 * @example
 * import { createWebhooks, verifyWebhook } from '@tally/webhooks';
 *
 * const webhooks = createWebhooks({ store });
 * const { secret } = await webhooks.registerEndpoint({ url: 'https://example.com/hooks', eventTypes: ['credits_deducted'] });
 * webhooks.start();
 * // in the receiver:
 * const event = verifyWebhook(await request.text(), request.headers.get('tally-signature'), secret);
 *
 * @packageDocumentation
 */
export { type Backoff, retryDelayMs } from './backoff.js';
export type { WebhookEndpoint, WebhookEndpointWithSecret } from './endpoints.js';
export type { DeliveryStatus, WebhookDelivery } from './outbox.js';
export {
  EVENT_ID_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
  type VerifyOptions,
  verifyWebhook,
  type WebhookEvent,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from './signature.js';
export {
  createWebhooks,
  type DeliveryPass,
  type Webhooks,
  type WebhooksOptions,
} from './webhooks.js';
