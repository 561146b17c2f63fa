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

  test('a nested value that changes as it is read is still refused with the field, and nothing written', async () => {
    const s = setup();
    await customerWith(s, 'free');
    // Wrong on the first read, right on every read after: the second parse (for the message) passes.
    let reads = 0;
    const metadata = {
      get a(): unknown {
        reads += 1;
        return reads === 1 ? 1 : 'ok';
      },
    };
    await expectTallyError(
      s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1, metadata } as never),
      'invalid_input',
      'metadata.a',
    );
    expect(reads).toBeGreaterThan(1); // read again after the first parse refused it
    expect((await s.ledger.creditAccounts({ customerId: 'cus_1' }))[0]!.balance).toBe('100');
  });
});
