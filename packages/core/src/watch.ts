import { nextAlertInstant, type WatchIds, watchAlerts } from './alerts/watch.js';
import { nextTopUpInstant, watchTopUps } from './auto-top-up/watch.js';
import type { Recorder } from './recorder.js';
import type { CustomerState } from './state.js';

/**
 * What the available balance makes due at `atMs`, recorded after every decision and at every instant
 * `advance` processes: balance alerts and notices first, then auto top-ups asked for.
 */
export function watch(recorder: Recorder, atMs: number, ids: WatchIds): void {
  watchAlerts(recorder, atMs, ids);
  watchTopUps(recorder, atMs, ids);
}

/** The next instant after `afterMs` at which the watch has something to look at that no event marks. */
export function nextWatchInstant(state: CustomerState, afterMs: number): number | null {
  const alert = nextAlertInstant(state, afterMs);
  const topUp = nextTopUpInstant(state, afterMs);
  if (alert === null) return topUp;
  return topUp === null ? alert : Math.min(alert, topUp);
}
