import { TallyError } from './errors.js';
import type { NewEvent, StoredEvent } from './event-store.js';
import { CURRENT_SCHEMA_VERSIONS, EVENT_TYPES, type RecordedEvent, type TallyEventType } from './events.js';
import { decimalsOf, formatAmount } from './money.js';

/**
 * Events are stored forever, so their shapes outlive the code that wrote them. Each type has a current
 * schema version (`CURRENT_SCHEMA_VERSIONS`); an event written at an older version is upcast step by
 * step on read, never rewritten.
 */

type Data = Readonly<Record<string, unknown>>;
type Upcaster = (data: Data) => Data;

/** `UPCASTERS[type][v]` turns version v of `type` into version v + 1. */
const UPCASTERS: Partial<Record<TallyEventType, Record<number, Upcaster>>> = {
  credits_deducted: {
    1: (data) => ({
      ...data,
      debt: formatAmount(0n, decimalsOf(String(data.cost))),
      holdId: null,
      metadata: {},
    }),
    // Rounded on its own: the cost charged is all there was, and nothing carries; priced by code.
    2: (data) => ({ ...data, exactCost: data.cost, carry: null, catalogVersion: 0 }),
  },
  subscription_activated: {
    // A price label had no currency: ISO 4217's XXX is "no currency". Version 1 of a code catalog.
    1: (data) => ({
      ...data,
      price: data.price === null ? null : { amount: data.price, currency: 'XXX' },
      grants: (data.grants as Record<string, unknown>[]).map((rule) => ({ ...rule, appliesTo: null })),
      gracePeriodDays: 0,
      planVersion: 1,
      catalogVersion: 0,
      salesMotion: 'self_serve',
      collectionMethod: 'charge_automatically',
    }),
  },
  subscription_renewed: { 1: (data) => ({ ...data, terms: null, paid: true }) },
  credits_granted: { 1: (data) => ({ ...data, appliesTo: null, price: null, paymentId: null }) },
  grant_voided: { 1: (data) => ({ ...data, refund: null }) },
  usage_reversed: {
    1: (data) => ({ ...data, feature: null, carry: null }),
  },
};

/**
 * The stored event as the fold reads it: known type, current shape. Throws `unknown_event` otherwise.
 *
 * @example
 * const events = (await store.readAll({ limit: 100 })).map(upcast); // RecordedEvent[], current shapes
 */
export function upcast(event: StoredEvent | NewEvent): RecordedEvent {
  if (!EVENT_TYPES.has(event.type)) {
    throw new TallyError(
      'unknown_event',
      `event ${event.id} has type ${JSON.stringify(event.type)}, which this version of Tally does not know`,
      {
        details: { eventId: event.id, type: event.type },
      },
    );
  }
  const type = event.type as TallyEventType;
  const current: number = CURRENT_SCHEMA_VERSIONS[type];
  let version = event.schemaVersion;
  if (!Number.isInteger(version) || version < 1 || version > current) {
    throw new TallyError(
      'unknown_event',
      `event ${event.id} (${type}) has schema version ${version}; this version of Tally reads 1 to ${current}`,
      {
        details: { eventId: event.id, type, schemaVersion: version },
      },
    );
  }
  let data = event.data;
  while (version < current) {
    const step = UPCASTERS[type]?.[version];
    if (step === undefined) {
      throw new TallyError('unknown_event', `no upcaster for ${type} v${version}`, {
        details: { eventId: event.id },
      });
    }
    data = step(data);
    version += 1;
  }
  return { type, data, id: event.id, at: event.at } as RecordedEvent;
}
