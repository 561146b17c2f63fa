import type { Catalog } from '../catalog.js';
import { DEFAULT_PRIORITY } from '../catalog.js';
import type { Command } from '../decide/commands.js';
import { TallyError } from '../errors.js';
import * as check from '../input.js';
import { quote } from '../money.js';
import type { TimeInput } from '../time.js';

/** Turns an untrusted method input into the customer id, the command and its idempotency key. */
export interface Parsed {
  readonly customerId: string;
  readonly command: Command;
  readonly idempotencyKey: string | undefined;
}

type Parser = (input: Record<string, unknown>, catalog: Catalog) => Command;

const parsers: Record<Exclude<Command['type'], 'reverseUsage'>, Parser> = {
  createCustomer: (i) => ({
    type: 'createCustomer',
    customerId: check.id(i.customerId, 'customerId'),
    externalId:
      i.externalId === undefined || i.externalId === null ? null : check.text(i.externalId, 'externalId', ''),
    metadata: check.metadata(i.metadata),
  }),
  subscribe: (i) => ({ type: 'subscribe', planId: check.id(i.planId, 'planId', 'unknown_plan') }),
  cancelSubscription: (i) => ({
    type: 'cancelSubscription',
    subscriptionId: check.optionalId(i.subscriptionId, 'subscriptionId'),
    at: check.oneOf(i.at, 'at', ['now', 'cycle_end'], 'now'),
    expireCredits: check.flag(i.expireCredits, 'expireCredits', false),
  }),
  changePlan: (i) => ({
    type: 'changePlan',
    planId: check.id(i.planId, 'planId', 'unknown_plan'),
    subscriptionId: check.optionalId(i.subscriptionId, 'subscriptionId'),
  }),
  grant: (i) => ({
    type: 'grant',
    currency: check.id(i.currency, 'currency', 'unknown_currency'),
    amount: check.positiveAmountText(i.amount),
    priority: check.priority(i.priority, DEFAULT_PRIORITY),
    source: check.oneOf(i.source, 'source', ['top_up', 'promotion', 'manual'], 'manual'),
    effectiveAtMs: check.optionalTime(i.effectiveAt, 'effectiveAt'),
    expiresAtMs: check.optionalTime(i.expiresAt, 'expiresAt'),
    metadata: check.metadata(i.metadata),
  }),
  voidGrant: (i) => ({
    type: 'voidGrant',
    grantId: check.id(i.grantId, 'grantId', 'unknown_grant'),
    reason: check.text(i.reason, 'reason', ''),
  }),
  trackUsage: (i) => ({
    type: 'trackUsage',
    feature: check.id(i.feature, 'feature', 'unknown_feature'),
    quantity: check.quantity(i.quantity),
    metadata: check.metadata(i.metadata),
  }),
  hold: (i) => {
    const byFeature = i.feature !== undefined;
    if (byFeature === (i.currency !== undefined)) {
      throw new TallyError(
        'invalid_input',
        'a hold needs either feature and quantity, or currency and amount',
        {
          field: 'feature',
        },
      );
    }
    // A size of the other kind says which hold was meant: name what that kind lacks, not the size.
    if (!byFeature && i.quantity !== undefined && i.amount === undefined) {
      throw new TallyError(
        'invalid_input',
        'a hold of a quantity needs a feature; a hold of a currency needs an amount',
        { field: 'feature' },
      );
    }
    if (byFeature && i.amount !== undefined && i.quantity === undefined) {
      throw new TallyError(
        'invalid_input',
        'a hold of an amount needs a currency; a hold of a feature needs a quantity',
        { field: 'currency' },
      );
    }
    return {
      type: 'hold',
      feature: byFeature ? check.id(i.feature, 'feature', 'unknown_feature') : null,
      quantity: byFeature ? check.quantity(i.quantity) : null,
      currency: byFeature ? null : check.id(i.currency, 'currency', 'unknown_currency'),
      amount: byFeature ? null : check.positiveAmountText(i.amount),
      expiresAtMs: check.optionalTime(i.expiresAt, 'expiresAt'),
    };
  },
  captureHold: (i) => {
    if (i.quantity !== undefined && i.amount !== undefined) {
      throw new TallyError('invalid_input', 'capture with quantity or amount, not both', { field: 'amount' });
    }
    return {
      type: 'captureHold',
      holdId: check.id(i.holdId, 'holdId', 'unknown_hold'),
      quantity: check.optionalQuantity(i.quantity),
      amount: check.optionalAmountText(i.amount),
      metadata: check.metadata(i.metadata),
    };
  },
  releaseHold: (i) => ({ type: 'releaseHold', holdId: check.id(i.holdId, 'holdId', 'unknown_hold') }),
  setCreditLimit: (i) => ({
    type: 'setCreditLimit',
    currency: check.id(i.currency, 'currency', 'unknown_currency'),
    limit: check.amountText(i.limit, 'limit'),
  }),
};

export function parseCommand(
  type: Exclude<Command['type'], 'reverseUsage'>,
  input: unknown,
  catalog: Catalog,
): Parsed {
  const fields = check.record(input, 'input');
  return {
    customerId: check.id(fields.customerId, 'customerId'),
    command: parsers[type](fields, catalog),
    idempotencyKey: check.idempotencyKey(fields.idempotencyKey),
  };
}

export function parseReverseUsage(input: unknown): {
  customerId: string;
  usageId: string;
  reason: string;
  idempotencyKey: string | undefined;
} {
  const fields = check.record(input, 'input');
  return {
    customerId: check.id(fields.customerId, 'customerId'),
    usageId: check.id(fields.usageId, 'usageId', 'unknown_usage'),
    reason: check.text(fields.reason, 'reason', ''),
    idempotencyKey: check.idempotencyKey(fields.idempotencyKey),
  };
}

export function parseRead(input: unknown): {
  customerId: string;
  atMs: number | null;
  currency: string | null;
} {
  const fields = check.record(input, 'input');
  const currency =
    fields.currency === undefined ? null : check.id(fields.currency, 'currency', 'unknown_currency');
  return {
    customerId: check.id(fields.customerId, 'customerId'),
    atMs: check.optionalTime(fields.at as TimeInput | undefined, 'at'),
    currency,
  };
}

export function parseCheck(input: unknown): { customerId: string; feature: string; quantity: number } {
  const fields = check.record(input, 'input');
  return {
    customerId: check.id(fields.customerId, 'customerId'),
    feature: check.id(fields.feature, 'feature', 'unknown_feature'),
    quantity: check.quantity(fields.quantity),
  };
}

export function unknownCurrency(code: string): TallyError {
  return new TallyError('unknown_currency', `the catalog has no currency ${quote(code)}`, {
    field: 'currency',
  });
}
