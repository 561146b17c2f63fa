import type { Caller } from './customer-auth.js';
import { HttpError } from './http-error.js';
import type { Route } from './routes.js';

/**
 * What a customer token may reach, decided in two steps: the route (declared in the route table by
 * the scope it needs) before anything is read, then the customer the request names once its input is
 * assembled. A secret key passes both.
 */

/** Refuses a customer token on a route it may not use, or without the scope the route needs. */
export function admitRoute(caller: Caller, route: Route): void {
  if (caller.kind === 'secret') return;
  if (route.customer === undefined) {
    throw new HttpError('forbidden', `${route.method.toUpperCase()} ${route.path} needs a secret API key`);
  }
  if (!caller.scopes.has(route.customer)) {
    throw new HttpError('forbidden', `this customer token's scopes do not include "${route.customer}"`);
  }
}

/**
 * The input, held to the token's customer: a request that names no customer is about the token's
 * own, one that names another (in the path, query or body) is refused with `forbidden` on
 * `customerId`. Nothing else is touched: the ledger validates the input as it does a secret key's.
 */
export function ownCustomer(caller: Caller, input: Record<string, unknown>): Record<string, unknown> {
  if (caller.kind === 'secret') return input;
  if (!Object.hasOwn(input, 'customerId')) return { ...input, customerId: caller.customerId };
  if (input.customerId !== caller.customerId) {
    throw new HttpError('forbidden', 'a customer token can only reach its own customer', 'customerId');
  }
  return input;
}
