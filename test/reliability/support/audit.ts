import { setTimeout as sleep } from 'node:timers/promises';
import { type EventStore, type Ledger, type RecordedEvent, type StoredEvent, TallyError } from '@tally/core';
import { upcast } from '@tally/core/pure';
import { allEntries } from '../../support/statement.js';

/**
 * Independent checks of what a store holds. The fold here is written from the event definitions, not
 * from the core's fold, so a bug in the core's arithmetic cannot hide behind itself.
 */

/** The stream the fingerprint writes its sentinels to, left out of what it compares. */
const SENTINEL_STREAM = 'fingerprint-sentinel';

/**
 * JSON of everything a store holds, with bigint positions written as text: equal strings, equal stores.
 *
 * The global order is read up to a horizon on Postgres: an event committed while any transaction on the
 * server is still open (another suite's, on a shared server) stays out of `readAll` until that one ends,
 * so two reads of an unchanged store can differ. Each fingerprint appends a sentinel and reads until it
 * shows: everything committed before it is then in view, and what is compared is what was written, not
 * how far the horizon had moved. The sentinels are left out.
 */
export async function storeFingerprint(
  store: EventStore,
  streamIds: readonly string[] = [],
): Promise<string> {
  const version = (await store.readStream(SENTINEL_STREAM)).length;
  const sentinel = {
    id: `sentinel_${version + 1}`,
    type: 'fingerprint.sentinel',
    schemaVersion: 1,
    at: new Date().toISOString(),
    data: {},
    metadata: {},
  };
  await store.append(SENTINEL_STREAM, [sentinel], { expectedVersion: version });
  const deadline = Date.now() + 120_000;
  let events = await store.readAll();
  while (!events.some((e) => e.streamId === SENTINEL_STREAM && e.id === sentinel.id)) {
    if (Date.now() > deadline) throw new Error('the fingerprint sentinel never showed in readAll');
    await sleep(20);
    events = await store.readAll();
  }
  const snapshots = await Promise.all(streamIds.map((id) => store.readSnapshot(id)));
  return JSON.stringify(
    { events: events.filter((e) => e.streamId !== SENTINEL_STREAM), snapshots },
    bigintReplacer,
  );
}

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

/** Minor units of a decimal string Tally wrote ('-12.50' with 2 places is -1250n). */
export function minor(amount: string, decimals: number): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(amount);
  if (match === null) throw new Error(`not an amount: ${amount}`);
  const fraction = match[3] ?? '';
  if (fraction.length > decimals) throw new Error(`${amount} has more than ${decimals} places`);
  const value = BigInt(match[2]! + fraction.padEnd(decimals, '0'));
  return match[1] === '-' ? -value : value;
}

export interface AccountFold {
  balance: bigint;
  held: bigint;
  debt: bigint;
  creditLimit: bigint;
  /** Lowest `balance - held + creditLimit` right after any event that spends (deduction or hold). */
  lowestHeadroom: bigint;
  /** Event ids after which the account was below what its credit limit allows. */
  overspentAt: string[];
}

/**
 * Folds one currency of a stream: grants add (once effective), deductions, expiries and voids take,
 * reversals give back, holds reserve. Checks after every spending event that the account stayed within
 * its credit limit.
 */
export function foldAccount(
  events: readonly RecordedEvent[],
  currency: string,
  decimals: number,
  atMs = Number.POSITIVE_INFINITY,
): AccountFold {
  const fold: AccountFold = {
    balance: 0n,
    held: 0n,
    debt: 0n,
    creditLimit: 0n,
    lowestHeadroom: 0n,
    overspentAt: [],
  };
  let first = true;
  const m = (amount: string) => minor(amount, decimals);
  for (const event of events) {
    if (!('currency' in event.data) || event.data.currency !== currency) continue;
    switch (event.type) {
      case 'credits_granted':
        if (Date.parse(event.data.effectiveAt) <= atMs) fold.balance += m(event.data.amount);
        break;
      case 'credits_deducted':
        fold.balance -= m(event.data.cost);
        fold.debt += m(event.data.debt);
        break;
      case 'grant_expired':
      case 'grant_voided':
        fold.balance -= m(event.data.amount);
        break;
      case 'usage_reversed':
        fold.balance += m(event.data.debtCleared);
        for (const restored of event.data.restored) fold.balance += m(restored.amount);
        fold.debt -= m(event.data.debtCleared);
        break;
      case 'credits_held':
        fold.held += m(event.data.amount);
        break;
      case 'hold_released':
        fold.held -= m(event.data.amount);
        break;
      case 'debt_settled':
        fold.debt -= m(event.data.amount);
        break;
      case 'credit_limit_set':
        fold.creditLimit = m(event.data.limit);
        break;
      default:
        break;
    }
    if (event.type === 'credits_deducted' || event.type === 'credits_held') {
      const headroom = fold.balance - fold.held + fold.creditLimit;
      if (first || headroom < fold.lowestHeadroom) fold.lowestHeadroom = headroom;
      first = false;
      if (headroom < 0n) fold.overspentAt.push(event.id);
    }
  }
  return fold;
}

/** Problems with a stream's shape: versions must run 1..n without gaps and ids must be unique. */
export function streamShapeProblems(events: readonly StoredEvent[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  events.forEach((event, index) => {
    if (event.version !== index + 1)
      problems.push(`event ${event.id} has version ${event.version}, expected ${index + 1}`);
    if (ids.has(event.id)) problems.push(`event id ${event.id} appears twice`);
    ids.add(event.id);
  });
  return problems;
}

export interface LedgerAudit {
  readonly events: StoredEvent[];
  readonly recorded: RecordedEvent[];
  readonly fold: AccountFold;
  readonly reported: { balance: string; held: string; debt: string; creditLimit: string };
  readonly entriesBalance: string | null;
  readonly problems: string[];
}

/**
 * Reads a customer through the ledger and through the store and lists every disagreement: balance,
 * held and debt as the ledger reports them against the independent fold, the statement's last running
 * balance, version density, the hash chain, and overspending.
 */
export async function auditCustomer(
  ledger: Ledger,
  store: EventStore,
  customerId: string,
  currency: string,
  decimals: number,
): Promise<LedgerAudit> {
  const events = await store.readStream(`customer-${customerId}`);
  const recorded = events.map(upcast);
  const fold = foldAccount(recorded, currency, decimals);
  const problems = streamShapeProblems(events);
  const accounts = await ledger.creditAccounts({ customerId });
  const account = accounts.find((a) => a.currency === currency);
  const reported = {
    balance: account?.balance ?? '0',
    held: account?.held ?? '0',
    debt: account?.debt ?? '0',
    creditLimit: account?.creditLimit ?? '0',
  };
  const entries = await allEntries(ledger, { customerId, currency });
  const entriesBalance = entries.at(-1)?.balance ?? null;
  const m = (amount: string) => minor(amount, decimals);
  if (m(reported.balance) !== fold.balance)
    problems.push(`ledger balance ${reported.balance} but the events fold to ${fold.balance}`);
  if (m(reported.held) !== fold.held)
    problems.push(`ledger held ${reported.held} but the events fold to ${fold.held}`);
  if (m(reported.debt) !== fold.debt)
    problems.push(`ledger debt ${reported.debt} but the events fold to ${fold.debt}`);
  if (entriesBalance !== null && m(entriesBalance) !== fold.balance) {
    problems.push(`statement ends at ${entriesBalance} but the events fold to ${fold.balance}`);
  }
  if (fold.debt < 0n) problems.push(`debt is negative: ${fold.debt}`);
  if (fold.overspentAt.length > 0) problems.push(`overspent after events ${fold.overspentAt.join(', ')}`);
  if (fold.balance - fold.held + fold.creditLimit < 0n) {
    problems.push(`available ${fold.balance - fold.held} is below the credit limit -${fold.creditLimit}`);
  }
  const verified = await ledger.verify({ customerId });
  if (!verified.ok)
    problems.push(`hash chain broken at version ${verified.firstBadVersion}: ${verified.problem}`);
  return { events, recorded, fold, reported, entriesBalance, problems };
}

/** The error as a short record for outcome logs: a TallyError's code, anything else marked as such. */
export function errorCode(error: unknown): { code: string; message: string } {
  if (error instanceof TallyError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { code: 'not_a_tally_error', message };
}
