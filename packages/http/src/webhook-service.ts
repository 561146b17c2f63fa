/**
 * What the API needs of webhooks, by shape: `createWebhooks` of `@tally/webhooks` has it. Declared
 * here so the HTTP package does not depend on the webhooks package; each method validates its own
 * input, so the API refuses exactly what the library refuses.
 */

/**
 * The webhooks methods the routes call.
 *
 * @example
 * const replay: WebhookCallName = 'replayDelivery'; // POST /v1/webhook-deliveries/:deliveryId/replay
 */
export type WebhookCallName =
  | 'registerEndpoint'
  | 'updateEndpoint'
  | 'endpoints'
  | 'deliveries'
  | 'replayDelivery';

/**
 * The webhooks the handler serves: each method takes the request's fields (body or query, plus what
 * the path gives) and validates them itself.
 *
 * @example
 * import { createWebhooks } from '@tally/webhooks';
 *
 * const webhooks: WebhookService = createWebhooks({ store });
 * const handler = createHttpHandler({ ledger, apiKeys, webhooks });
 */
export type WebhookService = { readonly [name in WebhookCallName]: (input: unknown) => Promise<unknown> };
