import { describe, expect, it } from 'vitest';
import { deepFreeze } from '../src/ledger/deep-freeze.js';
import { customerWith, setup } from './support.js';

describe('deepFreeze: what the ledger answers cannot be changed', () => {
  it('freezes every plain object and array inside, to any depth, and answers the same value', () => {
    const inner = Object.create(null) as Record<string, unknown>;
    inner.deep = { list: [{ amount: '1' }] };
    const value = { a: [1, { b: 'x' }], inner, n: null, s: 'text' };
    expect(deepFreeze(value)).toBe(value);
    const parts = [value, value.a, value.a[1], inner, inner.deep, (inner.deep as { list: unknown[] }).list];
    parts.push((inner.deep as { list: object[] }).list[0]!);
    for (const part of parts) expect(Object.isFrozen(part)).toBe(true);
  });

  it('locks a Map inside as immer does: its setters throw', () => {
    const value = { byId: new Map([['g', { amount: '1' }]]) };
    deepFreeze(value);
    expect(() => value.byId.set('h', { amount: '2' })).toThrow();
    expect(Object.isFrozen(value.byId.get('g'))).toBe(true);
  });

  it('answers primitives as they are', () => {
    expect(deepFreeze(3)).toBe(3);
    expect(deepFreeze(null)).toBe(null);
    expect(deepFreeze('s')).toBe('s');
  });

  it("freezes a usage answer to its allocations and account, so the cached head's objects are safe", async () => {
    const s = setup();
    await customerWith(s, 'free');
    const usage = await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    expect(Object.isFrozen(usage.allocations)).toBe(true);
    expect(Object.isFrozen(usage.allocations[0])).toBe(true);
    expect(Object.isFrozen(usage.account)).toBe(true);
  });
});
