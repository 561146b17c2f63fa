import { iso } from '../time.js';
import type { CatalogTimeline } from './timeline.js';
import type { Catalog, Currency, Feature, Plan, PlanTerms } from './types.js';

/**
 * A feature as the catalog reads return it: its price in force at the instant read, and every price
 * it has had or is scheduled to have.
 *
 * @example
 * const { features } = await ledger.catalog();
 * const next = features[0]?.prices.at(-1); // { perUnit: '12', roundOn: 'running_total', effectiveAt: '…' }
 */
export interface FeatureView extends Feature {
  readonly prices: readonly {
    readonly perUnit: string;
    readonly roundOn: Feature['roundOn'];
    readonly effectiveAt: string | null;
  }[];
}

/**
 * A plan as the catalog reads return it: the version in force at the instant read, and every version.
 *
 * @example
 * const { plans } = await ledger.catalog({ at: '2025-06-01T00:00:00Z' });
 * console.log(plans.map((p) => `${p.id} v${p.version}${p.archived ? ' (archived)' : ''}`));
 */
export interface PlanView extends Plan {
  readonly archivedAt: string | null;
  readonly versions: readonly (PlanTerms & {
    readonly version: number;
    readonly appliesTo: 'new' | 'renewals';
    readonly effectiveAt: string | null;
  })[];
}

/**
 * The catalog as of an instant, as JSON: what `ledger.catalog()` and `GET /v1/catalog` answer.
 * `version` is the stored catalog's version (0 for one defined in code).
 *
 * @example
 * const { version, currencies, features, plans } = await ledger.catalog();
 */
export interface CatalogView {
  readonly version: number;
  readonly at: string;
  readonly currencies: readonly Currency[];
  readonly features: readonly FeatureView[];
  readonly plans: readonly PlanView[];
}

/**
 * `catalog` (the view at `atMs`) with the history `timeline` holds of each entry; a catalog defined
 * in code has one price and one version of everything, in force for all time (`effectiveAt` null).
 */
export function catalogView(catalog: Catalog, timeline: CatalogTimeline | null, atMs: number): CatalogView {
  const features = [...catalog.features.values()].map((feature): FeatureView => {
    const prices = timeline?.features.get(feature.key)?.prices.map((p) => ({
      perUnit: p.perUnit,
      roundOn: p.roundOn,
      effectiveAt: iso(p.effectiveAtMs),
    }));
    return {
      ...feature,
      prices: prices ?? [{ perUnit: feature.perUnit, roundOn: feature.roundOn, effectiveAt: null }],
    };
  });
  const plans = [...catalog.plans.values()].map((plan): PlanView => {
    const stored = timeline?.plans.get(plan.id);
    const { id: _id, version, archived: _archived, ...terms } = plan;
    return {
      ...plan,
      archivedAt: stored?.archivedAtMs == null ? null : iso(stored.archivedAtMs),
      versions: stored?.versions.map((v) => ({
        ...v.terms,
        version: v.version,
        appliesTo: v.appliesTo,
        effectiveAt: iso(v.effectiveAtMs),
      })) ?? [{ ...terms, version, appliesTo: 'new', effectiveAt: null }],
    };
  });
  return {
    version: catalog.version,
    at: iso(atMs),
    currencies: [...catalog.currencies.values()],
    features,
    plans,
  };
}
