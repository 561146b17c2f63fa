/**
 * Random command sequences for the ledger and the invariants checked after every step. Used by the
 * core's property tests on the memory store, and by the conformance suite on every durable store:
 * the same sequences must hold the same invariants whatever stores the events.
 *
 * @example
 * await fc.assert(
 *   fc.asyncProperty(commandSequence(), async (steps) => {
 *     const store = await openStore(); // empty
 *     const clock = sequenceClock();
 *     const ledger = createLedger({ catalog: sequenceCatalog, store, clock: clock.now, snapshotEvery: 3 });
 *     await runSequence(ledger, store, clock, steps);
 *   }),
 *   fcOptions({ runs: 1000 }), // ./fast-check.ts: FC_RUNS, FC_SEED, FC_PATH
 * );
 */
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import {
  type Catalog,
  type CatalogInput,
  type CreditAccount,
  createLedger,
  defineCatalog,
  type EventStore,
  type GrantView,
  type Ledger,
  type LedgerOptions,
  runAutoTopUps,
  type StoredEvent,
  TallyError,
} from '@tally/core';
import { advance, type CustomerState, fold, upcast } from '@tally/core/pure';
import * as fc from 'fast-check';
import { allEntries } from './statement.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Jan 31: every monthly subscription in a sequence meets the end-of-month clamping. */
export const SEQUENCE_START = Date.parse('2025-01-31T10:00:00.000Z');

export const sequenceCatalogInput: CatalogInput = {
  currencies: [
    { code: 'credits', decimals: 0 },
    { code: 'usd', decimals: 2, rounding: 'half_even' },
  ],
  features: [
    { key: 'gen', cost: { currency: 'credits', perUnit: '10' } },
    { key: 'img', cost: { currency: 'credits', perUnit: '2.5' } },
    { key: 'tok', cost: { currency: 'usd', perUnit: '0.015' } },
    // Rounds to a zero cost for small quantities.
    { key: 'ping', cost: { currency: 'usd', perUnit: '0.001' } },
  ],
  plans: [
    { id: 'basic', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] },
    {
      id: 'pro',
      interval: 'month',
      grants: [
        { currency: 'credits', amount: '300', priority: 40, rollover: { max: '100' } },
        { currency: 'usd', amount: '2.00', priority: 10, expires: 'never' },
      ],
    },
    {
      id: 'weekly',
      interval: 'week',
      // Scoped: only images may spend it, and what rolls over keeps the scope.
      grants: [
        {
          currency: 'credits',
          amount: '30',
          priority: 60,
          rollover: { max: '20' },
          appliesTo: { features: ['img'] },
        },
      ],
    },
  ],
};

export const sequenceCatalog: Catalog = defineCatalog(sequenceCatalogInput);

const CUSTOMERS = ['cus_0', 'cus_1'] as const;
const CURRENCIES = ['credits', 'usd'] as const;
type Currency = (typeof CURRENCIES)[number];

export type Step =
  | { readonly op: 'jump'; readonly ms: number }
  | { readonly op: 'createCustomer'; readonly c: number }
  | { readonly op: 'subscribe'; readonly c: number; readonly plan: string; readonly key: boolean }
  | {
      readonly op: 'cancel';
      readonly c: number;
      readonly pick: number | null;
      readonly at: 'now' | 'cycle_end';
      readonly expireCredits: boolean;
    }
  | { readonly op: 'changePlan'; readonly c: number; readonly plan: string; readonly key: boolean }
  | {
      readonly op: 'grant';
      readonly c: number;
      readonly currency: Currency;
      /** Minor units; null sends an amount with too many places. */
      readonly minor: number | null;
      readonly priority: number;
      readonly source: 'top_up' | 'promotion' | 'manual';
      readonly effectiveIn: number | null;
      readonly expiresIn: number | null;
      /** The features it pays for; null: every one. */
      readonly scope: readonly string[] | null;
      readonly key: boolean;
    }
  | {
      readonly op: 'trackUsage';
      readonly c: number;
      readonly feature: string;
      readonly quantity: number;
      readonly key: boolean;
    }
  | {
      readonly op: 'hold';
      readonly c: number;
      readonly what: { feature: string; quantity: number } | { currency: Currency; minor: number };
      readonly expiresIn: number | null;
      readonly key: boolean;
    }
  | {
      readonly op: 'capture';
      readonly c: number;
      readonly pick: number;
      readonly how: { quantity: number } | { minor: number } | null;
      readonly key: boolean;
    }
  | { readonly op: 'release'; readonly c: number; readonly pick: number }
  | { readonly op: 'reverse'; readonly c: number; readonly pick: number; readonly key: boolean }
  | { readonly op: 'void'; readonly c: number; readonly pick: number }
  | { readonly op: 'limit'; readonly c: number; readonly currency: Currency; readonly minor: number }
  /** Sets (or, with no thresholds and no window, removes) a balance alert. */
  | {
      readonly op: 'alert';
      readonly c: number;
      readonly currency: Currency;
      /** Absolute thresholds in minor units. */
      readonly levels: readonly number[];
      readonly percent: number | null;
      readonly within: number | null;
    }
  /** Sets an auto top-up rule: buy `minor` (or up to `target`) when available is below `threshold`. */
  | {
      readonly op: 'topUpRule';
      readonly c: number;
      readonly currency: Currency;
      readonly threshold: number;
      readonly minor: number;
      readonly toTarget: boolean;
      readonly capCount: number | null;
      readonly cooldown: number | null;
    }
  /** Runs the top-up executor for a customer, its purchases failing or going through. */
  | { readonly op: 'runTopUps'; readonly c: number; readonly fail: boolean }
  /** Sends one of the earlier accepted keyed requests again, later. */
  | { readonly op: 'retry'; readonly pick: number }
  /** Changes a feature's price (a ledger whose catalog is stored), now or from a later instant. */
  | {
      readonly op: 'reprice';
      readonly feature: string;
      readonly perUnit: string;
      readonly inMs: number | null;
    }
  /** Sends a few commands for one customer at once, so the writer decides them as one batch. */
  | { readonly op: 'burst'; readonly c: number; readonly steps: readonly CommandStep[] };

type CommandStep = Exclude<Step, { op: 'jump' | 'retry' | 'burst' | 'reprice' | 'runTopUps' }>;

const customer = fc.nat({ max: 9 }).map((n) => (n < 8 ? 0 : 1)); // mostly one customer, sometimes two
const key = fc.boolean();
const plan = fc.constantFrom('basic', 'pro', 'weekly');
const currency = fc.constantFrom<Currency>(...CURRENCIES);
const usage = fc.oneof(
  fc.record({ feature: fc.constant('gen'), quantity: fc.constantFrom(0.5, 1, 1, 2, 3, 5, 12, 30) }),
  fc.record({ feature: fc.constant('img'), quantity: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ feature: fc.constant('tok'), quantity: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ feature: fc.constant('ping'), quantity: fc.integer({ min: 1, max: 12 }) }),
);
const minorFor = (c: Currency) =>
  c === 'credits' ? fc.integer({ min: 1, max: 150 }) : fc.integer({ min: 1, max: 1500 });

const single: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('jump' as const),
      ms: fc.oneof(
        fc.constantFrom(0, 1, MINUTE, HOUR),
        fc.constantFrom(DAY, 7 * DAY, 29 * DAY, 31 * DAY, 75 * DAY),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('createCustomer' as const), c: customer }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('subscribe' as const), c: customer, plan, key }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('cancel' as const),
      c: customer,
      pick: fc.option(fc.nat({ max: 3 }), { nil: null }),
      at: fc.constantFrom('now' as const, 'cycle_end' as const),
      expireCredits: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('changePlan' as const), c: customer, plan, key }) },
  {
    weight: 4,
    arbitrary: currency.chain((cur) =>
      fc.record({
        op: fc.constant('grant' as const),
        c: customer,
        currency: fc.constant(cur),
        minor: fc.option(minorFor(cur), { nil: null, freq: 12 }),
        priority: fc.constantFrom(0, 10, 50, 50, 90),
        source: fc.constantFrom('top_up' as const, 'promotion' as const, 'manual' as const),
        effectiveIn: fc.option(fc.constantFrom(0, HOUR, DAY, 10 * DAY, 40 * DAY), { nil: null, freq: 2 }),
        expiresIn: fc.option(fc.constantFrom(HOUR, DAY, 5 * DAY, 31 * DAY, 60 * DAY), { nil: null, freq: 2 }),
        scope: fc.option(fc.constantFrom(['img'], ['gen', 'tok'], ['ping']), { nil: null, freq: 3 }),
        key,
      }),
    ),
  },
  {
    weight: 6,
    arbitrary: fc
      .record({ op: fc.constant('trackUsage' as const), c: customer, key })
      .chain((s) => usage.map((u) => ({ ...s, ...u }))),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('hold' as const),
      c: customer,
      what: fc.oneof(
        usage,
        currency.chain((cur) => fc.record({ currency: fc.constant(cur), minor: minorFor(cur) })),
      ),
      expiresIn: fc.option(fc.constantFrom(MINUTE, HOUR, DAY, 10 * DAY), { nil: null }),
      key,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('capture' as const),
      c: customer,
      pick: fc.nat({ max: 5 }),
      how: fc.option(
        fc.oneof(
          fc.record({ quantity: fc.constantFrom(0.5, 1, 2, 4, 8) }),
          fc.record({ minor: fc.integer({ min: 1, max: 120 }) }),
        ),
        { nil: null },
      ),
      key,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('release' as const), c: customer, pick: fc.nat({ max: 5 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('reverse' as const), c: customer, pick: fc.nat({ max: 5 }), key }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('void' as const), c: customer, pick: fc.nat({ max: 8 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('retry' as const), pick: fc.nat({ max: 7 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('reprice' as const),
      feature: fc.constantFrom('gen', 'img', 'tok', 'ping'),
      perUnit: fc.constantFrom('1', '2.5', '10', '0.001', '0.015', '0.3'),
      inMs: fc.option(fc.constantFrom(MINUTE, DAY, 10 * DAY), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: currency.chain((cur) =>
      fc.record({
        op: fc.constant('limit' as const),
        c: customer,
        currency: fc.constant(cur),
        minor: fc.oneof(fc.constant(0), minorFor(cur)),
      }),
    ),
  },
);

const BURSTABLE = new Set<Step['op']>([
  'trackUsage',
  'hold',
  'grant',
  'capture',
  'release',
  'reverse',
  'limit',
  'void',
  'alert',
  'topUpRule',
]);

const alert: fc.Arbitrary<Step> = currency.chain((cur) =>
  fc.record({
    op: fc.constant('alert' as const),
    c: customer,
    currency: fc.constant(cur),
    levels: fc.uniqueArray(minorFor(cur), { maxLength: 3 }),
    percent: fc.option(fc.constantFrom(10, 25, 50, 90), { nil: null }),
    within: fc.option(fc.constantFrom(HOUR, DAY, 5 * DAY), { nil: null }),
  }),
);

const topUpRule: fc.Arbitrary<Step> = currency.chain((cur) =>
  fc.record({
    op: fc.constant('topUpRule' as const),
    c: customer,
    currency: fc.constant(cur),
    threshold: fc.oneof(fc.constant(0), minorFor(cur)),
    minor: minorFor(cur),
    toTarget: fc.boolean(),
    capCount: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    cooldown: fc.option(fc.constantFrom(HOUR, DAY), { nil: null }),
  }),
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 30, arbitrary: single },
  { weight: 2, arbitrary: alert },
  { weight: 2, arbitrary: topUpRule },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('runTopUps' as const),
      c: customer,
      fail: fc.nat({ max: 3 }).map((n) => n === 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        customer,
        fc.array(
          single.filter((x): x is CommandStep => BURSTABLE.has(x.op)),
          { minLength: 2, maxLength: 4 },
        ),
      )
      .map(([c, steps]) => ({ op: 'burst' as const, c, steps: steps.map((x) => ({ ...x, c })) })),
  },
);

/**
 * A sequence of commands and clock jumps. It starts by creating the first customer and, usually,
 * giving it credit (a subscription, a grant) and creating the second, so that most commands after it
 * have something to act on; `maxLength` bounds the random part.
 */
export function commandSequence(
  options: { minLength?: number; maxLength?: number } = {},
): fc.Arbitrary<Step[]> {
  const only = <T extends Step>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 4 });
  const prefix = fc.tuple(
    only(
      fc.record({ op: fc.constant('subscribe' as const), c: fc.constant(0), plan, key: fc.constant(false) }),
    ),
    only(
      single
        .filter((x): x is Extract<Step, { op: 'grant' }> => x.op === 'grant' && x.minor !== null)
        .map((x) => ({ ...x, c: 0 })),
    ),
    fc.option(fc.constant({ op: 'createCustomer' as const, c: 1 }), { nil: null }),
    fc.option(
      single
        .filter((x): x is Extract<Step, { op: 'limit' }> => x.op === 'limit')
        .map((x) => ({ ...x, c: 0 })),
      { nil: null },
    ),
  );
  return fc
    .tuple(
      prefix,
      fc.array(step, { minLength: options.minLength ?? 1, maxLength: options.maxLength ?? 24, size: 'max' }),
    )
    .map(([start, steps]) => [
      { op: 'createCustomer', c: 0 } as Step,
      ...start.filter((x): x is NonNullable<typeof x> => x !== null),
      ...steps,
    ]);
}

/** The clock a sequence moves; pass `() => new Date(clock.ms)` to the ledger. */
export interface SequenceClock {
  ms: number;
}

export function sequenceClock(start = SEQUENCE_START): SequenceClock & { now: () => Date } {
  const clock = { ms: start, now: () => new Date(clock.ms) };
  return clock;
}

export interface RunOptions {
  /**
   * The ledger keeps its catalog in the store (created with no `catalog`): the run first brings
   * `sequenceCatalog` in with `syncCatalog`, cold ledgers read the stored catalog, and `reprice`
   * steps change prices. Otherwise `reprice` steps are skipped.
   */
  readonly storedCatalog?: boolean;
  /** Check the invariants after every step (default true); false only drives the ledger. */
  readonly check?: boolean;
  /** Options of the cold ledgers opened on the same store to compare with (default none). */
  readonly coldOptions?: Partial<LedgerOptions>;
  /** Told how each step ended ('ok' or the refusal's code), e.g. to measure what sequences exercise. */
  readonly onStep?: (step: Step, outcome: string) => void;
}

/** Ids a sequence has seen per customer, for commands that name earlier results. */
interface Known {
  usages: string[];
  holds: string[];
  subscriptions: string[];
  /** Currencies whose limit was lowered below the debt: the floor is the old debt until it is paid. */
  floors: Map<string, bigint>;
}

interface Read {
  readonly accounts: readonly CreditAccount[];
  readonly entries: unknown;
  readonly grants: readonly GrantView[];
  readonly holds: unknown;
  readonly subscriptions: unknown;
}

const minor = (amount: string): bigint => BigInt(amount.replace('.', ''));
const places = (c: Currency) => (c === 'credits' ? 0 : 2);
const format = (m: number, c: Currency): string => {
  const d = places(c);
  if (d === 0) return String(m);
  const s = String(m).padStart(d + 1, '0');
  return `${s.slice(0, -d)}.${s.slice(-d)}`;
};
const iso = (ms: number) => new Date(ms).toISOString();
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));

/**
 * Runs `steps` on `ledger` (whose clock reads `clock.ms` and which writes to `store`) and checks after
 * every step: balance = the last running balance of the entries; every grant's remaining within
 * [0, amount]; deductions allocate in consumption order; a refused command changes nothing; idempotent
 * retries return the first result and write nothing; folding the stored events gives the live figures,
 * as does a cold ledger on the same store; holds never take available below minus the credit limit and
 * spending never takes the balance there; reads at T are identical before and after later writes.
 * `store` must start empty (the checks read its whole log) and the clock only moves forward.
 */
export async function runSequence(
  ledger: Ledger,
  store: EventStore,
  clock: SequenceClock,
  steps: readonly Step[],
  options: RunOptions = {},
): Promise<void> {
  const checking = options.check ?? true;
  const known = new Map<string, Known>(
    CUSTOMERS.map((c) => [c, { usages: [], holds: [], subscriptions: [], floors: new Map() }]),
  );
  const exists = new Set<string>();
  const pastReads: { customerId: string; atMs: number; read: Read }[] = [];
  /** Instants inside clock jumps, where renewals and expiries happened with no command around. */
  const probes: { customerId: string; atMs: number }[] = [];
  const accepted: { call: () => Promise<unknown>; result: unknown; where: string }[] = [];
  const storedCatalog = options.storedCatalog === true;
  const cold = () =>
    createLedger({
      ...(storedCatalog ? {} : { catalog: sequenceCatalog }),
      store,
      clock: () => new Date(clock.ms),
      ...options.coldOptions,
    });
  if (storedCatalog) await ledger.syncCatalog(sequenceCatalogInput);

  for (const [index, s] of steps.entries()) {
    const where = `step ${index} ${json(s)}`;
    if (s.op === 'jump') {
      if (checking && s.ms > 0) {
        for (const customerId of exists) {
          pastReads.push({ customerId, atMs: clock.ms, read: await readAt(ledger, customerId, clock.ms) });
          if (s.ms > 1) probes.push({ customerId, atMs: clock.ms + Math.floor(s.ms / 2) });
        }
      }
      clock.ms += s.ms;
      if (checking) for (const customerId of exists) await checkCustomer(customerId, where);
      continue;
    }
    if (s.op === 'reprice') {
      if (!storedCatalog) continue;
      const effectiveAt = s.inMs === null ? {} : { effectiveAt: iso(clock.ms + s.inMs) };
      await ledger.updateFeature({ key: s.feature, perUnit: s.perUnit, ...effectiveAt });
      options.onStep?.(s, 'ok');
      if (checking) for (const customerId of exists) await checkCustomer(customerId, where);
      continue;
    }
    if (s.op === 'runTopUps') {
      const customerId = CUSTOMERS[s.c]!;
      if (!exists.has(customerId)) continue;
      const outcomes = await runAutoTopUps({
        ledger,
        customerId,
        purchase: async (request) => {
          if (s.fail) throw new Error('declined');
          return {
            paymentId: `pay_${request.idempotencyKey.replace(/[^A-Za-z0-9_.:@-]/g, '_').slice(-100)}`,
            price: { amount: '1.00', currency: 'USD' },
          };
        },
      });
      options.onStep?.(s, outcomes.map((o) => o.outcome).join(',') || 'none');
      if (checking) for (const c of exists) await checkCustomer(c, where);
      continue;
    }
    if (s.op === 'retry') {
      const earlier = accepted[s.pick % Math.max(accepted.length, 1)];
      if (earlier === undefined || !checking) continue;
      const written = await store.readAll();
      const again = await earlier.call().catch((error: unknown) => error);
      deepStrictEqual(again, earlier.result, `${where}: late retry of ${earlier.where} answered differently`);
      ok(sameStore(written, await store.readAll()), `${where}: late retry of ${earlier.where} wrote`);
      continue;
    }
    if (s.op === 'burst') {
      const storedBefore = await store.readAll();
      const grantsBefore = exists.has(CUSTOMERS[s.c]!)
        ? await ledger.grants({ customerId: CUSTOMERS[s.c]! })
        : [];
      const calls = await Promise.all(
        s.steps.map((x, j) =>
          request(x, clock.ms, 'key' in x && x.key ? { idempotencyKey: `k${index}_${j}` } : {}, grantsBefore),
        ),
      );
      const outcomes = await Promise.allSettled(calls.map((send) => send()));
      for (const [j, outcome] of outcomes.entries()) {
        const inner = s.steps[j]!;
        if (outcome.status === 'rejected') {
          if (!(outcome.reason instanceof TallyError))
            throw new Error(`${where}: threw ${String(outcome.reason)}`);
          continue;
        }
        remember(inner, outcome.value);
        if (inner.op === 'limit') await noteLimit(CUSTOMERS[s.c]!, inner.currency);
      }
      options.onStep?.(
        s,
        outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as TallyError).code)).join(','),
      );
      if (!checking) continue;
      if (outcomes.every((o) => o.status === 'rejected'))
        ok(
          sameStore(storedBefore, await store.readAll()),
          `${where}: every command refused but the store changed`,
        );
      for (const c of exists) await checkCustomer(c, where);
      continue;
    }
    const customerId = CUSTOMERS[s.c]!;
    // Times in the input are fixed now, so a retry sends the very same request.
    const t = clock.ms;
    const idempotencyKey = 'key' in s && s.key ? `k${index}` : undefined;
    const keyed = idempotencyKey === undefined ? {} : { idempotencyKey };
    const grantsBefore = exists.has(customerId) ? await ledger.grants({ customerId }) : [];
    const accountsBefore = exists.has(customerId) ? await ledger.creditAccounts({ customerId }) : [];
    const storedBefore = checking ? await store.readAll() : [];

    const call = await request(s, t, keyed, grantsBefore);

    const checked =
      checking && s.op === 'trackUsage' && exists.has(customerId)
        ? await ledger.check({ customerId, feature: s.feature, quantity: s.quantity })
        : null;
    let result: unknown;
    let refused: TallyError | null = null;
    try {
      result = await call();
    } catch (error) {
      if (!(error instanceof TallyError))
        throw new Error(`${where}: threw ${String(error)}`, { cause: error });
      refused = error;
    }

    options.onStep?.(s, refused === null ? 'ok' : refused.code);
    if (checked !== null && (refused === null || refused.code === 'insufficient_credits')) {
      strictEqual(checked.allowed, refused === null, `${where}: check said allowed=${checked.allowed}`);
    }
    if (refused !== null) {
      if (checking) {
        ok(sameStore(storedBefore, await store.readAll()), `${where}: refused ${refused.code} but wrote`);
        if (exists.has(customerId)) {
          deepStrictEqual(
            await ledger.creditAccounts({ customerId }),
            accountsBefore,
            `${where}: refused but changed`,
          );
          deepStrictEqual(
            await ledger.grants({ customerId }),
            grantsBefore,
            `${where}: refused but changed grants`,
          );
        }
      }
      continue;
    }

    remember(s, result);
    if (!checking) continue;

    if (s.op === 'trackUsage' || s.op === 'capture') {
      const {
        currency: cur,
        allocations,
        cost,
        debt,
        feature,
      } = result as {
        currency: string;
        allocations: { grantId: string; amount: string }[];
        cost: string;
        debt: string;
        feature: string | null;
      };
      deepStrictEqual(
        allocations,
        expectedAllocations(grantsBefore, cur, minor(cost), feature),
        `${where}: allocations out of consumption order among the grants that apply`,
      );
      const allocated = allocations.reduce((sum, a) => sum + minor(a.amount), 0n);
      strictEqual(allocated + minor(debt), minor(cost), `${where}: allocations + debt != cost`);
    }
    if (s.op === 'limit') await noteLimit(customerId, s.currency);
    if (s.op === 'hold') {
      const account = (result as { account: CreditAccount }).account;
      ok(
        minor(account.available) >= -minor(account.creditLimit),
        `${where}: a hold took available to ${account.available} below -${account.creditLimit}`,
      );
    }

    if (idempotencyKey !== undefined) {
      const written = await store.readAll();
      clock.ms += 1; // a retry comes later; it must not decide again
      const again = await call().catch((error: unknown) => error);
      deepStrictEqual(again, result, `${where}: idempotent retry answered differently`);
      const conflict = await ledger
        .setCreditLimit({ customerId, currency: 'credits', limit: '77', idempotencyKey })
        .catch((error: unknown) => error);
      ok(
        conflict instanceof TallyError && conflict.code === 'idempotency_conflict',
        `${where}: key reused for another command gave ${String(conflict)}`,
      );
      ok(sameStore(written, await store.readAll()), `${where}: idempotent retry wrote`);
      accepted.push({ call, result, where });
    }
    for (const c of exists) await checkCustomer(c, where);
  }

  if (!checking) return;
  // Materialization is invisible: what was read at T is what a warm and a cold ledger read at T now.
  const coldLedger = cold();
  for (const { customerId, atMs, read } of pastReads) {
    deepStrictEqual(
      await readAt(ledger, customerId, atMs),
      read,
      `read at ${iso(atMs)} changed by later writes`,
    );
    deepStrictEqual(await readAt(coldLedger, customerId, atMs), read, `cold read at ${iso(atMs)} differs`);
  }
  // Time travel to instants no command touched agrees with folding the events up to then.
  const stored = await store.readAll();
  for (const { customerId, atMs } of probes) {
    const read = await readAt(ledger, customerId, atMs);
    checkRead(read, `probe at ${iso(atMs)} ${customerId}`, null);
    const state = replayed(stored, customerId, atMs);
    ok(state !== null, `probe at ${iso(atMs)}: no stream for ${customerId}`);
    deepStrictEqual(
      figuresOf(read),
      oracleFigures(advance(state, atMs).state, atMs),
      `probe at ${iso(atMs)} ${customerId}: read differs from the fold of the events up to then`,
    );
  }

  /** The request a step makes, as a function that sends it; ids and times are fixed when it is built. */
  async function request(
    s: CommandStep,
    t: number,
    keyed: { idempotencyKey?: string },
    grantsBefore: readonly GrantView[],
  ): Promise<() => Promise<unknown>> {
    const customerId = CUSTOMERS[s.c]!;
    const mine = known.get(customerId)!;
    switch (s.op) {
      case 'createCustomer':
        return () => ledger.createCustomer({ customerId });
      case 'subscribe':
        return () => ledger.subscribe({ customerId, planId: s.plan, ...keyed });
      case 'cancel': {
        const subscriptionId = s.pick === null ? undefined : pick(mine.subscriptions, s.pick, 'sub_none');
        return () =>
          ledger.cancelSubscription({
            customerId,
            at: s.at,
            expireCredits: s.expireCredits,
            ...(subscriptionId === undefined ? {} : { subscriptionId }),
          });
      }
      case 'changePlan':
        return () => ledger.changePlan({ customerId, planId: s.plan, ...keyed });
      case 'grant':
        return () =>
          ledger.grant({
            customerId,
            currency: s.currency,
            amount: s.minor === null ? '1.234' : format(s.minor, s.currency),
            priority: s.priority,
            source: s.source,
            ...(s.effectiveIn === null ? {} : { effectiveAt: iso(t + s.effectiveIn) }),
            ...(s.expiresIn === null ? {} : { expiresAt: iso(t + s.expiresIn) }),
            ...(s.scope === null ? {} : { appliesTo: { features: [...s.scope] } }),
            ...keyed,
          });
      case 'trackUsage':
        return () => ledger.trackUsage({ customerId, feature: s.feature, quantity: s.quantity, ...keyed });
      case 'hold': {
        const what =
          'feature' in s.what
            ? { feature: s.what.feature, quantity: s.what.quantity }
            : { currency: s.what.currency, amount: format(s.what.minor, s.what.currency) };
        return () =>
          ledger.hold({
            customerId,
            ...what,
            ...(s.expiresIn === null ? {} : { expiresAt: iso(t + s.expiresIn) }),
            ...keyed,
          });
      }
      case 'capture': {
        const holdId = pick(mine.holds, s.pick, 'hold_none');
        const holds = exists.has(customerId) ? await ledger.holds({ customerId }) : [];
        const held = (holds as { holdId: string; currency: Currency }[]).find((h) => h.holdId === holdId);
        const how =
          s.how === null
            ? {}
            : 'quantity' in s.how
              ? { quantity: s.how.quantity }
              : { amount: format(s.how.minor, held?.currency ?? 'credits') };
        return () => ledger.captureHold({ customerId, holdId, ...how, ...keyed });
      }
      case 'release': {
        const holdId = pick(mine.holds, s.pick, 'hold_none');
        return () => ledger.releaseHold({ customerId, holdId });
      }
      case 'reverse': {
        const usageId = pick(mine.usages, s.pick, 'usage_none');
        return () => ledger.reverseUsage({ customerId, usageId, ...keyed });
      }
      case 'void': {
        const grantId = pick(
          grantsBefore.map((g) => g.grantId),
          s.pick,
          'grant_none',
        );
        return () => ledger.voidGrant({ customerId, grantId, reason: 'test' });
      }
      case 'limit':
        return () =>
          ledger.setCreditLimit({ customerId, currency: s.currency, limit: format(s.minor, s.currency) });
      case 'topUpRule': {
        const level = format(s.threshold + (s.toTarget ? s.minor : 0), s.currency);
        return () =>
          ledger.setAutoTopUp({
            customerId,
            currency: s.currency,
            threshold: format(s.threshold, s.currency),
            ...(s.toTarget ? { target: level } : { amount: format(s.minor, s.currency) }),
            ...(s.capCount === null ? {} : { maxPerPeriod: { count: s.capCount, period: DAY } }),
            ...(s.cooldown === null ? {} : { cooldown: s.cooldown }),
            maxFailures: 2,
            retryBackoff: MINUTE,
          });
      }
      case 'alert':
        return () =>
          ledger.setBalanceAlert({
            customerId,
            currency: s.currency,
            thresholds: [
              ...s.levels.map((m) => format(m, s.currency)),
              ...(s.percent === null ? [] : [{ percent: s.percent }]),
            ],
            ...(s.within === null ? {} : { expiringWithin: s.within }),
          });
    }
  }

  /** A limit set below the debt leaves the balance below minus the limit until the debt is paid. */
  async function noteLimit(customerId: string, currency: string): Promise<void> {
    const floors = known.get(customerId)!.floors;
    const account = (await ledger.creditAccounts({ customerId })).find((a) => a.currency === currency)!;
    if (minor(account.debt) > minor(account.creditLimit)) floors.set(currency, minor(account.debt));
    else floors.delete(currency);
  }

  /** Notes the ids an accepted command returned, for later steps to name. */
  function remember(s: CommandStep, result: unknown): void {
    const customerId = CUSTOMERS[s.c]!;
    const mine = known.get(customerId)!;
    const r = (result ?? {}) as Record<string, unknown>;
    if (s.op === 'createCustomer') exists.add(customerId);
    if (typeof r.usageId === 'string' && s.op !== 'reverse') mine.usages.push(r.usageId);
    if (s.op === 'hold') mine.holds.push(r.holdId as string);
    if (s.op === 'subscribe' || s.op === 'changePlan') mine.subscriptions.push(r.subscriptionId as string);
  }

  async function checkCustomer(customerId: string, where: string): Promise<void> {
    const read = await readAt(ledger, customerId, clock.ms);
    checkRead(read, `${where} ${customerId}`, known.get(customerId)!.floors);
    // A cold ledger (snapshot plus tail, or a full replay) reads the same.
    deepStrictEqual(await readAt(cold(), customerId, clock.ms), read, `${where}: cold ledger differs`);
    // Folding the stored events and advancing to now gives the same figures: the oracle.
    const state = replayed(await store.readAll(), customerId);
    ok(state !== null, `${where}: no stream for ${customerId}`);
    const expected = advance(state, clock.ms).state;
    deepStrictEqual(
      figuresOf(read),
      oracleFigures(expected, clock.ms),
      `${where}: live figures differ from the fold of the stored events`,
    );
    checkAlerts(await store.readAll(), customerId, `${where} ${customerId}`);
  }
}

/**
 * Balance alerts in a stream are exactly once per crossing: per threshold, fired and re-armed take
 * turns (starting from where the alert was set), each fired below its threshold and each re-armed at or
 * above it, and a grant is noticed at most once while it holds credit.
 */
function checkAlerts(events: readonly StoredEvent[], customerId: string, where: string): void {
  const below = new Map<string, boolean>();
  /** Grants noticed under the alert now set, by currency: an alert removed and set anew notices afresh. */
  const noticed = new Map<string, string>();
  const inFlight = new Map<string, string>();
  const purchases = new Set<string>();
  const completedPayments = new Set<string>();
  for (const stored of events) {
    if (stored.streamId !== `customer-${customerId}`) continue;
    const e = upcast(stored);
    if (e.type === 'balance_alert_set') {
      if (e.data.thresholds.length === 0 && e.data.expiringWithinMs === null) {
        for (const [grantId, currency] of [...noticed])
          if (currency === e.data.currency) noticed.delete(grantId);
      }
      for (const key of [...below.keys()]) if (key.startsWith(`${e.data.currency}/`)) below.delete(key);
      for (const t of e.data.thresholds)
        below.set(`${e.data.currency}/${t.key}`, e.data.below.includes(t.key));
    } else if (e.type === 'balance_alert_triggered' || e.type === 'balance_alert_rearmed') {
      const key = `${e.data.currency}/${e.data.threshold}`;
      const firing = e.type === 'balance_alert_triggered';
      strictEqual(below.get(key), !firing, `${where}: ${e.type} ${key} twice in a row (${e.id})`);
      below.set(key, firing);
      ok(
        firing
          ? minor(e.data.available) < minor(e.data.amount)
          : minor(e.data.available) >= minor(e.data.amount),
        `${where}: ${e.type} ${key} with available ${e.data.available}`,
      );
    } else if (e.type === 'auto_top_up_requested') {
      ok(
        !inFlight.has(e.data.currency),
        `${where}: a second top-up requested while one is in flight (${e.id})`,
      );
      inFlight.set(e.data.currency, e.data.requestId);
    } else if (e.type === 'auto_top_up_completed' || e.type === 'auto_top_up_failed') {
      strictEqual(
        inFlight.get(e.data.currency),
        e.data.requestId,
        `${where}: ${e.type} of a request not in flight`,
      );
      if (e.type === 'auto_top_up_completed' || e.data.paused) inFlight.delete(e.data.currency);
      if (e.type === 'auto_top_up_completed') {
        ok(
          purchases.has(e.data.grantId),
          `${where}: completed ${e.data.requestId} without its purchase grant`,
        );
        ok(!completedPayments.has(e.data.paymentId), `${where}: payment ${e.data.paymentId} completed twice`);
        completedPayments.add(e.data.paymentId);
      }
    } else if (e.type === 'credits_granted' && e.data.source === 'purchase') {
      purchases.add(e.data.grantId);
    } else if (e.type === 'credits_expiring') {
      ok(!noticed.has(e.data.grantId), `${where}: ${e.data.grantId} noticed twice`);
      noticed.set(e.data.grantId, e.data.currency);
      ok(e.at < e.data.expiresAt, `${where}: notice of ${e.data.grantId} at or after its expiry`);
    }
  }
}

/** Every read the API offers for one customer, as of `atMs`. */
async function readAt(ledger: Ledger, customerId: string, atMs: number): Promise<Read> {
  const at = iso(atMs);
  return {
    accounts: await ledger.creditAccounts({ customerId, at }),
    entries: await Promise.all(
      CURRENCIES.map((currency) => allEntries(ledger, { customerId, currency, at })),
    ),
    grants: await ledger.grants({ customerId, at }),
    holds: await ledger.holds({ customerId, at }),
    subscriptions: await ledger.subscriptions({ customerId, at }),
  };
}

/**
 * The invariants one consistent read must satisfy on its own. `floors` are the currencies whose limit
 * was lowered below the debt (the balance may stay below minus the new limit); null skips that check.
 */
function checkRead(read: Read, where: string, floors: ReadonlyMap<string, bigint> | null): void {
  const entries = read.entries as { amount: string; balance: string; held: string; at: string }[][];
  for (const [i, cur] of CURRENCIES.entries()) {
    const account = read.accounts.find((a) => a.currency === cur);
    const lines = entries[i]!;
    let running = 0n;
    let held = 0n;
    let last = '';
    for (const line of lines) {
      running += minor(line.amount);
      held += minor(line.held);
      strictEqual(minor(line.balance), running, `${where} ${cur}: running balance skips`);
      ok(line.at >= last, `${where} ${cur}: entries out of time order`);
      last = line.at;
    }
    if (account === undefined) {
      strictEqual(running, 0n, `${where} ${cur}: entries without an account`);
      continue;
    }
    const balance = minor(account.balance);
    strictEqual(
      running,
      balance,
      `${where} ${cur}: last running balance ${running} != balance ${account.balance}`,
    );
    strictEqual(held, minor(account.held), `${where} ${cur}: held lines != held`);
    strictEqual(
      minor(account.available),
      balance - minor(account.held),
      `${where} ${cur}: available != balance - held`,
    );
    ok(minor(account.held) >= 0n && minor(account.debt) >= 0n, `${where} ${cur}: negative held or debt`);

    const grants = read.grants.filter((g) => g.currency === cur);
    let credit = 0n;
    let unscoped = 0n;
    let scoped = 0n;
    for (const g of grants) {
      const remaining = minor(g.remaining);
      ok(
        remaining >= 0n && remaining <= minor(g.amount),
        `${where}: grant ${g.grantId} remaining ${g.remaining}`,
      );
      if (g.status === 'active') {
        credit += remaining;
        if (g.appliesTo === null) unscoped += remaining;
        else scoped += remaining;
      } else if (g.status !== 'pending')
        strictEqual(remaining, 0n, `${where}: ${g.status} grant ${g.grantId} keeps credit`);
    }
    strictEqual(credit - minor(account.debt), balance, `${where} ${cur}: balance != active credit - debt`);
    // Scoped credit never pays debt (it is only spent on its features); unscoped credit always does.
    if (minor(account.debt) > 0n)
      strictEqual(unscoped, 0n, `${where} ${cur}: debt sits beside unscoped spendable credit`);
    strictEqual(
      account.scoped.reduce((sum, part) => sum + minor(part.balance), 0n),
      scoped,
      `${where} ${cur}: scoped parts != active scoped credit`,
    );
    if (floors === null) continue;
    const floor = floors.get(cur);
    const limit = minor(account.creditLimit);
    ok(
      balance >= -(floor !== undefined && floor > limit ? floor : limit),
      `${where} ${cur}: balance ${account.balance} below -${account.creditLimit}`,
    );
  }
}

/** What consumption order says a deduction of `cost` takes, from the grants read just before. */
function expectedAllocations(
  grants: readonly GrantView[],
  currency: string,
  cost: bigint,
  feature: string | null,
) {
  // Scoped credit pays only its features; a deduction of an amount (no feature) only unscoped credit.
  const applies = (g: GrantView) =>
    g.appliesTo === null || (feature !== null && g.appliesTo.features.includes(feature));
  const order = grants
    .filter((g) => g.currency === currency && g.status === 'active' && minor(g.remaining) > 0n && applies(g))
    .sort(
      (a, b) =>
        a.priority - b.priority ||
        // ISO times compare as text; a grant that never expires goes after every one that does.
        compare(a.expiresAt ?? '~', b.expiresAt ?? '~') ||
        compare(a.effectiveAt, b.effectiveAt) ||
        compare(a.grantId, b.grantId),
    );
  const allocations: { grantId: string; amount: string }[] = [];
  let left = cost;
  for (const g of order) {
    if (left === 0n) break;
    const remaining = minor(g.remaining);
    const take = remaining < left ? remaining : left;
    allocations.push({ grantId: g.grantId, amount: formatMinor(take, g.amount) });
    left -= take;
  }
  return allocations;
}

/** Code-unit order, as the core compares ids (never locale order). */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const formatMinor = (value: bigint, sample: string): string => {
  const d = sample.includes('.') ? sample.length - sample.indexOf('.') - 1 : 0;
  if (d === 0) return value.toString();
  const s = value.toString().padStart(d + 1, '0');
  return `${s.slice(0, -d)}.${s.slice(-d)}`;
};

/** The customer's state from the store's global log, folded from nothing (up to `untilMs`, if given). */
export function replayed(
  events: readonly StoredEvent[],
  customerId: string,
  untilMs = Number.POSITIVE_INFINITY,
): CustomerState | null {
  const streams = new Map<string, StoredEvent[]>();
  // Customers' streams only: a stored catalog has a stream of its own in the same store.
  for (const e of events)
    if (e.streamId.startsWith('customer-') && Date.parse(e.at) <= untilMs)
      streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e]);
  for (const stream of streams.values()) {
    const state = fold(stream.sort((a, b) => a.version - b.version).map(upcast));
    if (state.customer?.customerId === customerId) return state;
  }
  return null;
}

type Figures = Record<
  string,
  { balance: bigint; held: bigint; debt: bigint; creditLimit: bigint; grants: string }
>;

function figuresOf(read: Read): Figures {
  const out: Figures = {};
  for (const a of read.accounts) {
    out[a.currency] = {
      balance: minor(a.balance),
      held: minor(a.held),
      debt: minor(a.debt),
      creditLimit: minor(a.creditLimit),
      grants: read.grants
        .filter((g) => g.currency === a.currency)
        .map((g) => `${g.grantId}=${minor(g.remaining)}`)
        .sort()
        .join(','),
    };
  }
  return out;
}

/** The same figures computed straight from a folded state, over every grant ever made. */
export function oracleFigures(state: CustomerState, atMs: number): Figures {
  const out: Figures = {};
  for (const [code, account] of state.accounts) {
    let credit = 0n;
    const grants: string[] = [];
    // A fold of the whole stream holds the grants in play and, recalled, every one that finished.
    for (const g of [...state.grants.values(), ...state.recalled.grants.values()]) {
      if (g.currency !== code) continue;
      grants.push(`${g.grantId}=${g.remaining}`);
      if (g.status === 'active' && g.effectiveAtMs <= atMs && g.expiresAtMs > atMs) credit += g.remaining;
    }
    out[code] = {
      balance: credit - account.debt,
      held: account.held,
      debt: account.debt,
      creditLimit: account.creditLimit,
      grants: grants.sort().join(','),
    };
  }
  return out;
}

function pick(ids: readonly string[], n: number, fallback: string): string {
  return ids.length === 0 ? fallback : ids[n % ids.length]!;
}

function sameStore(a: readonly StoredEvent[], b: readonly StoredEvent[]): boolean {
  return json(a) === json(b);
}
