import { TallyError } from '../errors.js';
import { quote } from '../money.js';

/**
 * The options of a factory (`createLedger`, `sqliteStore`, `createHttpHandler`…) are checked like the
 * inputs of a method: TypeScript only catches object literals, and a typo such as `snapshotEvry` would
 * otherwise be ignored silently, leaving the default in force. Every package's factories check their
 * options through `checkOptions` before they open or write anything, so a refusal is the same
 * everywhere: `invalid_input`, the option's name in `field` (a dot path when nested:
 * `customerTokens.secret`), and a message saying what is expected.
 */

/**
 * One option's rule: what a valid value is, as the refusal says it, and the test of a value. An
 * option left out (or `undefined`) passes unless it is `required`.
 *
 * @example
 * const rule: OptionRule = { expected: 'a positive integer', valid: (v) => Number.isSafeInteger(v) && (v as number) > 0 };
 */
export interface OptionRule {
  /** The valid values, as the message puts them after "must be": `'a positive integer'`. */
  readonly expected: string;
  readonly valid: (value: unknown) => boolean;
  readonly required?: boolean;
  /** The value is a secret (a key, a connection string with its password): never shown in a message. */
  readonly secret?: boolean;
  /** For an option that is itself an object of options: their rules, checked the same way. */
  readonly fields?: OptionRules;
}

/**
 * The rules of every option a factory takes, by name: a name not here is refused as unknown.
 *
 * @example
 * const rules: OptionRules = { filename: required(option.nonEmptyString), busyTimeoutMs: option.nonNegativeInteger };
 */
export type OptionRules = Readonly<Record<string, OptionRule>>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The rules most options are made of.
 *
 * @example
 * const rules: OptionRules = { batchSize: option.positiveInteger, onError: option.function };
 */
export const option = {
  positiveInteger: {
    expected: 'a positive integer',
    valid: (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0,
  },
  nonNegativeInteger: {
    expected: 'an integer ≥ 0',
    valid: (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0,
  },
  positiveNumber: {
    expected: 'a finite number above 0',
    valid: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0,
  },
  nonNegativeNumber: {
    expected: 'a finite number ≥ 0',
    valid: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  },
  nonEmptyString: {
    expected: 'a non-empty string',
    valid: (v: unknown) => typeof v === 'string' && v.trim() !== '',
  },
  boolean: { expected: 'true or false', valid: (v: unknown) => typeof v === 'boolean' },
  function: { expected: 'a function', valid: (v: unknown) => typeof v === 'function' },
  object: { expected: 'an object', valid: isObject },
} as const satisfies Record<string, OptionRule>;

/**
 * `rule`, required.
 *
 * @example
 * const rules: OptionRules = { store: required(option.object) };
 */
export const required = (rule: OptionRule): OptionRule => ({ ...rule, required: true });

/**
 * A rule for one of a few literal values: `oneOf('FULL', 'NORMAL')`.
 *
 * @example
 * const rules: OptionRules = { synchronous: oneOf('FULL', 'NORMAL') };
 */
export function oneOf(...values: readonly (string | number | boolean)[]): OptionRule {
  return {
    expected: `one of ${values.map((v) => quote(v)).join(', ')}`,
    valid: (v) => values.includes(v as string | number | boolean),
  };
}

/**
 * A rule for an object with methods of these names (`'append'`, `'readStream'`…): how a factory
 * recognises a store, a ledger or a pool it is handed, without depending on its class.
 *
 * @example
 * const rules: OptionRules = { ledger: required(withMethods('a Ledger (createLedger)', ['settleDue'])) };
 */
export function withMethods(expected: string, methods: readonly string[]): OptionRule {
  return {
    expected,
    valid: (v) =>
      typeof v === 'object' &&
      v !== null &&
      methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  };
}

/**
 * How `checkOptions` names what it refuses.
 *
 * @example
 * const settings: CheckOptionsSettings = { factory: 'createHttpHandler', prefix: 'customerTokens' };
 */
export interface CheckOptionsSettings {
  /** The factory, as the messages begin: `'createLedger'`. */
  readonly factory: string;
  /** What the options are called when they are not an object at all; default `'options'`. */
  readonly root?: string;
  /** Where they sit in a larger argument (`customerTokens`): the prefix of every field named. */
  readonly prefix?: string;
}

/**
 * Refuses options that are not an object, an option not in `rules`, a required one left out and a
 * value its rule refuses, with `TallyError('invalid_input')` naming the option (a dot path when
 * nested). Unknown names are looked for first: `{ stor: s }` is a typo of `store`, and saying so
 * helps more than saying that `store` is missing. Only own fields count (the rest of the options'
 * prototype is not something the caller passed). Messages never throw, whatever the value.
 *
 * @example
 * function openFile(options: { readonly filename: string }) {
 *   checkOptions(options, { filename: required(option.nonEmptyString) }, { factory: 'openFile' });
 * }
 */
export function checkOptions(options: unknown, rules: OptionRules, settings: CheckOptionsSettings): void {
  const { factory, prefix = '' } = settings;
  const at = (name: string) => (prefix === '' ? name : `${prefix}.${name}`);
  if (!isObject(options)) {
    const field = prefix === '' ? (settings.root ?? 'options') : prefix;
    // A string where the options belong may be a secret passed one argument too far (a second webhook
    // secret, a token key): its type is said, never its text.
    const got = typeof options === 'string' ? 'a string' : quote(options);
    throw new TallyError('invalid_input', `${factory}: ${field} must be an object, got ${got}`, {
      field,
    });
  }
  const known = Object.keys(rules);
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(rules, name)) {
      const field = at(name);
      throw new TallyError(
        'invalid_input',
        `${factory}: unknown option ${JSON.stringify(field)}; ${prefix === '' ? 'it takes' : `${prefix} takes`} ${known.length === 0 ? 'none' : known.join(', ')}`,
        { field },
      );
    }
  }
  for (const name of known) {
    const rule = rules[name]!;
    const value = options[name];
    const field = at(name);
    if (value === undefined) {
      if (rule.required === true) {
        throw new TallyError('invalid_input', `${factory}: ${field} is required: ${rule.expected}`, {
          field,
        });
      }
      continue;
    }
    if (!rule.valid(value)) {
      const got = rule.secret === true ? '' : `, got ${quote(value)}`;
      throw new TallyError('invalid_input', `${factory}: ${field} must be ${rule.expected}${got}`, {
        field,
      });
    }
    if (rule.fields !== undefined) checkOptions(value, rule.fields, { factory, prefix: field });
  }
}

/**
 * A refusal of one option's value for a reason its rule cannot say alone (`pollInterval.min` above
 * `pollInterval.max`): the same code and shape as `checkOptions`'.
 *
 * @example
 * throw optionRefusal('createProcessor', 'pollInterval.min', 'must not exceed pollInterval.max');
 */
export function optionRefusal(factory: string, field: string, problem: string): TallyError {
  return new TallyError('invalid_input', `${factory}: ${field} ${problem}`, { field });
}
