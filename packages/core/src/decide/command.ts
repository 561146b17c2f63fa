import { z } from 'zod';
import { customerId, idempotencyKey } from '../input/fields.js';
import type { Recorder } from '../recorder.js';
import type { CustomerState } from '../state.js';
import type { DecideContext } from './context.js';

/**
 * One command, declared once in the file of its decision: the input it takes, the history it needs,
 * how it is decided and what it answers. The ledger's method, its input type, its result type, the
 * writer's dispatch and the HTTP body schema all derive from this, so a command is added in one place
 * (its file), listed once (`commands`), and routed once (in `@tally/http`).
 *
 * `decide` and `result` are methods, not function properties, so a definition of one command is a
 * `CommandDefinition` of any (the writer handles them alike).
 *
 * @example
 * const setCreditLimit = defineCommand({
 *   input: commands.setCreditLimit.input, // writeInput({ currency: field.id('unknown_currency'), limit: field.amount })
 *   decide(recorder, command, context) {
 *     recorder.record({ type: 'credit_limit_set', data: { currency: command.currency, limit: command.limit } });
 *     return command.currency;
 *   },
 *   result: (state, currency) => state.accounts.get(currency)!.creditLimit.toString(),
 * });
 */
export interface CommandDefinition<S extends WriteSchema = WriteSchema, O = unknown, R = unknown> {
  /** Validates the method's input, `customerId` and `idempotencyKey` included (see `writeInput`). */
  readonly input: S;
  /**
   * Grants, holds and usages out of play that the decision may name, looked up in the stream before it
   * runs and handed in through `state.recalled` (a decision never waits on the store). Optional: most
   * commands touch only what is in play.
   */
  recall?(command: CommandOf<S>, state: CustomerState): Recall;
  /**
   * Store what time has made due (expiries, renewals, the alerts they cause) even when the command
   * records nothing itself: for commands whose point is to bring the stream up to now.
   */
  readonly storesDue?: boolean;
  /**
   * Records the command's events on `recorder` (whose state is already advanced to `context.nowMs`),
   * or throws the `TallyError` that refuses it before recording anything. Returns what the result needs
   * that the state after the events does not hold.
   */
  decide(recorder: Recorder, command: CommandOf<S>, context: DecideContext): O;
  /** What the method answers, built from the state right after this command's events. JSON-safe. */
  result(state: CustomerState, outcome: O, context: DecideContext): R;
}

/**
 * The ids a command asks the ledger to look up before it is decided.
 *
 * @example
 * const recall = (command: { grantId: string }): Recall => ({ grants: [command.grantId] }); // voidGrant's
 */
export interface Recall {
  readonly grants?: readonly string[];
  readonly holds?: readonly string[];
  readonly usages?: readonly string[];
}

/** A write's input schema: an object with `customerId` and an optional `idempotencyKey`. */
export type WriteSchema = z.ZodType<
  { customerId: string; idempotencyKey?: string | undefined },
  { customerId: string; idempotencyKey?: string | undefined }
>;

/**
 * A command as its decision reads it: the parsed input, without the idempotency key (the writer's).
 *
 * @example
 * type VoidGrant = CommandOf<Commands['voidGrant']['input']>; // { customerId, grantId, reason? }
 */
export type CommandOf<S extends WriteSchema> = Omit<z.output<S>, 'idempotencyKey'>;

/**
 * The input of a command's ledger method.
 *
 * @example
 * type Input = InputOf<Commands['trackUsage']>; // what ledger.trackUsage takes
 */
export type InputOf<D extends CommandDefinition> = z.input<D['input']>;

/**
 * What a command's ledger method resolves to.
 *
 * @example
 * type Answer = ResultOf<Commands['trackUsage']>; // UsageResult
 */
export type ResultOf<D extends CommandDefinition> = ReturnType<D['result']>;

/** Declares a command; the identity, for inference. */
export const defineCommand = <S extends WriteSchema, O, R>(
  definition: CommandDefinition<S, O, R>,
): CommandDefinition<S, O, R> => definition;

/**
 * The input schema of a write: `customerId` first, the command's own fields, then `idempotencyKey`.
 * Strict: a field it does not declare is refused, so a typo (`idempotency_key`) never passes silently.
 */
export const writeInput = <const Shape extends z.core.$ZodLooseShape>(shape: Shape) =>
  z.strictObject({ customerId, ...shape, idempotencyKey: idempotencyKey.optional() });
