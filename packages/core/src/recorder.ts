import type { RecordedEvent, TallyEvent } from './events.js';
import { applyEvent } from './evolve.js';
import type { CustomerState } from './state.js';

/**
 * Collects the events a decision makes and folds each into a scratch state as it goes, so every later
 * step of the same decision sees the effect of the earlier ones (a renewal sees the expiry before it).
 */
export class Recorder {
  readonly events: RecordedEvent[] = [];
  constructor(readonly state: CustomerState) {}

  record(event: TallyEvent, id: string, at: string): RecordedEvent {
    const recorded = { ...event, id, at } as RecordedEvent;
    applyEvent(this.state, recorded);
    this.events.push(recorded);
    return recorded;
  }
}
