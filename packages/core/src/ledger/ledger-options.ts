import {
  checkOptions,
  type OptionRule,
  type OptionRules,
  option,
  required,
  withMethods,
} from '../input/options.js';

/**
 * What `createLedger` accepts, checked before it opens anything: the README's options table lists
 * exactly these (test/reliability/factory-options.test.ts holds them to it).
 */

/**
 * The methods every `EventStore` has (the optional ones, `appendMany`, `partitions`, `consumers`, aside).
 *
 * @example
 * const looksLikeAStore = EVENT_STORE_METHODS.every((m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function');
 */
export const EVENT_STORE_METHODS = [
  'append',
  'readStream',
  'readAll',
  'findByIdempotencyKey',
  'readSnapshot',
  'writeSnapshot',
  'close',
] as const;

/**
 * A store as a factory expects one: `memoryStore()`, `sqliteStore(…)`, `postgresStore(…)` or your own.
 *
 * @example
 * checkOptions({ store }, { store: required(eventStoreRule) }, { factory: 'myFactory' });
 */
export const eventStoreRule: OptionRule = withMethods(
  `an EventStore (with ${EVENT_STORE_METHODS.join(', ')})`,
  EVENT_STORE_METHODS,
);

/** `defineCatalog`'s result: a catalog's raw input (lists of currencies, features, plans) is not one. */
const catalogRule: OptionRule = {
  expected: 'a catalog made by defineCatalog(…)',
  valid: (v) =>
    typeof v === 'object' &&
    v !== null &&
    (v as { currencies?: unknown }).currencies instanceof Map &&
    (v as { features?: unknown }).features instanceof Map &&
    (v as { plans?: unknown }).plans instanceof Map &&
    typeof (v as { renewalTerms?: unknown }).renewalTerms === 'function',
};

/**
 * A count that may be unbounded: `Infinity` is what a caller writes for "never" (no snapshots) or
 * "no limit" (keep every customer), and the ledger has always honoured it.
 */
const countOrInfinity = (min: number, expected: string): OptionRule => ({
  expected,
  valid: (v) => v === Number.POSITIVE_INFINITY || (Number.isSafeInteger(v) && (v as number) >= min),
});

export const LEDGER_OPTION_RULES = {
  catalog: catalogRule,
  store: required(eventStoreRule),
  clock: option.function,
  ids: option.function,
  snapshotEvery: countOrInfinity(1, 'a positive integer (Infinity: never snapshot)'),
  maxAttempts: option.positiveInteger,
  conflictRetryMs: option.nonNegativeNumber,
  cacheSize: countOrInfinity(0, 'an integer ≥ 0 (0: keep no state in memory; Infinity: no limit)'),
} as const satisfies OptionRules;

/** Refuses `createLedger` options that are unknown or invalid, naming the option. */
export function checkLedgerOptions(options: unknown): void {
  checkOptions(options, LEDGER_OPTION_RULES, { factory: 'createLedger' });
}
