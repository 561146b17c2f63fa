import {
  CATALOG_SCHEMA_VERSIONS,
  CATALOG_STREAM,
  type CatalogEvent,
  type RecordedCatalogEvent,
} from '../catalog/events.js';
import {
  applyCatalogEvent,
  type CatalogTimeline,
  catalogAt,
  emptyCatalog,
  nextChangeAfter,
  upcastCatalog,
} from '../catalog/timeline.js';
import type { Catalog, Currency } from '../catalog/types.js';
import type { IdKind } from '../decide/context.js';
import { TallyError } from '../errors.js';
import { ConcurrencyConflictError, DuplicateIdempotencyKeyError, type EventStore } from '../event-store.js';
import { GENESIS_HASH, signEvents } from '../hash-chain.js';
import { iso } from '../time.js';

/**
 * Where a ledger's catalog comes from: fixed in code (`defineCatalog`), or kept in the store and
 * changed over time. A stored catalog is folded from its stream and caught up on demand; every write
 * of a customer is appended guarded on the catalog version it was priced by, so a change another
 * process made meanwhile makes the write decide again on the new catalog (`refresh`, then retry).
 */
export interface CatalogSource {
  readonly stored: boolean;
  /** The version of what is known (0 for a catalog defined in code). */
  version(): number;
  /** The catalog in force at `atMs`, as far as this process knows. */
  at(atMs: number): Catalog;
  /** Reads what other processes changed since (nothing to do for a catalog defined in code). */
  refresh(): Promise<void>;
  /** The whole timeline (stored) or null (code). */
  timeline(): CatalogTimeline | null;
  /** A currency as defined, whenever it was (for reads that name one). */
  currency(code: string): Currency | undefined;
  /**
   * Decides a change on the latest catalog and appends it, retrying when another process changed
   * the catalog first; returns the timeline after it and the instant it was decided at.
   */
  change(decide: (timeline: CatalogTimeline, nowMs: number) => CatalogEvent[]): Promise<{ nowMs: number }>;
}

/** A catalog defined in code: one view for all time. */
export function codeCatalog(catalog: Catalog): CatalogSource {
  return {
    stored: false,
    version: () => 0,
    at: () => catalog,
    refresh: async () => undefined,
    timeline: () => null,
    currency: (code) => catalog.currencies.get(code),
    change: async () => {
      throw new TallyError(
        'invalid_catalog',
        "this ledger's catalog is defined in code: create the ledger without `catalog` to keep it in the store and change it through the API",
      );
    },
  };
}

/** How many times a catalog change is tried while other processes keep changing the catalog. */
const MAX_ATTEMPTS = 10;

/** A catalog kept in `store`, in the stream `CATALOG_STREAM`. */
export function storedCatalog(
  store: EventStore,
  clock: () => Date,
  newId: (kind: IdKind) => string,
): CatalogSource {
  const timeline = emptyCatalog();
  let hash = GENESIS_HASH;
  // One view for as long as no change takes effect: most calls between two changes share it.
  let view: { version: number; fromMs: number; untilMs: number; catalog: Catalog } | null = null;

  async function refresh(): Promise<void> {
    const stored = await store.readStream(CATALOG_STREAM, { fromVersion: timeline.version + 1 });
    const fresh = stored.filter((event) => event.version > timeline.version);
    if (fresh.length === 0) return;
    for (const event of fresh) {
      if (event.version !== timeline.version + 1) {
        throw new TallyError(
          'corrupt_stream',
          `the catalog jumps from version ${timeline.version} to ${event.version}`,
          {
            details: { eventId: event.id },
          },
        );
      }
      applyCatalogEvent(timeline, upcastCatalog(event));
      if (typeof event.metadata.hash === 'string') hash = event.metadata.hash;
    }
  }

  return {
    stored: true,
    version: () => timeline.version,
    at(atMs) {
      if (view === null || view.version !== timeline.version || atMs < view.fromMs || atMs >= view.untilMs) {
        view = {
          version: timeline.version,
          fromMs: atMs,
          untilMs: nextChangeAfter(timeline, atMs),
          catalog: catalogAt(timeline, atMs),
        };
      }
      return view.catalog;
    },
    refresh,
    timeline: () => timeline,
    currency: (code) => timeline.currencies.get(code),
    async change(decide) {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        await refresh();
        const lastMs = timeline.lastAt === '' ? 0 : Date.parse(timeline.lastAt);
        const nowMs = Math.max(clock().getTime(), lastMs);
        const made = decide(timeline, nowMs);
        if (made.length === 0) return { nowMs };
        const recorded = made.map(
          (event): RecordedCatalogEvent =>
            ({ ...event, id: newId('evt'), at: iso(nowMs) }) as RecordedCatalogEvent,
        );
        const signed = signEvents(
          hash,
          recorded.map((event) => ({ event, metadata: {} })),
          (type) => CATALOG_SCHEMA_VERSIONS[type],
        );
        try {
          await store.append(CATALOG_STREAM, signed.events, {
            expectedVersion: timeline.version,
            guarding: true,
          });
        } catch (error) {
          if (error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError)
            continue;
          throw error;
        }
        for (const event of recorded) applyCatalogEvent(timeline, event);
        hash = signed.hash;
        return { nowMs };
      }
      throw new TallyError(
        'concurrency_conflict',
        `the catalog kept changing under this change; gave up after ${MAX_ATTEMPTS} attempts`,
      );
    },
  };
}
