import type { RecordedEvent, TallyEvent } from './events.js';
import { applyEvent } from './evolve.js';
import type { CustomerState } from './state.js';

/** An event of one type as recorded: the event itself, with its id and the time it happened. */
export type Recorded<E extends TallyEvent> = E & { readonly id: string; readonly at: string };

/**
 * Collects the events a decision makes and folds each into the decision's scratch state as it goes,
 * so every later step of the same decision sees the effect of the earlier ones (a renewal sees the
 * expiry before it). Only `applyEvent` changes the state: a decision reads it and records events.
 */
export class Recorder {
  readonly events: RecordedEvent[] = [];

  constructor(
    readonly state: CustomerState,
    /**
     * Id and time of an event recorded without its own. `newId` is the ledger's id source itself,
     * asked for an event's id, so that no function is made per decision.
     */
    private readonly stamp: { readonly newId: (kind: 'evt') => string; readonly now: string },
  ) {}

  record<E extends TallyEvent>(
    event: E,
    id: string = this.stamp.newId('evt'),
    at: string = this.stamp.now,
  ): Recorded<E> {
    const recorded = { ...event, id, at } as Recorded<E>;
    applyEvent(this.state, recorded as RecordedEvent);
    this.events.push(recorded as RecordedEvent);
    return recorded;
  }
}
