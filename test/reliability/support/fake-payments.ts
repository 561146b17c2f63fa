import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Purchased, PurchaseRequest } from '@tally/core';

/**
 * A host's payment API shared by several processes through a directory, as Stripe honours an
 * idempotency key: the first call with a key charges (creates its file, exclusively), every later one
 * with the same key answers the same payment. Every call is logged, so a test counts both.
 */
export function filePayments(dir: string, caller: string): (request: PurchaseRequest) => Promise<Purchased> {
  return async (request) => {
    appendFileSync(join(dir, 'calls.jsonl'), `${JSON.stringify({ ...request, caller })}\n`);
    const digest = createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 16);
    const file = join(dir, `charge-${digest}.json`);
    const charge = { paymentId: `pay_${digest}`, price: { amount: `${request.amount}.00`, currency: 'USD' } };
    try {
      writeFileSync(file, JSON.stringify({ ...charge, ...request, caller }), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const earlier = JSON.parse(readFileSync(file, 'utf8')) as Purchased;
      return { paymentId: earlier.paymentId, price: earlier.price };
    }
    return charge;
  };
}

/** The charges made and the calls received, as the directory holds them. */
export function paymentsIn(dir: string): { charges: PurchaseRequest[]; calls: PurchaseRequest[] } {
  const charges = readdirSync(dir)
    .filter((name) => name.startsWith('charge-'))
    .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as PurchaseRequest);
  let log = '';
  try {
    log = readFileSync(join(dir, 'calls.jsonl'), 'utf8');
  } catch {
    // no call yet
  }
  const calls = log
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as PurchaseRequest);
  return { charges, calls };
}
