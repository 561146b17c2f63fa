import { advance } from '../advance.js';
import type { Catalog } from '../catalog/index.js';
import { TallyError } from '../errors.js';
import type { RecordedEvent } from '../events.js';
import type { CustomerState } from '../state.js';

/**
 * Most events time may make due for one read (a far-future `at`, or a customer idle for decades):
 * about 45 years of a daily plan, 1,300 years of a monthly one. Past it the read is refused with
 * `invalid_time`, rather than hold a server for seconds.
 */
export const MAX_DUE_PER_READ = 50_000;
/** Due events folded between two turns of the event loop, so a long catch-up never stalls other calls. */
const CHUNK = 1_000;

/**
 * `advance` for a read: the same events, folded in chunks with the event loop let through between
 * them, and bounded by `MAX_DUE_PER_READ`.
 */
export async function dueBy(
  state: CustomerState,
  toMs: number,
  catalog: Catalog,
): Promise<{ state: CustomerState; events: RecordedEvent[] }> {
  let step = advance(state, toMs, { maxEvents: CHUNK, catalog });
  const events = step.events;
  while (!step.complete) {
    if (events.length > MAX_DUE_PER_READ) {
      throw new TallyError(
        'invalid_time',
        `reading this far ahead makes more than ${MAX_DUE_PER_READ} scheduled events due; read an earlier instant`,
        { field: 'at' },
      );
    }
    await new Promise((resolve) => setImmediate(resolve));
    step = advance(step.state, toMs, { maxEvents: CHUNK, catalog });
    for (const event of step.events) events.push(event);
  }
  return { state: step.state, events };
}
