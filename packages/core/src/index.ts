/**
 * `@tally/core`: an event-sourced credit ledger. `createLedger` over a catalog (`defineCatalog`) and
 * an `EventStore` is the whole API a service needs; the pure decider it is built on (`fold`, `decide`,
 * `advance`…) is in `@tally/core/pure`, for those who build on it.
 *
 * @example
 * import { createLedger, defineCatalog } from '@tally/core';
 * import { memoryStore } from '@tally/store-memory';
 *
 * const ledger = createLedger({ catalog: defineCatalog(config), store: memoryStore() });
 * await ledger.createCustomer({ customerId: 'cus_123' });
 *
 * @packageDocumentation
 */

export type {
  AlertEvent,
  AlertThreshold,
  BalanceAlertRearmed,
  BalanceAlertSet,
  BalanceAlertTriggered,
  CreditsExpiring,
} from './alerts/events.js';
export type {
  AutoTopUpCompleted,
  AutoTopUpEvent,
  AutoTopUpFailed,
  AutoTopUpRequested,
  AutoTopUpSet,
  TopUpCap,
} from './auto-top-up/events.js';
export type {
  Catalog,
  CatalogInput,
  Currency,
  CurrencyInput,
  Feature,
  FeatureInput,
  Money,
  Plan,
  PlanGrantInput,
  PlanGrantRule,
  PlanInput,
  PlanTerms,
  Scope,
} from './catalog/index.js';
// The catalog
export { defineCatalog } from './catalog/index.js';
export type { CatalogView, FeatureView, PlanView } from './catalog/views.js';
// The feed: consumers of the global order, and what stores keep for them
export * from './consumer-store.js';
export type { BalanceAlertView, Evaluated } from './decide/alerts.js';
export type { AutoTopUpView } from './decide/auto-top-up.js';
export type { IdKind } from './decide/context.js';
export type { CustomerResult } from './decide/customer.js';
export type { GrantResult } from './decide/grant.js';
export type { HoldResult } from './decide/hold.js';
export type { Started, SubscribeResult } from './decide/subscription.js';
export type { ReversalResult, UsageResult } from './decide/usage.js';
export type { EntryKind, LedgerEntry } from './entries.js';
// Errors
export { isTallyError, TALLY_ERROR_CODES, TallyError, type TallyErrorCode } from './errors.js';
// Stores: what an adapter implements, and the events it keeps
export * from './event-store.js';
export type {
  Allocation,
  BillingFacts,
  CreditLimitSet,
  CreditsDeducted,
  CreditsGranted,
  CreditsHeld,
  CustomerCreated,
  DebtSettled,
  GrantExpired,
  GrantSource,
  GrantVoided,
  HoldReleased,
  PaymentConfirmed,
  RecordedEvent,
  SubscriptionActivated,
  SubscriptionCanceled,
  SubscriptionCreated,
  SubscriptionRenewed,
  TallyEvent,
  TallyEventType,
  UsageReversed,
} from './events.js';
export * from './feed/index.js';
// Auto top-up: the executor that calls the host's purchase function
export {
  type AutoTopUpOutcome,
  autoTopUpHandler,
  type Purchased,
  type PurchaseRequest,
  runAutoTopUps,
} from './ledger/auto-top-ups.js';
export type { CatalogMethods } from './ledger/create-ledger.js';
// The ledger
export {
  type CheckResult,
  createLedger,
  type Ledger,
  type LedgerOptions,
  type SettleDueResult,
  type WriteMethods,
} from './ledger/create-ledger.js';
export {
  DEFAULT_PAGE_SIZE,
  type EntriesInput,
  type EntriesOrder,
  MAX_PAGE_SIZE,
} from './ledger/entries-inputs.js';
export type { EntriesPage } from './ledger/entry-pages.js';
export { EXPORT_COLUMNS } from './ledger/export-format.js';
export type * from './ledger/inputs.js';
export type { CheckInput, CurrencyReadInput, CustomerRef, ReadInput } from './ledger/read-inputs.js';
export type { ExportInput, UsageSummaryInput } from './ledger/report-inputs.js';
export type { GrantSpending, UsageGroup, UsageSummary, UsageTotal } from './ledger/usage-summary.js';
export type { VerifyResult } from './ledger/verify.js';
export { MAX_EVENTS_PER_APPEND } from './ledger/writer.js';
export type { Rounding } from './money.js';
export type { Interval, TimeInput } from './time.js';
export type {
  CreditAccount,
  GrantStatus,
  GrantView,
  HoldView,
  ScopedCredit,
  SubscriptionView,
} from './views.js';
