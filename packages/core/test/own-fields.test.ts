import { describe, expect, test } from 'vitest';
import { customerWith, expectTallyError, setup } from './support.js';

// parseInput reads a copy of the input's own fields whose prototype chain holds nothing, and parses a
// refused input a second time for the values its message quotes: these pin both.
describe("a command reads only its input's own fields", () => {
  test('a field inherited from the input’s prototype is not read', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const input = Object.create({ quantity: 1 }) as Record<string, unknown>;
    input.customerId = 'cus_1';
    input.feature = 'ai-generation';
    await expectTallyError(s.ledger.trackUsage(input as never), 'invalid_quantity', 'quantity');
    expect((await s.ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('100');
  });

  test('a refusal quotes the value refused', async () => {
    const s = setup();
    await customerWith(s, 'free');
    const error = await expectTallyError(
      s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: -3 }),
      'invalid_quantity',
      'quantity',
    );
    expect(error.message).toBe('quantity must be a finite number above 0 and at most 1e15, got -3');
  });
});
