import { describe, expect, test } from 'vitest';
import { createLedger, defineCatalog, type Rounding } from '../src/index.js';
import { balanceOf, customerWith, expectRefused, memoryStore, setup, TestClock } from './support.js';

// biome-ignore lint/suspicious/noExplicitAny: these cases feed the API what its types forbid
type Loose = any;

describe('amounts at the API are decimal strings with exactly the currency places', () => {
  test("decimals 0 formats as '90', decimals 2 as '90.00'", async () => {
    const s = setup();
    await customerWith(s, 'free');
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '90' });
    expect((await balanceOf(s.ledger, 'cus_1', 'credits'))!.balance).toBe('100');
    expect((await balanceOf(s.ledger, 'cus_1', 'usd'))!.balance).toBe('90.00');
    const [grant] = await s.ledger.grants({ customerId: 'cus_1', currency: 'usd' });
    expect(grant!.amount).toBe('90.00');
  });

  test('sums are exact, never floats: 0.10 + 0.20 = 0.30', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '0.10' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '0.2' });
    expect((await balanceOf(s.ledger, 'cus_1', 'usd'))!.balance).toBe('0.30');
  });

  test('18 integer digits are exact; 19 are refused', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '999999999999999999.99' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '0.01' });
    expect((await balanceOf(s.ledger, 'cus_1', 'usd'))!.balance).toBe('1000000000000000000.00');
    await expectRefused(
      s.store,
      () => s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '1000000000000000000' }),
      'invalid_amount',
      'amount',
    );
  });

  test.each([
    ['more places than the currency', '10.555'],
    ['a place on a 0-decimal currency', '1.0'],
    ['a negative amount', '-5'],
    ['a leading zero', '010'],
    ['an exponent', '1e3'],
    ['an empty string', ''],
  ])('%s is invalid_amount, never silently rounded', async (_name, amount) => {
    const s = setup();
    await customerWith(s);
    const currency = amount === '1.0' ? 'credits' : 'usd';
    await expectRefused(
      s.store,
      () => s.ledger.grant({ customerId: 'cus_1', currency, amount }),
      'invalid_amount',
      'amount',
    );
  });

  test('a number where a decimal string belongs is invalid_amount', async () => {
    const s = setup();
    await customerWith(s);
    await expectRefused(
      s.store,
      () => s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: 10 as Loose }),
      'invalid_amount',
      'amount',
    );
  });
});

describe('computed costs: perUnit x quantity, rounded once by the currency rule', () => {
  const roundings: Rounding[] = ['half_up', 'half_even', 'up', 'down'];
  const rounded = defineCatalog({
    currencies: roundings.map((rounding) => ({ code: rounding, decimals: 2, rounding })),
    features: [
      ...roundings.map((rounding) => ({
        key: `f_${rounding}`,
        cost: { currency: rounding, perUnit: '0.015' },
      })),
      ...roundings.map((rounding) => ({
        key: `g_${rounding}`,
        cost: { currency: rounding, perUnit: '0.0149' },
      })),
    ],
    plans: [],
  });

  async function costOf(feature: string, quantity: number): Promise<string> {
    const ledger = createLedger({ catalog: rounded, store: memoryStore(), clock: new TestClock().now });
    await ledger.createCustomer({ customerId: 'cus_1' });
    return (await ledger.check({ customerId: 'cus_1', feature, quantity })).cost;
  }

  test.each([
    // 0.015 x 3 = 0.045: a tie at the second place.
    ['half_up', 3, '0.05'],
    ['half_even', 3, '0.04'],
    ['up', 3, '0.05'],
    ['down', 3, '0.04'],
    // 0.015 x 1 = 0.015: a tie whose even neighbour is up.
    ['half_up', 1, '0.02'],
    ['half_even', 1, '0.02'],
    ['up', 1, '0.02'],
    ['down', 1, '0.01'],
    // 0.015 x 0.5 = 0.0075: fractional quantities.
    ['half_up', 0.5, '0.01'],
    ['down', 0.5, '0.00'],
  ] as const)('%s rounds 0.015 x %s to %s', async (rounding, quantity, cost) => {
    expect(await costOf(`f_${rounding}`, quantity)).toBe(cost);
  });

  test('rounds once, at the end: 0.0149 half_up is 0.01, not 0.015 -> 0.02', async () => {
    expect(await costOf('g_half_up', 1)).toBe('0.01');
    expect(await costOf('g_up', 1)).toBe('0.02');
  });

  test('the rounded cost is what is deducted and recorded (image costs 2.5 credits: 3 cost 8)', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'image', quantity: 3 });
    expect(usage.cost).toBe('8');
    expect(usage.balance).toBe('92');
    const deducted = (await s.store.readAll()).find((e) => e.type === 'credits_deducted')!;
    expect(deducted.data).toMatchObject({ cost: '8', quantity: 3 });
  });

  test('costs in a 2-decimal currency come back with 2 places', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '20' });
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'tokens', quantity: 1000 });
    expect(usage).toMatchObject({ cost: '15.00', currency: 'usd', balance: '5.00' });
    const one = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'tokens', quantity: 1 });
    expect(one).toMatchObject({ cost: '0.02', balance: '4.98' });
  });
});

describe('quantities are positive finite numbers', () => {
  test.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e16, '3'])('%s is invalid_quantity', async (q) => {
    const s = setup();
    await customerWith(s, 'free');
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: q as Loose }),
      'invalid_quantity',
      'quantity',
    );
  });

  test('a cost too large to record is invalid_quantity', async () => {
    const s = setup();
    await customerWith(s, 'free');
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'gpu-hour', quantity: 1e15 }),
      'invalid_quantity',
      'quantity',
    );
  });
});
