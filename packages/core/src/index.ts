export { advance } from './advance.js';
export type { Archive, ArchivedMap } from './archive.js';
export type {
  Catalog,
  CatalogInput,
  Currency,
  CurrencyInput,
  Feature,
  FeatureInput,
  Plan,
  PlanGrantInput,
  PlanGrantRule,
  PlanInput,
} from './catalog.js';
export { defineCatalog } from './catalog.js';
export { consumptionOrder } from './consumption-order.js';
export type {
  CancelSubscription,
  CaptureHold,
  ChangePlan,
  CreateCustomer,
  Grant,
  Hold,
  ReleaseHold,
  ReverseUsage,
  SetCreditLimit,
  Subscribe,
  TrackUsage,
  VoidGrant,
} from './decide/commands.js';
export type { IdKind } from './decide/context.js';
export type { CustomerResult } from './decide/customer.js';
export type { GrantResult } from './decide/grant.js';
export type { HoldResult } from './decide/hold.js';
export { type Command, type DecideContext, type Decided, decide } from './decide/index.js';
export type { SubscribeResult } from './decide/subscription.js';
export type { ReversalResult, UsageResult } from './decide/usage.js';
export { type EntryKind, type LedgerEntry, ledgerEntries } from './entries.js';
export * from './errors.js';
export * from './event-store.js';
export type * from './events.js';
export { EVENT_TYPES } from './events.js';
export { applyEvent, evolve, fold } from './evolve.js';
export type * from './ledger/api-types.js';
export { type CheckResult, createLedger, type Ledger, type LedgerOptions } from './ledger/create-ledger.js';
export type { VerifyResult } from './ledger/verify.js';
export { MAX_EVENTS_PER_APPEND } from './ledger/writer.js';
export type { Rounding } from './money.js';
export type { AccountState, CustomerInfo, GrantState, HoldState, SubscriptionState } from './state.js';
export { type CustomerState, initialState } from './state.js';
export type { Interval, TimeInput } from './time.js';
export { CURRENT_SCHEMA_VERSIONS, upcast } from './upcast.js';
export type { CreditAccount, GrantStatus, GrantView, HoldView, SubscriptionView } from './views.js';
