import { freeze } from 'immer';
import type { Catalog } from '../catalog/index.js';
import type { InputOf, ResultOf } from '../decide/command.js';
import type { Command, CommandName, Commands } from '../decide/commands.js';
import { commands } from '../decide/commands.js';
import type { IdKind } from '../decide/context.js';
import type { CustomerResult } from '../decide/customer.js';
import { priceUsage } from '../decide/pricing.js';
import { type LedgerEntry, ledgerEntries } from '../entries.js';
import { TallyError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import { ulidIds } from '../ids.js';
import { parseInput } from '../input/parse.js';
import { formatAmount, quote } from '../money.js';
import { type CustomerState, initialState } from '../state.js';
import {
  accountFigures,
  accountView,
  type CreditAccount,
  type GrantView,
  grantsOf,
  grantView,
  type HoldView,
  holdsOf,
  holdView,
  type SubscriptionView,
  subscriptionView,
} from '../views.js';
import { dueBy } from './due.js';
import * as read from './read-inputs.js';
import { foldAll, readRecorded, StreamCache, streamIdOf } from './streams.js';
import { type VerifyResult, verifyStream } from './verify.js';
import { Writer } from './writer.js';

/**
 * What `createLedger` needs: the catalog that prices everything and the store that keeps the events.
 * The rest have defaults: clock and ids are for tests, the sizes tune memory and replay time.
 *
 * @example
 * const ledger = createLedger({
 *   catalog, store: memoryStore(), clock: () => new Date('2025-01-01T00:00:00Z'), snapshotEvery: 100,
 * });
 */
export interface LedgerOptions {
  readonly catalog: Catalog;
  readonly store: EventStore;
  /**
   * Where "now" comes from; default the system clock. Every write is dated by it, and a stream's clock
   * never runs backwards (a write that reads an earlier time than its customer's last event is dated
   * at that event). Pass a fixed or hand-moved clock in tests.
   */
  readonly clock?: () => Date;
  /**
   * Id source, for deterministic tests; default kind-prefixed monotonic ULIDs. It must never repeat an
   * id for a customer: a write checks new ids against the grants its state holds, and a state loaded
   * from a snapshot holds only grants in play, so a repeat of an old grant's id shows only on a full
   * replay (`corrupt_stream`).
   */
  readonly ids?: (kind: IdKind) => string;
  /** Write a snapshot every this many events per customer; default 100. */
  readonly snapshotEvery?: number;
  /** Appends tried per write when other processes keep winning the race; default 10. */
  readonly maxAttempts?: number;
  /** Customers whose folded state stays in memory; default 10,000. */
  readonly cacheSize?: number;
}

/**
 * The answer of `ledger.check`: whether a usage would go through now and what it would cost, without
 * recording anything, e.g. to disable a button before the customer clicks it.
 *
 * @example
 * const input = { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 };
 * const { allowed, cost, spendable } = await ledger.check(input);
 * if (!allowed) showUpgrade();
 */
export interface CheckResult {
  /** Whether `trackUsage` with the same input would succeed now. */
  readonly allowed: boolean;
  readonly currency: string;
  /** What `trackUsage` would charge now. */
  readonly cost: string;
  /** balance - held. */
  readonly available: string;
  /** available + the credit limit: the most a deduction may take now. */
  readonly spendable: string;
}

/**
 * The ledger's write methods, one per command (see `commands`): each takes the command's input and
 * resolves to its result, or rejects with a `TallyError` having written nothing.
 *
 * @example
 * const track: WriteMethods['trackUsage'] = ledger.trackUsage; // (input: TrackUsageInput) => Promise<UsageResult>
 */
export type WriteMethods = {
  readonly [K in CommandName]: (input: InputOf<Commands[K]>) => Promise<ResultOf<Commands[K]>>;
};

/**
 * A customer's books, kept through an `EventStore`. Every write is one command: validated, decided
 * against the customer's state at the current instant, and appended as events (or refused with a
 * `TallyError`, writing nothing). Every read folds the stream and what time alone has made due.
 *
 * @example
 * const ledger: Ledger = createLedger({ catalog, store: memoryStore() });
 * await ledger.createCustomer({ customerId: 'cus_123' });
 * await ledger.grant({ customerId: 'cus_123', currency: 'credits', amount: '100', source: 'top_up' });
 * await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
 */
export interface Ledger extends WriteMethods {
  readonly catalog: Catalog;
  /**
   * Would this usage be allowed now, and what would it cost? Writes nothing. Refused with
   * `unknown_customer`, `unknown_feature`, `invalid_quantity`.
   *
   * @example await ledger.check({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 })
   */
  check(input: read.CheckInput): Promise<CheckResult>;
  /** @example await ledger.customer({ customerId: 'cus_123' }) */
  customer(input: read.CustomerRef): Promise<CustomerResult>;
  /** One account per currency the customer holds. @example await ledger.creditAccounts({ customerId: 'cus_123' }) */
  creditAccounts(input: read.ReadInput): Promise<CreditAccount[]>;
  /** The statement, oldest first, with running balances. @example await ledger.entries({ customerId: 'cus_123', currency: 'credits' }) */
  entries(input: read.CurrencyReadInput): Promise<LedgerEntry[]>;
  /** Every grant, finished ones too. @example await ledger.grants({ customerId: 'cus_123', currency: 'credits' }) */
  grants(input: read.CurrencyReadInput): Promise<GrantView[]>;
  /** Every hold, finished ones too. @example await ledger.holds({ customerId: 'cus_123' }) */
  holds(input: read.ReadInput): Promise<HoldView[]>;
  /** @example await ledger.subscriptions({ customerId: 'cus_123' }) */
  subscriptions(input: read.ReadInput): Promise<SubscriptionView[]>;
  /** Recomputes the customer's hash chain. @example const { ok } = await ledger.verify({ customerId: 'cus_123' }) */
  verify(input: read.CustomerRef): Promise<VerifyResult>;
  /**
   * Closes the store. Calls that were in flight finish; any call after is refused with `ledger_closed`.
   *
   * @example await ledger.close()
   */
  close(): Promise<void>;
}

/**
 * How often the ledger snapshots a customer by default, in events. A snapshot holds only what is in
 * play, so writing one costs about what a write does; a cold read then folds fewer than this many
 * events past it.
 */
export const DEFAULT_SNAPSHOT_EVERY = 100;

/**
 * Opens a ledger on a store, pricing by a catalog. It caches customers' folded state in memory but
 * catches up with the store on every call, so any number of ledgers and processes may share one store.
 *
 * @example
 * const ledger = createLedger({ catalog, store: memoryStore() });
 * await ledger.createCustomer({ customerId: 'cus_123' });
 */
export function createLedger(options: LedgerOptions): Ledger {
  const { catalog, store } = options;
  const clock = options.clock ?? (() => new Date());
  const cache = new StreamCache(store, options.cacheSize ?? 10_000);
  const writer = new Writer({
    store,
    cache,
    catalog,
    clock,
    newId: options.ids ?? ulidIds(),
    maxAttempts: options.maxAttempts ?? 10,
    snapshotEvery: options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
  });
  let closed = false;
  const open = (): void => {
    if (closed)
      throw new TallyError('ledger_closed', 'this ledger is closed: open another with createLedger');
  };

  /** A command's method: validate, queue for the customer's writer, hand back a frozen result. */
  const method =
    (name: CommandName) =>
    async (input: unknown): Promise<unknown> => {
      open();
      const { idempotencyKey, ...parsed } = parseInput(commands[name].input, input);
      const command = { type: name, ...parsed } as Command;
      return freeze(await writer.submit(command, idempotencyKey), true);
    };
  // Built from the list, so a method can only ever run its own command; its type comes from it too.
  const writes = Object.fromEntries(
    (Object.keys(commands) as CommandName[]).map((name) => [name, method(name)]),
  ) as unknown as WriteMethods;

  /** The customer's state as of `atMs` (default now), with everything due by then folded in. */
  async function stateAt(
    customerId: string,
    atMs: number | null,
    options: { history?: boolean } = {},
  ): Promise<{ state: CustomerState; atMs: number; due: import('../events.js').RecordedEvent[] }> {
    const lastMsOf = (s: CustomerState) => (s.lastAt === '' ? 0 : Date.parse(s.lastAt));
    const head = await cache.load(customerId);
    let state = head.state;
    const lastMs = lastMsOf(state);
    const at = atMs ?? Math.max(clock().getTime(), lastMs);
    // A past instant is replayed from the start (and so holds its whole history); the finished grants
    // and holds the `grants` and `holds` views show are looked up when they are asked for.
    if (at < lastMs) state = await replayUntil(customerId, at);
    else if (options.history === true) state = (await cache.lookUp(customerId, head)).history;
    if (state.customer === null) {
      throw new TallyError(
        'unknown_customer',
        `no customer ${quote(customerId)}${atMs === null ? '' : ' at that time'}`,
        { field: 'customerId' },
      );
    }
    const advanced = await dueBy(state, at);
    return { state: advanced.state, atMs: at, due: advanced.events };
  }

  /** Folds only the events that happened by `atMs`: streams are in time order, so stop at the first later one. */
  async function replayUntil(customerId: string, atMs: number) {
    const events = await readRecorded(store, customerId);
    const until = events.findIndex((event) => Date.parse(event.at) > atMs);
    return foldAll(initialState(), until < 0 ? events : events.slice(0, until));
  }

  function currencies(state: CustomerState, currency: string | null): string[] {
    if (currency === null) return [...state.accounts.keys()].sort();
    if (!catalog.currencies.has(currency)) {
      throw new TallyError('unknown_currency', `the catalog has no currency ${quote(currency)}`, {
        field: 'currency',
      });
    }
    return [currency];
  }

  return {
    ...writes,
    catalog,

    async check(input) {
      open();
      const parsed = parseInput(read.checkInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, null);
      const price = priceUsage(state, catalog, parsed.feature, parsed.quantity);
      const account = state.accounts.get(price.currency.code);
      const { balance, spendable } =
        account === undefined
          ? { balance: 0n, spendable: 0n }
          : accountFigures(account, atMs, price.feature.key);
      const held = account?.held ?? 0n;
      const d = price.currency.decimals;
      return freeze(
        {
          allowed: price.cost <= spendable,
          currency: price.currency.code,
          cost: formatAmount(price.cost, d),
          available: formatAmount(balance - held, d),
          spendable: formatAmount(spendable, d),
        },
        true,
      );
    },

    async customer(input) {
      open();
      const { customerId } = parseInput(read.customerRef, input);
      const { state } = await stateAt(customerId, null);
      return freeze({ ...state.customer! }, true);
    },

    async creditAccounts(input) {
      open();
      const parsed = parseInput(read.readInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.at ?? null);
      return freeze(
        currencies(state, null).map((code) => accountView(state.accounts.get(code)!, atMs)),
        true,
      );
    },

    async entries(input) {
      open();
      const parsed = parseInput(read.currencyReadInput, input);
      const { state, atMs, due } = await stateAt(parsed.customerId, parsed.at ?? null);
      const events = [...(await readRecorded(store, parsed.customerId)), ...due];
      const lines = currencies(state, parsed.currency ?? null).flatMap((code) =>
        ledgerEntries(events, code, atMs),
      );
      if (parsed.currency === undefined) lines.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      return freeze(lines, true);
    },

    async grants(input) {
      open();
      const parsed = parseInput(read.currencyReadInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.at ?? null, { history: true });
      return freeze(
        currencies(state, parsed.currency ?? null).flatMap((code) => {
          const decimals = state.accounts.get(code)?.decimals ?? catalog.currencies.get(code)!.decimals;
          return grantsOf(state, code).map((g) => grantView(g, decimals, atMs));
        }),
        true,
      );
    },

    async holds(input) {
      open();
      const parsed = parseInput(read.readInput, input);
      const { state } = await stateAt(parsed.customerId, parsed.at ?? null, { history: true });
      return freeze(
        holdsOf(state).map((h) => holdView(h, state.accounts.get(h.currency)!.decimals)),
        true,
      );
    },

    async subscriptions(input) {
      open();
      const parsed = parseInput(read.readInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.at ?? null);
      return freeze(
        [...state.subscriptions.values()].map((s) => subscriptionView(s, atMs)),
        true,
      );
    },

    async verify(input) {
      open();
      const { customerId } = parseInput(read.customerRef, input);
      const events = await store.readStream(streamIdOf(customerId));
      // An empty stream is not a verified one: every row of it may have been deleted.
      if (events.length === 0) {
        throw new TallyError('unknown_customer', `no customer ${quote(customerId)}`, { field: 'customerId' });
      }
      return freeze(verifyStream(events), true);
    },

    async close() {
      closed = true;
      await store.close();
    },
  };
}
