import {
  runSequence,
  type Step,
  sequenceCatalog,
  sequenceClock,
} from '../../../test/support/command-sequences.js';
import { memoryStore } from '../../store-memory/src/index.js';
import {
  type Catalog,
  createLedger,
  defineCatalog,
  type EventStore,
  type Ledger,
  type LedgerOptions,
  type RecordedEvent,
  type StoredEvent,
  TallyError,
  type TallyErrorCode,
} from '../src/index.js';
import { upcast } from '../src/pure.js';
import type { GrantState } from '../src/state.js';

export { memoryStore };

/** Jan 31, 10:00 UTC: a month-end anchor, so calendar clamping shows up in every monthly test. */
export const T0 = Date.parse('2025-01-31T10:00:00.000Z');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A clock the test moves by hand: `createLedger({ clock: clock.now })`. */
export class TestClock {
  constructor(public ms: number = T0) {}
  readonly now = (): Date => new Date(this.ms);
  set(at: string | number): void {
    this.ms = typeof at === 'number' ? at : Date.parse(at);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  get iso(): string {
    return new Date(this.ms).toISOString();
  }
}

export const catalog = defineCatalog({
  currencies: [
    { code: 'credits', decimals: 0 },
    { code: 'usd', decimals: 2 },
  ],
  features: [
    { key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } },
    { key: 'image', cost: { currency: 'credits', perUnit: '2.5' } },
    { key: 'tokens', cost: { currency: 'usd', perUnit: '0.015' } },
    { key: 'gpu-hour', cost: { currency: 'credits', perUnit: '5000' } },
  ],
  plans: [
    { id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] },
    {
      id: 'pro',
      interval: 'month',
      grants: [{ currency: 'credits', amount: '1000', priority: 40, rollover: { max: '300' } }],
    },
    {
      id: 'team',
      interval: 'month',
      grants: [
        { currency: 'credits', amount: '500' },
        { currency: 'usd', amount: '5.00', priority: 10, expires: 'never' },
      ],
    },
    { id: 'weekly', interval: 'week', grants: [{ currency: 'credits', amount: '50' }] },
    { id: 'daily', interval: 'day', grants: [{ currency: 'credits', amount: '10' }] },
    { id: 'yearly', interval: 'year', grants: [{ currency: 'credits', amount: '1200' }] },
  ],
});

export interface Setup {
  readonly ledger: Ledger;
  readonly store: EventStore;
  readonly clock: TestClock;
  /** A second ledger on the same store with an empty cache: what another process would read. */
  cold(): Ledger;
}

export function setup(options: Partial<LedgerOptions> & { start?: number; catalog?: Catalog } = {}): Setup {
  // `start` is this helper's, not the ledger's: createLedger refuses an option it does not know.
  const { start, ...ledgerOptions } = options;
  const store = options.store ?? memoryStore();
  const clock = new TestClock(start ?? T0);
  const ledger = createLedger({ catalog, clock: clock.now, ...ledgerOptions, store });
  return {
    ledger,
    store,
    clock,
    cold: () => createLedger({ catalog: options.catalog ?? catalog, store, clock: clock.now }),
  };
}

/** A customer subscribed to `planId` (if given) at the clock's current instant. */
export async function customerWith(s: Setup, planId?: string, customerId = 'cus_1') {
  await s.ledger.createCustomer({ customerId });
  return planId === undefined ? null : s.ledger.subscribe({ customerId, planId });
}

export async function balanceOf(ledger: Ledger, customerId = 'cus_1', currency = 'credits', at?: string) {
  const accounts = await ledger.creditAccounts(at === undefined ? { customerId } : { customerId, at });
  return accounts.find((a) => a.currency === currency);
}

/** Awaits a rejection and checks it is a TallyError with this code (and field, when given). */
export async function expectTallyError(
  promise: Promise<unknown> | (() => unknown),
  code: TallyErrorCode,
  field?: string,
): Promise<TallyError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (caught) {
    error = caught;
  }
  if (!(error instanceof TallyError)) {
    throw new Error(`expected TallyError ${code}, got ${error === undefined ? 'success' : String(error)}`);
  }
  if (error.code !== code) throw new Error(`expected code ${code}, got ${error.code}: ${error.message}`);
  if (field !== undefined && error.field !== field) {
    throw new Error(`expected field ${field}, got ${String(error.field)}: ${error.message}`);
  }
  return error;
}

/** Runs `action`, which must fail with `code`, and checks the store is exactly as it was. */
export async function expectRefused(
  store: EventStore,
  action: () => Promise<unknown>,
  code: TallyErrorCode,
  field?: string,
): Promise<TallyError> {
  const before = await store.readAll();
  const error = await expectTallyError(action, code, field);
  const after = await store.readAll();
  if (!sameEvents(before, after)) throw new Error(`refused ${code} wrote to the store`);
  return error;
}

export function sameEvents(a: readonly StoredEvent[], b: readonly StoredEvent[]): boolean {
  return JSON.stringify(a, bigintJson) === JSON.stringify(b, bigintJson);
}

const bigintJson = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The streams a random command sequence leaves in a memory store, as the fold reads them. */
export async function sequenceStreams(steps: readonly Step[]): Promise<RecordedEvent[][]> {
  const store = memoryStore();
  const clock = sequenceClock();
  const ledger = createLedger({ catalog: sequenceCatalog, store, clock: clock.now });
  await runSequence(ledger, store, clock, steps, { check: false });
  const streams = new Map<string, RecordedEvent[]>();
  for (const e of await store.readAll())
    streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), upcast(e)]);
  return [...streams.values()];
}

/** A grant as the state holds it, for tests of the pure core: 10 credits, active, live; `fields` override. */
export function grantState(fields: Pick<GrantState, 'grantId'> & Partial<GrantState>): GrantState {
  return {
    currency: 'credits',
    amount: 10n,
    remaining: 10n,
    priority: 50,
    source: 'manual',
    effectiveAtMs: 0,
    expiresAtMs: Number.POSITIVE_INFINITY,
    subscriptionId: null,
    cycle: null,
    ruleIndex: null,
    metadata: {},
    appliesTo: null,
    price: null,
    paymentId: null,
    status: 'active',
    endedAt: null,
    ...fields,
  };
}
