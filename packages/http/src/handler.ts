import { type ExportInput, isTallyError, type Ledger } from '@tally/core';
import {
  checkOptions,
  type OptionRules,
  option,
  optionRefusal,
  required,
  withMethods,
} from '@tally/core/pure';
import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { bearerAuth, bearerToken } from './auth.js';
import { admitRoute, ownCustomer } from './customer-access.js';
import {
  type Caller,
  CUSTOMER_TOKEN_OPTION_RULES,
  type CustomerTokenOptions,
  customerTokenVerifier,
} from './customer-auth.js';
import { type ErrorBody, type HttpErrorCode, statusOf } from './errors.js';
import { HttpError } from './http-error.js';
import { OPENAPI_PATH, openApiDocument } from './openapi.js';
import { readBody, readQuery } from './request.js';
import { call, routes } from './routes.js';
import type { WebhookService } from './webhook-service.js';

/** A catalog read's query: the instant to read it as of. */
const atQuery = z.strictObject({ at: z.string().optional() });

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
  /**
   * Accept customer tokens (see `createCustomerToken`) beside the secret keys: each reaches only its
   * own customer, and only the routes its scopes name. Off when not given.
   */
  readonly customerTokens?: CustomerTokenOptions;
  /**
   * Let browser pages on these origins (`https://app.example.com`, exactly as the browser sends
   * `Origin`) call the API: answers CORS preflights and adds the CORS headers. Off when not given.
   */
  readonly cors?: { readonly origins: readonly string[] };
  /** Largest request body accepted, in bytes; larger ones get 413. Default 65,536. */
  readonly maxBodyBytes?: number;
  /**
   * Called with every error answered with a 5xx (store failures, bugs), whose details the response
   * does not reveal. Default: `console.error`.
   */
  readonly onError?: (error: unknown, request: Request) => void;
  /**
   * Webhooks to serve under `/v1/webhook-endpoints` and `/v1/webhook-deliveries` (`createWebhooks`
   * of `@tally/webhooks`); without it those routes answer 404.
   */
  readonly webhooks?: WebhookService;
}

const SECRET_KEY: Caller = { kind: 'secret' };

/** The CORS origins, each checked to be an origin as a browser sends it (scheme, host, port). */
function corsOrigins(option: { readonly origins: readonly string[] }): readonly string[] {
  const { origins } = option;
  origins.forEach((origin, i) => {
    let parsed: string | null = null;
    try {
      parsed = new URL(origin).origin;
    } catch {}
    if (parsed !== origin) {
      throw optionRefusal(
        'createHttpHandler',
        `cors.origins[${i}]`,
        `must be an origin such as "https://app.example.com", got ${JSON.stringify(origin)}`,
      );
    }
  });
  return origins;
}

/**
 * What `createHttpHandler` accepts, checked before anything is built: a typo such as `customerToken`
 * would otherwise leave customer tokens off, and `cors: { origin: … }` every browser page refused.
 */
const HANDLER_OPTION_RULES: OptionRules = {
  ledger: required(withMethods('a Ledger (createLedger)', ['customer', 'trackUsage', 'entries'])),
  apiKeys: required({
    expected: 'a list of at least one key, each a string of at least 16 characters',
    secret: true,
    valid: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((key) => typeof key === 'string' && key.length >= 16),
  }),
  customerTokens: { ...option.object, fields: CUSTOMER_TOKEN_OPTION_RULES },
  cors: {
    ...option.object,
    fields: {
      origins: required({
        expected: 'a list of at least one origin such as "https://app.example.com"',
        valid: (v) => Array.isArray(v) && v.length > 0 && v.every((o) => typeof o === 'string'),
      }),
    },
  },
  maxBodyBytes: option.positiveInteger,
  onError: option.function,
  webhooks: option.object,
};

/**
 * A web-standard request handler: mount it in anything that speaks `Request` and `Response`.
 *
 * @example
 * const handler: HttpHandler = createHttpHandler({ ledger, apiKeys });
 * const res = await handler(new Request('http://localhost/v1/catalog', { headers: { authorization: `Bearer ${key}` } }));
 */
export type HttpHandler = (request: Request) => Promise<Response>;

/**
 * Serves the ledger as the quickstart's REST API under `/v1`: JSON bodies, amounts as decimal
 * strings, `Idempotency-Key` honoured on every write, `Authorization: Bearer <key>` on every request,
 * errors as `{ error: { code, message, field? } }`. See the package README for the routes and the
 * status of each error code. An unknown option or a bad value is refused with `invalid_input` naming
 * it (`customerTokens.secret`), without showing a key.
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
  checkOptions(options, HANDLER_OPTION_RULES, { factory: 'createHttpHandler' });
  const { ledger } = options;
  const authorized = bearerAuth(options.apiKeys);
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  const verifyToken =
    options.customerTokens === undefined ? null : customerTokenVerifier(options.customerTokens);
  const origins = options.cors === undefined ? null : corsOrigins(options.cors);

  const fail = (c: Context, code: HttpErrorCode, message: string, field?: string): Response => {
    const error: ErrorBody['error'] = field === undefined ? { code, message } : { code, message, field };
    return c.json({ error } satisfies ErrorBody, statusOf(code) as ContentfulStatusCode);
  };

  const app = new Hono<{ Variables: { caller: Caller } }>();

  // Before authentication: a preflight carries no credentials, and a 401 must be readable by the page.
  if (origins !== null) {
    app.use(
      '*',
      cors({
        origin: [...origins],
        allowMethods: ['GET', 'POST', 'PATCH', 'PUT'],
        allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
        maxAge: 600,
      }),
    );
  }

  // The API's description needs no credentials: it says nothing a client generator should not see.
  let document: object | null = null;
  app.get(OPENAPI_PATH, (c) => {
    if (c.req.raw.method === 'HEAD') return fail(c, 'not_found', `no route HEAD ${OPENAPI_PATH}`);
    readQuery(c.req.url, null);
    // The document lists what this handler answers: the webhook routes only when it serves them.
    document ??= openApiDocument(
      options.webhooks === undefined ? routes.filter((route) => route.kind !== 'webhooks') : routes,
    );
    return c.json(document);
  });

  app.use('*', async (c, next) => {
    const authorization = c.req.header('authorization');
    if (authorized(authorization)) {
      c.set('caller', SECRET_KEY);
      return next();
    }
    const token = verifyToken === null ? null : bearerToken(authorization);
    const caller = token === null || verifyToken === null ? null : await verifyToken(token);
    if (caller !== null) {
      c.set('caller', caller);
      return next();
    }
    c.header(
      'WWW-Authenticate',
      token === null ? 'Bearer realm="tally"' : 'Bearer realm="tally", error="invalid_token"',
    );
    return fail(
      c,
      'unauthorized',
      verifyToken === null
        ? 'send a valid API key as "Authorization: Bearer <key>"'
        : 'send a valid API key or an unexpired customer token as "Authorization: Bearer <token>"',
    );
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
    // By shape, not class: a second copy of @tally/core in node_modules still maps.
    if (isTallyError(error) && statusOf(error.code) < 500) {
      return fail(c, error.code, error.message, error.field);
    }
    onError(error, c.req.raw);
    const code: HttpErrorCode = isTallyError(error) ? error.code : 'internal_error';
    return fail(c, code, 'the server could not answer this request; the error was logged');
  });

  /** `{ idempotencyKey }` from the header, or nothing; the ledger validates the key. */
  const key = (c: Context): { idempotencyKey?: string } => {
    const value = c.req.header('idempotency-key');
    return value === undefined ? {} : { idempotencyKey: value };
  };

  for (const route of routes) {
    app.on(route.method.toUpperCase(), route.path, async (c) => {
      const caller = c.get('caller');
      admitRoute(caller, route);
      const params = c.req.param() as Record<string, string>;
      if (route.kind === 'catalog-read') {
        const { at } = readQuery(c.req.url, atQuery);
        const catalog = await ledger.catalog(at === undefined ? {} : { at });
        return c.json(route.pick === null ? catalog : { data: catalog[route.pick] });
      }
      if (route.kind === 'webhooks') {
        const { webhooks } = options;
        if (webhooks === undefined) {
          return fail(
            c,
            'not_found',
            `no route ${c.req.method} ${new URL(c.req.url).pathname}: webhooks are not served here`,
          );
        }
        let fields: Record<string, unknown>;
        if (route.method === 'get') fields = readQuery(c.req.url, route.query);
        else {
          readQuery(c.req.url, null);
          fields = await readBody(c.req.raw, maxBodyBytes, Object.keys(params));
        }
        const result = await webhooks[route.call]({ ...fields, ...params });
        return c.json(route.list ? { data: result } : (result as object), route.status);
      }
      if (route.kind === 'catalog-change') {
        readQuery(c.req.url, null);
        const fields = await readBody(c.req.raw, maxBodyBytes, Object.keys(params));
        return c.json((await call(ledger, route.call, { ...fields, ...params })) as object, route.status);
      }
      if (route.kind === 'export') {
        const fields = readQuery(c.req.url, route.query);
        // The ledger checks the fields, as it checks every read's.
        return exportResponse(ledger.exportEntries(fields as unknown as ExportInput), fields.format);
      }
      if (route.kind === 'write') {
        readQuery(c.req.url, null);
        const fields = await readBody(c.req.raw, maxBodyBytes, ['idempotencyKey', ...Object.keys(params)]);
        const result = await call(
          ledger,
          route.command,
          ownCustomer(caller, { ...fields, ...params, ...key(c) }),
        );
        return c.json(result as object, route.status);
      }
      const fields =
        route.method === 'post'
          ? await readBody(c.req.raw, maxBodyBytes, Object.keys(params))
          : readQuery(c.req.url, route.query);
      const result = await call(ledger, route.call, ownCustomer(caller, { ...fields, ...params }));
      return c.json(route.list ? { data: result } : (result as object));
    });
  }

  return async (request) => app.fetch(request);
}

/**
 * The export as a streamed response. Its first chunk is awaited before answering, so a refusal (a bad
 * parameter, an unknown customer) is an error response, not a 200 cut short; the rest is pulled as
 * the client reads, so a slow client holds one chunk, not the export.
 */
async function exportResponse(chunks: AsyncIterable<string>, format: string | undefined): Promise<Response> {
  const iterator = chunks[Symbol.asyncIterator]();
  const first = await iterator.next();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done === true) controller.close();
      else controller.enqueue(encoder.encode(first.value));
    },
    async pull(controller) {
      const next = await iterator.next();
      if (next.done === true) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
  const type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
  return new Response(body, { status: 200, headers: { 'content-type': type } });
}
