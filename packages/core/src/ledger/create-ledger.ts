import { freeze } from 'immer';
import { advance } from '../advance.js';
import type { Catalog } from '../catalog.js';
import type { Command } from '../decide/commands.js';
import { featureCost, featureOf, type IdKind } from '../decide/context.js';
import type { CustomerResult } from '../decide/customer.js';
import type { GrantResult } from '../decide/grant.js';
import type { HoldResult } from '../decide/hold.js';
import type { SubscribeResult } from '../decide/subscription.js';
import type { ReversalResult, UsageResult } from '../decide/usage.js';
import { type LedgerEntry, ledgerEntries } from '../entries.js';
import { TallyError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import type { CreditsDeducted, RecordedEvent } from '../events.js';
import { ulidIds } from '../ids.js';
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
import type * as In from './api-types.js';
import { parseCheck, parseCommand, parseRead, parseReverseUsage, unknownCurrency } from './parse-input.js';
import { applyRecorded, readRecorded, StreamCache, streamIdOf } from './streams.js';
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
  /** Where "now" comes from; default the system clock. A stream's clock never runs backwards. */
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
  readonly cost: string;
  /** balance - held. */
  readonly available: string;
  /** available + the credit limit: the most a deduction may take now. */
  readonly spendable: string;
}

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
export interface Ledger {
  readonly catalog: Catalog;
  /** @example await ledger.createCustomer({ customerId: 'cus_123' }) */
  createCustomer(input: In.CreateCustomerInput): Promise<CustomerResult>;
  /** Activates a plan and grants its credits for the first cycle. @example await ledger.subscribe({ customerId: 'cus_123', planId: 'free' }) */
  subscribe(input: In.SubscribeInput): Promise<SubscribeResult>;
  /** @example await ledger.cancelSubscription({ customerId: 'cus_123', at: 'cycle_end' }) */
  cancelSubscription(input: In.CancelSubscriptionInput): Promise<SubscriptionView>;
  /** @example await ledger.changePlan({ customerId: 'cus_123', planId: 'pro' }) */
  changePlan(input: In.ChangePlanInput): Promise<SubscribeResult>;
  /** @example await ledger.grant({ customerId: 'cus_123', currency: 'credits', amount: '500', source: 'top_up' }) */
  grant(input: In.GrantInput): Promise<GrantResult>;
  /** @example await ledger.voidGrant({ customerId: 'cus_123', grantId, reason: 'chargeback' }) */
  voidGrant(input: In.VoidGrantInput): Promise<GrantView>;
  /** @example await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 }) */
  trackUsage(input: In.TrackUsageInput): Promise<UsageResult>;
  /** @example await ledger.reverseUsage({ customerId: 'cus_123', usageId, reason: 'failed job' }) */
  reverseUsage(input: In.ReverseUsageInput): Promise<ReversalResult>;
  /** @example const { holdId } = await ledger.hold({ customerId: 'cus_123', feature: 'ai-generation', quantity: 3 }) */
  hold(input: In.HoldInput): Promise<HoldResult>;
  /** @example await ledger.captureHold({ customerId: 'cus_123', holdId, quantity: 2 }) */
  captureHold(input: In.CaptureHoldInput): Promise<UsageResult>;
  /** @example await ledger.releaseHold({ customerId: 'cus_123', holdId }) */
  releaseHold(input: In.ReleaseHoldInput): Promise<HoldResult>;
  /** @example await ledger.setCreditLimit({ customerId: 'cus_123', currency: 'credits', limit: '50' }) */
  setCreditLimit(input: In.SetCreditLimitInput): Promise<CreditAccount>;
  /** Would this usage be allowed now? Writes nothing. @example await ledger.check({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 }) */
  check(input: In.CheckInput): Promise<CheckResult>;
  /** @example await ledger.customer({ customerId: 'cus_123' }) */
  customer(input: In.CustomerRef): Promise<CustomerResult>;
  /** One account per currency the customer holds. @example await ledger.creditAccounts({ customerId: 'cus_123' }) */
  creditAccounts(input: In.ReadInput): Promise<CreditAccount[]>;
  /** The statement, oldest first, with running balances. @example await ledger.entries({ customerId: 'cus_123', currency: 'credits' }) */
  entries(input: In.CurrencyReadInput): Promise<LedgerEntry[]>;
  /** @example await ledger.grants({ customerId: 'cus_123', currency: 'credits' }) */
  grants(input: In.CurrencyReadInput): Promise<GrantView[]>;
  /** @example await ledger.holds({ customerId: 'cus_123' }) */
  holds(input: In.ReadInput): Promise<HoldView[]>;
  /** @example await ledger.subscriptions({ customerId: 'cus_123' }) */
  subscriptions(input: In.ReadInput): Promise<SubscriptionView[]>;
  /** Recomputes the customer's hash chain. @example const { ok } = await ledger.verify({ customerId: 'cus_123' }) */
  verify(input: In.CustomerRef): Promise<VerifyResult>;
  /** Closes the store. */
  close(): Promise<void>;
}

/**
 * How often the ledger snapshots a customer by default, in events. A snapshot leaves out the grants
 * out of play (most of a long history), so writing one costs about what a write does; a cold read then
 * folds fewer than this many events past it.
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

  async function write<R>(type: Exclude<Command['type'], 'reverseUsage'>, input: unknown): Promise<R> {
    const parsed = parseCommand(type, input, catalog);
    return freeze((await writer.submit(parsed.customerId, parsed.command, parsed.idempotencyKey)) as R, true);
  }

  /** The customer's state as of `atMs` (default now), with everything due by then folded in. */
  async function stateAt(
    customerId: string,
    atMs: number | null,
    options: { archive?: boolean } = {},
  ): Promise<{ state: CustomerState; atMs: number; due: RecordedEvent[] }> {
    const lastMsOf = (s: CustomerState) => (s.lastAt === '' ? 0 : Date.parse(s.lastAt));
    let state = (await cache.load(customerId)).state;
    // What is out of play matters only to the grants and holds views, and a past instant is replayed
    // whole anyway.
    if (options.archive === true && !state.archive.complete && (atMs === null || atMs >= lastMsOf(state)))
      state = (await cache.load(customerId, { complete: true })).state;
    const lastMs = lastMsOf(state);
    const at = atMs ?? Math.max(clock().getTime(), lastMs);
    if (at < lastMs) state = await replayUntil(customerId, at);
    if (state.customer === null) {
      throw new TallyError(
        'unknown_customer',
        `no customer ${quote(customerId)}${atMs === null ? '' : ' at that time'}`,
        {
          field: 'customerId',
        },
      );
    }
    const advanced = advance(state, at);
    return { state: advanced.state, atMs: at, due: advanced.events };
  }

  /** Folds only the events that happened by `atMs`: streams are in time order, so stop at the first later one. */
  async function replayUntil(customerId: string, atMs: number) {
    const state = initialState();
    for (const event of await readRecorded(store, customerId)) {
      if (Date.parse(event.at) > atMs) break;
      applyRecorded(state, event);
    }
    return state;
  }

  function currencies(state: CustomerState, currency: string | null): string[] {
    if (currency === null) return [...state.accounts.keys()].sort();
    if (!catalog.currencies.has(currency)) throw unknownCurrency(currency);
    return [currency];
  }

  return {
    catalog,
    createCustomer: (input) => write('createCustomer', input),
    subscribe: (input) => write('subscribe', input),
    cancelSubscription: (input) => write('cancelSubscription', input),
    changePlan: (input) => write('changePlan', input),
    grant: (input) => write('grant', input),
    voidGrant: (input) => write('voidGrant', input),
    trackUsage: (input) => write('trackUsage', input),
    hold: (input) => write('hold', input),
    captureHold: (input) => write('captureHold', input),
    releaseHold: (input) => write('releaseHold', input),
    setCreditLimit: (input) => write('setCreditLimit', input),

    async reverseUsage(input) {
      const parsed = parseReverseUsage(input);
      // Reversals are rare; finding the deduction in the stream keeps every usage out of the hot state.
      const events = await readRecorded(store, parsed.customerId);
      const found = events.find(
        (e): e is RecordedEvent & CreditsDeducted =>
          e.type === 'credits_deducted' && e.data.usageId === parsed.usageId,
      );
      const command: Command = {
        type: 'reverseUsage',
        usageId: parsed.usageId,
        reason: parsed.reason,
        usage: found?.data ?? null,
      };
      return freeze(
        (await writer.submit(parsed.customerId, command, parsed.idempotencyKey)) as ReversalResult,
        true,
      );
    },

    async check(input) {
      const parsed = parseCheck(input);
      const { state, atMs } = await stateAt(parsed.customerId, null);
      const { currency, cost } = featureCost(catalog, featureOf(catalog, parsed.feature), parsed.quantity);
      const account = state.accounts.get(currency.code);
      const { balance, spendable } =
        account === undefined ? { balance: 0n, spendable: 0n } : accountFigures(account, atMs);
      const held = account?.held ?? 0n;
      const d = currency.decimals;
      return freeze(
        {
          allowed: cost <= spendable,
          currency: currency.code,
          cost: formatAmount(cost, d),
          available: formatAmount(balance - held, d),
          spendable: formatAmount(spendable, d),
        },
        true,
      );
    },

    async customer(input) {
      const { customerId } = parseRead(input);
      const { state } = await stateAt(customerId, null);
      return freeze({ ...state.customer! }, true);
    },

    async creditAccounts(input) {
      const parsed = parseRead(input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.atMs);
      return freeze(
        currencies(state, null).map((code) => accountView(state.accounts.get(code)!, atMs)),
        true,
      );
    },

    async entries(input) {
      const parsed = parseRead(input);
      const { state, atMs, due } = await stateAt(parsed.customerId, parsed.atMs);
      const events = [...(await readRecorded(store, parsed.customerId)), ...due];
      const lines = currencies(state, parsed.currency).flatMap((code) => ledgerEntries(events, code, atMs));
      if (parsed.currency === null) lines.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      return freeze(lines, true);
    },

    async grants(input) {
      const parsed = parseRead(input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.atMs, { archive: true });
      return freeze(
        currencies(state, parsed.currency).flatMap((code) => {
          const decimals = state.accounts.get(code)?.decimals ?? catalog.currencies.get(code)!.decimals;
          return grantsOf(state, code).map((g) => grantView(g, decimals, atMs));
        }),
        true,
      );
    },

    async holds(input) {
      const parsed = parseRead(input);
      const { state } = await stateAt(parsed.customerId, parsed.atMs, { archive: true });
      return freeze(
        holdsOf(state).map((h) => holdView(h, state.accounts.get(h.currency)!.decimals)),
        true,
      );
    },

    async subscriptions(input) {
      const parsed = parseRead(input);
      const { state, atMs } = await stateAt(parsed.customerId, parsed.atMs);
      return freeze(
        [...state.subscriptions.values()].map((s) => subscriptionView(s, atMs)),
        true,
      );
    },

    async verify(input) {
      const { customerId } = parseRead(input);
      const events = await store.readStream(streamIdOf(customerId));
      // An empty stream is not a verified one: every row of it may have been deleted.
      if (events.length === 0) {
        throw new TallyError('unknown_customer', `no customer ${quote(customerId)}`, { field: 'customerId' });
      }
      return freeze(verifyStream(events), true);
    },

    close: () => store.close(),
  };
}
