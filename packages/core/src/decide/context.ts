import type { Catalog, Currency, Feature } from '../catalog/index.js';
import { TallyError } from '../errors.js';
import { parseAmount, quote } from '../money.js';
import type { AccountState, CustomerInfo, CustomerState } from '../state.js';

/**
 * The kinds of id the ledger makes, each the prefix of its ids (`grant_01J…`). `LedgerOptions.ids` and
 * `DecideContext.newId` are asked for one kind at a time.
 *
 * @example
 * let n = 0;
 * const ledger = createLedger({ catalog, store, ids: (kind: IdKind) => `${kind}_${++n}` }); // for tests
 */
export type IdKind = 'sub' | 'grant' | 'usage' | 'hold' | 'evt';

/**
 * What a decision may know besides the state: the catalog, the time and fresh ids, all passed in,
 * so `decide` stays pure and a test can fix every one of them.
 *
 * @example
 * let n = 0;
 * const at = '2025-01-01T00:00:00.000Z';
 * const newId = (kind: IdKind) => `${kind}_${++n}`;
 * const context: DecideContext = { catalog, nowMs: Date.parse(at), now: at, newId };
 */
export interface DecideContext {
  readonly catalog: Catalog;
  readonly nowMs: number;
  /** `nowMs` as ISO-8601: the `at` of every event the decision records. */
  readonly now: string;
  readonly newId: (kind: IdKind) => string;
}

export function requireCustomer(state: CustomerState): CustomerInfo {
  if (state.customer === null)
    throw new TallyError('unknown_customer', 'no customer with this id', { field: 'customerId' });
  return state.customer;
}

export function currencyOf(catalog: Catalog, code: string, field = 'currency'): Currency {
  const currency = catalog.currencies.get(code);
  if (currency === undefined) {
    throw new TallyError('unknown_currency', `the catalog has no currency ${quote(code)}`, { field });
  }
  return currency;
}

export function featureOf(catalog: Catalog, key: string): Feature {
  const feature = catalog.features.get(key);
  if (feature === undefined)
    throw new TallyError('unknown_feature', `the catalog has no feature ${quote(key)}`, { field: 'feature' });
  return feature;
}

export function amountIn(currency: Currency, value: string, field: string): bigint {
  return parseAmount(value, currency.decimals, field);
}

/** An account nothing has been recorded in yet: what a decision reads for a currency the customer lacks. */
export const emptyAccount = (currency: Currency): AccountState => ({
  currency: currency.code,
  decimals: currency.decimals,
  live: [],
  debt: 0n,
  creditLimit: 0n,
  held: 0n,
  granted: 0n,
});

/** The customer's account in `currency`, or an empty one (not added to the state: only events open accounts). */
export const accountIn = (state: CustomerState, currency: Currency): AccountState =>
  state.accounts.get(currency.code) ?? emptyAccount(currency);
