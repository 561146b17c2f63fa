import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConcurrencyConflictError,
  DuplicateIdempotencyKeyError,
  type EventStore,
  type FeedBatch,
  type NewEvent,
  type StoredEvent,
  TallyError,
} from '@tally/core';
import {
  checkOptions,
  EVENT_TYPES,
  eventStoreRule,
  type OptionRules,
  option,
  parseInput,
  required,
  upcast,
} from '@tally/core/pure';
import { type Backoff, retryDelayMs } from './backoff.js';
import {
  deliveriesInput,
  ENDPOINTS_STREAM,
  type EndpointEvent,
  type EndpointRecord,
  endpointRefInput,
  foldEndpoints,
  noInput,
  publicEndpoint,
  registerEndpointInput,
  replayInput,
  signingSecrets,
  subscribes,
  updateEndpointInput,
  type WebhookEndpoint,
  type WebhookEndpointWithSecret,
} from './endpoints.js';
import {
  type DeliveryEvent,
  type DeliveryRecord,
  type DeliveryStatus,
  deliveryIdOf,
  dueDeliveries,
  emptyOutbox,
  endpointOfDelivery,
  foldOutbox,
  type Outbox,
  outboxStreamOf,
  publicDelivery,
  type WebhookDelivery,
} from './outbox.js';
import { post } from './send.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader, type WebhookEvent } from './signature.js';

/**
 * Options of {@link createWebhooks}.
 *
 * @example
 * const options: WebhooksOptions = {
 *   store, maxAttempts: 10, backoff: { baseMs: 30_000, maxMs: 6 * 3_600_000 }, timeoutMs: 10_000,
 * };
 */
export interface WebhooksOptions {
  /** The ledger's store: endpoints and the outbox are streams in it (names starting with `$webhook`). */
  readonly store: EventStore;
  /** Where "now" comes from; default the system clock. Decides when retries are due. */
  readonly clock?: () => Date;
  /** Draws in [0, 1) for the backoff's jitter; default `Math.random`. */
  readonly random?: () => number;
  /** The HTTP client; default the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Attempts before a delivery is dead-lettered (until replayed); default 8. */
  readonly maxAttempts?: number;
  /** Spacing of retries; default `{ baseMs: 10_000, maxMs: 3_600_000 }`. */
  readonly backoff?: Backoff;
  /** How long an attempt waits for the endpoint's answer; default 10,000 ms. */
  readonly timeoutMs?: number;
  /** Attempts in flight at once per endpoint (each to a different customer); default 8. */
  readonly concurrency?: number;
  /** How long the previous secret still signs after a rotation; default 86,400 s (a day). */
  readonly rotationGraceSeconds?: number;
  /** How long `start()`'s loop sleeps when nothing was due; default 1,000 ms. */
  readonly pollIntervalMs?: number;
}

/**
 * What one `deliverDue()` pass did, over every endpoint.
 *
 * @example
 * const { attempted, succeeded }: DeliveryPass = await webhooks.deliverDue();
 */
export interface DeliveryPass {
  readonly attempted: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly deadLettered: number;
}

/**
 * The webhook sender: a registry of endpoints, a durable outbox per endpoint, and the loop that
 * delivers it. See {@link createWebhooks}.
 *
 * @example
 * const webhooks: Webhooks = createWebhooks({ store });
 * await webhooks.registerEndpoint({ url: 'https://example.com/hooks', eventTypes: ['credits_deducted'] });
 */
export interface Webhooks {
  /** Registers an endpoint; answers it with its secret, which is not shown again. */
  registerEndpoint(input: unknown): Promise<WebhookEndpointWithSecret>;
  /** Changes an endpoint's URL, event types or state; a new `secret` starts a rotation and is echoed. */
  updateEndpoint(input: unknown): Promise<WebhookEndpoint | WebhookEndpointWithSecret>;
  /** Stops deliveries to an endpoint; what is pending waits until it is enabled again. */
  disableEndpoint(input: unknown): Promise<WebhookEndpoint>;
  /** Every endpoint, in registration order, without secrets. */
  endpoints(input?: unknown): Promise<WebhookEndpoint[]>;
  /** An endpoint's deliveries in the order they were enqueued, optionally only those of one `status`. */
  deliveries(input: unknown): Promise<WebhookDelivery[]>;
  /** Sends a delivery again from its first attempt (a dead letter, or one that succeeded). */
  replayDelivery(input: unknown): Promise<WebhookDelivery>;
  /** The feed processor's handler: enqueues each customer event for every endpoint taking its type. */
  handle(batch: FeedBatch): Promise<void>;
  /** One pass: every due attempt sent and its outcome recorded. */
  deliverDue(): Promise<DeliveryPass>;
  /** Delivers in the background until `stop()`, sleeping `pollIntervalMs` when nothing was due. */
  start(): void;
  /** Ends the background loop after its current pass. */
  stop(): Promise<void>;
}

/** What `createWebhooks` accepts, checked before anything is read or sent. */
const WEBHOOKS_OPTION_RULES: OptionRules = {
  store: required(eventStoreRule),
  clock: option.function,
  random: option.function,
  fetch: option.function,
  maxAttempts: option.positiveInteger,
  backoff: {
    ...option.object,
    fields: { baseMs: required(option.positiveNumber), maxMs: required(option.positiveNumber) },
  },
  timeoutMs: option.positiveInteger,
  concurrency: option.positiveInteger,
  rotationGraceSeconds: option.nonNegativeNumber,
  pollIntervalMs: option.positiveInteger,
};

/**
 * Webhooks over a ledger's store. Events reach the outbox through `handle`, the feed processor's
 * handler (at least once: enqueueing an event twice is a no-op), and leave it through `deliverDue`
 * or `start()`: each attempt is claimed in the outbox before its request is sent, so a sender killed
 * mid-delivery leaves a claim that lapses after `timeoutMs`, and the delivery is sent again, with the
 * same event id, by whichever sender runs next. Deliveries to one endpoint keep each customer's order:
 * a customer's later event is not sent before the earlier one has succeeded or been dead-lettered.
 * An unknown option or a bad value is refused with `invalid_input` naming it, before the store is read.
 *
 * @example
 * import { createProcessor } from '@tally/core';
 * import { createWebhooks } from '@tally/webhooks';
 *
 * const webhooks = createWebhooks({ store });
 * const { secret } = await webhooks.registerEndpoint({ url: 'https://example.com/hooks', eventTypes: ['*'] });
 * createProcessor({ store, name: 'webhooks', handle: (batch) => webhooks.handle(batch) }).start();
 * webhooks.start();
 */
export function createWebhooks(options: WebhooksOptions): Webhooks {
  checkOptions(options, WEBHOOKS_OPTION_RULES, { factory: 'createWebhooks' });
  const { store } = options;
  const clock = options.clock ?? (() => new Date());
  const random = options.random ?? Math.random;
  const fetchFn = options.fetch ?? globalThis.fetch;
  const maxAttempts = options.maxAttempts ?? 8;
  const backoff = options.backoff ?? { baseMs: 10_000, maxMs: 3_600_000 };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 8;
  const graceMs = (options.rotationGraceSeconds ?? 86_400) * 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;

  // One fold of each stream per sender, caught up from where it stopped; the lock keeps two calls of
  // this process from folding the same events twice or deciding on the same version at once.
  const registry = { version: 0, endpoints: new Map<string, EndpointRecord>() };
  const outboxes = new Map<string, Outbox>();
  const locks = new Map<string, Promise<unknown>>();

  function locked<T>(streamId: string, work: () => Promise<T>): Promise<T> {
    const before = locks.get(streamId) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => undefined);
    locks.set(streamId, tail);
    void tail.then(() => {
      if (locks.get(streamId) === tail) locks.delete(streamId);
    });
    return run;
  }

  async function refreshRegistry(): Promise<void> {
    const events = await store.readStream(ENDPOINTS_STREAM, { fromVersion: registry.version + 1 });
    foldEndpoints(registry.endpoints, events);
    if (events.length > 0) registry.version = events[events.length - 1]!.version;
  }

  async function refreshOutbox(endpointId: string): Promise<Outbox> {
    const outbox = outboxes.get(endpointId) ?? emptyOutbox();
    outboxes.set(endpointId, outbox);
    const events = await store.readStream(outboxStreamOf(endpointId), { fromVersion: outbox.version + 1 });
    return foldOutbox(outbox, events);
  }

  const newEvent = (type: string, data: Record<string, unknown>, idempotencyKey?: string): NewEvent => ({
    id: `whe_${randomUUID()}`,
    type,
    schemaVersion: 1,
    at: clock().toISOString(),
    data,
    metadata: idempotencyKey === undefined ? {} : { idempotencyKey },
  });

  /**
   * Decides on the stream's latest state and appends what was decided, deciding again after another
   * writer got there first. Returns what was appended (empty when the decision was to do nothing).
   */
  async function decideAndAppend<S>(
    streamId: string,
    refresh: () => Promise<S>,
    version: (state: S) => number,
    decide: (state: S) => NewEvent[],
  ): Promise<{ state: S; appended: NewEvent[] }> {
    return locked(streamId, async () => {
      for (;;) {
        const state = await refresh();
        const events = decide(state);
        if (events.length === 0) return { state, appended: events };
        try {
          await store.append(streamId, events, { expectedVersion: version(state) });
          return { state: await refresh(), appended: events };
        } catch (error) {
          if (error instanceof ConcurrencyConflictError || error instanceof DuplicateIdempotencyKeyError) {
            continue;
          }
          throw error;
        }
      }
    });
  }

  const changeRegistry = (decide: (endpoints: Map<string, EndpointRecord>) => EndpointEvent[]) =>
    decideAndAppend(
      ENDPOINTS_STREAM,
      async () => {
        await refreshRegistry();
        return registry;
      },
      (r) => r.version,
      (r) => decide(r.endpoints).map((e) => newEvent(e.type, { ...e.data })),
    );

  const changeOutbox = (endpointId: string, decide: (outbox: Outbox) => NewEvent[]) =>
    decideAndAppend(
      outboxStreamOf(endpointId),
      () => refreshOutbox(endpointId),
      (o) => o.version,
      decide,
    );

  const known = (endpoints: Map<string, EndpointRecord>, endpointId: string): EndpointRecord => {
    const endpoint = endpoints.get(endpointId);
    if (endpoint === undefined) {
      throw new TallyError('unknown_webhook_endpoint', `no webhook endpoint ${JSON.stringify(endpointId)}`, {
        field: 'endpointId',
      });
    }
    return endpoint;
  };

  const endpointNow = async (endpointId: string): Promise<EndpointRecord> =>
    locked(ENDPOINTS_STREAM, async () => {
      await refreshRegistry();
      return known(registry.endpoints, endpointId);
    });

  async function update(input: {
    endpointId: string;
    url?: string | undefined;
    secret?: string | undefined;
    eventTypes?: readonly string[] | undefined;
    enabled?: boolean | undefined;
  }): Promise<WebhookEndpoint | WebhookEndpointWithSecret> {
    const { endpointId, url, secret, eventTypes, enabled } = input;
    await changeRegistry((endpoints) => {
      known(endpoints, endpointId);
      const data: Record<string, unknown> = { endpointId };
      if (url !== undefined) data.url = url;
      if (eventTypes !== undefined) data.eventTypes = [...eventTypes];
      if (enabled !== undefined) data.enabled = enabled;
      if (secret !== undefined) {
        data.secret = secret;
        data.previousSecretUntil = new Date(clock().getTime() + graceMs).toISOString();
      }
      return [{ type: 'webhook_endpoint_updated', data } as EndpointEvent];
    });
    const after = known(registry.endpoints, endpointId);
    return secret === undefined ? publicEndpoint(after) : { ...publicEndpoint(after), secret: after.secret };
  }

  // -------------------------------------------------------------------------------------------------
  // Enqueueing

  function bodyOf(event: StoredEvent, customerId: string): string {
    // The event as this version of Tally reads it (older shapes upcast), so receivers see one shape.
    const current = EVENT_TYPES.has(event.type) ? upcast(event) : event;
    const payload: WebhookEvent & { schemaVersion: number } = {
      id: event.id,
      type: event.type,
      createdAt: event.at,
      customerId,
      schemaVersion: 'schemaVersion' in current ? current.schemaVersion : event.schemaVersion,
      data: current.data as Record<string, unknown>,
    };
    return JSON.stringify(payload);
  }

  async function handle(batch: FeedBatch): Promise<void> {
    // Only customers' events: the streams the ledger writes for its customers.
    const events = batch.events.filter((e) => e.streamId.startsWith('customer-'));
    if (events.length === 0) return;
    const endpoints = await locked(ENDPOINTS_STREAM, async () => {
      await refreshRegistry();
      return [...registry.endpoints.values()].filter((e) => e.enabled);
    });
    await Promise.all(
      endpoints.map((endpoint) => {
        const chosen = events.filter((e) => subscribes(endpoint, e.type));
        if (chosen.length === 0) return undefined;
        return changeOutbox(endpoint.id, (outbox) =>
          chosen
            .filter((e) => !outbox.deliveries.has(deliveryIdOf(endpoint.id, e.id)))
            .map((e) => {
              const customerId = e.streamId.slice('customer-'.length);
              const data: Extract<DeliveryEvent, { type: 'webhook_delivery_enqueued' }>['data'] = {
                deliveryId: deliveryIdOf(endpoint.id, e.id),
                eventId: e.id,
                eventType: e.type,
                customerId,
                orderingKey: e.streamId,
                body: bodyOf(e, customerId),
              };
              return newEvent('webhook_delivery_enqueued', data, `enqueue:${e.id}`);
            }),
        );
      }),
    );
  }

  // -------------------------------------------------------------------------------------------------
  // Delivering

  async function deliverEndpoint(endpoint: EndpointRecord): Promise<DeliveryPass> {
    const claimed: { record: DeliveryRecord; attempt: number }[] = [];
    let deadLettered = 0;
    await changeOutbox(endpoint.id, (outbox) => {
      claimed.length = 0;
      const nowMs = clock().getTime();
      const { send, exhausted } = dueDeliveries(outbox, nowMs, maxAttempts, concurrency);
      const events: NewEvent[] = exhausted.map((record) =>
        newEvent('webhook_delivery_dead_lettered', {
          deliveryId: record.id,
          attempt: record.attempts,
          status: null,
          error: 'the last attempt has no outcome: its sender stopped before recording one',
        }),
      );
      deadLettered = exhausted.length;
      for (const record of send) {
        const attempt = record.attempts + 1;
        claimed.push({ record, attempt });
        events.push(
          newEvent('webhook_delivery_attempted', {
            deliveryId: record.id,
            attempt,
            // Past this, with no outcome recorded, the attempt is taken as lost and made again.
            leaseUntil: new Date(nowMs + timeoutMs + 1_000).toISOString(),
          }),
        );
      }
      return events;
    });
    if (claimed.length === 0) return { attempted: 0, succeeded: 0, failed: 0, deadLettered };

    const outcomes = await Promise.all(
      claimed.map(async ({ record, attempt }) => {
        const sentAt = clock();
        const timestamp = Math.floor(sentAt.getTime() / 1000);
        const outcome = await post(
          fetchFn,
          endpoint.url,
          record.body,
          {
            'content-type': 'application/json',
            'user-agent': 'Tally-Webhooks/0.1',
            [EVENT_ID_HEADER]: record.eventId,
            'Tally-Delivery-Id': record.id,
            'Tally-Delivery-Attempt': String(attempt),
            [SIGNATURE_HEADER]: signatureHeader(
              record.body,
              signingSecrets(endpoint, sentAt.getTime()),
              timestamp,
            ),
          },
          timeoutMs,
        );
        return { record, attempt, outcome };
      }),
    );

    const pass = { attempted: claimed.length, succeeded: 0, failed: 0, deadLettered };
    await changeOutbox(endpoint.id, (outbox) => {
      pass.succeeded = 0;
      pass.failed = 0;
      pass.deadLettered = deadLettered;
      const events: NewEvent[] = [];
      for (const { record, attempt, outcome } of outcomes) {
        const current = outbox.deliveries.get(record.id);
        // Another sender took the attempt over (ours outlived its lease) or it was replayed meanwhile.
        if (current === undefined || current.status !== 'pending' || current.attempts !== attempt) continue;
        if (outcome.ok) {
          pass.succeeded += 1;
          events.push(
            newEvent('webhook_delivery_succeeded', {
              deliveryId: record.id,
              attempt,
              status: outcome.status ?? 200,
            }),
          );
        } else if (attempt >= maxAttempts) {
          pass.deadLettered += 1;
          events.push(
            newEvent('webhook_delivery_dead_lettered', {
              deliveryId: record.id,
              attempt,
              status: outcome.status,
              error: outcome.error ?? 'failed',
            }),
          );
        } else {
          pass.failed += 1;
          const delay = retryDelayMs(attempt, random(), backoff);
          events.push(
            newEvent('webhook_delivery_failed', {
              deliveryId: record.id,
              attempt,
              status: outcome.status,
              error: outcome.error ?? 'failed',
              nextAttemptAt: new Date(clock().getTime() + delay).toISOString(),
            }),
          );
        }
      }
      return events;
    });
    return pass;
  }

  async function deliverDue(): Promise<DeliveryPass> {
    const endpoints = await locked(ENDPOINTS_STREAM, async () => {
      await refreshRegistry();
      return [...registry.endpoints.values()].filter((e) => e.enabled);
    });
    const passes = await Promise.all(endpoints.map(deliverEndpoint));
    return passes.reduce(
      (sum, p) => ({
        attempted: sum.attempted + p.attempted,
        succeeded: sum.succeeded + p.succeeded,
        failed: sum.failed + p.failed,
        deadLettered: sum.deadLettered + p.deadLettered,
      }),
      { attempted: 0, succeeded: 0, failed: 0, deadLettered: 0 },
    );
  }

  let loop: Promise<void> | null = null;
  let running = false;
  let wake: (() => void) | null = null;

  return {
    async registerEndpoint(input) {
      const parsed = parseInput(registerEndpointInput, input);
      const endpointId = parsed.id ?? `we_${randomBytes(12).toString('hex')}`;
      const secret = parsed.secret ?? `whsec_${randomBytes(24).toString('hex')}`;
      await changeRegistry((endpoints) => {
        if (endpoints.has(endpointId)) {
          throw new TallyError(
            'webhook_endpoint_exists',
            `webhook endpoint ${JSON.stringify(endpointId)} is already registered`,
            { field: 'id' },
          );
        }
        return [
          {
            type: 'webhook_endpoint_registered',
            data: {
              endpointId,
              url: parsed.url,
              secret,
              eventTypes: [...new Set(parsed.eventTypes)],
              enabled: parsed.enabled ?? true,
            },
          },
        ];
      });
      const record = known(registry.endpoints, endpointId);
      return { ...publicEndpoint(record), secret: record.secret };
    },

    async updateEndpoint(input) {
      return update(parseInput(updateEndpointInput, input));
    },

    async disableEndpoint(input) {
      const { endpointId } = parseInput(endpointRefInput, input);
      await update({ endpointId, enabled: false });
      return publicEndpoint(known(registry.endpoints, endpointId));
    },

    async endpoints(input = {}) {
      parseInput(noInput, input);
      return locked(ENDPOINTS_STREAM, async () => {
        await refreshRegistry();
        return [...registry.endpoints.values()].map(publicEndpoint);
      });
    },

    async deliveries(input) {
      const { endpointId, status } = parseInput(deliveriesInput, input);
      await endpointNow(endpointId);
      const outbox = await locked(outboxStreamOf(endpointId), () => refreshOutbox(endpointId));
      const wanted = (s: DeliveryStatus) => status === undefined || s === status;
      return [...outbox.deliveries.values()]
        .filter((record) => wanted(record.status))
        .map((record) => publicDelivery(endpointId, record));
    },

    async replayDelivery(input) {
      const { deliveryId } = parseInput(replayInput, input);
      const unknown = () =>
        new TallyError('unknown_webhook_delivery', `no webhook delivery ${JSON.stringify(deliveryId)}`, {
          field: 'deliveryId',
        });
      const endpointId = endpointOfDelivery(deliveryId);
      if (endpointId === null) throw unknown();
      const endpoint = await locked(ENDPOINTS_STREAM, async () => {
        await refreshRegistry();
        return registry.endpoints.get(endpointId);
      });
      if (endpoint === undefined) throw unknown();
      const { state } = await changeOutbox(endpointId, (outbox) => {
        const record = outbox.deliveries.get(deliveryId);
        if (record === undefined) throw unknown();
        // A pending delivery is already on its way: replaying it would only reset its backoff.
        if (record.status === 'pending') return [];
        return [newEvent('webhook_delivery_replayed', { deliveryId })];
      });
      return publicDelivery(endpointId, state.deliveries.get(deliveryId)!);
    },

    handle,
    deliverDue,

    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          let pass: DeliveryPass;
          try {
            pass = await deliverDue();
          } catch {
            // The store was unreachable: nothing was lost (the outbox is the truth); try again later.
            pass = { attempted: 0, succeeded: 0, failed: 0, deadLettered: 0 };
          }
          if (pass.attempted > 0 || !running) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, pollIntervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
        }
      })();
    },

    async stop() {
      running = false;
      wake?.();
      await loop;
      loop = null;
    },
  };
}
