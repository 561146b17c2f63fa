import { setTimeout as sleep } from 'node:timers/promises';
import { postgresStore } from '@tally/store-postgres';
import pg from 'pg';
import { describe, expect } from 'vitest';
import { event } from '../conformance/helpers.js';
import { choosePostgres, itOnPostgresServer } from '../support/stores.js';
import { storeFingerprint } from './support/audit.js';

const choice = await choosePostgres();

describe('the store fingerprint the refusal tests compare', () => {
  // Found in a clean-clone run beside another (2026-12-02): the unknown-events test saw its unchanged
  // store "change" because the first fingerprint was read while another suite's transaction held the
  // server's horizon, and the second after it had ended.
  itOnPostgresServer(
    choice,
    'is the same for an unchanged store whether or not a transaction elsewhere holds the horizon',
    async (url) => {
      const pool = new pg.Pool({ connectionString: url, max: 3 });
      const schema = `tally_test_fingerprint_${process.pid}_${Date.now()}`;
      const store = postgresStore({ pool }, { schema });
      const holder = await pool.connect();
      try {
        await store.append('s-1', [event('a')], { expectedVersion: 0 });
        // Another session's open transaction with an id: the global order is read up to it.
        await holder.query('BEGIN');
        await holder.query('SELECT pg_current_xact_id()');
        await store.append('s-1', [event('b')], { expectedVersion: 1 });
        expect((await store.readAll()).map((e) => e.id)).not.toContain('b'); // past the horizon
        // Ends while the fingerprint below waits on it; a failed COMMIT fails the test at `await ended`.
        const ended = sleep(300).then(() => holder.query('COMMIT'));
        ended.catch(() => undefined);
        const held = await storeFingerprint(store, ['s-1']);
        await ended;
        const free = await storeFingerprint(store, ['s-1']);
        expect(held).toBe(free);
        expect(JSON.parse(held).events.map((e: { id: string }) => e.id)).toEqual(['a', 'b']);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined); // a no-op once COMMIT ran
        holder.release();
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await store.close();
        await pool.end();
      }
    },
    60_000,
  );
});
