import type { Catalog, Currency, Feature } from '../catalog/index.js';
import { TallyError } from '../errors.js';
import { chargeMinor } from '../money.js';
import type { CustomerState } from '../state.js';
import { currencyOf, featureOf } from './context.js';

/** Largest cost one command may resolve to, in whole units; beyond it the quantity is refused. */
const MAX_COST_DIGITS = 18;

/** What a usage of a feature charges now, and what it leaves for the next one. */
export interface UsagePrice {
  readonly feature: Feature;
  readonly currency: Currency;
  /** What is charged, in minor units. */
  readonly cost: bigint;
  /** The unrounded cost of this usage alone, in whole units. */
  readonly exact: string;
  /** The feature's carry after this usage, or null when it does not change. */
  readonly carry: string | null;
}

/**
 * Prices `quantity` units of a feature for this customer: the exact cost, plus what earlier usage of a
 * feature rounded on its running total left uncharged (`CustomerState.carries`), rounded by the
 * currency's rule. Over any run of usage the total charged is the exact total rounded once, within
 * one minor unit, and never drifts; a feature rounded on each call carries nothing.
 */
export function priceUsage(
  state: CustomerState,
  catalog: Catalog,
  key: string,
  quantity: number,
): UsagePrice {
  const feature = featureOf(catalog, key);
  const currency = currencyOf(catalog, feature.currency);
  const carried = feature.roundOn === 'running_total';
  const before = carried ? (state.carries.get(feature.key) ?? '0') : '0';
  const charge = chargeMinor(feature.perUnit, quantity, before, currency.decimals, currency.rounding);
  const magnitude = charge.cost < 0n ? -charge.cost : charge.cost;
  if (magnitude.toString().length > MAX_COST_DIGITS + currency.decimals) {
    throw new TallyError('invalid_quantity', `quantity ${quantity} makes a cost too large to record`, {
      field: 'quantity',
    });
  }
  return {
    feature,
    currency,
    cost: charge.cost,
    exact: charge.exact,
    carry: carried && charge.carry !== before ? charge.carry : null,
  };
}
