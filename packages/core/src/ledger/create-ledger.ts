import { z } from 'zod';
import { type CatalogChange, catalogInputs, decideCatalog, syncEvents } from '../catalog/changes.js';
import type { CatalogInput } from '../catalog/define.js';
import { defineCatalog } from '../catalog/define.js';
import type { Catalog, Currency } from '../catalog/index.js';
import { type CatalogView, catalogView, type FeatureView, type PlanView } from '../catalog/views.js';
import type { InputOf, ResultOf } from '../decide/command.js';
import type { Command, CommandName, Commands } from '../decide/commands.js';
import { commands } from '../decide/commands.js';
import type { IdKind } from '../decide/context.js';
import type { CustomerResult } from '../decide/customer.js';
import { priceUsage } from '../decide/pricing.js';
import { TallyError } from '../errors.js';
import { type EventStore, partitionsOf } from '../event-store.js';
import { ulidIds } from '../ids.js';
import * as field from '../input/fields.js';
import { parseInput } from '../input/parse.js';
import { formatAmount, quote } from '../money.js';
import { type CustomerState, initialState } from '../state.js';
import type { TimeInput } from '../time.js';
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
import { codeCatalog, storedCatalog } from './catalog-source.js';
import { deepFreeze } from './deep-freeze.js';
import { dueBy } from './due.js';
import { DEFAULT_PAGE_SIZE, type EntriesInput, entriesInput } from './entries-inputs.js';
import {
  type EntriesPage,
  eventsBetween,
  readPage,
  type StatementSource,
  type StatementWindow,
  statementPages,
} from './entry-pages.js';
import { csvHeader, csvLine, ndjsonLine } from './export-format.js';
import { checkLedgerOptions } from './ledger-options.js';
import { racePolicy } from './lost-races.js';
import * as read from './read-inputs.js';
import { type ExportInput, exportInput, type UsageSummaryInput, usageSummaryInput } from './report-inputs.js';
import { foldAll, readRecorded, StreamCache, streamIdOf } from './streams.js';
import { type UsageSummary, UsageTally } from './usage-summary.js';
import { type VerifyResult, verifyStream } from './verify.js';
import { Writer } from './writer.js';

/**
 * What `createLedger` needs: the store that keeps the events and, for a catalog defined in code, that
 * catalog. Without `catalog` the ledger keeps its catalog in the store, built and changed through its
 * catalog methods (`defineCurrency`, `definePlan`…) and seen by every process on the store. The rest
 * have defaults: clock and ids are for tests, the sizes tune memory and replay time. An option it
 * does not know (a typo such as `snapshotEvry`) or a bad value is refused with `invalid_input` naming
 * the option, before anything is opened.
 *
 * @example
 * const ledger = createLedger({
 *   catalog, store: memoryStore(), clock: () => new Date('2025-01-01T00:00:00Z'), snapshotEvery: 100,
 * });
 */
export interface LedgerOptions {
  /** A catalog defined in code (`defineCatalog`); leave it out to keep the catalog in the store. */
  readonly catalog?: Catalog;
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
  /** Write a snapshot every this many events per customer, a positive integer (`Infinity`: never); default 25. */
  readonly snapshotEvery?: number;
  /**
   * Most appends one write tries while other processes keep winning the race, a positive integer;
   * default no count, only `conflictRetryMs`. Set it to give up sooner (1: never retry a lost race).
   */
  readonly maxAttempts?: number;
  /**
   * How long a write keeps retrying races lost to other processes, in ms from its first attempt,
   * before it gives up with `concurrency_conflict` (having written nothing); default 2,000. Between
   * tries it backs off exponentially (2 ms doubling up to 64 ms) with full jitter. 0 gives up at the
   * first lost race. A finite number ≥ 0.
   */
  readonly conflictRetryMs?: number;
  /** Customers whose folded state stays in memory, an integer ≥ 0 (`Infinity`: no limit); default 10,000. */
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
 * The answer of `ledger.settleDue`: how many due events it stored, and when the customer next has
 * something due (the instant the feed's time index waits for).
 *
 * @example
 * const { settled, nextDueAt } = await ledger.settleDue({ customerId: 'cus_123' });
 * // settled: 1 (a grant_expired), nextDueAt: '2025-03-01T00:00:00.000Z' (the next renewal)
 */
export interface SettleDueResult {
  /** Due events this call stored (0 when none were due, or another process stored them first). */
  readonly settled: number;
  /** The customer's stream version after them. */
  readonly version: number;
  /** ISO-8601; null when nothing is scheduled. */
  readonly nextDueAt: string | null;
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
export interface Ledger extends WriteMethods, CatalogMethods {
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
  /**
   * A page of the statement, each line with the running balance after it: oldest first by default,
   * or `order: 'newest_first'`; `limit` lines (default 100, at most 1,000) from `cursor` (a page's
   * `nextCursor`, with the same filters), between `from` (inclusive) and `to` (exclusive). A page
   * costs about what it holds, however long the history: the latest page of a million-event customer
   * reads about what a new customer's does.
   *
   * @example
   * const { data, nextCursor } = await ledger.entries({ customerId: 'cus_123', currency: 'credits', order: 'newest_first' });
   */
  entries(input: EntriesInput): Promise<EntriesPage>;
  /**
   * The statement of one customer, or of every customer (without `customerId`: in the order they
   * first appear in the store's log), as CSV or NDJSON text chunks of up to a thousand lines each,
   * oldest first with running balances. It reads a page at a time, so memory stays flat however long
   * the history; each customer's lines are those stored when its turn comes. A refusal (bad input,
   * an unknown customer) rejects the first chunk, before any text.
   *
   * @example
   * for await (const chunk of ledger.exportEntries({ customerId: 'cus_123', format: 'csv' })) process.stdout.write(chunk);
   */
  exportEntries(input: ExportInput): AsyncIterable<string>;
  /**
   * Credits spent between `from` and `to`, net of reversals, by feature or by UTC day or month, each
   * group with the grants it came out of (a burn-down). Reads only the window's slice of the stream.
   *
   * @example
   * const { totals, groups } = await ledger.usageSummary({ customerId: 'cus_123', from: '2025-03-01', to: '2025-04-01', groupBy: 'feature' });
   */
  usageSummary(input: UsageSummaryInput): Promise<UsageSummary>;
  /** Every grant, finished ones too. @example await ledger.grants({ customerId: 'cus_123', currency: 'credits' }) */
  grants(input: read.CurrencyReadInput): Promise<GrantView[]>;
  /** Every hold, finished ones too. @example await ledger.holds({ customerId: 'cus_123' }) */
  holds(input: read.ReadInput): Promise<HoldView[]>;
  /** @example await ledger.subscriptions({ customerId: 'cus_123' }) */
  subscriptions(input: read.ReadInput): Promise<SubscriptionView[]>;
  /**
   * Stores now what time alone has made due for the customer (expiries, renewals, holds timing out,
   * unpaid cycles ending) — what reads fold without writing — so it is in the store, and the feed, at
   * its instant even if nothing else happens to the customer. The feed's time index calls it (see
   * `ledgerDue`); the events are the ones the next write would have stored, with the same ids.
   * Refused with `unknown_customer`.
   *
   * @example const { settled, nextDueAt } = await ledger.settleDue({ customerId: 'cus_123' })
   */
  settleDue(input: read.CustomerRef): Promise<SettleDueResult>;
  /** Recomputes the customer's hash chain. @example const { ok } = await ledger.verify({ customerId: 'cus_123' }) */
  verify(input: read.CustomerRef): Promise<VerifyResult>;
  /**
   * Closes the store. Calls that were in flight finish; any call after is refused with `ledger_closed`.
   *
   * @example await ledger.close()
   */
  close(): Promise<void>;
}

/** A catalog change's input, by its method. */
type CatalogInputOf<K extends keyof typeof catalogInputs> = z.input<(typeof catalogInputs)[K]>;

/**
 * The ledger's catalog: read as of an instant, and (for a catalog kept in the store) changed over
 * time. Each change takes effect at `effectiveAt` (default now, never in the past): a usage is priced
 * by the price in force when it is tracked, a subscription keeps the terms it started on (unless a
 * version is published for renewals), a new plan version applies to new subscriptions. A change that
 * is already so writes nothing; one that would rewrite history is refused with `invalid_catalog`.
 *
 * @example
 * const ledger = createLedger({ store }); // no catalog: it is kept in the store
 * await ledger.defineCurrency({ code: 'credits', decimals: 0 });
 * const { version } = await ledger.catalog();
 */
export interface CatalogMethods {
  /** The catalog as of `at` (default now), with every price and plan version. @example await ledger.catalog() */
  catalog(input?: { readonly at?: TimeInput | null }): Promise<CatalogView>;
  /** Defines a currency; its code, places and rounding never change after. @example await ledger.defineCurrency({ code: 'credits', decimals: 0 }) */
  defineCurrency(input: CatalogInputOf<'defineCurrency'>): Promise<Currency>;
  /** Defines a feature and its first price. @example await ledger.defineFeature({ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }) */
  defineFeature(input: CatalogInputOf<'defineFeature'>): Promise<FeatureView>;
  /** Changes a feature's price from `effectiveAt` on. @example await ledger.updateFeature({ key: 'ai-generation', perUnit: '12' }) */
  updateFeature(input: CatalogInputOf<'updateFeature'>): Promise<FeatureView>;
  /** Defines a plan (its version 1). @example await ledger.definePlan({ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }) */
  definePlan(input: CatalogInputOf<'definePlan'>): Promise<PlanView>;
  /** Publishes new terms of a plan, for new subscriptions or (`appliesTo: 'renewals'`) at renewals too. @example await ledger.publishPlanVersion({ planId: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '150' }], appliesTo: 'renewals' }) */
  publishPlanVersion(input: CatalogInputOf<'publishPlanVersion'>): Promise<PlanView>;
  /** No new subscriptions to a plan from `effectiveAt` on; running ones go on. @example await ledger.archivePlan({ planId: 'legacy' }) */
  archivePlan(input: CatalogInputOf<'archivePlan'>): Promise<PlanView>;
  /**
   * Brings the stored catalog in line with one written in code, at deploy: defines what is new,
   * reprices and publishes what changed, writes nothing when all matches. Refuses, writing nothing,
   * a change that would rewrite history (a currency's places, a feature's currency).
   *
   * @example await ledger.syncCatalog(catalogInput) // the same input as defineCatalog takes
   */
  syncCatalog(input: CatalogInput): Promise<CatalogView>;
}

const catalogRead = z.strictObject({ at: field.time.nullish() });

/**
 * How often the ledger snapshots a customer by default, in events. A snapshot holds only what is in
 * play, so writing one costs about what a write does, and a cold read folds fewer than this many
 * events past it (12 on average). The tail is most of a cache miss's time on a durable store (reading
 * and parsing each event), so it is kept short: at 25, writes measured the same as at 100 (bench/README.md).
 */
export const DEFAULT_SNAPSHOT_EVERY = 25;

/**
 * Opens a ledger on a store, pricing by a catalog. It caches customers' folded state in memory but
 * catches up with the store on every call, so any number of ledgers and processes may share one store.
 *
 * @example
 * const ledger = createLedger({ catalog, store: memoryStore() });
 * await ledger.createCustomer({ customerId: 'cus_123' });
 */
export function createLedger(options: LedgerOptions): Ledger {
  checkLedgerOptions(options);
  const { store } = options;
  const clock = options.clock ?? (() => new Date());
  const newId = options.ids ?? ulidIds();
  const catalogs =
    options.catalog === undefined ? storedCatalog(store, clock, newId) : codeCatalog(options.catalog);
  const cache = new StreamCache(store, options.cacheSize ?? 10_000);
  const writer = new Writer({
    store,
    cache,
    catalogs,
    clock,
    newId,
    races: racePolicy(options),
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
      return deepFreeze(await writer.submit(command, idempotencyKey));
    };
  /**
   * A stored catalog as reads see it: caught up at the first read, then at most a second behind what
   * other processes changed (writes are exact: they are guarded on the catalog version).
   */
  let catalogReadAtMs = Number.NEGATIVE_INFINITY;
  async function freshEnoughCatalog(): Promise<void> {
    const nowMs = Date.now();
    if (!catalogs.stored || nowMs - catalogReadAtMs < 1_000) return;
    await catalogs.refresh();
    catalogReadAtMs = nowMs;
  }

  /** The customer's state as of `atMs` (default now), with everything due by then folded in. */
  async function stateAt(
    customerId: string,
    atMs: number | null,
    options: { history?: boolean } = {},
  ): Promise<{ state: CustomerState; atMs: number; due: import('../events.js').RecordedEvent[] }> {
    const lastMsOf = (s: CustomerState) => (s.lastAt === '' ? 0 : Date.parse(s.lastAt));
    await freshEnoughCatalog();
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
    const advanced = await dueBy(state, at, catalogs.at(at));
    return { state: advanced.state, atMs: at, due: advanced.events };
  }

  /** What a statement read reads: the customer's stream as of `at`, narrowed to a currency and a window. */
  async function statementOf(filter: {
    customerId: string;
    currency?: string | undefined;
    from?: number | null | undefined;
    to?: number | null | undefined;
    at?: number | null | undefined;
  }): Promise<{ source: StatementSource; window: StatementWindow; state: CustomerState }> {
    if (filter.from != null && filter.to != null && filter.to <= filter.from)
      throw new TallyError('invalid_time', 'to must be after from', { field: 'to' });
    const { state, atMs, due } = await stateAt(filter.customerId, filter.at ?? null);
    const codes = currencies(state, filter.currency ?? null);
    const endBalances = new Map<string, bigint>();
    for (const code of codes) {
      const account = state.accounts.get(code);
      endBalances.set(code, account === undefined ? 0n : accountFigures(account, atMs, null).balance);
    }
    const source: StatementSource = {
      store,
      streamId: streamIdOf(filter.customerId),
      customerId: filter.customerId,
      top: state.version - due.length,
      due,
      deferred: state.deferred,
      decimals: (code) => state.accounts.get(code)?.decimals ?? catalogs.currency(code)?.decimals ?? 0,
      endBalances,
      atMs,
      lastAtMs: state.lastAt === '' ? 0 : Date.parse(state.lastAt),
    };
    const window: StatementWindow = {
      currency: filter.currency ?? null,
      fromMs: filter.from ?? Number.NEGATIVE_INFINITY,
      toMs: Math.min(filter.to == null ? Number.POSITIVE_INFINITY : filter.to - 1, atMs),
    };
    return { source, window, state };
  }

  /** Every customer id in the store, in the order of its first event in the log (one partition after another). */
  async function* customerIds(): AsyncGenerator<string> {
    const seen = new Set<string>();
    for (const partition of await partitionsOf(store)) {
      let after = 0n;
      for (;;) {
        const events = await store.readAll({ partition, after, limit: 1_000 });
        if (events.length === 0) break;
        for (const event of events) {
          after = event.position;
          if (!event.streamId.startsWith(streamIdOf(''))) continue;
          const customerId = event.streamId.slice(streamIdOf('').length);
          if (seen.has(customerId)) continue;
          seen.add(customerId);
          yield customerId;
        }
      }
    }
  }

  async function* exportChunks(input: unknown): AsyncGenerator<string> {
    open();
    const parsed = parseInput(exportInput, input);
    const line = parsed.format === 'csv' ? csvLine : ndjsonLine;
    let header = parsed.format === 'csv' ? csvHeader() : '';
    const filter = { currency: parsed.currency, from: parsed.from, to: parsed.to };
    // One customer's statement is opened before the first chunk, so its refusals come before any text.
    const first =
      parsed.customerId === undefined
        ? null
        : await statementOf({ customerId: parsed.customerId, ...filter });
    const ids = parsed.customerId === undefined ? customerIds() : [parsed.customerId];
    for await (const customerId of ids) {
      open();
      const { source, window } = first ?? (await statementOf({ customerId, ...filter }));
      for await (const page of statementPages(source, window, 1_000)) {
        yield header + page.map((entry) => line(customerId, entry)).join('');
        header = '';
      }
    }
    if (header !== '') yield header;
  }

  /** Folds only the events that happened by `atMs`: streams are in time order, so stop at the first later one. */
  async function replayUntil(customerId: string, atMs: number) {
    const events = await readRecorded(store, customerId);
    const until = events.findIndex((event) => Date.parse(event.at) > atMs);
    return foldAll(initialState(), until < 0 ? events : events.slice(0, until));
  }

  function currencies(state: CustomerState, currency: string | null): string[] {
    if (currency === null) return [...state.accounts.keys()].sort();
    if (catalogs.currency(currency) === undefined) {
      throw new TallyError('unknown_currency', `the catalog has no currency ${quote(currency)}`, {
        field: 'currency',
      });
    }
    return [currency];
  }

  /** A catalog change's method: validate, decide on the latest catalog, append, answer its view. */
  const change =
    <K extends keyof typeof catalogInputs, R>(
      name: K,
      view: (catalog: CatalogView, input: z.output<(typeof catalogInputs)[K]>) => R,
    ) =>
    async (input: unknown): Promise<R> => {
      open();
      // One schema per change; the union of them is what a generic K reads as.
      const schema = catalogInputs[name] as unknown as z.ZodType<z.output<(typeof catalogInputs)[K]>>;
      const parsed = parseInput(schema, input, { code: 'invalid_catalog' });
      const { nowMs } = await catalogs.change((timeline, now) =>
        decideCatalog(timeline, { type: name, ...parsed } as CatalogChange, now),
      );
      const asked = (parsed as { effectiveAt?: number | null }).effectiveAt;
      const effective = typeof asked === 'number' ? asked : nowMs;
      return deepFreeze(view(viewAt(effective), parsed));
    };
  const viewAt = (atMs: number): CatalogView => catalogView(catalogs.at(atMs), catalogs.timeline(), atMs);
  const one = <T extends { readonly id?: string; readonly key?: string; readonly code?: string }>(
    list: readonly T[],
    match: (entry: T) => boolean,
    what: string,
  ): T => {
    const found = list.find(match);
    if (found === undefined)
      throw new TallyError('invalid_catalog', `${what} is not in force at that instant`);
    return found;
  };

  const ledger: Omit<Ledger, CommandName> = {
    async catalog(input = {}) {
      open();
      const parsed = parseInput(catalogRead, input);
      await catalogs.refresh();
      return deepFreeze(viewAt(parsed.at ?? clock().getTime()));
    },
    defineCurrency: change('defineCurrency', (view, c) =>
      one(view.currencies, (x) => x.code === c.code, c.code),
    ),
    defineFeature: change('defineFeature', (view, f) => one(view.features, (x) => x.key === f.key, f.key)),
    updateFeature: change('updateFeature', (view, f) => one(view.features, (x) => x.key === f.key, f.key)),
    definePlan: change('definePlan', (view, p) => one(view.plans, (x) => x.id === p.id, p.id)),
    publishPlanVersion: change('publishPlanVersion', (view, p) =>
      one(view.plans, (x) => x.id === p.planId, p.planId),
    ),
    archivePlan: change('archivePlan', (view, p) => one(view.plans, (x) => x.id === p.planId, p.planId)),
    async syncCatalog(input) {
      open();
      // The whole input is checked as `defineCatalog` checks it before anything is decided.
      defineCatalog(input);
      const { nowMs } = await catalogs.change((timeline, now) => syncEvents(timeline, input, now));
      return deepFreeze(viewAt(nowMs));
    },

    async check(input) {
      open();
      const parsed = parseInput(read.checkInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, null);
      await catalogs.refresh();
      const price = priceUsage(state, catalogs.at(atMs), parsed.feature, parsed.quantity);
      const account = state.accounts.get(price.currency.code);
      const { balance, spendable } =
        account === undefined
          ? { balance: 0n, spendable: 0n }
          : accountFigures(account, atMs, price.feature.key);
      const held = account?.held ?? 0n;
      const d = price.currency.decimals;
      return deepFreeze({
        allowed: price.cost <= spendable,
        currency: price.currency.code,
        cost: formatAmount(price.cost, d),
        available: formatAmount(balance - held, d),
        spendable: formatAmount(spendable, d),
      });
    },

    async customer(input) {
      open();
      const { customerId } = parseInput(read.customerRef, input);
      const { state } = await stateAt(customerId, null);
      return deepFreeze({ ...state.customer! });
    },

    async creditAccounts(input) {
      open();
      const parsed = parseInput(read.readInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.at ?? null);
      return deepFreeze(currencies(state, null).map((code) => accountView(state.accounts.get(code)!, atMs)));
    },

    async entries(input) {
      open();
      const parsed = parseInput(entriesInput, input);
      const { source, window } = await statementOf(parsed);
      const scope = JSON.stringify([
        parsed.customerId,
        parsed.currency ?? null,
        parsed.from ?? null,
        parsed.to ?? null,
        parsed.at ?? null,
      ]);
      const page = await readPage(
        source,
        window,
        {
          order: parsed.order ?? 'oldest_first',
          limit: parsed.limit ?? DEFAULT_PAGE_SIZE,
          cursor: parsed.cursor ?? null,
        },
        scope,
      );
      return deepFreeze(page);
    },

    exportEntries(input) {
      return exportChunks(input);
    },

    async usageSummary(input) {
      open();
      const parsed = parseInput(usageSummaryInput, input);
      const { source, state } = await statementOf({
        customerId: parsed.customerId,
        currency: parsed.currency,
        from: parsed.from,
        to: parsed.to,
      });
      const spending = new UsageTally(parsed.groupBy, parsed.currency ?? null);
      for await (const event of eventsBetween(source, parsed.from, Math.min(parsed.to - 1, source.atMs)))
        spending.add(event);
      // Grants in play are in the state; a finished one is looked up in the history, once.
      const sources = new Map([...state.grants.values()].map((g) => [g.grantId, g.source]));
      if ([...spending.grantIds].some((id) => !sources.has(id))) {
        const { history } = await cache.lookUp(parsed.customerId, await cache.load(parsed.customerId));
        for (const g of [...history.grants.values(), ...history.recalled.grants.values()])
          sources.set(g.grantId, g.source);
      }
      const result = spending.result(source.decimals, (id) => sources.get(id) ?? null);
      return deepFreeze({
        customerId: parsed.customerId,
        from: new Date(parsed.from).toISOString(),
        to: new Date(parsed.to).toISOString(),
        groupBy: parsed.groupBy,
        ...result,
      });
    },

    async grants(input) {
      open();
      const parsed = parseInput(read.currencyReadInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.at ?? null, { history: true });
      return deepFreeze(
        currencies(state, parsed.currency ?? null).flatMap((code) => {
          const decimals = state.accounts.get(code)?.decimals ?? catalogs.currency(code)!.decimals;
          return grantsOf(state, code).map((g) => grantView(g, decimals, atMs));
        }),
      );
    },

    async holds(input) {
      open();
      const parsed = parseInput(read.readInput, input);
      const { state } = await stateAt(parsed.customerId, parsed.at ?? null, { history: true });
      return deepFreeze(holdsOf(state).map((h) => holdView(h, state.accounts.get(h.currency)!.decimals)));
    },

    async subscriptions(input) {
      open();
      const parsed = parseInput(read.readInput, input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.at ?? null);
      return deepFreeze([...state.subscriptions.values()].map((s) => subscriptionView(s, atMs)));
    },

    async settleDue(input) {
      open();
      const { customerId } = parseInput(read.customerRef, input);
      await freshEnoughCatalog();
      const settled = await writer.settleDue(customerId);
      return deepFreeze({
        settled: settled.events,
        version: settled.version,
        nextDueAt: settled.nextDueAtMs === null ? null : new Date(settled.nextDueAtMs).toISOString(),
      });
    },

    async verify(input) {
      open();
      const { customerId } = parseInput(read.customerRef, input);
      const events = await store.readStream(streamIdOf(customerId));
      // An empty stream is not a verified one: every row of it may have been deleted.
      if (events.length === 0) {
        throw new TallyError('unknown_customer', `no customer ${quote(customerId)}`, { field: 'customerId' });
      }
      return deepFreeze(verifyStream(events));
    },

    async close() {
      closed = true;
      await store.close();
    },
  };
  // Built from the list, so a method can only ever run its own command; its type comes from it too.
  // Added one by one, not spread into the literal above: spreading them in made every createLedger
  // take about 50 µs (V8's slow path for the copy), 90% of opening a ledger.
  const writes = ledger as Omit<Ledger, CommandName> & Record<CommandName, unknown>;
  for (const name of Object.keys(commands) as CommandName[]) writes[name] = method(name);
  return writes as Ledger;
}
