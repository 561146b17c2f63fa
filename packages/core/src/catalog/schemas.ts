import { z } from 'zod';
import { TallyError } from '../errors.js';
import {
  DEFAULT_PRIORITY,
  type FieldRefusal,
  MAX_PRIORITY,
  moneyOf,
  registerRefusal,
} from '../input/fields.js';
import { quote } from '../money.js';
import type { Currency, Money, PlanGrantRule, PlanTerms, Scope } from './types.js';

/**
 * The catalog's definitions as zod schemas: one set validates a catalog written in code
 * (`defineCatalog`), a change made through the API (`defineCurrency`, `definePlan`…), and the HTTP
 * bodies of the same, and describes them in the OpenAPI document. Every refusal is `invalid_catalog`
 * naming the field.
 */

const CATALOG_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** Grant rules per plan; bounds the events one subscription change makes (see the ledger's writer). */
export const MAX_PLAN_GRANTS = 100;
const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

const refusal = (message: (field: string, value: unknown) => string): FieldRefusal => ({
  code: 'invalid_catalog',
  message,
});
const catalogField = <S extends z.ZodType>(
  schema: S,
  message: (field: string, value: unknown) => string,
): S => registerRefusal(schema, refusal(message));

export const catalogId = () =>
  catalogField(
    z.string().regex(CATALOG_ID),
    (field, value) =>
      `${field} must be 1-128 characters of letters, digits, '_', '-', '.', ':', got ${quote(value)}`,
  );

/** A per-unit price: a decimal string that may be finer than its currency (cost is rounded later). */
export const rate = catalogField(
  z.string().refine((value) => {
    const match = DECIMAL.exec(value);
    return match !== null && match[1]!.length <= 18 && (match[2] ?? '').length <= 36;
  }),
  (field, value) =>
    `${field} must be a non-negative decimal string of at most 18 + 36 digits, got ${quote(value)}`,
);

/** An amount in a catalog currency, as text: its places are checked against the currency afterwards. */
export const catalogAmount = catalogField(
  z.string().regex(DECIMAL),
  (field, value) => `${field} must be a non-negative decimal string such as "100", got ${quote(value)}`,
);

const oneOfCatalog = <const T extends readonly [string, ...string[]]>(values: T) =>
  catalogField(
    z.enum(values),
    (field, value) => `${field} must be one of ${values.join(', ')}, got ${quote(value)}`,
  );

const integer = (min: number, max: number) =>
  catalogField(
    z.number().int().min(min).max(max),
    (field, value) => `${field} must be an integer from ${min} to ${max}, got ${quote(value)}`,
  );

const object = <const Shape extends z.core.$ZodLooseShape>(shape: Shape, expected: string) =>
  catalogField(z.strictObject(shape), (field) => `${field} must be ${expected}`);

/** Money: `{ amount: '20.00', currency: 'USD' }`, an ISO 4217 code and up to 4 places. */
export const money = moneyOf('invalid_catalog');

export const scope = object(
  {
    features: catalogField(
      z.array(catalogId()).min(1).max(100),
      (field) => `${field} must list 1-100 feature keys`,
    ),
  },
  '{ features: [...] }',
);

export const currencyDefinition = object(
  {
    code: catalogId(),
    /** Decimal places of every amount in this currency, 0-18. Never changes once defined. */
    decimals: integer(0, 18),
    /** How costs are rounded to `decimals`; default 'half_up'. */
    rounding: oneOfCatalog(['half_up', 'half_even', 'up', 'down']).optional(),
  },
  '{ code, decimals, rounding? }',
);

export const featureCost = object(
  {
    currency: catalogId(),
    perUnit: rate,
    /** What is rounded: the customer's running total of this feature (default), or each usage. */
    roundOn: oneOfCatalog(['running_total', 'each_call']).optional(),
  },
  '{ currency, perUnit, roundOn? }',
);

export const featureDefinition = object({ key: catalogId(), cost: featureCost }, '{ key, cost }');

export const grantRuleDefinition = object(
  {
    currency: catalogId(),
    amount: catalogAmount,
    /** Lower is spent first; default 50. */
    priority: integer(0, MAX_PRIORITY).optional(),
    /** Default 'cycle_end'. */
    expires: oneOfCatalog(['cycle_end', 'never']).optional(),
    /** Unused credits up to `max` carry into the next cycle (only with `expires: 'cycle_end'`). */
    rollover: object({ max: catalogAmount }, '{ max }').optional(),
    /** The features these credits pay for; default all. */
    appliesTo: scope.optional(),
  },
  '{ currency, amount, priority?, expires?, rollover?, appliesTo? }',
);

const planTermsShape = {
  interval: oneOfCatalog(['day', 'week', 'month', 'year']),
  /** Money, not credits. A price above zero makes the plan paid: its cycles wait for `confirmPayment`. */
  price: money.nullish(),
  grants: catalogField(z.array(grantRuleDefinition).max(MAX_PLAN_GRANTS), (field, value) =>
    Array.isArray(value)
      ? `${field} has ${value.length} rules; a plan may have at most ${MAX_PLAN_GRANTS}`
      : `${field} must be an array of grant rules`,
  ),
  /** Days a paid renewal's credits are granted before its payment is confirmed; default 0. */
  gracePeriodDays: integer(0, 365).optional(),
};

export const planDefinition = object(
  { id: catalogId(), ...planTermsShape },
  '{ id, interval, grants, price? }',
);

/** The terms of a new version of a plan, and to whom they apply. */
export const planVersionDefinition = object(
  {
    ...planTermsShape,
    /** New subscriptions only (default), or existing subscribers too, from their next renewal. */
    appliesTo: oneOfCatalog(['new', 'renewals']).optional(),
  },
  '{ interval, grants, price?, appliesTo? }',
);

export type CurrencyDefinition = z.input<typeof currencyDefinition>;
export type FeatureDefinition = z.input<typeof featureDefinition>;
export type GrantRuleDefinition = z.input<typeof grantRuleDefinition>;
export type PlanDefinition = z.input<typeof planDefinition>;

/**
 * A plan's terms with every default filled in and every amount written with its currency's places,
 * checking what a schema alone cannot: the currencies and features it names exist, rollover needs an
 * expiry. `at` is the field path of the terms (`plans[0]`), for refusals.
 */
export function planTerms(
  raw: z.output<typeof planDefinition> | z.output<typeof planVersionDefinition>,
  currencyOf: (code: string, field: string) => Currency,
  hasFeature: (key: string) => boolean,
  at: string,
): PlanTerms {
  const grants = raw.grants.map((rule, j): PlanGrantRule => {
    const field = `${at}.grants[${j}]`;
    const currency = currencyOf(rule.currency, `${field}.currency`);
    const amount = amountIn(rule.amount, currency, `${field}.amount`);
    const expires = rule.expires ?? 'cycle_end';
    if (rule.rollover !== undefined && expires !== 'cycle_end') {
      throw catalogError(`${field}.rollover`, "needs expires: 'cycle_end'");
    }
    const appliesTo: Scope | null =
      rule.appliesTo === undefined ? null : { features: [...new Set(rule.appliesTo.features)].sort() };
    appliesTo?.features.forEach((key, k) => {
      if (!hasFeature(key))
        throw catalogError(
          `${field}.appliesTo.features[${k}]`,
          `names no feature of the catalog: ${quote(key)}`,
        );
    });
    return Object.freeze({
      currency: currency.code,
      amount,
      priority: rule.priority ?? DEFAULT_PRIORITY,
      expires,
      rollover:
        rule.rollover === undefined
          ? null
          : Object.freeze({ max: amountIn(rule.rollover.max, currency, `${field}.rollover.max`) }),
      appliesTo,
    });
  });
  const price: Money | null = raw.price == null ? null : Object.freeze({ ...raw.price });
  return Object.freeze({
    interval: raw.interval,
    price,
    grants: Object.freeze(grants),
    gracePeriodDays: raw.gracePeriodDays ?? 0,
  });
}

/** `value` with exactly the currency's places ('100' becomes '100.00'), as events expect. */
export function amountIn(value: string, currency: Currency, field: string): string {
  const match = DECIMAL.exec(value)!;
  const fraction = match[2] ?? '';
  if (match[1]!.length > 18) throw catalogError(field, 'is too large: at most 18 integer digits');
  if (fraction.length > currency.decimals) {
    throw catalogError(
      field,
      `has ${fraction.length} decimal places; ${currency.code} allows ${currency.decimals}`,
    );
  }
  return currency.decimals === 0 ? match[1]! : `${match[1]}.${fraction.padEnd(currency.decimals, '0')}`;
}

export function catalogError(field: string, problem: string): TallyError {
  return new TallyError('invalid_catalog', `${field} ${problem}`, { field });
}
