/**
 * The sender killed mid-delivery loses nothing. A worker process runs the feed processor and the
 * webhook sender over a SQLite file or a Postgres schema; the receiver (a real HTTP server here)
 * kills it with SIGKILL while a delivery's request is in its hands, unanswered, several times, while
 * this process keeps writing to the ledger. After the last restart every event has reached the
 * receiver (at least once), each with its own stable id and one body, every request verifies, no
 * customer's event arrived before an earlier one of theirs, and each delivery in flight at a kill
 * was sent again after it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { EventStore } from '@tally/core';
import { createWebhooks } from '@tally/webhooks';
import { describe, expect, it } from 'vitest';
import { openStoreSpec } from '../support/store-spec.js';
import {
  choosePostgres,
  itOnPostgresServer,
  postgresDatabase,
  type StoreSpec,
  sqliteTarget,
} from '../support/stores.js';
import { type Received, startReceiver } from './support/receiver.js';
import { customerEvents, deliveryProblems, writeHistories } from './support/workload.js';
import type { SenderTask } from './workers/sender.js';

const postgres = await choosePostgres();
const workers = join(dirname(fileURLToPath(import.meta.url)), 'workers');
/** The receiver kills the sender when it holds the request numbered here, unanswered. */
const KILL_AT = [2, 7, 13, 20, 28];

function startSender(task: SenderTask): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', join(workers, 'sender.ts'), JSON.stringify(task)], {
    cwd: workers,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function ready(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.on('close', (code, signal) =>
      reject(new Error(`the sender exited (${code ?? signal}): ${stderr}`)),
    );
  });
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('close', () => resolve());
  });

async function killedMidDelivery(spec: StoreSpec, store: EventStore): Promise<void> {
  const setup = createWebhooks({ store });
  let secret = '';
  let child: ChildProcessWithoutNullStreams | null = null;
  const killedDuring: string[] = [];
  let arrivals = 0;
  const receiver = await startReceiver({
    secret: () => secret,
    respond: async (request: Omit<Received, 'status'>) => {
      // The request is in hand and not answered: the sender dies now, before it can record anything.
      arrivals += 1;
      if (KILL_AT.includes(arrivals) && child !== null && child.signalCode === null) {
        killedDuring.push(request.eventId);
        child.kill('SIGKILL');
        await exited(child);
      }
      return 200;
    },
  });
  try {
    const endpoint = await setup.registerEndpoint({ url: receiver.url, eventTypes: ['*'] });
    secret = endpoint.secret;
    await writeHistories(store, { customers: ['cus_a', 'cus_b', 'cus_c'], usages: 4 });

    let round = 0;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const sender = startSender({ spec, timeoutMs: 300 });
      child = sender;
      await ready(sender).catch((error: unknown) => {
        if (sender.signalCode !== 'SIGKILL') throw error;
      });
      // More writes while it runs: new customers and more of the old ones' usage.
      let writes = 0;
      const write = async () => {
        writes += 1;
        await writeHistories(store, { customers: [`cus_r${round}_${writes}`], usages: 3 });
        const all = await customerEvents(store);
        return [...all.values()].reduce((n, e) => n + e.length, 0);
      };
      round += 1;
      let total = await write();
      // Wait until it is killed, or (after the last kill) until everything has arrived.
      for (;;) {
        if (sender.signalCode === 'SIGKILL') break;
        const arrived = new Set(receiver.received.filter((r) => r.status === 200).map((r) => r.eventId));
        if (arrived.size === total) {
          // An arrival is the receiver's answer; the sender records it a moment later. Stop it only once
          // it has, or the last answers it holds would be left pending by this test's own kill.
          if (killedDuring.length === KILL_AT.length && (await allRecorded(setup, endpoint.id, total))) break;
          if (killedDuring.length < KILL_AT.length) total = await write(); // the next kill needs more to deliver
        }
        if (Date.now() > deadline) throw new Error(`only ${arrived.size} of ${total} events arrived in time`);
        await sleep(50);
      }
      if (sender.signalCode !== 'SIGKILL') {
        sender.kill('SIGKILL');
        await exited(sender);
        break;
      }
    }

    const byCustomer = await customerEvents(store);
    const total = [...byCustomer.values()].reduce((n, e) => n + e.length, 0);
    expect(killedDuring).toHaveLength(KILL_AT.length);
    expect(deliveryProblems(byCustomer, receiver.received)).toEqual([]);
    // Each delivery the sender died holding was sent again by the next one, with the same id.
    for (const eventId of killedDuring) {
      expect(receiver.received.filter((r) => r.eventId === eventId).length).toBeGreaterThanOrEqual(2);
    }
    const duplicates = receiver.received.length - new Set(receiver.received.map((r) => r.eventId)).size;
    console.info(
      `${total} events, ${receiver.received.length} requests, ${duplicates} sent again, ${KILL_AT.length} kills`,
    );
    const deliveries = await setup.deliveries({ endpointId: endpoint.id });
    expect(deliveries).toHaveLength(total);
    expect(deliveries.filter((d) => d.status !== 'succeeded')).toEqual([]);
  } finally {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await receiver.close();
  }
}

/** Whether the sender has recorded every one of `total` deliveries to `endpointId` as succeeded. */
async function allRecorded(
  webhooks: ReturnType<typeof createWebhooks>,
  endpointId: string,
  total: number,
): Promise<boolean> {
  const deliveries = await webhooks.deliveries({ endpointId });
  return deliveries.length === total && deliveries.every((d) => d.status === 'succeeded');
}

describe('the webhook sender killed mid-delivery', () => {
  it('loses nothing on a SQLite file', async () => {
    const opened = await sqliteTarget().open();
    try {
      await killedMidDelivery(opened.spec!, opened.store);
    } finally {
      await opened.close();
    }
  }, 120_000);

  itOnPostgresServer(
    postgres,
    'loses nothing on Postgres',
    async (url) => {
      const db = await postgresDatabase();
      const schema = db.freshSchema();
      const store = openStoreSpec({ kind: 'postgres', connectionString: url, schema });
      try {
        await store.readAll({ limit: 0 });
        await killedMidDelivery({ kind: 'postgres', connectionString: url, schema }, store);
      } finally {
        await store.close();
        await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }
    },
    120_000,
  );
});
