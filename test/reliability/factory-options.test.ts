/**
 * Every public factory refuses an option it does not know (a typo would otherwise leave a default in
 * force, silently) and a bad value of each option it does, with `invalid_input` naming the option
 * (a dot path when nested), before it opens or writes anything: no SQLite file, no query on a pool,
 * no call on a store. One table for all packages, so a factory added without a check stands out.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  autoTopUpHandler,
  createLedger,
  createProcessor,
  type EventStore,
  isTallyError,
  ledgerDue,
  runAutoTopUps,
} from '@tally/core';
import { createCustomerToken, createHttpHandler } from '@tally/http';
import { memoryStore } from '@tally/store-memory';
import { citusSchemaSql, postgresSchemaSql, postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';
import { createWebhooks } from '@tally/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_OPTION_RULES } from '../../packages/core/src/ledger/ledger-options.js';
import { catalog } from './support/catalog.js';

const API_KEY = 'k'.repeat(32);
const SECRET = 's'.repeat(32);

/** A memory store that counts every call made on it: a refused factory must make none. */
function countingStore(): { store: EventStore; calls: () => number } {
  const inner = memoryStore();
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls: () => calls };
}

/** A pg.Pool stand-in that counts queries. */
function countingPool() {
  let queries = 0;
  const pool = {
    query: async () => {
      queries += 1;
      return { rows: [] };
    },
    end: async () => {},
    on: () => pool,
  };
  return { pool, queries: () => queries };
}

/** The refusal of `run` (sync or async), or a failure naming what it did instead. */
async function refusalOf(
  run: () => unknown,
): Promise<{ code: string; field: string | undefined; message: string }> {
  let result: unknown;
  try {
    result = await run();
  } catch (error) {
    if (!isTallyError(error)) throw new Error(`threw a non-TallyError: ${String(error)}`);
    return { code: error.code, field: error.field, message: error.message };
  }
  throw new Error(`was accepted (returned ${typeof result})`);
}

/** A value as a test's title shows it (a bigint or a symbol has no JSON). */
const shown = (value: unknown): string =>
  typeof value === 'bigint'
    ? `${value}n`
    : typeof value === 'symbol'
      ? 'a symbol'
      : (JSON.stringify(value) ?? 'undefined');

interface FactoryCase {
  readonly factory: string;
  /** Calls the factory with these options in place of the valid ones. */
  readonly call: (options: Record<string, unknown>) => unknown;
  /** Options it accepts. */
  readonly valid: Record<string, unknown>;
  /** Per option (or nested path): values refused, each with the field named (default the option). */
  readonly bad: readonly (readonly [option: string, value: unknown, field?: string])[];
  /** What a refused call must leave as it was (calls on the store, the file, queries on the pool). */
  readonly trace?: () => unknown;
  /** Where the options sit in the factory's argument (`secret` for a signing key). */
  readonly prefix?: string;
}

const { store: ledgerStore, calls: ledgerStoreCalls } = countingStore();
const { store: webhookStore, calls: webhookStoreCalls } = countingStore();
const ledger = createLedger({ catalog, store: memoryStore() });
const dir = mkdtempSync(join(tmpdir(), 'tally-factory-options-'));
const sqliteFile = join(dir, 'refused.db');
const { pool, queries } = countingPool();
const purchase = async () => ({ paymentId: 'pay_1', price: { amount: '1.00', currency: 'USD' } });
const handle = async () => {};

beforeAll(async () => {
  await ledger.createCustomer({ customerId: 'cus_1' });
});

afterAll(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const CASES: readonly FactoryCase[] = [
  {
    factory: 'createLedger',
    call: (o) => createLedger(o as never),
    valid: { catalog, store: ledgerStore },
    bad: [
      ['catalog', { currencies: [], features: [], plans: [] }],
      ['catalog', 'catalog'],
      ['store', undefined],
      ['store', {}],
      ['store', { ...memoryStore(), close: undefined }],
      ['clock', new Date()],
      ['ids', 'ulid'],
      ['snapshotEvery', 0],
      ['snapshotEvery', -5],
      ['snapshotEvery', 2.5],
      ['snapshotEvery', Number.NaN],
      ['snapshotEvery', '100'],
      ['snapshotEvery', Symbol('x')],
      ['snapshotEvery', Object.create(null)],
      ['cacheSize', -1],
      ['cacheSize', 1.5],
      ['cacheSize', 10n],
      ['maxAttempts', 0],
      ['maxAttempts', Number.POSITIVE_INFINITY],
      ['conflictRetryMs', -1],
      ['conflictRetryMs', '2000'],
    ],
    trace: ledgerStoreCalls,
  },
  {
    factory: 'createProcessor',
    call: (o) => createProcessor(o as never),
    valid: { store: memoryStore(), name: 'emails', handle },
    bad: [
      ['store', undefined],
      ['store', { ...memoryStore(), consumers: undefined }],
      ['name', ''],
      ['name', 7],
      ['handle', undefined],
      ['handle', 'handle'],
      ['batchSize', 0],
      ['batchSize', 1.5],
      ['pollInterval', 50],
      ['pollInterval', { min: 0, max: 10 }, 'pollInterval.min'],
      ['pollInterval', { min: 10 }, 'pollInterval.max'],
      ['pollInterval', { min: 10, max: 5 }, 'pollInterval.min'],
      ['pollInterval', { min: 1, max: 5, step: 2 }, 'pollInterval.step'],
      ['leaseTtlMs', 0],
      ['retryInterval', { min: 100, max: Number.NaN }, 'retryInterval.max'],
      ['due', {}],
      ['clock', 0],
      ['holder', ''],
      ['onError', 'log'],
    ],
  },
  {
    factory: 'ledgerDue',
    call: (o) => ledgerDue(o as never),
    valid: { ledger, store: memoryStore() },
    bad: [
      ['ledger', {}],
      ['store', { ...memoryStore(), consumers: undefined }],
      ['name', ''],
      ['leaseTtlMs', -1],
      ['limit', 0],
      ['onError', 1],
    ],
  },
  {
    factory: 'runAutoTopUps',
    call: (o) => runAutoTopUps(o as never),
    valid: { ledger, purchase, customerId: 'cus_1' },
    bad: [
      ['ledger', undefined],
      ['ledger', {}],
      ['purchase', 'stripe'],
      ['customerId', ''],
      ['customerId', 5],
    ],
  },
  {
    factory: 'autoTopUpHandler',
    call: (o) => autoTopUpHandler(o as never),
    valid: { ledger, purchase },
    bad: [
      ['ledger', {}],
      ['purchase', undefined],
    ],
  },
  {
    factory: 'memoryStore',
    call: (o) => memoryStore(o as never),
    valid: {},
    bad: [],
  },
  {
    factory: 'sqliteStore',
    call: (o) => sqliteStore(o as never),
    valid: { filename: sqliteFile },
    bad: [
      ['filename', undefined],
      ['filename', ''],
      ['filename', '   '],
      ['filename', 5],
      ['synchronous', 'OFF'],
      ['busyTimeoutMs', -1],
      ['busyTimeoutMs', 1.5],
    ],
    trace: () => existsSync(sqliteFile),
  },
  {
    factory: 'postgresStore (connection)',
    call: (o) => postgresStore(o as never),
    valid: { pool },
    bad: [
      ['pool', undefined, 'connection'],
      ['pool', {}],
      ['connectionString', '', 'connectionString'],
      ['pglite', { query: () => {} }],
      ['connectionString', 'postgres://u:p@127.0.0.1/test', 'connection'], // two connections at once
    ],
    trace: queries,
  },
  {
    factory: 'postgresStore (options)',
    call: (o) => postgresStore({ pool } as never, o as never),
    valid: { schema: 'factory_options' },
    bad: [
      ['schema', 'tally; DROP TABLE x'],
      ['schema', ''],
      ['createSchema', 'no'],
      ['distributed', 'sharded'],
      ['shards', 8, 'shards'], // without distributed
    ],
    trace: queries,
  },
  {
    factory: 'createHttpHandler',
    call: (o) => createHttpHandler(o as never),
    valid: { ledger, apiKeys: [API_KEY] },
    bad: [
      ['ledger', {}],
      ['apiKeys', []],
      ['apiKeys', ['too-short']],
      ['apiKeys', API_KEY],
      ['customerTokens', 'secret'],
      ['customerTokens', {}, 'customerTokens'],
      ['customerTokens', { secret: 'short' }, 'customerTokens.secret'],
      ['customerTokens', { secrets: { k: 'short' } }, 'customerTokens.secrets.k'],
      ['customerTokens', { secret: SECRET, clockTolerance: -1 }, 'customerTokens.clockTolerance'],
      ['customerTokens', { secret: SECRET, algorithms: ['none'] }, 'customerTokens.algorithms'],
      ['customerTokens', { secret: SECRET, secert: SECRET }, 'customerTokens.secert'],
      ['cors', { origins: [] }, 'cors.origins'],
      ['cors', { origin: ['https://app.example.com'] }, 'cors.origin'],
      ['cors', { origins: ['*'] }, 'cors.origins[0]'],
      ['maxBodyBytes', 0],
      ['onError', 'console'],
      ['webhooks', 'on'],
    ],
  },
  {
    factory: 'createCustomerToken (options)',
    call: (o) => createCustomerToken({ customerId: 'cus_1' }, SECRET, o as never),
    valid: {},
    bad: [
      ['now', '2026-01-01T00:00:00Z'],
      ['now', new Date(Number.NaN)],
    ],
  },
  {
    factory: 'createCustomerToken (key)',
    call: (o) => createCustomerToken({ customerId: 'cus_1' }, o as never),
    valid: { kid: '2026-12', secret: SECRET },
    prefix: 'secret',
    bad: [
      ['kid', ''],
      ['kid', undefined],
      ['secret', 'short'],
      ['secret', 5],
      ['algorithm', 'none'],
    ],
  },
  {
    factory: 'createWebhooks',
    call: (o) => createWebhooks(o as never),
    valid: { store: webhookStore },
    bad: [
      ['store', undefined],
      ['store', {}],
      ['clock', 1],
      ['random', 0.5],
      ['fetch', 'fetch'],
      ['maxAttempts', 0],
      ['backoff', { baseMs: 0, maxMs: 10 }, 'backoff.baseMs'],
      ['backoff', { baseMs: 10 }, 'backoff.maxMs'],
      ['backoff', { baseMs: 10, maxMs: 20, cap: 5 }, 'backoff.cap'],
      ['timeoutMs', -1],
      ['concurrency', 1.5],
      ['rotationGraceSeconds', -1],
      ['pollIntervalMs', 0],
    ],
    trace: webhookStoreCalls,
  },
];

describe('every public factory refuses bad options, naming the option, and opens nothing', () => {
  for (const c of CASES) {
    describe(c.factory, () => {
      it('accepts its valid options', async () => {
        // The valid options are accepted (so each refusal below is the bad value's doing); a store
        // from them is closed at once, and a SQLite file it made is removed before the refusals.
        const made = await c.call({ ...c.valid });
        if (
          made !== null &&
          typeof made === 'object' &&
          'close' in made &&
          typeof made.close === 'function'
        ) {
          await made.close();
        }
        rmSync(sqliteFile, { force: true });
        for (const suffix of ['-wal', '-shm']) rmSync(sqliteFile + suffix, { force: true });
      });

      const named = (field: string) => (c.prefix === undefined ? field : `${c.prefix}.${field}`);

      it('refuses an unknown option, naming it', async () => {
        const before = c.trace?.();
        const refused = await refusalOf(() => c.call({ ...c.valid, snapshotEvry: 5 }));
        expect(refused).toMatchObject({ code: 'invalid_input', field: named('snapshotEvry') });
        expect(refused.message).toContain('unknown option');
        expect(c.trace?.()).toEqual(before);
      });

      it('refuses options that are not an object', async () => {
        if (c.factory === 'memoryStore') return; // it takes none: leaving them out is the valid call
        for (const options of [null, 'options', [c.valid]]) {
          expect((await refusalOf(() => c.call(options as never))).code).toBe('invalid_input');
        }
      });

      for (const [option, value, field] of c.bad) {
        it(`refuses ${option}: ${shown(value)}`, async () => {
          const options = { ...c.valid, [option]: value };
          if (value === undefined) delete options[option];
          const before = c.trace?.();
          const refused = await refusalOf(() => c.call(options));
          expect(refused).toMatchObject({ code: 'invalid_input', field: named(field ?? option) });
          expect(refused.message).toContain(c.factory.split(' ')[0]);
          expect(c.trace?.()).toEqual(before);
        });
      }
    });
  }

  it('never shows a secret in the message', async () => {
    const leaked = 'postgres://app:hunter2-very-secret@db/app';
    for (const run of [
      () => postgresStore({ connectionString: leaked, pool } as never),
      () => createHttpHandler({ ledger, apiKeys: ['hunter2-short'] }),
      () => createHttpHandler({ ledger, apiKeys: [API_KEY], customerTokens: { secret: 'hunter2-short' } }),
      // A key passed where the options go (one argument too far): its type is said, not its text.
      () =>
        createCustomerToken({ customerId: 'cus_1' }, SECRET, 'hunter2-the-previous-key-0123456789' as never),
    ]) {
      expect((await refusalOf(run)).message).not.toContain('hunter2');
    }
  });
});

describe('the schema scripts for your own migrations refuse like the store does', () => {
  it('refuses a schema name that is not a plain identifier, and a shard count Citus cannot make', async () => {
    for (const schema of ['tally; DROP TABLE x', '', '1tally', 'a'.repeat(64), 7]) {
      for (const script of [postgresSchemaSql, citusSchemaSql]) {
        expect(await refusalOf(() => script(schema as string))).toMatchObject({
          code: 'invalid_input',
          field: 'schema',
        });
      }
    }
    for (const shards of [0, 4097, 1.5, '8']) {
      expect(await refusalOf(() => citusSchemaSql('tally', shards as number))).toMatchObject({
        code: 'invalid_input',
        field: 'shards',
        message: expect.stringContaining('citusSchemaSql'),
      });
    }
    expect(postgresSchemaSql('billing')).toContain('"billing".events');
    expect(citusSchemaSql('billing', 4096)).toContain('shard_count => 4096');
  });
});

describe('the values createLedger accepted before it checked its options stay valid', () => {
  it.each([
    { snapshotEvery: Number.POSITIVE_INFINITY },
    { snapshotEvery: 1 },
    { cacheSize: 0 },
    { cacheSize: Number.POSITIVE_INFINITY },
    { conflictRetryMs: 0, maxAttempts: 1 },
    { clock: undefined, ids: undefined, catalog },
  ])('%o', async (extra) => {
    const l = createLedger({ catalog, store: memoryStore(), ...extra });
    await l.createCustomer({ customerId: 'cus_1' });
    await l.grant({ customerId: 'cus_1', currency: 'credits', amount: '10', source: 'top_up' });
    await l.trackUsage({ customerId: 'cus_1', feature: 'unit', quantity: 3 });
    const [account] = await l.creditAccounts({ customerId: 'cus_1' });
    expect(account?.balance).toBe('7');
    await l.close();
  });
});

describe("the README's options table of createLedger", () => {
  it('lists exactly the options createLedger accepts', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('### Options of `createLedger`')[1]!.split('\n#')[0]!;
    const listed = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!));
    expect(listed.sort()).toEqual(Object.keys(LEDGER_OPTION_RULES).sort());
  });
});
