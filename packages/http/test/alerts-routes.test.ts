import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './server.js';

/** Balance alerts and auto top-up over HTTP: the routes call the ledger's commands, refusals are 400. */

const errorOf = (body: unknown) => (body as { error: { code: string; field?: string } }).error;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('alert and top-up routes', () => {
  it('an alert set over HTTP fires on the usage that crosses; a top-up is requested, completed and granted', async () => {
    server = await startServer();
    const customerId = 'cus_http';
    await server.call('POST', '/v1/customers', { body: { customerId } });
    await server.call('POST', '/v1/grants', { body: { customerId, currency: 'credits', amount: '100' } });
    const alert = await server.call('POST', '/v1/balance-alerts', {
      body: { customerId, currency: 'credits', thresholds: ['50'] },
    });
    expect(alert.status).toBe(200);
    const rule = await server.call('POST', '/v1/auto-top-ups', {
      body: { customerId, currency: 'credits', threshold: '30', amount: '100' },
    });
    expect([rule.status, (rule.body as { pending: unknown }).pending]).toEqual([200, null]);
    await server.call('POST', '/v1/usage', { body: { customerId, feature: 'ai-generation', quantity: 8 } });
    const evaluated = await server.call('POST', '/v1/balance-alerts/evaluate', { body: { customerId } });
    const { alerts, autoTopUps } = evaluated.body as {
      alerts: { thresholds: { firing: boolean }[] }[];
      autoTopUps: { pending: { requestId: string; amount: string; idempotencyKey: string } | null }[];
    };
    expect(alerts[0]!.thresholds[0]!.firing).toBe(true);
    const pending = autoTopUps[0]!.pending!;
    expect(pending.amount).toBe('100');
    const completed = await server.call('POST', `/v1/auto-top-ups/${pending.requestId}/complete`, {
      body: {
        customerId,
        currency: 'credits',
        paymentId: 'pi_1',
        price: { amount: '1.00', currency: 'USD' },
      },
    });
    expect([completed.status, (completed.body as { available: string }).available]).toEqual([200, '120']);
    const again = await server.call('POST', `/v1/auto-top-ups/${pending.requestId}/complete`, {
      body: {
        customerId,
        currency: 'credits',
        paymentId: 'pi_1',
        price: { amount: '1.00', currency: 'USD' },
      },
    });
    expect((again.body as { available: string }).available).toBe('120');
  });

  it('bad rules are 400 with the code and field the library gives', async () => {
    server = await startServer();
    await server.call('POST', '/v1/customers', { body: { customerId: 'cus_http' } });
    const badPercent = await server.call('POST', '/v1/balance-alerts', {
      body: { customerId: 'cus_http', currency: 'credits', thresholds: [{ percent: 150 }] },
    });
    expect([badPercent.status, errorOf(badPercent.body)]).toMatchObject([
      400,
      { code: 'invalid_amount', field: 'thresholds[0].percent' },
    ]);
    const both = await server.call('POST', '/v1/auto-top-ups', {
      body: { customerId: 'cus_http', currency: 'credits', threshold: '10', amount: '5', target: '50' },
    });
    expect([both.status, errorOf(both.body)]).toMatchObject([
      400,
      { code: 'invalid_input', field: 'target' },
    ]);
    const notInFlight = await server.call('POST', '/v1/auto-top-ups/evt_nope/fail', {
      body: { customerId: 'cus_http', currency: 'credits', error: 'declined' },
    });
    expect([notInFlight.status, errorOf(notInFlight.body).code]).toEqual([400, 'invalid_input']);
  });
});
