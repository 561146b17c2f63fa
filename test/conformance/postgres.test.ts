import { randomBytes } from 'node:crypto';
import { postgresSchemaSql, postgresStore } from '@tally/store-postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeEventStoreContract } from './event-store-contract.js';
import { event } from './helpers.js';
import { postgresTarget } from './postgres-target.js';

const url = process.env.DATABASE_URL;
const target = postgresTarget();
const freshSchema = target.freshSchema;

describeEventStoreContract(target.label, () => target.fresh());

describe(`${target.label}: specifics`, () => {
  it('works on tables made from postgresSchemaSql by your own migration', async () => {
    const schema = freshSchema();
    await target.exec(postgresSchemaSql(schema));
    const store = target.store(schema);
    try {
      await store.append('s-1', [event('a')], { expectedVersion: 0 });
      expect((await store.readStream('s-1')).map((e) => e.id)).toEqual(['a']);
    } finally {
      await store.close();
      await target.exec(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('refuses a schema name that is not a plain identifier and a batch too large for one position block', async () => {
    expect(() => target.store('tally; DROP TABLE x')).toThrow(TypeError);
    const store = target.store(freshSchema());
    const tooMany = Array.from({ length: 8193 }, (_, i) => event(`e${i}`));
    await expect(store.append('s-1', tooMany, { expectedVersion: 0 })).rejects.toBeInstanceOf(RangeError);
    await store.close();
  });
});

// Needs a second connection that can sit in a transaction while the store writes: a server only.
describe.runIf(url !== undefined)('postgres (server): a transaction that commits late', () => {
  it('is waited for by readAll, never skipped', async () => {
    const schema = freshSchema();
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
