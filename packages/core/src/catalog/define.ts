import { z } from 'zod';
import { registerRefusal } from '../input/fields.js';
import { parseInput } from '../input/parse.js';
import { quote } from '../money.js';
import {
  type CurrencyDefinition,
  catalogError,
  currencyDefinition,
  type FeatureDefinition,
  featureDefinition,
  type PlanDefinition,
  planDefinition,
  planTerms,
} from './schemas.js';
import type { Catalog, Currency, Feature, Plan } from './types.js';

/**
 * A currency as declared: usually a unit of credit, with the decimal places every amount in it has.
 *
 * @example
 * const credits: CurrencyInput = { code: 'credits', decimals: 0 };
 * const usd: CurrencyInput = { code: 'usd', decimals: 2, rounding: 'half_even' };
 */
export type CurrencyInput = CurrencyDefinition;

/**
 * Something customers use and pay for per unit, as declared; `trackUsage`, `hold` and `check` look its
 * cost up by `key`. `cost.roundOn` says what is rounded to the currency's places: the customer's
 * running total of this feature's exact costs (`'running_total'`, the default: many small uses add up
 * to what their sum costs), or each usage by itself (`'each_call'`).
 *
 * @example
 * const feature: FeatureInput = { key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } };
 */
export type FeatureInput = FeatureDefinition;

/**
 * Credit a plan grants at the start of every cycle, as declared; defaults filled in make a
 * `PlanGrantRule`. `appliesTo` restricts the credits to some features.
 *
 * @example
 * const monthly: PlanGrantInput = { currency: 'credits', amount: '1000', rollover: { max: '500' } };
 * const images: PlanGrantInput = { currency: 'credits', amount: '50', appliesTo: { features: ['image'] } };
 */
export type PlanGrantInput = PlanDefinition['grants'][number];

/**
 * A subscription plan as declared: how often it renews, what it grants each cycle, and its price
 * (money; above zero makes it a paid plan whose cycles wait for `confirmPayment`).
 *
 * @example
 * const pro: PlanInput = {
 *   id: 'pro', interval: 'month', price: { amount: '20.00', currency: 'USD' },
 *   grants: [{ currency: 'credits', amount: '1000' }],
 * };
 */
export type PlanInput = PlanDefinition;

/**
 * Everything `defineCatalog` validates: the currencies, the features usage is priced by, and the plans.
 *
 * @example
 * const input: CatalogInput = {
 *   currencies: [{ code: 'credits', decimals: 0 }],
 *   features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
 *   plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
 * };
 */
export interface CatalogInput {
  readonly currencies: readonly CurrencyInput[];
  readonly features: readonly FeatureInput[];
  readonly plans: readonly PlanInput[];
}

const list = () =>
  registerRefusal(z.array(z.unknown()), {
    code: 'invalid_catalog',
    message: (field) => `${field} must be an array`,
  });
const catalogShape = z.strictObject({ currencies: list(), features: list(), plans: list() });

/**
 * Validates and freezes a catalog defined in code: one view for all time (version 0). Anything wrong
 * throws `invalid_catalog` naming the field (`plans[0].grants[1].amount`). A catalog kept in the
 * store instead is changed over time through the ledger (`defineCurrency`, `definePlan`…).
 *
 * @example
 * const catalog = defineCatalog({
 *   currencies: [{ code: 'credits', decimals: 0 }],
 *   features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
 *   plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
 * });
 */
export function defineCatalog(input: CatalogInput): Catalog {
  const lists = parseInput(catalogShape, input, { code: 'invalid_catalog', root: 'catalog' });
  const currencies = new Map<string, Currency>();
  lists.currencies.forEach((raw, i) => {
    const field = `currencies[${i}]`;
    const c = parseInput(currencyDefinition, raw, { code: 'invalid_catalog', field });
    if (currencies.has(c.code)) throw catalogError(`${field}.code`, `duplicates currency ${quote(c.code)}`);
    currencies.set(
      c.code,
      Object.freeze({ code: c.code, decimals: c.decimals, rounding: c.rounding ?? 'half_up' }),
    );
  });
  const currencyOf = (code: string, field: string): Currency => {
    const currency = currencies.get(code);
    if (currency === undefined) throw catalogError(field, `names no currency of the catalog: ${quote(code)}`);
    return currency;
  };

  const features = new Map<string, Feature>();
  lists.features.forEach((raw, i) => {
    const field = `features[${i}]`;
    const f = parseInput(featureDefinition, raw, { code: 'invalid_catalog', field });
    if (features.has(f.key)) throw catalogError(`${field}.key`, `duplicates feature ${quote(f.key)}`);
    const currency = currencyOf(f.cost.currency, `${field}.cost.currency`);
    features.set(
      f.key,
      Object.freeze({
        key: f.key,
        currency: currency.code,
        perUnit: f.cost.perUnit,
        roundOn: f.cost.roundOn ?? 'running_total',
      }),
    );
  });

  const plans = new Map<string, Plan>();
  lists.plans.forEach((raw, i) => {
    const field = `plans[${i}]`;
    const p = parseInput(planDefinition, raw, { code: 'invalid_catalog', field });
    if (plans.has(p.id)) throw catalogError(`${field}.id`, `duplicates plan ${quote(p.id)}`);
    const terms = planTerms(p, currencyOf, (key) => features.has(key), field);
    plans.set(p.id, Object.freeze({ id: p.id, version: 1, archived: false, ...terms }));
  });

  return Object.freeze({
    version: 0,
    currencies,
    features,
    plans,
    // A catalog defined in code has one version of each plan: nothing to adopt at a renewal.
    renewalTerms: () => null,
  });
}
