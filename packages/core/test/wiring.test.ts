import { describe, expectTypeOf, test } from 'vitest';
import { unreachable } from '../src/errors.js';
import type {
  GrantResult,
  HoldResult,
  Ledger,
  RecordedEvent,
  TallyEvent,
  TallyEventType,
  TrackUsageInput,
  UsageResult,
} from '../src/index.js';
import { CURRENT_SCHEMA_VERSIONS } from '../src/pure.js';
import { Recorder } from '../src/recorder.js';
import { initialState } from '../src/state.js';

/**
 * The compiler checks the wiring: these lines compile only while each method's types come from its
 * command, and each `@ts-expect-error` fails the type-check (`pnpm typecheck`) the day the mistake it
 * names would compile.
 */
describe('the compiler checks the wiring', () => {
  test("a write method's input and result come from its command's declaration", () => {
    expectTypeOf<Ledger['trackUsage']>().parameter(0).toEqualTypeOf<TrackUsageInput>();
    expectTypeOf<Ledger['trackUsage']>().returns.resolves.toEqualTypeOf<UsageResult>();
    expectTypeOf<Ledger['grant']>().returns.resolves.toEqualTypeOf<GrantResult>();
    const wired = (ledger: Ledger) => {
      // @ts-expect-error: hold answers a HoldResult; a method wired to it cannot claim a UsageResult.
      const miswired: (input: TrackUsageInput) => Promise<UsageResult> = ledger.hold;
      return miswired;
    };
    expectTypeOf(wired).toBeFunction();
  });

  test('a switch over events that leaves a type out does not compile', () => {
    const describeEvent = (event: RecordedEvent): string => {
      switch (event.type) {
        case 'customer_created':
        case 'subscription_activated':
        case 'subscription_renewed':
        case 'subscription_canceled':
        case 'credits_granted':
        case 'credits_deducted':
        case 'grant_expired':
        case 'grant_voided':
        case 'usage_reversed':
        case 'credits_held':
        case 'hold_released':
        case 'credit_limit_set':
          return event.type;
        // 'debt_settled' is left out on purpose.
        default:
          // @ts-expect-error: the event is not `never` while a type is unhandled.
          return unreachable(event);
      }
    };
    expectTypeOf(describeEvent).returns.toBeString();
  });

  test('the schema-version table must name every event type, and only those', () => {
    expectTypeOf<keyof typeof CURRENT_SCHEMA_VERSIONS>().toEqualTypeOf<TallyEventType>();
    const { debt_settled: _left, ...missing } = CURRENT_SCHEMA_VERSIONS;
    // @ts-expect-error: a table without debt_settled is not a table of every event type.
    const table: Record<TallyEventType, number> = missing;
    expectTypeOf(table).toBeObject();
  });

  test('record returns the event of its own type', () => {
    const recorder = new Recorder(initialState(), { newId: () => 'evt_1', now: '2025-01-01T00:00:00.000Z' });
    const recorded = recorder.record({
      type: 'customer_created',
      data: { customerId: 'cus_1', externalId: null, metadata: {} },
    });
    expectTypeOf(recorded.data.customerId).toBeString();
    expectTypeOf(recorded).toMatchTypeOf<Extract<TallyEvent, { type: 'customer_created' }>>();
    // @ts-expect-error: a customer_created has no cost.
    expectTypeOf(recorded.data.cost).toBeString();
  });

  test('the ledger answers holds with a HoldResult', () => {
    expectTypeOf<Ledger['hold']>().returns.resolves.toEqualTypeOf<HoldResult>();
  });
});
