import { TallyError } from './errors.js';
import { formatAmount, parseAmount, parseRate, quote, type Rounding } from './money.js';
import type { Interval } from './time.js';

/**
 * A currency as declared to `defineCatalog`: usually a unit of credit, with the decimal places every
 * amount in it has.
 *
 * @example
 * const credits: CurrencyInput = { code: 'credits', decimals: 0 };
 * const usd: CurrencyInput = { code: 'usd', decimals: 2, rounding: 'half_even' };
 */
export interface CurrencyInput {
  /** e.g. 'credits'. */
  readonly code: string;
  /** Decimal places of every amount in this currency, 0-18. */
  readonly decimals: number;
  /** How computed costs are rounded to `decimals`; default 'half_up'. */
  readonly rounding?: Rounding;
}

/**
 * Something customers use and pay for per unit, as declared to `defineCatalog`; `trackUsage`, `hold`
 * and `check` look its cost up by `key`.
 *
 * @example
 * const feature: FeatureInput = { key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } };
 */
export interface FeatureInput {
  readonly key: string;
  /**
   * perUnit is a decimal string and may be finer than the currency. `roundOn` says what is rounded to
   * the currency's places: the customer's running total of this feature's exact costs
   * (`'running_total'`, the default: many small uses add up to what their sum costs), or each usage by
   * itself (`'each_call'`).
   */
  readonly cost: {
    readonly currency: string;
    readonly perUnit: string;
    readonly roundOn?: 'running_total' | 'each_call';
  };
}

/**
 * Credit a plan grants at the start of every cycle, as declared to `defineCatalog`; the catalog fills
 * in the defaults to make a `PlanGrantRule`.
 *
 * @example
 * const monthly: PlanGrantInput = { currency: 'credits', amount: '1000', rollover: { max: '500' } };
 */
export interface PlanGrantInput {
  readonly currency: string;
  readonly amount: string;
  /** Lower is spent first; default 50. */
  readonly priority?: number;
  /** Default 'cycle_end'. */
  readonly expires?: 'cycle_end' | 'never';
  /** Unused credits up to `max` carry into the next cycle (only with `expires: 'cycle_end'`). */
  readonly rollover?: { readonly max: string };
}

/**
 * A subscription plan as declared to `defineCatalog`: how often it renews and what it grants each
 * cycle. `price` is recorded with each subscription; Tally itself charges nothing.
 *
 * @example
 * const pro: PlanInput = {
 *   id: 'pro', price: '20', interval: 'month', grants: [{ currency: 'credits', amount: '1000' }],
 * };
 */
export interface PlanInput {
  readonly id: string;
  readonly price?: string;
  readonly interval: Interval;
  readonly grants: readonly PlanGrantInput[];
}

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

/**
 * A currency of a validated `Catalog`, its rounding rule filled in.
 *
 * @example
 * const { decimals, rounding } = catalog.currencies.get('credits')!; // 0, 'half_up'
 */
export interface Currency {
  readonly code: string;
  readonly decimals: number;
  readonly rounding: Rounding;
}

/**
 * A feature of a validated `Catalog`: the price of one unit, in one currency.
 *
 * @example
 * const feature = catalog.features.get('ai-generation');
 * // { key: 'ai-generation', currency: 'credits', perUnit: '10', roundOn: 'running_total' }
 */
export interface Feature {
  readonly key: string;
  readonly currency: string;
  readonly perUnit: string;
  /** What is rounded: the running total of the customer's usage of this feature, or each usage. */
  readonly roundOn: 'running_total' | 'each_call';
}

/**
 * A plan's grant rule with every default filled in; this is what a subscription snapshots.
 *
 * @example
 * const [rule] = catalog.plans.get('pro')!.grants;
 * // { currency: 'credits', amount: '1000', priority: 50, expires: 'cycle_end', rollover: null }
 */
export interface PlanGrantRule {
  readonly currency: string;
  readonly amount: string;
  readonly priority: number;
  readonly expires: 'cycle_end' | 'never';
  readonly rollover: { readonly max: string } | null;
}

/**
 * A plan of a validated `Catalog`. Subscribing copies its terms into the subscription, so editing the
 * catalog later does not change running subscriptions.
 *
 * @example
 * const plan = catalog.plans.get('pro'); // { id: 'pro', price: '20', interval: 'month', grants: [...] }
 */
export interface Plan {
  readonly id: string;
  readonly price: string | null;
  readonly interval: Interval;
  readonly grants: readonly PlanGrantRule[];
}

/**
 * The validated, frozen product setup `defineCatalog` returns: currencies, features and plans, each by
 * its id. A ledger prices every usage and plan by it.
 *
 * @example
 * for (const plan of catalog.plans.values()) console.log(plan.id, plan.interval, plan.price);
 * const ledger = createLedger({ catalog, store: memoryStore() });
 */
export interface Catalog {
  readonly currencies: ReadonlyMap<string, Currency>;
  readonly features: ReadonlyMap<string, Feature>;
  readonly plans: ReadonlyMap<string, Plan>;
}

export const DEFAULT_PRIORITY = 50;
export const MAX_PRIORITY = 1_000_000;
/** Grant rules per plan; bounds the events one subscription change makes (see the ledger's writer). */
export const MAX_PLAN_GRANTS = 100;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const ROUNDINGS: readonly Rounding[] = ['half_up', 'half_even', 'up', 'down'];
const INTERVALS: readonly Interval[] = ['day', 'week', 'month', 'year'];

/**
 * Validates and freezes a catalog. Anything wrong throws `invalid_catalog` naming the field.
 *
 * @example
 * const catalog = defineCatalog({
 *   currencies: [{ code: 'credits', decimals: 0 }],
 *   features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
 *   plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
 * });
 */
export function defineCatalog(input: CatalogInput): Catalog {
  if (!isObject(input)) fail('catalog', 'must be an object');
  knownKeys(input, ['currencies', 'features', 'plans'], 'catalog');
  const currencies = new Map<string, Currency>();
  list(input.currencies, 'currencies').forEach((raw, i) => {
    const field = `currencies[${i}]`;
    if (!isObject(raw)) fail(field, 'must be an object');
    knownKeys(raw, ['code', 'decimals', 'rounding'], field);
    const code = catalogId(raw.code, `${field}.code`);
    if (currencies.has(code)) fail(`${field}.code`, `duplicates currency ${quote(code)}`);
    const decimals = raw.decimals;
    if (typeof decimals !== 'number' || !Number.isInteger(decimals) || decimals < 0 || decimals > 18) {
      fail(`${field}.decimals`, `must be an integer from 0 to 18, got ${quote(decimals)}`);
    }
    const rounding = raw.rounding ?? 'half_up';
    if (!ROUNDINGS.includes(rounding)) fail(`${field}.rounding`, `must be one of ${ROUNDINGS.join(', ')}`);
    currencies.set(code, Object.freeze({ code, decimals, rounding }));
  });

  const currencyOf = (value: unknown, field: string): Currency => {
    const currency = typeof value === 'string' ? currencies.get(value) : undefined;
    if (currency === undefined) fail(field, `names no currency of the catalog: ${quote(value)}`);
    return currency;
  };
  // Amounts are stored with exactly the currency's places ('100' becomes '100.00'), as events expect.
  const amountIn = (value: unknown, currency: Currency, field: string): string => {
    try {
      return formatAmount(parseAmount(value, currency.decimals, field), currency.decimals);
    } catch (error) {
      // parseAmount's message starts with the field already.
      throw new TallyError(
        'invalid_catalog',
        error instanceof Error ? error.message : `${field} is not a valid amount`,
        {
          field,
        },
      );
    }
  };

  const features = new Map<string, Feature>();
  list(input.features, 'features').forEach((raw, i) => {
    const field = `features[${i}]`;
    if (!isObject(raw)) fail(field, 'must be an object');
    knownKeys(raw, ['key', 'cost'], field);
    const key = catalogId(raw.key, `${field}.key`);
    if (features.has(key)) fail(`${field}.key`, `duplicates feature ${quote(key)}`);
    if (!isObject(raw.cost)) fail(`${field}.cost`, 'must be { currency, perUnit }');
    knownKeys(raw.cost, ['currency', 'perUnit', 'roundOn'], `${field}.cost`);
    const currency = currencyOf(raw.cost.currency, `${field}.cost.currency`);
    const perUnit = parseRate(raw.cost.perUnit, `${field}.cost.perUnit`);
    const roundOn = raw.cost.roundOn ?? 'running_total';
    if (roundOn !== 'running_total' && roundOn !== 'each_call')
      fail(`${field}.cost.roundOn`, "must be 'running_total' or 'each_call'");
    features.set(key, Object.freeze({ key, currency: currency.code, perUnit, roundOn }));
  });

  const plans = new Map<string, Plan>();
  list(input.plans, 'plans').forEach((raw, i) => {
    const field = `plans[${i}]`;
    if (!isObject(raw)) fail(field, 'must be an object');
    knownKeys(raw, ['id', 'price', 'interval', 'grants'], field);
    const id = catalogId(raw.id, `${field}.id`);
    if (plans.has(id)) fail(`${field}.id`, `duplicates plan ${quote(id)}`);
    if (!INTERVALS.includes(raw.interval))
      fail(`${field}.interval`, `must be one of ${INTERVALS.join(', ')}`);
    const price = raw.price === undefined ? null : parseRate(raw.price, `${field}.price`);
    if (Array.isArray(raw.grants) && raw.grants.length > MAX_PLAN_GRANTS) {
      fail(`${field}.grants`, `has ${raw.grants.length} rules; a plan may have at most ${MAX_PLAN_GRANTS}`);
    }
    const grants = list(raw.grants, `${field}.grants`).map((rule, j): PlanGrantRule => {
      const at = `${field}.grants[${j}]`;
      if (!isObject(rule)) fail(at, 'must be an object');
      knownKeys(rule, ['currency', 'amount', 'priority', 'expires', 'rollover'], at);
      const currency = currencyOf(rule.currency, `${at}.currency`);
      const amount = amountIn(rule.amount, currency, `${at}.amount`);
      const priority = rule.priority ?? DEFAULT_PRIORITY;
      if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
        fail(`${at}.priority`, `must be an integer from 0 to ${MAX_PRIORITY}`);
      }
      const expires = rule.expires ?? 'cycle_end';
      if (expires !== 'cycle_end' && expires !== 'never')
        fail(`${at}.expires`, "must be 'cycle_end' or 'never'");
      let rollover: PlanGrantRule['rollover'] = null;
      if (rule.rollover !== undefined) {
        if (expires !== 'cycle_end') fail(`${at}.rollover`, "needs expires: 'cycle_end'");
        if (!isObject(rule.rollover)) fail(`${at}.rollover`, 'must be { max }');
        knownKeys(rule.rollover, ['max'], `${at}.rollover`);
        rollover = Object.freeze({ max: amountIn(rule.rollover.max, currency, `${at}.rollover.max`) });
      }
      return Object.freeze({ currency: currency.code, amount, priority, expires, rollover });
    });
    plans.set(id, Object.freeze({ id, price, interval: raw.interval, grants: Object.freeze(grants) }));
  });

  return Object.freeze({ currencies, features, plans });
}

function catalogId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    fail(field, `must be 1-128 characters of letters, digits, '_', '-', '.', ':', got ${quote(value)}`);
  }
  return value;
}

/** A catalog entry with a field this version does not know is refused: a typo must never pass silently. */
function knownKeys(raw: object, known: readonly string[], field: string): void {
  const unknown = Object.keys(raw).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    const at = field === 'catalog' ? unknown : `${field}.${unknown}`;
    throw new TallyError('invalid_catalog', `unknown field ${JSON.stringify(at)}`, { field: at });
  }
}

function list<T>(value: readonly T[] | undefined, field: string): readonly T[] {
  if (!Array.isArray(value)) fail(field, 'must be an array');
  return value;
}

// biome-ignore lint/suspicious/noExplicitAny: narrowing helper for untrusted input
function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(field: string, problem: string): never {
  throw new TallyError('invalid_catalog', `${field} ${problem}`, { field });
}
