import { runInNewContext } from 'node:vm';
import { memoryStore } from '@tally/store-memory';
import { describe, expect, it } from 'vitest';
import { memoryTarget } from '../support/stores.js';
import { describeEventStoreContract } from './event-store-contract.js';
import { event } from './helpers.js';

describeEventStoreContract(memoryTarget());

describe('memory store: its own copy, frozen', () => {
  it('keeps its own copy: the caller changing what it appended changes nothing stored', async () => {
    const store = memoryStore();
    const data = { nested: { list: [1] }, shared: { n: 1 } };
    const input = { ...event('a'), data: { ...data, again: data.shared } };
    await store.append('s-1', [input], { expectedVersion: 0 });
    data.nested.list.push(2);
    data.shared.n = 2;
    const [read] = await store.readStream('s-1');
    expect(read!.data).toEqual({ nested: { list: [1] }, shared: { n: 1 }, again: { n: 1 } });
    expect(Object.isFrozen(input.data)).toBe(false);
  });

  it('keeps an instance of a class as its own fields, and an array from any realm as an array', async () => {
    class Money {
      constructor(readonly amount: string) {}
      get doubled() {
        return `${this.amount}×2`;
      }
    }
    const store = memoryStore();
    // An array made in another realm (a vm context) has that realm's Array.prototype.
    const data = { price: new Money('1.00'), list: runInNewContext('[1, 2]') as number[] };
    await store.append('s-1', [{ ...event('a'), data }], { expectedVersion: 0 });
    const [read] = await store.readStream('s-1');
    expect(read!.data).toStrictEqual({ price: { amount: '1.00' }, list: [1, 2] });
  });

  it('reads hand out the stored events frozen all through', async () => {
    const store = memoryStore();
    await store.append('s-1', [{ ...event('a'), data: { nested: { list: [1] } } }], { expectedVersion: 0 });
    const [read] = await store.readStream('s-1');
    expect(Object.isFrozen(read)).toBe(true);
    expect(Object.isFrozen((read!.data as { nested: { list: number[] } }).nested.list)).toBe(true);
    expect(Object.isFrozen(read!.metadata)).toBe(true);
  });

  it('refuses a batch holding a value it cannot copy or keep unchanged, storing nothing of it', async () => {
    const store = memoryStore();
    await store.append('s-1', [event('a')], { expectedVersion: 0 });
    const cyclic: Record<string, unknown> = { list: [] };
    (cyclic.list as unknown[]).push(cyclic);
    const bads = [
      () => 1,
      Symbol('s'),
      1n,
      new Uint8Array([1, 2]),
      new Date(0),
      new Map([['a', 1]]),
      new Set([1]),
    ];
    for (const bad of [...bads, cyclic]) {
      const batch = [event('b'), { ...event('c'), data: { bad } }];
      await expect(store.append('s-1', batch, { expectedVersion: 1 })).rejects.toBeInstanceOf(TypeError);
      await expect(
        store.appendMany!([
          { streamId: 's-2', events: [event('d')], expectedVersion: 0 },
          { streamId: 's-1', events: batch, expectedVersion: 1 },
        ]),
      ).rejects.toBeInstanceOf(TypeError);
    }
    expect((await store.readStream('s-1')).map((e) => e.id)).toEqual(['a']);
    expect(await store.readStream('s-2')).toEqual([]);
    expect((await store.readAll()).map((e) => e.id)).toEqual(['a']);
  });
});
