import { z } from 'zod';

/**
 * Request shapes. These check only what JSON can get wrong (types, required and unknown fields);
 * the ledger then validates values (id syntax, amounts, quantities, times) with its own codes, so the
 * HTTP API refuses exactly what the library refuses, with the same `code` and `field`.
 */

const id = z.string();
/** Amounts are decimal strings, as everywhere in Tally: '100', '0.25'. */
const amount = z.string();
const quantity = z.number();
/** ISO-8601. */
const time = z.string();
const metadata = z.record(z.string(), z.string());

export const createCustomerBody = z.strictObject({
  customerId: id,
  externalId: z.string().nullish(),
  metadata: metadata.optional(),
});

export const subscribeBody = z.strictObject({ customerId: id, planId: id });

export const cancelSubscriptionBody = z.strictObject({
  customerId: id,
  subscriptionId: id.optional(),
  at: z.enum(['now', 'cycle_end']).optional(),
  expireCredits: z.boolean().optional(),
});

export const changePlanBody = z.strictObject({
  customerId: id,
  planId: id,
  subscriptionId: id.optional(),
});

export const trackUsageBody = z.strictObject({
  customerId: id,
  feature: id,
  quantity,
  metadata: metadata.optional(),
});

export const reverseUsageBody = z.strictObject({ customerId: id, reason: z.string().optional() });

export const grantBody = z.strictObject({
  customerId: id,
  currency: id,
  amount,
  priority: z.number().optional(),
  source: z.enum(['top_up', 'promotion', 'manual']).optional(),
  effectiveAt: time.optional(),
  expiresAt: time.optional(),
  metadata: metadata.optional(),
});

export const voidGrantBody = z.strictObject({ customerId: id, reason: z.string().optional() });

export const holdBody = z.strictObject({
  customerId: id,
  feature: id.optional(),
  quantity: quantity.optional(),
  currency: id.optional(),
  amount: amount.optional(),
  expiresAt: time.optional(),
});

export const captureHoldBody = z.strictObject({
  customerId: id,
  quantity: quantity.optional(),
  amount: amount.optional(),
  metadata: metadata.optional(),
});

export const releaseHoldBody = z.strictObject({ customerId: id });

export const setCreditLimitBody = z.strictObject({ customerId: id, currency: id, limit: amount });

export const checkBody = z.strictObject({ customerId: id, feature: id, quantity });

/** Query strings. The handler refuses parameters not declared here, and repeated ones, before these run. */
export const readQuery = z.object({ customerId: id, at: time.optional() });
export const currencyReadQuery = z.object({ customerId: id, currency: id.optional(), at: time.optional() });
