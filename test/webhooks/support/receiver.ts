/**
 * A real webhook receiver for the tests: a node:http server on 127.0.0.1 that records every request
 * (headers, the exact body, whether `verifyWebhook` accepts it), answers with what the test decides,
 * and can be taken down (its port closed, so connections are refused) and brought back on the same port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, WebhookVerificationError } from '@tally/webhooks';

export interface Received {
  readonly eventId: string;
  readonly deliveryId: string;
  readonly attempt: number;
  readonly signature: string;
  readonly body: string;
  /** The customer verifyWebhook read from the body, or the reason it refused the delivery. */
  readonly verified:
    | { readonly ok: true; readonly customerId: string | null }
    | { readonly ok: false; readonly reason: string };
  /** What the receiver answered. */
  readonly status: number;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Closes the port: attempts meet a refused connection until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  readonly secret: () => string | readonly string[];
  readonly now?: () => Date;
  /** The status to answer a delivery with; default 200. Called after the request is recorded. */
  readonly respond?: (request: Omit<Received, 'status'>) => number | Promise<number>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer(async (request, response) => {
    const body = await readBody(request);
    const signature = String(request.headers['tally-signature'] ?? '');
    let verified: Received['verified'];
    try {
      const event = verifyWebhook(body, request.headers['tally-signature'], options.secret(), {
        ...(options.now === undefined ? {} : { now: options.now }),
      });
      verified = { ok: true, customerId: event.customerId };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      verified = { ok: false, reason: error.reason };
    }
    const request_ = {
      eventId: String(request.headers['tally-event-id'] ?? ''),
      deliveryId: String(request.headers['tally-delivery-id'] ?? ''),
      attempt: Number(request.headers['tally-delivery-attempt']),
      signature,
      body,
      verified,
    };
    const status = verified.ok ? ((await options.respond?.(request_)) ?? 200) : 400;
    received.push({ ...request_, status });
    response.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;
  const down = async () => {
    if (!listening) return;
    listening = false;
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    down,
    async up() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: down,
  };
}
