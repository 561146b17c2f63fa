import { defineCatalog } from '@tally/core';

/**
 * The catalog every reliability test uses: a whole-number currency and a cent currency, a feature
 * priced in each, and two plans.
 */
export const catalog = defineCatalog({
  currencies: [
    { code: 'credits', decimals: 0 },
    { code: 'usd', decimals: 2 },
  ],
  features: [
    { key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } },
    { key: 'tokens', cost: { currency: 'usd', perUnit: '0.0001' } },
    { key: 'unit', cost: { currency: 'credits', perUnit: '1' } },
  ],
  plans: [
    { id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] },
    { id: 'pro', interval: 'month', grants: [{ currency: 'credits', amount: '1000' }] },
  ],
});
