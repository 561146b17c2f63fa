/**
 * `@tally/http`: the quickstart's REST API over any Tally ledger, as a web-standard
 * `(request: Request) => Promise<Response>` handler, plus an adapter for `node:http`.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { createLedger, defineCatalog } from '@tally/core';
 * import { createHttpHandler, toNodeListener } from '@tally/http';
 * import { memoryStore } from '@tally/store-memory';
 *
 * const ledger = createLedger({ catalog: defineCatalog(config), store: memoryStore() });
 * const handler = createHttpHandler({ ledger, apiKeys: [process.env.TALLY_API_KEY!] });
 * createServer(toNodeListener(handler)).listen(3000);
 *
 * @packageDocumentation
 */
export type { CustomerTokenOptions } from './customer-auth.js';
export {
  CUSTOMER_SCOPES,
  type CustomerScope,
  type CustomerTokenAlgorithm,
  type CustomerTokenClaims,
  type CustomerTokenKey,
  createCustomerToken,
} from './customer-token.js';
export type { ErrorBody, HttpErrorCode, HttpOnlyErrorCode } from './errors.js';
export { statusOf } from './errors.js';
export { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from './handler.js';
export { type NodeListenerOptions, toNodeListener } from './node.js';
export { type OpenApiDocument, openApiDocument } from './openapi.js';
export type { WebhookCallName, WebhookService } from './webhook-service.js';
