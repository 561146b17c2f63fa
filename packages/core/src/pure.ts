/**
 * `@tally/core/pure`: the decider the ledger is built on, for those who build on it (a projection, a
 * custom shell, a test of a rule). No I/O, no clock, no randomness: time and ids are inputs.
 * Events fold into state (`fold`, `evolve`); a command and a state decide new events (`decide`); time
 * alone makes events due (`advance`); a stream reads as a statement (`ledgerEntries`).
 *
 * @example
 * import { advance, decide, fold, upcast } from '@tally/core/pure';
 *
 * const stored = await store.readStream('customer-cus_123');
 * const { state } = advance(fold(stored.map(upcast)), Date.now());
 * const decided = decide(state, { type: 'trackUsage', customerId: 'cus_123', feature: 'ai-generation', quantity: 1 }, context);
 *
 * @packageDocumentation
 */
export { type AdvancedState, type AdvanceOptions, advance } from './advance.js';
export { type CatalogChange, catalogInputs, decideCatalog, syncEvents } from './catalog/changes.js';
export {
  CATALOG_SCHEMA_VERSIONS,
  CATALOG_STREAM,
  type CatalogEvent,
  type CurrencyDefined,
  type FeaturePriced,
  type PlanArchived,
  type PlanPublished,
  type RecordedCatalogEvent,
} from './catalog/events.js';
export {
  applyCatalogEvent,
  type CatalogTimeline,
  catalogAt,
  emptyCatalog,
  foldCatalog,
  nextChangeAfter,
  type PlanVersion,
  type PriceVersion,
  upcastCatalog,
} from './catalog/timeline.js';
export { consumptionOrder } from './consumption-order.js';
export type { CommandDefinition, CommandOf, InputOf, Recall, ResultOf } from './decide/command.js';
export { type Command, type CommandName, type Commands, commands } from './decide/commands.js';
export type { DecideContext } from './decide/context.js';
export { type Decided, decide } from './decide/index.js';
export { ledgerEntries } from './entries.js';
export { CURRENT_SCHEMA_VERSIONS, EVENT_TYPES } from './events.js';
export { applyEvent, evolve, fold } from './evolve.js';
export { canonicalJson, chainHash, GENESIS_HASH } from './hash-chain.js';
export { jsonSchemaOverride } from './input/fields.js';
export {
  type CheckOptionsSettings,
  checkOptions,
  type OptionRule,
  type OptionRules,
  oneOf,
  option,
  optionRefusal,
  required,
  withMethods,
} from './input/options.js';
export { parseInput } from './input/parse.js';
export { entriesInput, statementFilter } from './ledger/entries-inputs.js';
export { EVENT_STORE_METHODS, eventStoreRule } from './ledger/ledger-options.js';
export { checkInput, currencyReadInput, customerRef, readInput } from './ledger/read-inputs.js';
export { exportInput, usageSummaryInput } from './ledger/report-inputs.js';
export { findUsages, recallNeeds } from './recall.js';
export type {
  AccountState,
  CustomerInfo,
  CustomerState,
  DeferredLine,
  GrantState,
  HoldState,
  Recalled,
  SubscriptionState,
  UsageRecord,
} from './state.js';
export { initialState, recall } from './state.js';
export { upcast } from './upcast.js';
