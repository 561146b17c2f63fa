import { randomBytes } from 'node:crypto';
import { postgresSchemaSql, postgresStore } from '@tally/store-postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { choosePostgres, itOnPostgresServer, postgresDatabase, postgresTarget } from '../support/stores.js';
import { describeEventStoreContract } from './event-store-contract.js';
import { event } from './helpers.js';

const target = await postgresTarget();
const choice = await choosePostgres();

describeEventStoreContract(target);

describe(`${target.name}: specifics`, () => {
  it('works on tables made from postgresSchemaSql by your own migration', async () => {
    const db = await postgresDatabase();
    const schema = db.freshSchema();
    await db.exec(postgresSchemaSql(schema));
    const store = db.store(schema, { createSchema: false });
    try {
      await store.append('s-1', [event('a')], { expectedVersion: 0 });
      expect((await store.readStream('s-1')).map((e) => e.id)).toEqual(['a']);
    } finally {
      await store.close();
      await db.exec(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('refuses a schema name that is not a plain identifier and a batch too large for one position block', async () => {
    const db = await postgresDatabase();
    expect(() => db.store('tally; DROP TABLE x')).toThrow(
      expect.objectContaining({ code: 'invalid_input', field: 'schema' }),
    );
    const schema = db.freshSchema();
    const store = db.store(schema);
    try {
      const tooMany = Array.from({ length: 8193 }, (_, i) => event(`e${i}`));
      await expect(store.append('s-1', tooMany, { expectedVersion: 0 })).rejects.toBeInstanceOf(RangeError);
    } finally {
      await store.close();
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});

// Needs a second connection that can sit in a transaction while the store writes: a server only.
describe('postgres: a transaction that commits late', () => {
  itOnPostgresServer(choice, 'is waited for by readAll, never skipped', async (url) => {
    const schema = (await postgresDatabase()).freshSchema();
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
    const store = postgresStore({ pool }, { schema });
    const gate = await pool.connect();
    try {
      await store.readAll();
      // A test-only trigger parks appends to stream 'slow' on an advisory lock the test holds.
      const lock = Number.parseInt(randomBytes(3).toString('hex'), 16);
      await pool.query(`
        CREATE FUNCTION ${schema}.park() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock(${lock}); RETURN NEW; END $$;
        CREATE TRIGGER park BEFORE INSERT ON ${schema}.events
          FOR EACH ROW WHEN (NEW.stream_id = 'slow') EXECUTE FUNCTION ${schema}.park();`);
      await store.append('before', [event('first')], { expectedVersion: 0 });
      const seen = await store.readAll();
      expect(seen.map((e) => e.id)).toEqual(['first']);

      await gate.query('SELECT pg_advisory_lock($1)', [lock]);
      const slow = store.append('slow', [event('late')], { expectedVersion: 0 });
      await waitFor(async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1`,
          [lock],
        );
        return rows[0].n === 1;
      });
      // 'slow' has its transaction id and position and waits; 'fast' starts later and commits first.
      await store.append('fast', [event('early')], { expectedVersion: 0 });
      expect(await store.readAll({ after: seen.at(-1)!.position })).toEqual([]);

      await gate.query('SELECT pg_advisory_unlock($1)', [lock]);
      await slow;
      const rest = await store.readAll({ after: seen.at(-1)!.position });
      expect(rest.map((e) => e.id)).toEqual(['late', 'early']);
    } finally {
      gate.release();
      await store.close();
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    }
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Needs a second connection that sits between a guard's check and its commit: a server only.
describe('postgres: an append to a guard stream and an append guarded on it', () => {
  itOnPostgresServer(
    choice,
    'never overlap: the guarding append waits for the guarded one to commit',
    async (url) => {
      const schema = (await postgresDatabase()).freshSchema();
      const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
      const store = postgresStore({ pool }, { schema });
      const held = await pool.connect();
      try {
        await store.append('catalog', [event('c1')], { expectedVersion: 0, guarding: true });
        // A guarded append caught between its check and its commit: the check's shared lock is held.
        await held.query('BEGIN');
        const [row] = (await held.query(`SELECT ${schema}.guard_version('catalog') AS v`)).rows;
        expect(Number(row.v)).toBe(1);
        let changed = false;
        const change = store
          .append('catalog', [event('c2')], { expectedVersion: 1, guarding: true })
          .then(() => {
            changed = true;
          });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(changed, 'the catalog change committed while a guarded append was in flight').toBe(false);
        await held.query('COMMIT');
        await change;
        expect(changed).toBe(true);
        // A guarded append that comes after sees the change, and is refused.
        await expect(
          store.append('customer-1', [event('u')], {
            expectedVersion: 0,
            guard: { streamId: 'catalog', version: 1 },
          }),
        ).rejects.toMatchObject({ name: 'ConcurrencyConflictError' });
      } finally {
        held.release();
        await store.close();
        await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await pool.end();
      }
    },
  );
});
