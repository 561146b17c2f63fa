import { TallyError } from '../errors.js';
import type { RecordedEvent } from '../events.js';
import { Recorder } from '../recorder.js';
import { type CustomerState, cloneState } from '../state.js';
import { watch } from '../watch.js';
import type { CommandDefinition } from './command.js';
import { type Command, commands } from './commands.js';
import type { DecideContext } from './context.js';

/**
 * The outcome of `decide`: the events to append and the result to return, or the `TallyError` that
 * refuses the command. Any other error is thrown, not returned.
 *
 * @example
 * const decided: Decided = decide(state, { type: 'releaseHold', customerId: 'cus_123', holdId }, context);
 * if (decided.ok) console.log(decided.events.map((e) => e.type)); // ['hold_released']
 * else console.error(decided.error.code); // e.g. 'hold_not_active'
 */
export type Decided =
  | { readonly ok: true; readonly events: RecordedEvent[]; readonly result: unknown }
  | { readonly ok: false; readonly error: TallyError };

/** The definition of a command, by its tag. */
export const definitionOf = (command: Command): CommandDefinition => commands[command.type];

/**
 * Decides one command on `recorder` (its state advanced to `context.nowMs`), records what the balance
 * alerts make due after it, and builds its result from the state right after. A refusal throws the `TallyError` before anything is recorded: a decision that
 * records and then refuses is a bug, and throws a plain `Error`.
 */
export function decideOn(recorder: Recorder, command: Command, context: DecideContext): unknown {
  const definition = definitionOf(command);
  const before = recorder.events.length;
  try {
    const outcome = definition.decide(recorder, command, context);
    // The alerts a command's effect on the balance makes due go into the same append, so an alert is
    // recorded once and at once, whichever process decided the command.
    watch(recorder, context.nowMs, () => context.newId('evt'));
    return definition.result(recorder.state, outcome, context);
  } catch (error) {
    if (error instanceof TallyError && recorder.events.length !== before) {
      throw new Error(`${command.type} recorded events and then refused with ${error.code}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The pure decision: a command and the state (advanced to `context.nowMs`, with what the command's
 * `recall` names already in `state.recalled`) in, the events it makes (or the typed error that refuses
 * it) out. `state` is not touched.
 *
 * @example
 * const { state } = advance(fold(events), context.nowMs); // the stream, then what time made due
 * const command: Command = { type: 'trackUsage', customerId: 'cus_123', feature: 'ai-generation', quantity: 1 };
 * const decided = decide(state, command, context);
 * if (decided.ok) console.log(decided.result); // the UsageResult the ledger would return
 */
export function decide(state: CustomerState, command: Command, context: DecideContext): Decided {
  const recorder = new Recorder(cloneState(state), { newId: context.newId, now: context.now });
  try {
    const result = decideOn(recorder, command, context);
    return { ok: true, events: recorder.events, result };
  } catch (error) {
    if (error instanceof TallyError) return { ok: false, error };
    throw error;
  }
}
