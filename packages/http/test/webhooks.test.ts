/**
 * The webhook routes: endpoints registered, listed and changed over HTTP, deliveries listed and
 * replayed, refusals with the same code and field as the library, and nothing served without webhooks.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isTallyError } from '@tally/core';
import { memoryStore } from '@tally/store-memory';
import { createWebhooks, verifyWebhook } from '@tally/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './server.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(): Promise<{
  server: TestServer;
  webhooks: ReturnType<typeof createWebhooks>;
  store: ReturnType<typeof memoryStore>;
}> {
  const store = memoryStore();
  const webhooks = createWebhooks({ store, maxAttempts: 1 });
  const server = await startServer({ store, webhooks });
  servers.push(server);
  return { server, webhooks, store };
}

/** A receiver that answers 200 to everything and keeps the requests' bodies and signatures. */
async function receiver(): Promise<{ url: string; got: { body: string; signature: string }[] }> {
  const got: { body: string; signature: string }[] = [];
  const http = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    got.push({
      body: Buffer.concat(chunks).toString(),
      signature: String(request.headers['tally-signature']),
    });
    response.writeHead(200).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hooks`, got };
}

describe('webhook routes', () => {
  it('register, list without secrets, update, deliveries and replay', async () => {
    const { server, webhooks, store } = await serve();
    const target = await receiver();
    const made = await server.call('POST', '/v1/webhook-endpoints', {
      body: { id: 'billing', url: target.url, eventTypes: ['customer_created'] },
    });
    expect(made.status).toBe(201);
    const endpoint = made.body as { id: string; secret: string };
    expect(endpoint).toMatchObject({ id: 'billing', enabled: true, eventTypes: ['customer_created'] });
    expect(endpoint.secret).toMatch(/^whsec_/);

    const listed = await server.call('GET', '/v1/webhook-endpoints');
    expect(listed.status).toBe(200);
    expect((listed.body as { data: object[] }).data).toEqual([
      expect.not.objectContaining({ secret: expect.anything() }),
    ]);
    expect((listed.body as { data: object[] }).data[0]).toMatchObject({ id: 'billing' });

    expect((await server.call('POST', '/v1/customers', { body: { customerId: 'cus_1' } })).status).toBe(201);
    // The feed's part, by hand: the store's events to the outbox, then one pass of the sender.
    await webhooks.handle({ partition: 'all', events: await store.readAll() });
    expect(await webhooks.deliverDue()).toMatchObject({ attempted: 1, succeeded: 1 });
    const event = verifyWebhook(target.got[0]!.body, target.got[0]!.signature, endpoint.secret);
    expect(event).toMatchObject({ type: 'customer_created', customerId: 'cus_1' });

    const deliveries = await server.call('GET', '/v1/webhook-endpoints/billing/deliveries?status=succeeded');
    expect(deliveries.status).toBe(200);
    const [delivery] = (deliveries.body as { data: { id: string; eventId: string; status: string }[] }).data;
    expect(delivery).toMatchObject({ eventId: event.id, status: 'succeeded', endpointId: 'billing' });

    const replayed = await server.call(
      'POST',
      `/v1/webhook-deliveries/${encodeURIComponent(delivery!.id)}/replay`,
    );
    expect(replayed).toMatchObject({
      status: 200,
      body: { id: delivery!.id, status: 'pending', attempts: 0 },
    });
    await webhooks.deliverDue();
    expect(target.got.map((g) => JSON.parse(g.body).id)).toEqual([event.id, event.id]);

    const disabled = await server.call('PATCH', '/v1/webhook-endpoints/billing', {
      body: { enabled: false },
    });
    expect(disabled).toMatchObject({ status: 200, body: { id: 'billing', enabled: false } });
    expect(disabled.body).not.toHaveProperty('secret');
  });

  it('refuses bad input with the same code and field as the library, writing nothing', async () => {
    const { server, webhooks } = await serve();
    await webhooks.registerEndpoint({ id: 'billing', url: 'https://example.com/a', eventTypes: ['*'] });
    const cases: { method: string; path: string; body?: unknown; library: () => Promise<unknown> }[] = [
      {
        method: 'POST',
        path: '/v1/webhook-endpoints',
        body: { url: 'not a url', eventTypes: ['*'] },
        library: () => webhooks.registerEndpoint({ url: 'not a url', eventTypes: ['*'] }),
      },
      {
        method: 'POST',
        path: '/v1/webhook-endpoints',
        body: { url: 'https://example.com', eventTypes: ['*'], retries: 3 },
        library: () =>
          webhooks.registerEndpoint({ url: 'https://example.com', eventTypes: ['*'], retries: 3 }),
      },
      {
        method: 'POST',
        path: '/v1/webhook-endpoints',
        body: { id: 'billing', url: 'https://example.com', eventTypes: ['*'] },
        library: () =>
          webhooks.registerEndpoint({ id: 'billing', url: 'https://example.com', eventTypes: ['*'] }),
      },
      {
        method: 'POST',
        path: '/v1/webhook-endpoints',
        body: { url: 'https://example.com', eventTypes: ['credit_granted'] },
        library: () =>
          webhooks.registerEndpoint({ url: 'https://example.com', eventTypes: ['credit_granted'] }),
      },
      {
        method: 'PATCH',
        path: '/v1/webhook-endpoints/nope',
        body: { enabled: false },
        library: () => webhooks.updateEndpoint({ endpointId: 'nope', enabled: false }),
      },
      {
        method: 'PATCH',
        path: '/v1/webhook-endpoints/billing',
        body: { enabled: 'no' },
        library: () => webhooks.updateEndpoint({ endpointId: 'billing', enabled: 'no' }),
      },
      {
        method: 'GET',
        path: '/v1/webhook-endpoints/billing/deliveries?status=lost',
        library: () => webhooks.deliveries({ endpointId: 'billing', status: 'lost' }),
      },
      {
        method: 'GET',
        path: '/v1/webhook-endpoints/nope/deliveries',
        library: () => webhooks.deliveries({ endpointId: 'nope' }),
      },
      {
        method: 'POST',
        path: '/v1/webhook-deliveries/billing.evt_nope/replay',
        library: () => webhooks.replayDelivery({ deliveryId: 'billing.evt_nope' }),
      },
    ];
    for (const { method, path, body, library } of cases) {
      const error = await library().then(
        () => null,
        (e: unknown) => e,
      );
      if (!isTallyError(error)) throw new Error(`the library accepted ${method} ${path}`);
      const answer = await server.call(method, path, body === undefined ? {} : { body });
      expect([path, answer.body]).toEqual([
        path,
        {
          error: {
            code: error.code,
            message: expect.any(String),
            ...(error.field ? { field: error.field } : {}),
          },
        },
      ]);
      expect(answer.status).toBe(
        error.code.startsWith('unknown_') ? 404 : error.code === 'webhook_endpoint_exists' ? 409 : 400,
      );
    }
    // A query parameter the route does not declare, as on every route.
    const typo = await server.call('GET', '/v1/webhook-endpoints/billing/deliveries?state=pending');
    expect(typo).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', field: 'state' } } });
    expect((await webhooks.endpoints()).map((e) => e.id)).toEqual(['billing']);
  });

  it('answers 404 without webhooks, and 401 without a key', async () => {
    const server = await startServer();
    servers.push(server);
    const answer = await server.call('GET', '/v1/webhook-endpoints');
    expect(answer).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const { server: withHooks } = await serve();
    expect((await withHooks.call('GET', '/v1/webhook-endpoints', { key: null })).status).toBe(401);
    expect(
      (await withHooks.call('GET', '/v1/webhook-endpoints', { key: 'upay_sk_wrong_0123456789' })).status,
    ).toBe(401);
  });
});
