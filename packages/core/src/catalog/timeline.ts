import { TallyError, unreachable } from '../errors.js';
import type { NewEvent, StoredEvent } from '../event-store.js';
import { CATALOG_SCHEMA_VERSIONS, type CatalogEvent, type RecordedCatalogEvent } from './events.js';
import type { Catalog, Currency, Feature, Plan, PlanTerms } from './types.js';

/**
 * A stored catalog folded: every currency, every price of every feature and every version of every
 * plan, each with the instant it takes effect, so the catalog can be read as of any instant
 * (`catalogAt`). Like a customer's state, it is built only by folding its stream.
 *
 * @example
 * const timeline = foldCatalog(catalogEvents);
 * const now = catalogAt(timeline, Date.now());
 */
export interface CatalogTimeline {
  version: number;
  lastAt: string;
  readonly currencies: Map<string, Currency & { readonly definedAtMs: number }>;
  readonly features: Map<string, { readonly currency: string; readonly prices: PriceVersion[] }>;
  readonly plans: Map<string, { readonly versions: PlanVersion[]; archivedAtMs: number | null }>;
}

/**
 * One price of a feature, in force from `effectiveAtMs`.
 *
 * @example
 * const prices: PriceVersion[] = timeline.features.get('ai-generation')?.prices ?? [];
 */
export interface PriceVersion {
  readonly effectiveAtMs: number;
  readonly perUnit: string;
  readonly roundOn: Feature['roundOn'];
}

/**
 * One version of a plan's terms, in force from `effectiveAtMs`.
 *
 * @example
 * const latest: PlanVersion | undefined = timeline.plans.get('free')?.versions.at(-1);
 */
export interface PlanVersion {
  readonly version: number;
  readonly effectiveAtMs: number;
  readonly terms: PlanTerms;
  readonly appliesTo: 'new' | 'renewals';
}

/**
 * An empty catalog: where a stored catalog's fold starts.
 *
 * @example
 * const timeline = emptyCatalog(); // catalogAt(timeline, now) has no currency, feature or plan
 */
export const emptyCatalog = (): CatalogTimeline => ({
  version: 0,
  lastAt: '',
  currencies: new Map(),
  features: new Map(),
  plans: new Map(),
});

/**
 * Folds one catalog event in place; throws `corrupt_stream` for one that contradicts the stream.
 *
 * @example
 * for (const event of catalogEvents) applyCatalogEvent(timeline, event);
 */
export function applyCatalogEvent(timeline: CatalogTimeline, event: RecordedCatalogEvent): CatalogTimeline {
  const corrupt = (problem: string): never => {
    throw new TallyError('corrupt_stream', `catalog event ${event.id} (${event.type}) ${problem}`, {
      details: { eventId: event.id, type: event.type },
    });
  };
  switch (event.type) {
    case 'currency_defined': {
      const { code, decimals, rounding } = event.data;
      if (timeline.currencies.has(code)) corrupt(`defines currency ${code} twice`);
      timeline.currencies.set(code, { code, decimals, rounding, definedAtMs: Date.parse(event.at) });
      break;
    }
    case 'feature_priced': {
      const { key, currency, perUnit, roundOn, effectiveAt } = event.data;
      const feature = timeline.features.get(key) ?? { currency, prices: [] };
      if (feature.currency !== currency) corrupt(`moves feature ${key} to another currency`);
      feature.prices.push({ effectiveAtMs: Date.parse(effectiveAt), perUnit, roundOn });
      feature.prices.sort((a, b) => a.effectiveAtMs - b.effectiveAtMs);
      timeline.features.set(key, feature);
      break;
    }
    case 'plan_published': {
      const { planId, version, terms, appliesTo, effectiveAt } = event.data;
      const plan = timeline.plans.get(planId) ?? { versions: [], archivedAtMs: null };
      if (version !== plan.versions.length + 1)
        corrupt(`publishes version ${version} of plan ${planId} out of turn`);
      plan.versions.push({ version, effectiveAtMs: Date.parse(effectiveAt), terms, appliesTo });
      timeline.plans.set(planId, plan);
      break;
    }
    case 'plan_archived': {
      const plan = timeline.plans.get(event.data.planId);
      if (plan === undefined) return corrupt(`archives plan ${event.data.planId}, which was never published`);
      plan.archivedAtMs = Date.parse(event.data.effectiveAt);
      break;
    }
    default:
      return unreachable(event);
  }
  timeline.version += 1;
  timeline.lastAt = event.at;
  return timeline;
}

/**
 * The catalog as of `atMs`: currencies defined by then, each feature at its price in force then,
 * each plan at its newest version in force then (archived if that happened by then), and the
 * versions a running subscription adopts at a renewal.
 *
 * @example
 * const lastMonth = catalogAt(timeline, Date.parse('2025-01-31T23:59:59Z'));
 * lastMonth.features.get('ai-generation')?.perUnit; // the price usage was charged then
 */
export function catalogAt(timeline: CatalogTimeline, atMs: number): Catalog {
  const currencies = new Map<string, Currency>();
  for (const [code, c] of timeline.currencies) {
    if (c.definedAtMs <= atMs) currencies.set(code, { code, decimals: c.decimals, rounding: c.rounding });
  }
  const features = new Map<string, Feature>();
  for (const [key, f] of timeline.features) {
    const price = latest(f.prices, atMs);
    if (price !== undefined)
      features.set(key, { key, currency: f.currency, perUnit: price.perUnit, roundOn: price.roundOn });
  }
  const plans = new Map<string, Plan>();
  for (const [id, p] of timeline.plans) {
    const version = latest(p.versions, atMs);
    if (version === undefined) continue;
    const archived = p.archivedAtMs !== null && p.archivedAtMs <= atMs;
    plans.set(id, { id, version: version.version, archived, ...version.terms });
  }
  return {
    version: timeline.version,
    currencies,
    features,
    plans,
    renewalTerms(planId, fromVersion, boundaryMs) {
      const versions = timeline.plans.get(planId)?.versions ?? [];
      let adopted: PlanVersion | undefined;
      for (const v of versions) {
        if (v.version > fromVersion && v.appliesTo === 'renewals' && v.effectiveAtMs <= boundaryMs)
          adopted = v;
      }
      return adopted === undefined ? null : { ...adopted.terms, version: adopted.version };
    },
  };
}

/**
 * The next instant after `atMs` at which some change of the catalog takes effect, or Infinity: until
 * then `catalogAt` answers the same, which is what lets a ledger keep one view for many calls.
 *
 * @example
 * const until = nextChangeAfter(timeline, Date.now());
 */
export function nextChangeAfter(timeline: CatalogTimeline, atMs: number): number {
  let next = Number.POSITIVE_INFINITY;
  const consider = (ms: number) => {
    if (ms > atMs && ms < next) next = ms;
  };
  for (const c of timeline.currencies.values()) consider(c.definedAtMs);
  for (const f of timeline.features.values()) for (const p of f.prices) consider(p.effectiveAtMs);
  for (const p of timeline.plans.values()) {
    for (const v of p.versions) consider(v.effectiveAtMs);
    if (p.archivedAtMs !== null) consider(p.archivedAtMs);
  }
  return next;
}

/** The entry in force at `atMs`: the last one (in effective order) that took effect by then. */
function latest<T extends { readonly effectiveAtMs: number }>(
  entries: readonly T[],
  atMs: number,
): T | undefined {
  let found: T | undefined;
  for (const entry of entries) if (entry.effectiveAtMs <= atMs) found = entry;
  return found;
}

/**
 * A stored catalog event as the fold reads it: known type, current shape; `unknown_event` otherwise.
 *
 * @example
 * const events = (await store.readStream(CATALOG_STREAM)).map(upcastCatalog);
 */
export function upcastCatalog(event: StoredEvent | NewEvent): RecordedCatalogEvent {
  const versions: Readonly<Record<string, number>> = CATALOG_SCHEMA_VERSIONS;
  if (!Object.hasOwn(versions, event.type) || versions[event.type] !== event.schemaVersion) {
    throw new TallyError(
      'unknown_event',
      `catalog event ${event.id} has type ${JSON.stringify(event.type)} v${event.schemaVersion}, which this version of Tally does not read`,
      { details: { eventId: event.id, type: event.type } },
    );
  }
  return { type: event.type, data: event.data, id: event.id, at: event.at } as RecordedCatalogEvent;
}

/**
 * Folds catalog events into a fresh timeline (or on from `from`, in place).
 *
 * @example
 * const timeline = foldCatalog((await store.readStream(CATALOG_STREAM)).map(upcastCatalog));
 */
export function foldCatalog(events: Iterable<RecordedCatalogEvent>, from: CatalogTimeline = emptyCatalog()) {
  for (const event of events) applyCatalogEvent(from, event);
  return from;
}

/** The recorded form a catalog decision's event takes. */
export type CatalogEventOf<T extends CatalogEvent['type']> = Extract<CatalogEvent, { type: T }>;
