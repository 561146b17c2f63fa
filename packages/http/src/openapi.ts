import { catalogInputs, checkInput, commands, customerRef, jsonSchemaOverride } from '@tally/core/pure';
import { z } from 'zod';
import { ERROR_CODES, statusOf } from './errors.js';
import { type Route, routes } from './routes.js';

/**
 * The API's OpenAPI 3.1 document, made from the route table and the zod schemas the ledger validates
 * requests with (`z.toJSONSchema`, read as input), so it cannot drift from what the handler accepts.
 * Responses are described by shape (an object, a `{ data }` list, the error body), since the ledger's
 * results are TypeScript types rather than schemas.
 */

/** A JSON Schema, as the document holds it. */
type Schema = Record<string, unknown>;

/**
 * An OpenAPI 3.1 document, as JSON.
 *
 * @example
 * const doc = (await (await fetch('http://localhost:3000/v1/openapi.json')).json()) as OpenApiDocument;
 * Object.keys(doc.paths); // ['/v1/customers', …]
 */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: Record<string, Record<string, unknown>>;
  readonly security: readonly Record<string, readonly string[]>[];
}

/** Where the document is served; it needs no credentials, as it describes only the public API. */
export const OPENAPI_PATH = '/v1/openapi.json';

/** The JSON Schema of a request's input, as a client sends it (times as strings, defaults optional). */
function jsonSchema(schema: z.ZodType): Schema {
  const out = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override: (ctx) => {
      const json = jsonSchemaOverride(ctx.zodSchema as unknown as z.ZodType);
      if (json === undefined) return;
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Schema)[key];
      Object.assign(ctx.jsonSchema, json);
    },
  }) as Schema;
  delete out.$schema;
  return out;
}

/** The input schema a route's request is read into (path, query and body together). */
function inputOf(route: Route): z.ZodType | null {
  switch (route.kind) {
    case 'write':
      return commands[route.command].input;
    case 'catalog-change':
      return route.call === 'syncCatalog' ? catalogDefinition : catalogInputs[route.call];
    case 'catalog-read':
      return catalogAt;
    case 'read':
      if (route.query !== null) return route.query;
      return route.call === 'check' ? checkInput : customerRef;
    case 'webhooks':
      // @tally/webhooks validates its own bodies; the route table knows only a GET's query names.
      return route.query;
    case 'export':
      return route.query;
    default:
      return unreachable(route);
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}

const catalogAt = z.strictObject({ at: z.string().optional() });

/** `PUT /v1/catalog`'s body: the catalog as `defineCatalog` takes it. */
const catalogDefinition = z.strictObject({
  currencies: z.array(catalogInputs.defineCurrency),
  features: z.array(catalogInputs.defineFeature.omit({ effectiveAt: true })),
  plans: z.array(catalogInputs.definePlan.omit({ effectiveAt: true })),
});

/** The parts of an object schema: its properties and which are required. */
function parts(schema: Schema): { properties: Record<string, Schema>; required: Set<string> } {
  return {
    properties: (schema.properties ?? {}) as Record<string, Schema>,
    required: new Set((schema.required ?? []) as string[]),
  };
}

/** The schema without the named properties (those the path or a header gives). */
function without(schema: Schema, names: readonly string[]): Schema {
  const { properties, required } = parts(schema);
  const kept = Object.fromEntries(Object.entries(properties).filter(([name]) => !names.includes(name)));
  const stillRequired = [...required].filter((name) => !names.includes(name));
  const out: Schema = { ...schema, properties: kept };
  if (stillRequired.length > 0) out.required = stillRequired;
  else delete out.required;
  return out;
}

/** A query parameter's schema: a query string has no null, so an optional field is just absent. */
function notNull(schema: Schema): Schema {
  if (!Array.isArray(schema.anyOf)) return schema;
  const rest = (schema.anyOf as Schema[]).filter((s) => s.type !== 'null');
  return rest.length === 1 ? rest[0]! : { ...schema, anyOf: rest };
}

const pathParams = (path: string): string[] => [...path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('schemas', 'ErrorBody') } },
});

/** The error statuses a route can answer with, and when. */
function errorResponses(route: Route, hasBody: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    '400': ref('responses', 'BadRequest'),
    '401': ref('responses', 'Unauthorized'),
    '403': ref('responses', 'Forbidden'),
    '404': ref('responses', 'NotFound'),
  };
  if (route.kind !== 'read' && route.kind !== 'catalog-read') out['409'] = ref('responses', 'Conflict');
  if (hasBody) out['413'] = ref('responses', 'PayloadTooLarge');
  if (route.kind === 'write' || (route.kind === 'read' && route.call === 'check')) {
    out['422'] = ref('responses', 'Unprocessable');
  }
  out['500'] = ref('responses', 'ServerError');
  out['503'] = ref('responses', 'Unavailable');
  return out;
}

/** A route's operation id: its ledger method, or what a catalog read answers with. */
function operationId(route: Route): string {
  switch (route.kind) {
    case 'write':
      return route.command;
    case 'catalog-change':
    case 'read':
    case 'webhooks':
      return route.call;
    case 'export':
      return 'exportEntries';
    case 'catalog-read':
      return route.pick === null ? 'catalog' : `catalog${route.pick[0]!.toUpperCase()}${route.pick.slice(1)}`;
    default:
      return unreachable(route);
  }
}

function successResponse(route: Route): [string, unknown] {
  if (route.kind === 'export') {
    const text = { schema: { type: 'string' } };
    return [
      '200',
      {
        description:
          'The entries, streamed as `format` asks: CSV with a header line, or one JSON object a line.',
        content: { 'text/csv': text, 'application/x-ndjson': text },
      },
    ];
  }
  const list =
    ((route.kind === 'read' || route.kind === 'webhooks') && route.list) ||
    (route.kind === 'catalog-read' && route.pick !== null);
  // The ledger's statement is read a page at a time.
  const page = route.kind === 'read' && route.call === 'entries';
  const schema = page ? ref('schemas', 'Page') : list ? ref('schemas', 'List') : ref('schemas', 'Object');
  const status =
    route.kind === 'write' || route.kind === 'catalog-change' || route.kind === 'webhooks'
      ? route.status
      : 200;
  const description = page
    ? 'A page, as `{ data: [...], nextCursor, hasMore }`: pass `nextCursor` as `cursor` for the next.'
    : list
      ? 'The list, as `{ data: [...] }`.'
      : status === 201
        ? 'Created: the object the ledger returns, as JSON.'
        : 'The object the ledger returns, as JSON.';
  return [String(status), { description, content: { 'application/json': { schema } } }];
}

function operation(route: Route): Record<string, unknown> {
  const input = inputOf(route);
  const schema = input === null ? { type: 'object', properties: {} } : jsonSchema(input);
  const inPath = pathParams(route.path);
  const { properties, required } = parts(schema);
  const parameters: unknown[] = inPath.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: properties[name] ?? { type: 'string' },
  }));
  const hasBody = route.method !== 'get';
  let requestBody: unknown;
  if (hasBody) {
    const body = without(schema, [...inPath, 'idempotencyKey']);
    // With a customer token the customer is the token's: the field may be left out.
    if (route.customer !== undefined && Array.isArray(body.required)) {
      body.required = body.required.filter((name) => name !== 'customerId');
      if ((body.required as string[]).length === 0) delete body.required;
    }
    requestBody = {
      required: false,
      description:
        route.customer === undefined
          ? 'A JSON object; an empty body reads as `{}`.'
          : 'A JSON object; an empty body reads as `{}`. With a customer token, `customerId` may be left out: it is the token’s customer.',
      content: { 'application/json': { schema: body } },
    };
  } else {
    for (const [name, param] of Object.entries(properties)) {
      if (inPath.includes(name)) continue;
      parameters.push({
        name,
        in: 'query',
        required: required.has(name) && route.customer === undefined,
        schema: notNull(param),
      });
    }
  }
  if (route.kind === 'write') parameters.push(ref('parameters', 'IdempotencyKey'));
  const [status, success] = successResponse(route);
  const security =
    route.customer === undefined ? [{ secretKey: [] }] : [{ secretKey: [] }, { customerToken: [] }];
  const access =
    route.customer === undefined
      ? 'Secret API keys only.'
      : `Secret API keys, or a customer token with the \`${route.customer}\` scope for its own customer.`;
  return {
    operationId: operationId(route),
    summary: `${route.method.toUpperCase()} ${route.path}`,
    description: access,
    tags: [tagOf(route.path)],
    security,
    ...(route.customer === undefined ? {} : { 'x-tally-customer-scope': route.customer }),
    parameters,
    ...(requestBody === undefined ? {} : { requestBody }),
    responses: { [status]: success, ...errorResponses(route, hasBody) },
  };
}

function tagOf(path: string): string {
  const first = path.split('/')[2]!;
  return ['catalog', 'credit-currencies', 'features', 'plans'].includes(first) ? 'catalog' : first;
}

/**
 * The OpenAPI 3.1 document the handler serves at `GET /v1/openapi.json`: every route of the route
 * table (and the document's own), generated, never written by hand. Write it to a file to generate a
 * client without running a server.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * import { openApiDocument } from '@tally/http';
 *
 * writeFileSync('tally.openapi.json', JSON.stringify(openApiDocument(), null, 2));
 * // npx openapi-typescript tally.openapi.json -o tally-api.d.ts
 */
export function openApiDocument(table: readonly Route[] = routes): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of table) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method] = operation(route);
  }
  paths[OPENAPI_PATH] = {
    get: {
      operationId: 'openapi',
      summary: `GET ${OPENAPI_PATH}`,
      description: 'This document. Needs no credentials.',
      tags: ['meta'],
      security: [],
      responses: {
        '200': {
          description: 'The OpenAPI 3.1 document of this API.',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  };
  const codes = ERROR_CODES;
  const byStatus = (status: number) => codes.filter((code) => statusOf(code) === status).join(', ');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tally',
      version: '0.1.0',
      description:
        'The quickstart’s credits API over a Tally ledger. Amounts are decimal strings, times ISO-8601 strings; every write honours `Idempotency-Key`; errors are `{ error: { code, message, field? } }`.',
    },
    security: [{ secretKey: [] }],
    paths,
    components: {
      securitySchemes: {
        secretKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A secret API key (`apiKeys`): full access. Keep it on servers, never in a browser.',
        },
        customerToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A customer token from `createCustomerToken`: its own customer only, the routes its scopes name (`x-tally-customer-scope`).',
        },
      },
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'The same key with the same request answers with the first result and writes nothing; with a different request it is `409 idempotency_conflict`. Scoped to the customer.',
          schema: jsonSchema(commands.trackUsage.input.shape.idempotencyKey.unwrap()),
        },
      },
      schemas: {
        ErrorBody: {
          type: 'object',
          required: ['error'],
          additionalProperties: false,
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              additionalProperties: false,
              properties: {
                code: {
                  type: 'string',
                  enum: [...codes],
                  description: 'Stable; `statusOf(code)` is its status.',
                },
                message: { type: 'string', description: 'For humans; may change.' },
                field: { type: 'string', description: 'The input field at fault, when there is one.' },
              },
            },
          },
        },
        List: {
          type: 'object',
          required: ['data'],
          properties: { data: { type: 'array', items: ref('schemas', 'Object') } },
        },
        Page: {
          type: 'object',
          required: ['data', 'nextCursor', 'hasMore'],
          properties: {
            data: { type: 'array', items: ref('schemas', 'Object') },
            nextCursor: { type: ['string', 'null'] },
            hasMore: { type: 'boolean' },
          },
        },
        Object: {
          type: 'object',
          additionalProperties: true,
          description: 'An object the ledger returns, as JSON (see the core API’s types).',
        },
      },
      responses: {
        BadRequest: errorResponse(`Malformed: ${byStatus(400)}.`),
        Unauthorized: errorResponse('No credential, a wrong key, or an expired or tampered customer token.'),
        Forbidden: errorResponse(
          'A customer token asking for another customer, or a route or scope it lacks.',
        ),
        NotFound: errorResponse(`Names something that does not exist: ${byStatus(404)}.`),
        Conflict: errorResponse(`Conflicts with the current state or an earlier request: ${byStatus(409)}.`),
        PayloadTooLarge: errorResponse('The body is over `maxBodyBytes`.'),
        Unprocessable: errorResponse('Well-formed, but the account cannot cover it: insufficient_credits.'),
        ServerError: errorResponse(`The server’s side: ${byStatus(500)}.`),
        Unavailable: errorResponse('The ledger was closed: the service is shutting down.'),
      },
    },
  };
}
