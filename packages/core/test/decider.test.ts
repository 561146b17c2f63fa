import { describe, expect, test } from 'vitest';
import { created, given, granted, stream } from './decider-spec.js';
import { DAY, T0 } from './support.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('decide, given events, when a command', () => {
  test('a new customer is created; an existing one is refused', () => {
    given()
      .when({ type: 'createCustomer', customerId: 'cus_1', externalId: 'ext', metadata: { a: 'b' } })
      .thenRecords({
        type: 'customer_created',
        data: { customerId: 'cus_1', externalId: 'ext', metadata: { a: 'b' } },
      });
    given(...stream(created('cus_1')))
      .when({ type: 'createCustomer', customerId: 'cus_1' })
      .thenRefused('customer_exists', 'customerId');
  });

  test('a usage takes from grants in consumption order: lower priority first, then soonest expiry', () => {
    given(
      ...stream(
        created('cus_1'),
        granted('g_late', '10', { priority: 50 }),
        granted('g_soon', '10', { priority: 50, expiresAt: iso(T0 + DAY) }),
        granted('g_first', '5', { priority: 10 }),
      ),
    )
      .when({ type: 'trackUsage', customerId: 'cus_1', feature: 'ai-generation', quantity: 2 })
      .thenRecords({
        type: 'credits_deducted',
        data: {
          usageId: 'usage_1',
          currency: 'credits',
          feature: 'ai-generation',
          quantity: 2,
          cost: '20',
          exactCost: '20',
          carry: null,
          allocations: [
            { grantId: 'g_first', amount: '5' },
            { grantId: 'g_soon', amount: '10' },
            { grantId: 'g_late', amount: '5' },
          ],
          debt: '0',
          holdId: null,
          metadata: {},
          catalogVersion: 0,
        },
      });
  });

  test('a usage the grants cannot cover is refused whole, and records nothing', () => {
    given(...stream(created('cus_1'), granted('g', '15')))
      .when({ type: 'trackUsage', customerId: 'cus_1', feature: 'ai-generation', quantity: 2 })
      .thenRefused('insufficient_credits');
  });

  test('a usage too small to charge alone is carried to the next one, not given away', () => {
    // `tokens` costs 0.015 usd a unit: 0.2 units cost 0.003, which rounds to nothing alone and to 0.01
    // once the next 0.003 joins it.
    const history = stream(created('cus_1'), granted('g', '5.00', { currency: 'usd' }));
    const [first] = given(...history)
      .when({ type: 'trackUsage', customerId: 'cus_1', feature: 'tokens', quantity: 0.2 })
      .thenRecords({
        type: 'credits_deducted',
        data: {
          usageId: 'usage_1',
          currency: 'usd',
          feature: 'tokens',
          quantity: 0.2,
          cost: '0.00',
          exactCost: '0.003',
          carry: '0.003',
          allocations: [],
          debt: '0.00',
          holdId: null,
          metadata: {},
          catalogVersion: 0,
        },
      });
    given(...history, first!)
      .when({ type: 'trackUsage', customerId: 'cus_1', feature: 'tokens', quantity: 0.2 })
      .thenRecords({
        type: 'credits_deducted',
        data: {
          usageId: 'usage_1',
          currency: 'usd',
          feature: 'tokens',
          quantity: 0.2,
          cost: '0.01',
          exactCost: '0.003',
          carry: '-0.004',
          allocations: [{ grantId: 'g', amount: '0.01' }],
          debt: '0.00',
          holdId: null,
          metadata: {},
          catalogVersion: 0,
        },
      });
  });

  test('subscribing activates the plan with its terms and grants the first cycle; the same plan again is refused', () => {
    const [activated, grant] = given(...stream(created('cus_1')))
      .when({ type: 'subscribe', customerId: 'cus_1', planId: 'free' })
      .thenRecords(
        {
          type: 'subscription_activated',
          data: {
            subscriptionId: 'sub_1',
            planId: 'free',
            interval: 'month',
            price: null,
            grants: [
              {
                currency: 'credits',
                amount: '100',
                priority: 50,
                expires: 'cycle_end',
                rollover: null,
                appliesTo: null,
              },
            ],
            planVersion: 1,
            catalogVersion: 0,
            gracePeriodDays: 0,
            salesMotion: 'self_serve',
            collectionMethod: 'charge_automatically',
            anchorAt: iso(T0),
          },
        },
        {
          type: 'credits_granted',
          data: {
            grantId: 'sub_1_c0_g0',
            currency: 'credits',
            amount: '100',
            priority: 50,
            source: 'plan',
            effectiveAt: iso(T0),
            expiresAt: '2025-02-28T10:00:00.000Z',
            subscriptionId: 'sub_1',
            cycle: 0,
            ruleIndex: 0,
            metadata: {},
            appliesTo: null,
            price: null,
            paymentId: null,
          },
        },
      );
    given(...stream(created('cus_1')), activated!, grant!)
      .when({ type: 'subscribe', customerId: 'cus_1', planId: 'free' })
      .thenRefused('already_subscribed', 'planId');
  });

  test('an early expiry ends a spent plan grant too, so a later reversal forfeits its share', () => {
    const subscribed = given(...stream(created('cus_1')))
      .when({ type: 'subscribe', customerId: 'cus_1', planId: 'free' })
      .thenRecords(expectAny(), expectAny());
    const history = [...stream(created('cus_1')), ...subscribed];
    const used = given(...history)
      .when({ type: 'trackUsage', customerId: 'cus_1', feature: 'ai-generation', quantity: 10 })
      .thenRecords(expectAny());
    const canceled = given(...history, ...used)
      .when({ type: 'cancelSubscription', customerId: 'cus_1', at: 'now', expireCredits: true })
      .thenRecords(
        { type: 'subscription_canceled', data: { subscriptionId: 'sub_1', endsAt: iso(T0) } },
        { type: 'grant_expired', data: { grantId: 'sub_1_c0_g0', currency: 'credits', amount: '0' } },
      );
    given(...history, ...used, ...canceled)
      .when({ type: 'reverseUsage', customerId: 'cus_1', usageId: 'usage_1' })
      .thenRecords({
        type: 'usage_reversed',
        data: {
          usageId: 'usage_1',
          currency: 'credits',
          restored: [],
          debtCleared: '0',
          forfeited: '100',
          reason: '',
          feature: 'ai-generation',
          carry: null,
        },
      });
  });

  test('voiding a grant that has ended is grant_not_active; one never made is unknown_grant', () => {
    const history = stream(created('cus_1'), granted('g', '10'), {
      type: 'grant_voided',
      data: { grantId: 'g', currency: 'credits', amount: '10', reason: '', refund: null },
    });
    given(...history)
      .when({ type: 'voidGrant', customerId: 'cus_1', grantId: 'g' })
      .thenRefused('grant_not_active');
    given(...history)
      .when({ type: 'voidGrant', customerId: 'cus_1', grantId: 'nope' })
      .thenRefused('unknown_grant');
  });

  test('new credit pays the debt first, in the same decision', () => {
    given(
      ...stream(
        created('cus_1'),
        { type: 'credit_limit_set', data: { currency: 'credits', limit: '50' } },
        {
          type: 'credits_deducted',
          data: {
            usageId: 'u0',
            currency: 'credits',
            feature: 'ai-generation',
            quantity: 3,
            cost: '30',
            exactCost: '30',
            carry: null,
            allocations: [],
            debt: '30',
            holdId: null,
            metadata: {},
            catalogVersion: 0,
          },
        },
      ),
    )
      .when({ type: 'grant', customerId: 'cus_1', currency: 'credits', amount: '100' })
      .thenRecords(
        {
          type: 'credits_granted',
          data: {
            grantId: 'grant_1',
            currency: 'credits',
            amount: '100',
            priority: 50,
            source: 'manual',
            effectiveAt: iso(T0),
            expiresAt: null,
            subscriptionId: null,
            cycle: null,
            ruleIndex: null,
            metadata: {},
            appliesTo: null,
            price: null,
            paymentId: null,
          },
        },
        {
          type: 'debt_settled',
          data: { currency: 'credits', amount: '30', allocations: [{ grantId: 'grant_1', amount: '30' }] },
        },
      );
  });
});

describe('advance, given events, when time passes', () => {
  test('a grant with credit left expires at its instant, with a derived id', () => {
    given(...stream(created('cus_1'), granted('g', '10', { expiresAt: iso(T0 + DAY) })))
      .whenTimeReaches(T0 + DAY)
      .thenRecords({ type: 'grant_expired', data: { grantId: 'g', currency: 'credits', amount: '10' } });
  });

  test('nothing is due before the instant', () => {
    given(...stream(created('cus_1'), granted('g', '10', { expiresAt: iso(T0 + DAY) })))
      .whenTimeReaches(T0 + DAY - 1)
      .thenRecords();
  });

  test('a hold frees itself at its expiry', () => {
    given(
      ...stream(created('cus_1'), granted('g', '10'), {
        type: 'credits_held',
        data: {
          holdId: 'h',
          currency: 'credits',
          amount: '5',
          feature: null,
          quantity: null,
          expiresAt: iso(T0 + 1000),
        },
      }),
    )
      .whenTimeReaches(T0 + 1000)
      .thenRecords({
        type: 'hold_released',
        data: { holdId: 'h', currency: 'credits', amount: '5', reason: 'expired' },
      });
  });
});

/** Any event: for the steps of a story whose events another test pins. */
function expectAny() {
  return expect.anything() as never;
}
