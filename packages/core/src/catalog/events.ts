import type { Rounding } from '../money.js';
import type { PlanTerms } from './types.js';

/**
 * The facts of a catalog kept in the store: a stream of its own (`CATALOG_STREAM`), in the same
 * `EventStore` as the customers' (the same durability, ordering, multi-process safety and hash chain).
 * Each change takes effect at an instant (`effectiveAt`, never before it was recorded), so what a
 * usage or a subscription was priced by can always be read back as of its instant.
 */

/**
 * The stream a stored catalog lives in.
 *
 * @example
 * const events = (await store.readStream(CATALOG_STREAM)).map(upcastCatalog);
 */
export const CATALOG_STREAM = 'catalog';

/**
 * A currency is defined; its code, places and rounding never change after.
 *
 * @example
 * const event: CurrencyDefined = { type: 'currency_defined', data: { code: 'credits', decimals: 0, rounding: 'half_up' } };
 */
export interface CurrencyDefined {
  readonly type: 'currency_defined';
  readonly data: { readonly code: string; readonly decimals: number; readonly rounding: Rounding };
}

/**
 * A feature is priced, from `effectiveAt` on: its first price defines it (and its currency, which
 * never changes), a later one changes the price of usage tracked from then on.
 *
 * @example
 * const event: FeaturePriced = { type: 'feature_priced', data: {
 *   key: 'ai-generation', currency: 'credits', perUnit: '12', roundOn: 'running_total',
 *   effectiveAt: '2025-03-01T00:00:00.000Z' } };
 */
export interface FeaturePriced {
  readonly type: 'feature_priced';
  readonly data: {
    readonly key: string;
    readonly currency: string;
    readonly perUnit: string;
    readonly roundOn: 'running_total' | 'each_call';
    readonly effectiveAt: string;
  };
}

/**
 * A version of a plan's terms is published, from `effectiveAt` on: version 1 defines the plan. Every
 * version is what new subscriptions get; one with `appliesTo: 'renewals'` is also adopted by running
 * subscriptions at their next renewal.
 *
 * @example
 * const event: PlanPublished = { type: 'plan_published', data: {
 *   planId: 'free', version: 1, appliesTo: 'new', effectiveAt: '2025-01-01T00:00:00.000Z',
 *   terms: { interval: 'month', price: null, gracePeriodDays: 0, grants: [] } } };
 */
export interface PlanPublished {
  readonly type: 'plan_published';
  readonly data: {
    readonly planId: string;
    readonly version: number;
    readonly terms: PlanTerms;
    readonly appliesTo: 'new' | 'renewals';
    readonly effectiveAt: string;
  };
}

/**
 * A plan takes no new subscriptions from `effectiveAt` on; running ones go on.
 *
 * @example
 * const event: PlanArchived = { type: 'plan_archived', data: { planId: 'legacy', effectiveAt: '2025-06-01T00:00:00.000Z' } };
 */
export interface PlanArchived {
  readonly type: 'plan_archived';
  readonly data: { readonly planId: string; readonly effectiveAt: string };
}

/**
 * Every fact of a stored catalog, discriminated by `type`.
 *
 * @example
 * const describe = (e: CatalogEvent) => (e.type === 'feature_priced' ? `${e.data.key} at ${e.data.perUnit}` : e.type);
 */
export type CatalogEvent = CurrencyDefined | FeaturePriced | PlanPublished | PlanArchived;

/**
 * A catalog event as stored: with its id and the time it was recorded.
 *
 * @example
 * const recorded: RecordedCatalogEvent = {
 *   type: 'plan_archived', data: { planId: 'legacy', effectiveAt: '2025-06-01T00:00:00.000Z' },
 *   id: 'evt_01J…', at: '2025-01-01T00:00:00.000Z',
 * };
 */
export type RecordedCatalogEvent = CatalogEvent & { readonly id: string; readonly at: string };

/**
 * Shape version of each catalog event type; the table is also the list of types (`satisfies`).
 *
 * @example
 * const version = CATALOG_SCHEMA_VERSIONS.plan_published; // 1
 */
export const CATALOG_SCHEMA_VERSIONS = {
  currency_defined: 1,
  feature_priced: 1,
  plan_published: 1,
  plan_archived: 1,
} as const satisfies Record<CatalogEvent['type'], number>;
