import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { TallyError } from '@tally/core';
import { checkOptions, type OptionRules, option } from '@tally/core/pure';
import type { HttpHandler } from './handler.js';

/**
 * How `toNodeListener` adapts the handler.
 *
 * @example
 * const options: NodeListenerOptions = { overrideGlobalObjects: false }; // leave Node's globals alone
 */
export interface NodeListenerOptions {
  /**
   * Replace the global `Request` and `Response` with `@hono/node-server`'s lightweight classes, as
   * its `serve` does unless told not to (default true). A JSON response is then written straight to
   * the socket instead of being built as a web stream and read back: `POST /v1/usage` served about a
   * quarter more requests a second on SQLite (bench group 6). The classes behave as the standard ones
   * (`instanceof Response` holds, and any other use builds the standard object on demand), but they
   * are visible to everything in the process: pass false to keep Node's own. Once one listener has
   * replaced them they stay replaced, so every listener of a process that must keep them says false.
   */
  readonly overrideGlobalObjects?: boolean;
}

const NODE_LISTENER_OPTION_RULES: OptionRules = { overrideGlobalObjects: option.boolean };

/**
 * Adapts a web-standard handler to `node:http`: each `IncomingMessage` becomes a `Request` (its body
 * streamed, not buffered), and the `Response` is written back, streaming too. See
 * `NodeListenerOptions` for what it does to Node's global `Request`/`Response`. An unknown option or
 * a bad value is refused with `invalid_input` naming it.
 *
 * @example
 * import { createServer } from 'node:http';
 * createServer(toNodeListener(createHttpHandler({ ledger, apiKeys }))).listen(3000, '127.0.0.1');
 */
export function toNodeListener(
  handler: HttpHandler,
  options: NodeListenerOptions = {},
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  if (typeof handler !== 'function') {
    throw new TallyError('invalid_input', 'toNodeListener: handler must be a function (createHttpHandler)', {
      field: 'handler',
    });
  }
  checkOptions(options, NODE_LISTENER_OPTION_RULES, { factory: 'toNodeListener' });
  return getRequestListener((request) => handler(request), {
    overrideGlobalObjects: options.overrideGlobalObjects ?? true,
  });
}
