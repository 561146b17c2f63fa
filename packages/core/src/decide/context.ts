import type { Catalog, Currency, Feature } from '../catalog.js';
import { TallyError } from '../errors.js';
import { costMinor, parseAmount, quote } from '../money.js';
import type { Recorder } from '../recorder.js';
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

/** A decision records events on the recorder (which folds them as it goes) and returns its result. */
export type Decision<C, R> = (recorder: Recorder, command: C, context: DecideContext) => R;

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

/** Largest cost one command may resolve to, in whole units; beyond it the quantity is refused. */
const MAX_COST_DIGITS = 18;

/** The resolved cost of `quantity` units of a feature, rounded once by the currency's rule. */
export function featureCost(
  catalog: Catalog,
  feature: Feature,
  quantity: number,
): { currency: Currency; cost: bigint } {
  const currency = currencyOf(catalog, feature.currency);
  const cost = costMinor(feature.perUnit, quantity, currency.decimals, currency.rounding);
  if (cost.toString().length > MAX_COST_DIGITS + currency.decimals) {
    throw new TallyError('invalid_quantity', `quantity ${quantity} makes a cost too large to record`, {
      field: 'quantity',
    });
  }
  return { currency, cost };
}

export function amountIn(currency: Currency, value: string, field: string): bigint {
  return parseAmount(value, currency.decimals, field);
}

/** The customer's account in a currency, opened (empty) if it has none yet; the recorder folds into it. */
export function accountFor(recorder: Recorder, currency: Currency): AccountState {
  const existing = recorder.state.accounts.get(currency.code);
  if (existing !== undefined) return existing;
  const account: AccountState = {
    currency: currency.code,
    decimals: currency.decimals,
    live: [],
    debt: 0n,
    creditLimit: 0n,
    held: 0n,
  };
  recorder.state.accounts.set(currency.code, account);
  return account;
}
