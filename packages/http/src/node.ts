import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { HttpHandler } from './handler.js';

/**
 * Adapts a web-standard handler to `node:http`: each `IncomingMessage` becomes a `Request` (its body
 * streamed, not buffered), and the `Response` is written back, streaming too. Node's global
 * `Request`/`Response` are left as they are.
 *
 * @example
 * import { createServer } from 'node:http';
 * createServer(toNodeListener(createHttpHandler({ ledger, apiKeys }))).listen(3000, '127.0.0.1');
 */
export function toNodeListener(
  handler: HttpHandler,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return getRequestListener((request) => handler(request), { overrideGlobalObjects: false });
}
