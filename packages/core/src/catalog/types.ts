import type { Rounding } from '../money.js';
import type { Interval } from '../time.js';

/**
 * What a validated catalog holds, as of one instant: the shapes decisions price by and subscriptions
 * copy their terms from. A catalog defined in code (`defineCatalog`) is one such view for all time; a
 * catalog kept in the store (see `catalogAt`) gives one per instant.
 */

/**
 * A sum of money (not credits), for a plan's price or what a purchase cost: a decimal string and an
 * ISO 4217 currency code. Tally charges nothing; it records what the host's billing charged.
 *
 * @example
 * const price: Money = { amount: '20.00', currency: 'USD' };
 */
export interface Money {
  readonly amount: string;
  readonly currency: string;
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
 * Which features a grant pays for: the keys listed, or every feature (null).
 *
 * @example
 * const imagesOnly: Scope = { features: ['image'] };
 */
export interface Scope {
  readonly features: readonly string[];
}

/**
 * A plan's grant rule with every default filled in; this is what a subscription snapshots.
 *
 * @example
 * const [rule] = catalog.plans.get('pro')!.grants;
 * // { currency: 'credits', amount: '1000', priority: 50, expires: 'cycle_end', rollover: null, appliesTo: null }
 */
export interface PlanGrantRule {
  readonly currency: string;
  readonly amount: string;
  readonly priority: number;
  readonly expires: 'cycle_end' | 'never';
  readonly rollover: { readonly max: string } | null;
  /** The features the granted credits pay for; null: all. */
  readonly appliesTo: Scope | null;
}

/**
 * The terms a plan version offers: how often it renews, what it grants each cycle, and its price.
 * A subscription copies them when it starts (and from a later version at a renewal, if that version
 * says so), so a catalog change never rewrites what a running subscription was sold.
 *
 * @example
 * const terms: PlanTerms = {
 *   interval: 'month', price: { amount: '20.00', currency: 'USD' }, gracePeriodDays: 3,
 *   grants: [{ currency: 'credits', amount: '1000', priority: 50, expires: 'cycle_end', rollover: null, appliesTo: null }],
 * };
 */
export interface PlanTerms {
  readonly interval: Interval;
  /** A price above zero makes the plan paid: its cycles wait for `confirmPayment`. */
  readonly price: Money | null;
  readonly grants: readonly PlanGrantRule[];
  /** Days after a paid renewal during which its credits are granted before the payment is confirmed. */
  readonly gracePeriodDays: number;
}

/**
 * A plan of a validated `Catalog` as offered at the catalog's instant: the terms of its version in
 * force then, and whether it is archived (no new subscriptions).
 *
 * @example
 * const plan = catalog.plans.get('pro'); // { id: 'pro', version: 2, interval: 'month', price: ..., grants: [...] }
 */
export interface Plan extends PlanTerms {
  readonly id: string;
  /** 1 for the plan as first defined; each published version counts up. */
  readonly version: number;
  readonly archived: boolean;
}

/**
 * The validated, frozen product setup a ledger prices by, as of one instant: currencies, features and
 * plans, each by its id, and the version of the stored catalog it comes from (0 for one defined in
 * code). `renewalTerms` says what a running subscription adopts at a renewal.
 *
 * @example
 * for (const plan of catalog.plans.values()) console.log(plan.id, plan.interval, plan.price);
 * const ledger = createLedger({ catalog, store: memoryStore() });
 */
export interface Catalog {
  readonly version: number;
  readonly currencies: ReadonlyMap<string, Currency>;
  readonly features: ReadonlyMap<string, Feature>;
  readonly plans: ReadonlyMap<string, Plan>;
  /**
   * The newest version of `planId` after `fromVersion` that applies to existing subscribers from their
   * next renewal and is in force by `atMs`, or null to keep the terms they have.
   */
  readonly renewalTerms: (
    planId: string,
    fromVersion: number,
    atMs: number,
  ) => (PlanTerms & { version: number }) | null;
}

/** Whether a plan is paid: a price above zero. */
export const isPaid = (terms: Pick<PlanTerms, 'price'>): boolean =>
  terms.price !== null && !/^0+(\.0+)?$/.test(terms.price.amount);
