import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '@tally/store-sqlite';
import { describe, expect, it } from 'vitest';
import { sqliteTarget } from '../support/stores.js';
import { describeEventStoreContract } from './event-store-contract.js';
import { event } from './helpers.js';

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-sqlite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

describeEventStoreContract(sqliteTarget());
describeEventStoreContract(sqliteTarget({ inMemory: true }));

describe('sqlite store', () => {
  it('refuses an empty filename, which SQLite would read as a temporary database', () => {
    expect(() => sqliteStore({ filename: '' })).toThrow(/filename must be the path of a database file/);
    expect(() => sqliteStore({ filename: '  ' })).toThrow(
      expect.objectContaining({ code: 'invalid_input', field: 'filename' }),
    );
  });

  it('keeps its events and snapshots in the file across close and reopen, at either synchronous level', async () => {
    const { dir, remove } = await tempDir();
    try {
      const filename = join(dir, 'events.db');
      const first = sqliteStore({ filename, synchronous: 'NORMAL' });
      await first.append('s-1', [event('a', 'k'), event('b')], { expectedVersion: 0 });
      await first.writeSnapshot({ streamId: 's-1', version: 2, schemaVersion: 1, state: { n: 2 } });
      const written = await first.readAll();
      await first.close();
      await first.close(); // closing twice is harmless

      const second = sqliteStore({ filename, synchronous: 'FULL' });
      expect(await second.readAll()).toEqual(written);
      expect(await second.readSnapshot('s-1')).toEqual({
        streamId: 's-1',
        version: 2,
        schemaVersion: 1,
        state: { n: 2 },
      });
      expect((await second.append('s-1', [event('c')], { expectedVersion: 2 })).lastPosition).toBe(3n);
      await second.close();
    } finally {
      await remove();
    }
  });

  it('refuses an unknown synchronous level', () => {
    // @ts-expect-error: the type allows only FULL and NORMAL; a caller without types gets an error too.
    expect(() => sqliteStore({ filename: ':memory:', synchronous: 'OFF' })).toThrow(
      expect.objectContaining({ code: 'invalid_input', field: 'synchronous' }),
    );
  });
});
