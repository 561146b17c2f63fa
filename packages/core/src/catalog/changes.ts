import { z } from 'zod';
import { TallyError } from '../errors.js';
import * as field from '../input/fields.js';
import { quote } from '../money.js';
import { iso } from '../time.js';
import type { CatalogInput } from './define.js';
import type { CatalogEvent, RecordedCatalogEvent } from './events.js';
import {
  catalogError,
  catalogId,
  currencyDefinition,
  featureCost,
  featureDefinition,
  planDefinition,
  planTerms,
  planVersionDefinition,
  rate,
} from './schemas.js';
import { applyCatalogEvent, type CatalogTimeline, catalogAt } from './timeline.js';
import type { Currency, PlanTerms } from './types.js';

/**
 * The changes a stored catalog takes, as pure decisions: a timeline and an input in, the events to
 * append out (none for a change that is already so, which makes every change safe to repeat, and a
 * deploy's `syncCatalog` idempotent). A change that would rewrite history (a currency's places, a
 * feature's currency) is refused with `invalid_catalog` naming the field. Each takes effect at
 * `effectiveAt`: default now, never in the past.
 */

const when = { effectiveAt: field.time.nullish() };

/**
 * The input schema of each catalog change, by its ledger method: catalog routes over HTTP validate
 * with these too (every refusal `invalid_catalog`).
 *
 * @example
 * const { code, decimals } = parseInput(catalogInputs.defineCurrency, { code: 'credits', decimals: 0 });
 */
export const catalogInputs = {
  defineCurrency: currencyDefinition,
  defineFeature: z.strictObject({ ...featureDefinition.shape, ...when }),
  updateFeature: z.strictObject({
    key: catalogId(),
    perUnit: rate,
    roundOn: featureCost.shape.roundOn,
    ...when,
  }),
  definePlan: z.strictObject({ ...planDefinition.shape, ...when }),
  publishPlanVersion: z.strictObject({ planId: catalogId(), ...planVersionDefinition.shape, ...when }),
  archivePlan: z.strictObject({ planId: catalogId(), ...when }),
};

/**
 * A catalog change by name, as its decision reads it.
 *
 * @example
 * const change: CatalogChange = { type: 'updateFeature', key: 'ai-generation', perUnit: '12' };
 */
export type CatalogChange = {
  [K in keyof typeof catalogInputs]: { readonly type: K } & z.output<(typeof catalogInputs)[K]>;
}[keyof typeof catalogInputs];

/** The instant a change takes effect: the one asked for, never before now. */
function effectiveAt(asked: number | null | undefined, nowMs: number): string {
  if (asked == null) return iso(nowMs);
  if (asked < nowMs)
    throw new TallyError('invalid_time', 'effectiveAt must not be in the past', { field: 'effectiveAt' });
  return iso(asked);
}

/**
 * The events one change makes on `timeline` at `nowMs`.
 *
 * @example
 * const events = decideCatalog(timeline, { type: 'defineCurrency', code: 'credits', decimals: 0 }, Date.now());
 */
export function decideCatalog(
  timeline: CatalogTimeline,
  change: CatalogChange,
  nowMs: number,
): CatalogEvent[] {
  const now = catalogAt(timeline, Number.POSITIVE_INFINITY);
  const currencyOf = (code: string, at: string): Currency => {
    const currency = now.currencies.get(code);
    if (currency === undefined) throw catalogError(at, `names no currency of the catalog: ${quote(code)}`);
    return currency;
  };
  switch (change.type) {
    case 'defineCurrency': {
      const rounding = change.rounding ?? 'half_up';
      const existing = timeline.currencies.get(change.code);
      if (existing === undefined) {
        return [
          { type: 'currency_defined', data: { code: change.code, decimals: change.decimals, rounding } },
        ];
      }
      if (existing.decimals !== change.decimals)
        throw catalogError(
          'decimals',
          `of ${change.code} is ${existing.decimals} and never changes once defined`,
        );
      if (existing.rounding !== rounding)
        throw catalogError(
          'rounding',
          `of ${change.code} is ${existing.rounding} and never changes once defined`,
        );
      return [];
    }
    case 'defineFeature': {
      const currency = currencyOf(change.cost.currency, 'cost.currency');
      const roundOn = change.cost.roundOn ?? 'running_total';
      const existing = timeline.features.get(change.key);
      if (existing !== undefined) {
        const current = now.features.get(change.key)!;
        if (
          existing.currency === currency.code &&
          current.perUnit === change.cost.perUnit &&
          current.roundOn === roundOn
        )
          return [];
        throw catalogError(
          'key',
          `${quote(change.key)} is defined already: change its price with updateFeature`,
        );
      }
      return [
        priced(
          change.key,
          currency.code,
          change.cost.perUnit,
          roundOn,
          effectiveAt(change.effectiveAt, nowMs),
        ),
      ];
    }
    case 'updateFeature': {
      const existing = timeline.features.get(change.key);
      if (existing === undefined)
        throw new TallyError('unknown_feature', `no feature ${quote(change.key)}`, { field: 'key' });
      const current = now.features.get(change.key)!;
      const roundOn = change.roundOn ?? current.roundOn;
      if (current.perUnit === change.perUnit && current.roundOn === roundOn && change.effectiveAt == null)
        return [];
      return [
        priced(
          change.key,
          existing.currency,
          change.perUnit,
          roundOn,
          effectiveAt(change.effectiveAt, nowMs),
        ),
      ];
    }
    case 'definePlan': {
      const terms = planTerms(change, currencyOf, (key) => now.features.has(key), 'plan');
      const existing = timeline.plans.get(change.id);
      if (existing !== undefined) {
        if (sameTerms(existing.versions.at(-1)!.terms, terms)) return [];
        throw catalogError('id', `plan ${quote(change.id)} is defined already: publish a new version`);
      }
      return [published(change.id, 1, terms, 'new', effectiveAt(change.effectiveAt, nowMs))];
    }
    case 'publishPlanVersion': {
      const existing = timeline.plans.get(change.planId);
      if (existing === undefined)
        throw new TallyError('unknown_plan', `no plan ${quote(change.planId)}`, { field: 'planId' });
      const terms = planTerms(change, currencyOf, (key) => now.features.has(key), 'plan');
      const appliesTo = change.appliesTo ?? 'new';
      const latest = existing.versions.at(-1)!;
      // A subscription's cycles are counted from its anchor in its interval: changing the interval
      // under a running subscription would renumber them.
      if (appliesTo === 'renewals' && terms.interval !== latest.terms.interval)
        throw catalogError(
          'interval',
          'cannot change for running subscriptions: publish it for new ones only',
        );
      return [
        published(
          change.planId,
          existing.versions.length + 1,
          terms,
          appliesTo,
          effectiveAt(change.effectiveAt, nowMs),
        ),
      ];
    }
    case 'archivePlan': {
      const existing = timeline.plans.get(change.planId);
      if (existing === undefined)
        throw new TallyError('unknown_plan', `no plan ${quote(change.planId)}`, { field: 'planId' });
      if (existing.archivedAtMs !== null) return [];
      return [
        {
          type: 'plan_archived',
          data: { planId: change.planId, effectiveAt: effectiveAt(change.effectiveAt, nowMs) },
        },
      ];
    }
    default:
      throw new Error(`unreachable: ${JSON.stringify(change satisfies never)}`);
  }
}

/**
 * What brings the stored catalog in line with one defined in code, at `nowMs`: new currencies,
 * features and plans defined, changed prices and plan terms published (for new subscriptions), and
 * nothing for what already matches, so a deploy may run it every time. What the code leaves out stays
 * as it is (archive a plan explicitly). A change that would rewrite history is refused, naming the
 * field of the code catalog (`currencies[0].decimals`).
 *
 * @example
 * const events = syncEvents(timeline, catalogInput, Date.now());
 */
export function syncEvents(timeline: CatalogTimeline, input: CatalogInput, nowMs: number): CatalogEvent[] {
  const events: CatalogEvent[] = [];
  let working = timeline;
  const step = (change: CatalogChange, at: string) => {
    try {
      const made = decideCatalog(working, change, nowMs);
      events.push(...made);
      working = foldDecided(working, made, nowMs);
    } catch (error) {
      if (error instanceof TallyError && error.field !== undefined)
        throw new TallyError(error.code, `${at}.${error.message}`, { field: `${at}.${error.field}` });
      throw error;
    }
  };
  for (const [i, c] of input.currencies.entries()) step({ type: 'defineCurrency', ...c }, `currencies[${i}]`);
  input.features.forEach((f, i) => {
    const known = working.features.get(f.key);
    if (known !== undefined && known.currency !== f.cost.currency) {
      throw catalogError(
        `features[${i}].cost.currency`,
        `of ${f.key} is ${known.currency} and never changes once defined`,
      );
    }
    const change: CatalogChange =
      known === undefined
        ? { type: 'defineFeature', ...f }
        : {
            type: 'updateFeature',
            key: f.key,
            perUnit: f.cost.perUnit,
            roundOn: f.cost.roundOn ?? 'running_total',
          };
    step(change, `features[${i}]`);
  });
  input.plans.forEach((p, i) => {
    const known = working.plans.get(p.id);
    if (known === undefined) {
      step({ type: 'definePlan', ...p }, `plans[${i}]`);
      return;
    }
    const current = catalogAt(working, Number.POSITIVE_INFINITY);
    const currencyOf = (code: string, at: string): Currency => {
      const currency = current.currencies.get(code);
      if (currency === undefined) throw catalogError(at, `names no currency of the catalog: ${quote(code)}`);
      return currency;
    };
    const terms = planTerms(p, currencyOf, (key) => current.features.has(key), `plans[${i}]`);
    if (sameTerms(known.versions.at(-1)!.terms, terms)) return;
    step({ type: 'publishPlanVersion', planId: p.id, ...p }, `plans[${i}]`);
  });
  return events;
}

/** The timeline with `events` folded in, as if recorded at `nowMs` (for a sync's next step). */
function foldDecided(
  timeline: CatalogTimeline,
  events: readonly CatalogEvent[],
  nowMs: number,
): CatalogTimeline {
  const copy: CatalogTimeline = {
    version: timeline.version,
    lastAt: timeline.lastAt,
    currencies: new Map(timeline.currencies),
    features: new Map([...timeline.features].map(([k, f]) => [k, { ...f, prices: [...f.prices] }])),
    plans: new Map([...timeline.plans].map(([k, p]) => [k, { ...p, versions: [...p.versions] }])),
  };
  for (const [i, event] of events.entries()) {
    applyCatalogEvent(copy, { ...event, id: `sync_${i}`, at: iso(nowMs) } as RecordedCatalogEvent);
  }
  return copy;
}

const priced = (
  key: string,
  currency: string,
  perUnit: string,
  roundOn: 'running_total' | 'each_call',
  at: string,
): CatalogEvent => ({ type: 'feature_priced', data: { key, currency, perUnit, roundOn, effectiveAt: at } });

const published = (
  planId: string,
  version: number,
  terms: PlanTerms,
  appliesTo: 'new' | 'renewals',
  at: string,
): CatalogEvent => ({ type: 'plan_published', data: { planId, version, terms, appliesTo, effectiveAt: at } });

const sameTerms = (a: PlanTerms, b: PlanTerms): boolean => JSON.stringify(a) === JSON.stringify(b);
