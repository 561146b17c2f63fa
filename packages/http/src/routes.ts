import type { Ledger } from '@tally/core';
import {
  type CommandName,
  currencyReadInput,
  entriesInput,
  exportInput,
  readInput,
  usageSummaryInput,
} from '@tally/core/pure';
import type { z } from 'zod';

/**
 * The API's routes, one line each: which ledger method a route calls and how its input is made. A
 * write's body is the method's input without what the path gives and the `Idempotency-Key` header; a
 * read's query string is its input. Both are validated by the ledger, with the schemas its methods
 * are declared with, so the API and the library can never refuse differently.
 */
export type Route =
  | {
      readonly kind: 'write';
      readonly method: 'post';
      readonly path: string;
      readonly command: CommandName;
      /** 201 for a write that creates something, else 200. */
      readonly status: 200 | 201;
    }
  | {
      /** A change of the catalog: its body is the change's input, without what the path gives. */
      readonly kind: 'catalog-change';
      readonly method: 'post' | 'patch' | 'put';
      readonly path: string;
      readonly call: CatalogChangeName;
      readonly status: 200 | 201;
    }
  | {
      /** The catalog as of `?at=`, or one list of it. */
      readonly kind: 'catalog-read';
      readonly method: 'get';
      readonly path: string;
      readonly pick: 'currencies' | 'features' | 'plans' | null;
    }
  | {
      /** A streamed export: the body is the ledger's chunks as they come, typed by `?format=`. */
      readonly kind: 'export';
      readonly method: 'get';
      readonly path: string;
      readonly query: z.ZodObject;
    }
  | {
      readonly kind: 'read';
      readonly method: 'get' | 'post';
      readonly path: string;
      readonly call: ReadName;
      /** The read's input schema, whose fields a GET's query string may hold; null for none. */
      readonly query: z.ZodObject | null;
      /** A list answers as `{ data: [...] }`. */
      readonly list: boolean;
    };

/** The ledger's catalog changes the API serves. */
export type CatalogChangeName =
  | 'defineCurrency'
  | 'defineFeature'
  | 'updateFeature'
  | 'definePlan'
  | 'publishPlanVersion'
  | 'archivePlan'
  | 'syncCatalog';

/** The ledger's read methods the API serves. */
export type ReadName =
  | 'check'
  | 'customer'
  | 'verify'
  | 'creditAccounts'
  | 'entries'
  | 'usageSummary'
  | 'grants'
  | 'holds'
  | 'subscriptions';

const write = (path: string, command: CommandName, status: 200 | 201 = 200): Route => ({
  kind: 'write',
  method: 'post',
  path,
  command,
  status,
});
const list = (path: string, call: ReadName, query: z.ZodObject): Route => ({
  kind: 'read',
  method: 'get',
  path,
  call,
  query,
  list: true,
});
/** A read of one thing named by the path; its query string is empty. */
const one = (path: string, call: ReadName): Route => ({
  kind: 'read',
  method: 'get',
  path,
  call,
  query: null,
  list: false,
});

const catalogChange = (
  method: 'post' | 'patch' | 'put',
  path: string,
  call: CatalogChangeName,
  status: 200 | 201 = 200,
): Route => ({ kind: 'catalog-change', method, path, call, status });
const catalogRead = (path: string, pick: 'currencies' | 'features' | 'plans' | null): Route => ({
  kind: 'catalog-read',
  method: 'get',
  path,
  pick,
});

export const routes: readonly Route[] = [
  write('/v1/customers', 'createCustomer', 201),
  one('/v1/customers/:customerId', 'customer'),
  one('/v1/customers/:customerId/verify', 'verify'),
  write('/v1/subscriptions', 'subscribe', 201),
  write('/v1/subscriptions/cancel', 'cancelSubscription'),
  write('/v1/subscriptions/change-plan', 'changePlan'),
  write('/v1/subscriptions/:subscriptionId/confirm-payment', 'confirmPayment'),
  list('/v1/subscriptions', 'subscriptions', readInput),
  write('/v1/usage', 'trackUsage', 201),
  write('/v1/usage/:usageId/reverse', 'reverseUsage'),
  // A question, not a write: its body is the read's input.
  { kind: 'read', method: 'post', path: '/v1/check', call: 'check', query: null, list: false },
  write('/v1/grants', 'grant', 201),
  write('/v1/grants/:grantId/void', 'voidGrant'),
  list('/v1/grants', 'grants', currencyReadInput),
  write('/v1/holds', 'hold', 201),
  write('/v1/holds/:holdId/capture', 'captureHold'),
  write('/v1/holds/:holdId/release', 'releaseHold'),
  list('/v1/holds', 'holds', readInput),
  write('/v1/credit-limits', 'setCreditLimit'),
  list('/v1/credit-accounts', 'creditAccounts', readInput),
  // A page: `{ data, nextCursor, hasMore }` as the ledger answers it.
  { kind: 'read', method: 'get', path: '/v1/ledger', call: 'entries', query: entriesInput, list: false },
  { kind: 'export', method: 'get', path: '/v1/ledger/export', query: exportInput },
  {
    kind: 'read',
    method: 'get',
    path: '/v1/usage/summary',
    call: 'usageSummary',
    query: usageSummaryInput,
    list: false,
  },
  // The catalog, built and changed over the API when the ledger keeps it in the store.
  catalogRead('/v1/catalog', null),
  catalogChange('put', '/v1/catalog', 'syncCatalog'),
  catalogChange('post', '/v1/credit-currencies', 'defineCurrency', 201),
  catalogRead('/v1/credit-currencies', 'currencies'),
  catalogChange('post', '/v1/features', 'defineFeature', 201),
  catalogChange('patch', '/v1/features/:key', 'updateFeature'),
  catalogRead('/v1/features', 'features'),
  catalogChange('post', '/v1/plans', 'definePlan', 201),
  catalogChange('post', '/v1/plans/:planId/versions', 'publishPlanVersion', 201),
  catalogChange('post', '/v1/plans/:planId/archive', 'archivePlan'),
  catalogRead('/v1/plans', 'plans'),
];

/** Calls a ledger method by name with input the ledger validates. */
export function call(
  ledger: Ledger,
  name: CommandName | ReadName | CatalogChangeName,
  input: unknown,
): Promise<unknown> {
  const method = ledger[name] as (input: unknown) => Promise<unknown>;
  return method.call(ledger, input);
}
