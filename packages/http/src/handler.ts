import type { Catalog, Ledger, TallyErrorCode } from '@tally/core';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { bearerAuth } from './auth.js';
import { type ErrorBody, type HttpErrorCode, statusOf } from './errors.js';
import * as body from './schemas.js';

/**
 * Options of {@link createHttpHandler}.
 *
 * @example
 * const options: HttpHandlerOptions = {
 *   ledger,
 *   apiKeys: process.env.TALLY_API_KEYS!.split(','),
 *   maxBodyBytes: 16_384,
 *   onError: (error, request) => logger.error({ error, url: request.url }),
 * };
 */
export interface HttpHandlerOptions {
  /** The ledger the API reads and writes. The handler never closes it. */
  readonly ledger: Ledger;
  /**
   * Secret keys accepted in `Authorization: Bearer <key>`; at least one, each at least 16 characters.
   * Several keys let you rotate: add the new one, move clients over, drop the old one.
   */
  readonly apiKeys: readonly string[];
  /** Largest request body accepted, in bytes; larger ones get 413. Default 65,536. */
  readonly maxBodyBytes?: number;
  /**
   * Called with every error answered with a 5xx (store failures, bugs), whose details the response
   * does not reveal. Default: `console.error`.
   */
  readonly onError?: (error: unknown, request: Request) => void;
}

/**
 * A web-standard request handler: mount it in anything that speaks `Request` and `Response`.
 *
 * @example
 * const handler: HttpHandler = createHttpHandler({ ledger, apiKeys });
 * const res = await handler(new Request('http://localhost/v1/catalog', { headers: { authorization: `Bearer ${key}` } }));
 */
export type HttpHandler = (request: Request) => Promise<Response>;

/** Raised inside the handler for an error response the HTTP layer decides on its own. */
class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A TallyError, recognised by shape so that a second copy of @tally/core in node_modules still maps. */
interface TallyLike {
  readonly code: TallyErrorCode;
  readonly message: string;
  readonly field?: string | undefined;
}

function isTallyLike(error: unknown): error is TallyLike {
  return (
    error instanceof Error &&
    error.name === 'TallyError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/**
 * Serves the ledger as the quickstart's REST API under `/v1`: JSON bodies, amounts as decimal
 * strings, `Idempotency-Key` honoured on every write, `Authorization: Bearer <key>` on every request,
 * errors as `{ error: { code, message, field? } }`. See the package README for the routes and the
 * status of each error code.
 *
 * @example
 * import { createHttpHandler, toNodeListener } from '@tally/http';
 * import { createServer } from 'node:http';
 *
 * const handler = createHttpHandler({ ledger, apiKeys: [process.env.TALLY_API_KEY!] });
 * createServer(toNodeListener(handler)).listen(3000);
 * // or, in any fetch-style runtime: export default { fetch: handler };
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const { ledger } = options;
  const authorized = bearerAuth(options.apiKeys);
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new TypeError('createHttpHandler: maxBodyBytes must be a positive integer');
  }
  const onError = options.onError ?? ((error: unknown) => console.error(error));

  const fail = (c: Context, code: HttpErrorCode, message: string, field?: string): Response => {
    const error: ErrorBody['error'] = field === undefined ? { code, message } : { code, message, field };
    return c.json({ error } satisfies ErrorBody, statusOf(code) as ContentfulStatusCode);
  };

  const app = new Hono();

  app.use('*', async (c, next) => {
    if (authorized(c.req.header('authorization'))) return next();
    c.header('WWW-Authenticate', 'Bearer realm="tally"');
    return fail(c, 'unauthorized', 'send a valid API key as "Authorization: Bearer <key>"');
  });

  // Hono answers HEAD with the GET route minus its body; the API defines no HEAD routes, and a
  // method a route does not have is 404 (see the README), so HEAD is refused like PUT or DELETE.
  app.use('*', async (c, next) => {
    if (c.req.raw.method !== 'HEAD') return next();
    return fail(c, 'not_found', `no route HEAD ${new URL(c.req.url).pathname}`);
  });

  app.notFound((c) => fail(c, 'not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((error, c) => {
    if (error instanceof HttpError) return fail(c, error.code, error.message, error.field);
    if (isTallyLike(error) && statusOf(error.code) < 500) {
      return fail(c, error.code, error.message, error.field);
    }
    onError(error, c.req.raw);
    const code: HttpErrorCode = isTallyLike(error) ? error.code : 'internal_error';
    return fail(c, code, 'the server could not answer this request; the error was logged');
  });

  /** The JSON body, checked against `schema`; an empty body is read as `{}`. */
  async function json<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
    const text = await readText(c.req.raw, maxBodyBytes);
    let value: unknown = {};
    if (text.trim() !== '') {
      try {
        value = JSON.parse(text);
      } catch {
        throw new HttpError('invalid_json', 'the request body is not valid JSON');
      }
    }
    return parse(schema, value, 'body');
  }

  /**
   * The query string, as strict as a body: a parameter the route does not declare, or one given
   * twice, is `invalid_input` naming it (a typo such as `curency=` must not read the whole ledger,
   * and `customerId=a&customerId=b` must not quietly pick one). Only declared names are copied, so a
   * `__proto__` parameter is refused before it could reach an object.
   */
  function query<S extends z.ZodObject>(c: Context, schema: S): z.output<S> {
    const params = new URL(c.req.url).searchParams;
    const values: Record<string, string> = {};
    for (const [name, value] of params) {
      if (!Object.hasOwn(schema.shape, name)) {
        throw new HttpError('invalid_input', `unknown parameter ${JSON.stringify(name)} in the query`, name);
      }
      if (Object.hasOwn(values, name)) {
        throw new HttpError(
          'invalid_input',
          `parameter ${JSON.stringify(name)} is given more than once in the query`,
          name,
        );
      }
      values[name] = value;
    }
    return parse(schema, values, 'query');
  }

  /** `{ idempotencyKey }` from the header, or nothing; the ledger validates the key. */
  const key = (c: Context): { idempotencyKey?: string } => {
    const value = c.req.header('idempotency-key');
    return value === undefined ? {} : { idempotencyKey: value };
  };

  // Customers
  app.post('/v1/customers', async (c) => {
    const { externalId, ...rest } = await json(c, body.createCustomerBody);
    const input = externalId === null || externalId === undefined ? rest : { ...rest, externalId };
    return c.json(await ledger.createCustomer({ ...input, ...key(c) }), 201);
  });
  app.get('/v1/customers/:customerId', async (c) =>
    c.json(await ledger.customer({ customerId: c.req.param('customerId') })),
  );
  app.get('/v1/customers/:customerId/verify', async (c) =>
    c.json(await ledger.verify({ customerId: c.req.param('customerId') })),
  );

  // Subscriptions
  app.post('/v1/subscriptions', async (c) =>
    c.json(await ledger.subscribe({ ...(await json(c, body.subscribeBody)), ...key(c) }), 201),
  );
  app.post('/v1/subscriptions/cancel', async (c) =>
    c.json(await ledger.cancelSubscription({ ...(await json(c, body.cancelSubscriptionBody)), ...key(c) })),
  );
  app.post('/v1/subscriptions/change-plan', async (c) =>
    c.json(await ledger.changePlan({ ...(await json(c, body.changePlanBody)), ...key(c) })),
  );
  app.get('/v1/subscriptions', async (c) =>
    c.json({ data: await ledger.subscriptions(query(c, body.readQuery)) }),
  );

  // Usage
  app.post('/v1/usage', async (c) =>
    c.json(await ledger.trackUsage({ ...(await json(c, body.trackUsageBody)), ...key(c) }), 201),
  );
  app.post('/v1/usage/:usageId/reverse', async (c) =>
    c.json(
      await ledger.reverseUsage({
        ...(await json(c, body.reverseUsageBody)),
        usageId: c.req.param('usageId'),
        ...key(c),
      }),
    ),
  );
  app.post('/v1/check', async (c) => c.json(await ledger.check(await json(c, body.checkBody))));

  // Grants (top-ups, promotions, manual credit)
  app.post('/v1/grants', async (c) =>
    c.json(await ledger.grant({ ...(await json(c, body.grantBody)), ...key(c) }), 201),
  );
  app.post('/v1/grants/:grantId/void', async (c) =>
    c.json(
      await ledger.voidGrant({
        ...(await json(c, body.voidGrantBody)),
        grantId: c.req.param('grantId'),
        ...key(c),
      }),
    ),
  );
  app.get('/v1/grants', async (c) => c.json({ data: await ledger.grants(query(c, body.currencyReadQuery)) }));

  // Holds
  app.post('/v1/holds', async (c) =>
    c.json(await ledger.hold({ ...(await json(c, body.holdBody)), ...key(c) }), 201),
  );
  app.post('/v1/holds/:holdId/capture', async (c) =>
    c.json(
      await ledger.captureHold({
        ...(await json(c, body.captureHoldBody)),
        holdId: c.req.param('holdId'),
        ...key(c),
      }),
    ),
  );
  app.post('/v1/holds/:holdId/release', async (c) =>
    c.json(
      await ledger.releaseHold({
        ...(await json(c, body.releaseHoldBody)),
        holdId: c.req.param('holdId'),
        ...key(c),
      }),
    ),
  );
  app.get('/v1/holds', async (c) => c.json({ data: await ledger.holds(query(c, body.readQuery)) }));

  // Accounts and the ledger
  app.post('/v1/credit-limits', async (c) =>
    c.json(await ledger.setCreditLimit({ ...(await json(c, body.setCreditLimitBody)), ...key(c) })),
  );
  app.get('/v1/credit-accounts', async (c) =>
    c.json({ data: await ledger.creditAccounts(query(c, body.readQuery)) }),
  );
  app.get('/v1/ledger', async (c) =>
    c.json({ data: await ledger.entries(query(c, body.currencyReadQuery)) }),
  );

  // The catalog is configuration (passed to createLedger), so it is read-only here.
  app.get('/v1/catalog', (c) => c.json(catalogJson(ledger.catalog)));

  return async (request) => app.fetch(request);
}

/** The catalog's maps as JSON arrays. */
function catalogJson(catalog: Catalog) {
  return {
    currencies: [...catalog.currencies.values()],
    features: [...catalog.features.values()],
    plans: [...catalog.plans.values()],
  };
}

/**
 * The body as text, refusing it with 413 as soon as it is known to be over `limit` bytes: from
 * `Content-Length` before reading anything, or while streaming a body sent without one.
 *
 * The bytes must be UTF-8. A lenient decoder would read an invalid byte as U+FFFD, so two different
 * bodies (one with `\xff`, one with a real U+FFFD) would be the same request, and one would replay the
 * other under the same `Idempotency-Key`: invalid UTF-8 is refused as `invalid_json` instead.
 * A body that cannot be read to its end is `bad_request` (400, never reported to `onError`).
 */
async function readText(request: Request, limit: number): Promise<string> {
  const tooLarge = () => new HttpError('payload_too_large', `the request body is over ${limit} bytes`);
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (request.body === null) return '';
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes?: Uint8Array): string => {
    try {
      return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true });
    } catch {
      throw new HttpError('invalid_json', 'the request body is not valid UTF-8');
    }
  };
  let text = '';
  let size = 0;
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read().catch(() => {
        // The body's source failed: a client that hung up before sending all of it, or broke the
        // chunked framing. That is the client's doing, not the server's: no 5xx, nothing for onError.
        throw new HttpError(
          'bad_request',
          'the request body could not be read to its end (the connection closed early or its framing is broken)',
        );
      });
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      text += decode(value);
    }
    return text + decode();
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  // The schemas have no defaults or transforms, so the input itself is what passed. Handing the
  // ledger the input rather than zod's copy lets it see (and refuse) what the copy would drop,
  // such as a metadata key named __proto__.
  if (result.success) return value as z.output<S>;
  const issue = result.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const path = [...issue.path, ...keys.slice(0, 1)].map(String).join('.');
  const field = path === '' ? undefined : path;
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field ${JSON.stringify(keys[0])} in the ${where}`
      : issue.code === 'invalid_type' && issue.input === undefined
        ? `${field ?? where} is required`
        : `${field ?? where}: ${issue.message}`;
  throw new HttpError('invalid_input', message, field);
}
