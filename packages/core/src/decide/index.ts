import { TallyError } from '../errors.js';
import type { RecordedEvent } from '../events.js';
import { Recorder } from '../recorder.js';
import { type CustomerState, cloneState } from '../state.js';
import type { Command } from './commands.js';
import type { DecideContext } from './context.js';
import { createCustomer, setCreditLimit } from './customer.js';
import { grant, voidGrant } from './grant.js';
import { captureHold, hold, releaseHold } from './hold.js';
import { cancelSubscription, changePlan, subscribe } from './subscription.js';
import { reverseUsage, trackUsage } from './usage.js';

export type { Command } from './commands.js';
export type { DecideContext, IdKind } from './context.js';

/** Runs one command on a recorder whose state is already advanced to `context.nowMs`. */
export function decideOn(recorder: Recorder, command: Command, context: DecideContext): unknown {
  switch (command.type) {
    case 'createCustomer':
      return createCustomer(recorder, command, context);
    case 'subscribe':
      return subscribe(recorder, command, context);
    case 'cancelSubscription':
      return cancelSubscription(recorder, command, context);
    case 'changePlan':
      return changePlan(recorder, command, context);
    case 'grant':
      return grant(recorder, command, context);
    case 'voidGrant':
      return voidGrant(recorder, command, context);
    case 'trackUsage':
      return trackUsage(recorder, command, context);
    case 'reverseUsage':
      return reverseUsage(recorder, command, context);
    case 'hold':
      return hold(recorder, command, context);
    case 'captureHold':
      return captureHold(recorder, command, context);
    case 'releaseHold':
      return releaseHold(recorder, command, context);
    case 'setCreditLimit':
      return setCreditLimit(recorder, command, context);
  }
}

/**
 * The outcome of `decide`: the events to append and the result to return, or the `TallyError` that
 * refuses the command. Any other error is thrown, not returned.
 *
 * @example
 * const decided: Decided = decide(state, { type: 'releaseHold', holdId }, context);
 * if (decided.ok) console.log(decided.events.map((e) => e.type)); // ['hold_released']
 * else console.error(decided.error.code); // e.g. 'hold_not_active'
 */
export type Decided =
  | { readonly ok: true; readonly events: RecordedEvent[]; readonly result: unknown }
  | { readonly ok: false; readonly error: TallyError };

/**
 * The pure decision: a command and the state (advanced to `context.nowMs`) in, the events it makes
 * (or the typed error that refuses it) out. `state` is not touched.
 *
 * @example
 * const { state } = advance(fold(events), context.nowMs); // the stream, then what time made due
 * const command: Command = { type: 'trackUsage', feature: 'ai-generation', quantity: 1, metadata: {} };
 * const decided = decide(state, command, context);
 * if (decided.ok) console.log(decided.result); // the UsageResult the ledger would return
 */
export function decide(state: CustomerState, command: Command, context: DecideContext): Decided {
  const recorder = new Recorder(cloneState(state));
  try {
    const result = decideOn(recorder, command, context);
    return { ok: true, events: recorder.events, result };
  } catch (error) {
    if (error instanceof TallyError) return { ok: false, error };
    throw error;
  }
}
