import type { Ledger } from '@tally/core';
import {
  type CommandName,
  currencyReadInput,
  entriesInput,
  exportInput,
  readInput,
  usageSummaryInput,
} from '@tally/core/pure';
import { z } from 'zod';
import type { CustomerScope } from './customer-token.js';
import type { WebhookCallName } from './webhook-service.js';

/**
 * The API's routes, one line each: which ledger method a route calls and how its input is made. A
 * write's body is the method's input without what the path gives and the `Idempotency-Key` header; a
 * read's query string is its input. Both are validated by the ledger, with the schemas its methods
 * are declared with, so the API and the library can never refuse differently.
 *
 * `customer` is the scope a customer token needs for the route; a route without it answers only to a
 * secret key (so a new route is closed to browsers until it says otherwise).
 */
export type Route = RouteShape & { readonly customer?: CustomerScope };

type RouteShape =
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
      /** Webhook endpoints and deliveries, served when the handler is given `webhooks`. */
      readonly kind: 'webhooks';
      readonly method: 'get' | 'post' | 'patch';
      readonly path: string;
      readonly call: WebhookCallName;
      /** The names a GET's query string may hold (the values are the webhooks' to check). */
      readonly query: z.ZodObject | null;
      readonly status: 200 | 201;
      readonly list: boolean;
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

/** Adds the scope a customer token needs, when one may use the route. */
const open = (route: RouteShape, customer: CustomerScope | undefined): Route =>
  customer === undefined ? route : { ...route, customer };

const write = (
  path: string,
  command: CommandName,
  status: 200 | 201 = 200,
  customer?: CustomerScope,
): Route => open({ kind: 'write', method: 'post', path, command, status }, customer);
const list = (path: string, call: ReadName, query: z.ZodObject, customer?: CustomerScope): Route =>
  open({ kind: 'read', method: 'get', path, call, query, list: true }, customer);
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

const webhooks = (
  method: 'get' | 'post' | 'patch',
  path: string,
  call: WebhookCallName,
  options: { status?: 200 | 201; list?: boolean; query?: z.ZodObject } = {},
): Route => ({
  kind: 'webhooks',
  method,
  path,
  call,
  query: options.query ?? null,
  status: options.status ?? 200,
  list: options.list ?? false,
});

export const routes: readonly Route[] = [
  write('/v1/customers', 'createCustomer', 201),
  one('/v1/customers/:customerId', 'customer'),
  one('/v1/customers/:customerId/verify', 'verify'),
  write('/v1/subscriptions', 'subscribe', 201),
  write('/v1/subscriptions/cancel', 'cancelSubscription'),
  write('/v1/subscriptions/change-plan', 'changePlan'),
  write('/v1/subscriptions/:subscriptionId/confirm-payment', 'confirmPayment'),
  list('/v1/subscriptions', 'subscriptions', readInput, 'read'),
  write('/v1/usage', 'trackUsage', 201, 'trackUsage'),
  write('/v1/usage/:usageId/reverse', 'reverseUsage'),
  // A question, not a write: its body is the read's input.
  {
    kind: 'read',
    method: 'post',
    path: '/v1/check',
    call: 'check',
    query: null,
    list: false,
    customer: 'read',
  },
  write('/v1/grants', 'grant', 201),
  write('/v1/grants/:grantId/void', 'voidGrant'),
  list('/v1/grants', 'grants', currencyReadInput, 'read'),
  write('/v1/holds', 'hold', 201, 'hold'),
  write('/v1/holds/:holdId/capture', 'captureHold', 200, 'captureHold'),
  write('/v1/holds/:holdId/release', 'releaseHold', 200, 'releaseHold'),
  list('/v1/holds', 'holds', readInput, 'read'),
  write('/v1/credit-limits', 'setCreditLimit'),
  write('/v1/balance-alerts', 'setBalanceAlert'),
  write('/v1/balance-alerts/evaluate', 'evaluateAlerts'),
  write('/v1/auto-top-ups', 'setAutoTopUp'),
  write('/v1/auto-top-ups/:requestId/complete', 'completeAutoTopUp'),
  write('/v1/auto-top-ups/:requestId/fail', 'failAutoTopUp'),
  list('/v1/credit-accounts', 'creditAccounts', readInput, 'read'),
  // A page: `{ data, nextCursor, hasMore }` as the ledger answers it.
  {
    kind: 'read',
    method: 'get',
    path: '/v1/ledger',
    call: 'entries',
    query: entriesInput,
    list: false,
    customer: 'read',
  },
  // Secret keys only: an export may be of every customer, a summary is for the host's billing.
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
  // Webhooks, when the handler is given them (secret keys only, as every route).
  webhooks('post', '/v1/webhook-endpoints', 'registerEndpoint', { status: 201 }),
  webhooks('get', '/v1/webhook-endpoints', 'endpoints', { list: true, query: z.strictObject({}) }),
  webhooks('patch', '/v1/webhook-endpoints/:endpointId', 'updateEndpoint'),
  webhooks('get', '/v1/webhook-endpoints/:endpointId/deliveries', 'deliveries', {
    list: true,
    query: z.strictObject({ status: z.string().optional() }),
  }),
  webhooks('post', '/v1/webhook-deliveries/:deliveryId/replay', 'replayDelivery'),
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
