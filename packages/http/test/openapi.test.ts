import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileErrors, validate } from '@readme/openapi-parser';
import { createLedger } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { createWebhooks } from '@tally/webhooks';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';
import { type OpenApiDocument, openApiDocument } from '../src/openapi.js';
import { routes } from '../src/routes.js';
import { API_KEY, startServer, type TestServer } from './server.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

let server: TestServer;
let doc: OpenApiDocument;
beforeAll(async () => {
  // A ledger that keeps its catalog in the store: the quickstart builds it through the API.
  const store = memoryStore();
  server = await startServer({ ledger: createLedger({ store }), webhooks: createWebhooks({ store }) });
  const res = await fetch(`${server.url}/v1/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDocument;
});
afterAll(async () => {
  await server.close();
});

/** The value at `path` inside a JSON value, or undefined. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let here = value;
  for (const step of path) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}

/** `/v1/holds/{holdId}/capture` → `/v1/holds/x_1/capture`: a value for each path parameter. */
const concrete = (path: string) => path.replace(/\{[A-Za-z]+\}/g, 'x_1');

describe('GET /v1/openapi.json', () => {
  it('is served without credentials, and is what openApiDocument makes of the route table', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument(routes))));
  });

  it('validates against the OpenAPI 3.1 schema and its rules', async () => {
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.specification).toBe('OpenAPI');
    expect(doc.openapi).toBe('3.1.0');
  });

  it('lists every route the handler answers, and the handler answers every route it lists', async () => {
    const listed = Object.entries(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => m in item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const table = routes.map((r) => `${r.method.toUpperCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    expect(listed.sort()).toEqual([...table, 'GET /v1/openapi.json'].sort());
    // Asking the handler itself: each listed method of each path is a route (whatever else it answers,
    // not `not_found`), and each method it does not list is `not_found`.
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const res = await server.call(method.toUpperCase(), concrete(path), {
          ...(method === 'get' || method === 'delete' ? {} : { body: {} }),
        });
        const code = (res.body as { error?: { code: string } } | null)?.error?.code;
        if (method in item) expect(code, `${method} ${path}`).not.toBe('not_found');
        else expect([res.status, code], `${method} ${path}`).toEqual([404, 'not_found']);
      }
    }
  });

  it('describes every body and query with the schemas the ledger validates', () => {
    const op = (path: string, method: string) => at(doc.paths, path, method);
    const bodyOf = (path: string) =>
      at(op(path, 'post'), 'requestBody', 'content', 'application/json', 'schema');
    const body = bodyOf('/v1/usage');
    expect(at(body, 'additionalProperties')).toBe(false);
    expect(Object.keys(at(body, 'properties') as object).sort()).toEqual([
      'customerId',
      'feature',
      'metadata',
      'quantity',
    ]);
    expect(at(body, 'properties', 'quantity')).toMatchObject({ type: 'number', exclusiveMinimum: 0 });
    expect(at(op('/v1/usage', 'post'), 'parameters')).toContainEqual({
      $ref: '#/components/parameters/IdempotencyKey',
    });
    // The path gives the hold: its body does not carry it.
    expect(at(op('/v1/holds/{holdId}/capture', 'post'), 'parameters', 0)).toMatchObject({
      name: 'holdId',
      in: 'path',
      required: true,
    });
    expect(at(bodyOf('/v1/holds/{holdId}/capture'), 'properties')).not.toHaveProperty('holdId');
    // Times are date-time strings over HTTP; a query has no null.
    const query = at(op('/v1/ledger', 'get'), 'parameters') as { name: string; schema: unknown }[];
    expect(query.map((p) => p.name)).toEqual([
      'customerId',
      'currency',
      'from',
      'to',
      'at',
      'limit',
      'cursor',
      'order',
    ]);
    expect(query.find((p) => p.name === 'at')!.schema).toMatchObject({ type: 'string', format: 'date-time' });
    // A secret key's route needs its customer; a token's may leave it out.
    expect(at(bodyOf('/v1/grants'), 'required')).toContain('customerId');
    expect(at(body, 'required')).not.toContain('customerId');
    expect(at(op('/v1/grants', 'post'), 'security')).toEqual([{ secretKey: [] }]);
    expect(at(op('/v1/usage', 'post'), 'security')).toEqual([{ secretKey: [] }, { customerToken: [] }]);
    expect(at(op('/v1/usage', 'post'), 'x-tally-customer-scope')).toBe('trackUsage');
    // Every code is in the error body's enum, and every operation answers 401 with it.
    expect(
      at(doc.components, 'schemas', 'ErrorBody', 'properties', 'error', 'properties', 'code', 'enum'),
    ).toEqual([...ERROR_CODES]);
    for (const item of Object.values(doc.paths)) {
      for (const operation of Object.values(item)) {
        if (at(operation, 'operationId') === 'openapi') continue;
        expect(at(operation, 'responses', '401')).toEqual({ $ref: '#/components/responses/Unauthorized' });
      }
    }
  });

  it('refuses a query string, like every route', async () => {
    const res = await fetch(`${server.url}/v1/openapi.json?x=1`);
    expect(res.status).toBe(400);
  });
});

describe('a typed client generated from the document', () => {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(dir, '.openapi-client-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('type-checks the quickstart (and refuses a misspelt field), then runs it: +100, −10, balance 90', async () => {
    const types = astToString(await openapiTS(structuredClone(doc) as never));
    await writeFile(join(work, 'api.d.ts'), types);
    await writeFile(join(work, 'quickstart.ts'), QUICKSTART);

    const program = ts.createProgram([join(work, 'quickstart.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      types: ['node'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
      const where = at === null ? '' : `${d.file!.fileName.split('/').pop()}:${at.line + 1}: `;
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    expect(diagnostics).toEqual([]);

    const { quickstart } = (await import(join(work, 'quickstart.ts'))) as {
      quickstart: (baseUrl: string, key: string) => Promise<unknown>;
    };
    expect(await quickstart(server.url, API_KEY)).toEqual({
      entries: [
        ['grant', '100', '100'],
        ['usage', '-10', '90'],
      ],
      balance: '90',
      refused: 'insufficient_credits',
    });
  });
});

/** The reference quickstart, through openapi-fetch and the types generated from the document. */
const QUICKSTART = `import createClient from 'openapi-fetch';
import type { paths } from './api.js';

export async function quickstart(baseUrl: string, key: string) {
  const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${key}\` } });
  const ok = <D, E>(r: { data?: D; error?: E; response: Response }): D => {
    if (r.data === undefined) throw new Error(\`\${r.response.status} \${JSON.stringify(r.error)}\`);
    return r.data;
  };
  ok(await client.POST('/v1/credit-currencies', { body: { code: 'credits', decimals: 0 } }));
  ok(
    await client.POST('/v1/plans', {
      body: { id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] },
    }),
  );
  ok(await client.POST('/v1/features', { body: { key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } } }));
  ok(await client.POST('/v1/customers', { body: { customerId: 'cus_123', externalId: 'user_42' } }));
  ok(await client.POST('/v1/subscriptions', { body: { customerId: 'cus_123', planId: 'free' } }));
  ok(
    await client.POST('/v1/usage', {
      params: { header: { 'Idempotency-Key': 'req_1' } },
      body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 },
    }),
  );
  // @ts-expect-error a misspelt field is not in the body's type
  void (() => client.POST('/v1/usage', { body: { customerId: 'cus_123', feature: 'ai-generation', quantiy: 1 } }));
  // @ts-expect-error nor a path that is not a route
  void (() => client.GET('/v1/ledgers', { params: { query: { customerId: 'cus_123' } } }));
  // @ts-expect-error and a quantity is a number
  void (() => client.POST('/v1/check', { body: { customerId: 'cus_123', feature: 'ai-generation', quantity: '1' } }));

  const ledger = ok(await client.GET('/v1/ledger', { params: { query: { customerId: 'cus_123', currency: 'credits' } } }));
  const accounts = ok(await client.GET('/v1/credit-accounts', { params: { query: { customerId: 'cus_123' } } }));
  const tooMuch = await client.POST('/v1/usage', {
    body: { customerId: 'cus_123', feature: 'ai-generation', quantity: 100 },
  });
  const refused: string | undefined = tooMuch.error?.error.code;
  return {
    entries: ledger.data.map((e) => [e.kind, e.amount, e.balance]),
    balance: accounts.data[0]?.balance,
    refused,
  };
}
`;
