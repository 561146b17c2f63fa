import { expect } from 'vitest';
import type { RecordedEvent, TallyErrorCode, TallyEvent } from '../src/index.js';
import {
  advance,
  type Command,
  type CustomerState,
  type DecideContext,
  decide,
  fold,
  recall,
} from '../src/pure.js';
import { catalog, T0 } from './support.js';

/**
 * Given / when / then for the pure core, as Emmett's `DeciderSpecification` tests a decider: the
 * stream so far, a command (or time passing), and the events it must make or the code that refuses
 * it. No ledger, no store: `fold`, `advance` and `decide` alone. Events are compared without their
 * ids and times unless the test asks (ids come from a counter, `at` is the context's now).
 *
 * @example
 * given(created('cus_1'))
 *   .when({ type: 'setCreditLimit', customerId: 'cus_1', currency: 'credits', limit: '50' })
 *   .thenRecords({ type: 'credit_limit_set', data: { currency: 'credits', limit: '50' } });
 */
export function given(...history: RecordedEvent[]) {
  let nowMs = history.length === 0 ? T0 : Math.max(T0, Date.parse(history.at(-1)!.at));
  return {
    /** Decides at this instant instead of the last event's (or T0). */
    at(ms: number) {
      nowMs = ms;
      return this;
    },
    when(command: Command, options: { recalledFromHistory?: boolean } = {}) {
      const context = contextAt(nowMs);
      const state = advanced(history, nowMs, options.recalledFromHistory ?? true);
      const decided = decide(state, command, context);
      return {
        thenRecords(...expected: TallyEvent[]): RecordedEvent[] {
          if (!decided.ok) throw new Error(`refused with ${decided.error.code}: ${decided.error.message}`);
          expect(decided.events.map(({ type, data }) => ({ type, data }))).toEqual(expected);
          return decided.events;
        },
        thenRefused(code: TallyErrorCode, field?: string): void {
          expect(decided.ok, 'the command was accepted').toBe(false);
          if (decided.ok) return;
          expect(decided.error.code).toBe(code);
          if (field !== undefined) expect(decided.error.field).toBe(field);
        },
        result: decided.ok ? decided.result : undefined,
      };
    },
    /** What time alone makes due by `ms`, as `advance` derives it. */
    whenTimeReaches(ms: number) {
      const due = advance(fold(history), ms);
      return {
        thenRecords(...expected: TallyEvent[]): RecordedEvent[] {
          expect(due.events.map(({ type, data }) => ({ type, data }))).toEqual(expected);
          return due.events;
        },
      };
    },
  };
}

/**
 * The state the ledger would decide on: the stream folded and advanced to `nowMs`. A fold of the whole
 * stream already holds every finished grant and hold; the usages a reversal names are recalled the
 * way the ledger's lookup finds them.
 */
function advanced(history: RecordedEvent[], nowMs: number, withHistory: boolean): CustomerState {
  const whole = fold(history);
  const state = advance(whole, nowMs).state;
  if (!withHistory) return state;
  recall(state, whole, { grants: [...whole.recalled.grants.keys()] });
  for (const event of history) {
    if (event.type === 'credits_deducted')
      state.recalled.usages.set(event.data.usageId, { deduction: event.data, reversed: false });
    if (event.type === 'usage_reversed') {
      const usage = state.recalled.usages.get(event.data.usageId);
      if (usage !== undefined) state.recalled.usages.set(event.data.usageId, { ...usage, reversed: true });
    }
  }
  return state;
}

export function contextAt(nowMs: number): DecideContext {
  let n = 0;
  return { catalog, nowMs, now: new Date(nowMs).toISOString(), newId: (kind) => `${kind}_${++n}` };
}

/** Events of a stream, numbered and dated as a test writes them. */
export function stream(...events: (TallyEvent & { at?: number })[]): RecordedEvent[] {
  return events.map(({ at, ...event }, i) => ({
    ...event,
    id: `evt_given_${i + 1}`,
    at: new Date(at ?? T0).toISOString(),
  })) as RecordedEvent[];
}

export const created = (customerId: string): TallyEvent => ({
  type: 'customer_created',
  data: { customerId, externalId: null, metadata: {} },
});

export const granted = (
  grantId: string,
  amount: string,
  fields: Partial<Extract<TallyEvent, { type: 'credits_granted' }>['data']> = {},
): TallyEvent => ({
  type: 'credits_granted',
  data: {
    grantId,
    currency: 'credits',
    amount,
    priority: 50,
    source: 'manual',
    effectiveAt: new Date(T0).toISOString(),
    expiresAt: null,
    subscriptionId: null,
    cycle: null,
    ruleIndex: null,
    metadata: {},
    appliesTo: null,
    price: null,
    paymentId: null,
    ...fields,
  },
});
