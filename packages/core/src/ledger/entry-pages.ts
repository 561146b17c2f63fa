import { createHash } from 'node:crypto';
import { type EntryLine, entryLine, formatLine, type LedgerEntry, lineAt } from '../entries.js';
import { TallyError } from '../errors.js';
import type { EventStore, StoredEvent } from '../event-store.js';
import type { RecordedEvent } from '../events.js';
import type { DeferredLine } from '../state.js';
import { upcast } from '../upcast.js';
import type { EntriesOrder } from './entries-inputs.js';

/**
 * Paging a customer's statement without reading its history. The statement is ordered by (instant,
 * stream version). Nearly every line sits at its event's place in the stream, and events are in time
 * order, so those lines come out of a slice of the stream in order; the few dated later than their
 * event (a future-dated grant, the void of one) are listed in the state (`deferred`) and merged in.
 * A page reads its slice plus the deferred lines that fall in it; the running balance at its start
 * travels in the cursor, so a page costs what it holds, wherever it is in the history.
 */

/**
 * One page of a customer's statement: its lines in the order asked for, each with the running
 * balance after it, and the cursor of the next page (null on the last).
 *
 * @example
 * const { data, nextCursor, hasMore } = await ledger.entries({ customerId: 'cus_123', limit: 50 });
 */
export interface EntriesPage {
  readonly data: readonly LedgerEntry[];
  /** Pass it as `cursor`, with the same filters, for the next page; null when there is none. */
  readonly nextCursor: string | null;
  readonly hasMore: boolean;
}

/** What a page is read from: the stream up to `top`, the due events past it, the deferred lines. */
export interface StatementSource {
  readonly store: EventStore;
  readonly streamId: string;
  readonly customerId: string;
  /** Last stored version the statement includes. */
  readonly top: number;
  /** Events fallen due by the read's instant, not stored yet: versions top + 1, top + 2… */
  readonly due: readonly RecordedEvent[];
  readonly deferred: readonly DeferredLine[];
  /** Places per currency, for formatting. */
  readonly decimals: (currency: string) => number;
  /** Per currency, the running balance after the last line the statement holds (the account's). */
  readonly endBalances: ReadonlyMap<string, bigint>;
  /** The instant the statement is read as of: no line after it. */
  readonly atMs: number;
  /** `at` of the last event (stored or due), in ms. */
  readonly lastAtMs: number;
}

/** The lines a read wants: one currency or all, between two instants (both inclusive, in ms). */
export interface StatementWindow {
  readonly currency: string | null;
  readonly fromMs: number;
  readonly toMs: number;
}

/** One event as the pager reads it: its version, the event, and its stored hash if it is stored. */
interface Read {
  readonly version: number;
  readonly event: RecordedEvent;
  readonly hash: string | null;
}

/** A line with where it sorts: its instant, then its event's version. */
interface Keyed {
  readonly line: EntryLine;
  readonly version: number;
}

type Key = readonly [atMs: number, version: number];
const before = (a: Key, b: Key): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** Where a page left off: the last line's key, the next stream version to read, the balances there. */
interface Position {
  readonly key: Key;
  readonly next: number;
  readonly balances: Map<string, bigint>;
}

const CHUNK = 1_000;

/** Reads events of the statement's range [from, to] of versions, stored and due alike. */
async function readRange(source: StatementSource, from: number, to: number): Promise<Read[]> {
  const lo = Math.max(1, from);
  const hi = Math.min(to, source.top + source.due.length);
  if (hi < lo) return [];
  const out: Read[] = [];
  if (lo <= source.top) {
    const stored = await source.store.readStream(source.streamId, {
      fromVersion: lo,
      toVersion: Math.min(hi, source.top),
    });
    for (const event of stored) {
      // A store that ignores toVersion hands back more: only the range counts.
      if (event.version < lo || event.version > Math.min(hi, source.top)) continue;
      out.push({ version: event.version, event: upcast(event), hash: hashOf(event) });
    }
  }
  for (let v = Math.max(lo, source.top + 1); v <= hi; v++)
    out.push({ version: v, event: source.due[v - source.top - 1]!, hash: null });
  return out;
}

const hashOf = (event: StoredEvent): string | null =>
  typeof event.metadata.hash === 'string' ? event.metadata.hash : null;

/** The statement's reading of a stream: lines in place (not deferred), deferred lines by key. */
class Statement {
  private readonly deferredVersions: ReadonlySet<number>;
  /** Deferred lines in the window, in statement order. */
  readonly deferred: readonly DeferredLine[];
  readonly last: number;

  constructor(
    readonly source: StatementSource,
    readonly window: StatementWindow,
  ) {
    this.deferredVersions = new Set(source.deferred.map((d) => d.version));
    this.deferred = source.deferred
      .filter(
        (d) =>
          d.version <= source.top + source.due.length &&
          (window.currency === null || d.currency === window.currency) &&
          d.atMs >= window.fromMs &&
          d.atMs <= window.toMs,
      )
      .sort((a, b) => a.atMs - b.atMs || a.version - b.version);
    this.last = source.top + source.due.length;
  }

  /** The line `read` makes in place, if it is one of the window's. */
  inPlace(read: Read): Keyed | null {
    if (this.deferredVersions.has(read.version)) return null;
    const line = entryLine(read.event);
    if (line === null || !this.wants(line)) return null;
    return { line, version: read.version };
  }

  private wants(line: EntryLine): boolean {
    const { currency, fromMs, toMs } = this.window;
    return (currency === null || line.currency === currency) && line.atMs >= fromMs && line.atMs <= toMs;
  }

  /** The lines of deferred entries, read one by one (they are few). */
  async deferredLines(list: readonly DeferredLine[]): Promise<Keyed[]> {
    const out: Keyed[] = [];
    for (const d of list) {
      const [read] = await readRange(this.source, d.version, d.version);
      const line = read === undefined ? null : entryLine(read.event);
      if (line === null) {
        throw new TallyError(
          'corrupt_stream',
          `stream ${this.source.streamId} has no line at version ${d.version}`,
        );
      }
      out.push({ line: lineAt(line, d.atMs), version: d.version });
    }
    return out;
  }

  /** The first version whose event is at or after `ms`: a binary search by point reads (events are in time order). */
  async firstAtOrAfter(ms: number): Promise<number> {
    let lo = 1;
    let hi = this.last + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const [read] = await readRange(this.source, mid, mid);
      if (read !== undefined && Date.parse(read.event.at) >= ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The last version whose event is at or before `ms`. */
  async lastAtOrBefore(ms: number): Promise<number> {
    return (await this.firstAtOrAfter(ms === Number.POSITIVE_INFINITY ? ms : ms + 1)) - 1;
  }

  /**
   * Sums the amounts per currency of the window's lines in place in versions [from, to] and of its
   * deferred lines, a chunk at a time (constant memory).
   */
  async sum(from: number, to: number): Promise<Map<string, bigint>> {
    const sums = new Map<string, bigint>();
    const add = (line: EntryLine) => sums.set(line.currency, (sums.get(line.currency) ?? 0n) + line.amount);
    for (let v = from; v <= to; v += CHUNK) {
      for (const read of await readRange(this.source, v, Math.min(to, v + CHUNK - 1))) {
        const keyed = this.inPlace(read);
        if (keyed !== null) add(keyed.line);
      }
    }
    for (const keyed of await this.deferredLines(this.deferred)) add(keyed.line);
    return sums;
  }
}

/** Reads one page of the statement. */
export async function readPage(
  source: StatementSource,
  window: StatementWindow,
  request: { readonly order: EntriesOrder; readonly limit: number; readonly cursor: string | null },
  cursorScope: string,
): Promise<EntriesPage> {
  const statement = new Statement(source, window);
  const position =
    request.cursor === null
      ? await startOf(statement, request.order)
      : await decodeCursor(statement, request.cursor, request.order, cursorScope);
  const page =
    request.order === 'oldest_first'
      ? await forward(statement, position, request.limit)
      : await backward(statement, position, request.limit);
  const nextCursor =
    page.next === null ? null : await encodeCursor(statement, page.next, request.order, cursorScope);
  return { data: page.data, nextCursor, hasMore: page.next !== null };
}

/**
 * The window's whole statement, oldest first, a page at a time: what an export writes. Memory stays
 * at one page whatever the history's length.
 */
export async function* statementPages(
  source: StatementSource,
  window: StatementWindow,
  pageSize: number,
): AsyncGenerator<LedgerEntry[]> {
  const statement = new Statement(source, window);
  let position: Position | null = await startOf(statement, 'oldest_first');
  while (position !== null) {
    const page: PageOut = await forward(statement, position, pageSize);
    if (page.data.length > 0) yield page.data;
    position = page.next;
  }
}

/**
 * The events dated in [fromMs, toMs] (stored, then due), in stream order, a chunk at a time: the
 * slice of the stream a report over that window reads.
 */
export async function* eventsBetween(
  source: StatementSource,
  fromMs: number,
  toMs: number,
): AsyncGenerator<RecordedEvent> {
  const statement = new Statement(source, { currency: null, fromMs, toMs });
  const first = fromMs === Number.NEGATIVE_INFINITY ? 1 : await statement.firstAtOrAfter(fromMs);
  for (let v = first; v <= statement.last; v += CHUNK) {
    for (const read of await readRange(source, v, Math.min(statement.last, v + CHUNK - 1))) {
      if (Date.parse(read.event.at) > toMs) return;
      yield read.event;
    }
  }
}

/** Where a first page starts: the window's first line (oldest first) or its last (newest first). */
async function startOf(statement: Statement, order: EntriesOrder): Promise<Position> {
  const { window, source } = statement;
  const { last } = statement;
  const cap = source.atMs;
  if (order === 'oldest_first') {
    if (window.fromMs === Number.NEGATIVE_INFINITY)
      return { key: [window.fromMs, 0], next: 1, balances: new Map() };
    const next = await statement.firstAtOrAfter(window.fromMs);
    // The balance before the window: the lines before it, or the end less the lines from it on, whichever is shorter.
    const balances =
      next - 1 <= last - next + 1
        ? await sumBetween(statement, 1, next - 1, Number.NEGATIVE_INFINITY, window.fromMs - 1)
        : subtract(source.endBalances, await sumBetween(statement, next, last, window.fromMs, cap));
    return { key: [window.fromMs, 0], next, balances };
  }
  if (window.toMs >= cap)
    return { key: [cap, Number.POSITIVE_INFINITY], next: last, balances: new Map(source.endBalances) };
  const next = window.toMs >= source.lastAtMs ? last : await statement.lastAtOrBefore(window.toMs);
  const balances =
    next <= last - next
      ? await sumBetween(statement, 1, next, Number.NEGATIVE_INFINITY, window.toMs)
      : subtract(source.endBalances, await sumBetween(statement, next + 1, last, window.toMs + 1, cap));
  return { key: [window.toMs, Number.POSITIVE_INFINITY], next, balances };
}

/**
 * Per currency, the amounts of the lines dated in [fromMs, toMs]: those in place in versions
 * [from, to] (the caller knows no other version holds one) and the deferred ones.
 */
async function sumBetween(
  statement: Statement,
  from: number,
  to: number,
  fromMs: number,
  toMs: number,
): Promise<Map<string, bigint>> {
  const range = new Statement(statement.source, { currency: statement.window.currency, fromMs, toMs });
  return range.sum(from, to);
}

function subtract(from: ReadonlyMap<string, bigint>, sums: ReadonlyMap<string, bigint>): Map<string, bigint> {
  const out = new Map(from);
  for (const [currency, amount] of sums) out.set(currency, (out.get(currency) ?? 0n) - amount);
  return out;
}

interface PageOut {
  readonly data: LedgerEntry[];
  readonly next: Position | null;
}

/** Oldest first: lines after `position.key`, in place from version `position.next` merged with the deferred. */
async function forward(statement: Statement, position: Position, limit: number): Promise<PageOut> {
  const inPlace: Keyed[] = [];
  let frontier = position.next;
  let chunk = Math.min(CHUNK, limit + 1);
  while (inPlace.length <= limit && frontier <= statement.last) {
    const reads = await readRange(statement.source, frontier, frontier + chunk - 1);
    let pastWindow = false;
    for (const read of reads) {
      frontier = read.version + 1;
      if (Date.parse(read.event.at) > statement.window.toMs) {
        pastWindow = true;
        break;
      }
      const keyed = statement.inPlace(read);
      if (keyed !== null) inPlace.push(keyed);
      if (inPlace.length > limit) break;
    }
    if (pastWindow) break;
    chunk = Math.min(CHUNK, chunk * 2);
  }
  const deferred = statement.deferred.filter((d) => before(position.key, [d.atMs, d.version]));
  const merged = merge(inPlace, deferred, limit + 1, (a, b) => before(a, b));
  const lines = await resolve(statement, merged.slice(0, limit));
  const balances = new Map(position.balances);
  const data = lines.map(({ line }) => {
    const balance = (balances.get(line.currency) ?? 0n) + line.amount;
    balances.set(line.currency, balance);
    return formatLine(line, balance, statement.source.decimals(line.currency));
  });
  if (merged.length <= limit) return { data, next: null };
  const lastLine = lines.at(-1)!;
  const firstLeft = inPlace.find((k) => before(keyOf(lastLine), keyOf(k)));
  return {
    data,
    next: { key: keyOf(lastLine), next: firstLeft?.version ?? frontier, balances },
  };
}

/** Newest first: lines before `position.key`, in place from version `position.next` down, merged with the deferred. */
async function backward(statement: Statement, position: Position, limit: number): Promise<PageOut> {
  const inPlace: Keyed[] = [];
  let frontier = position.next;
  let chunk = Math.min(CHUNK, limit + 1);
  while (inPlace.length <= limit && frontier >= 1) {
    const reads = await readRange(statement.source, frontier - chunk + 1, frontier);
    let pastWindow = false;
    for (let i = reads.length - 1; i >= 0; i--) {
      const read = reads[i]!;
      frontier = read.version - 1;
      if (Date.parse(read.event.at) < statement.window.fromMs) {
        pastWindow = true;
        break;
      }
      const keyed = statement.inPlace(read);
      if (keyed !== null) inPlace.push(keyed);
      if (inPlace.length > limit) break;
    }
    if (pastWindow || reads.length === 0) break;
    chunk = Math.min(CHUNK, chunk * 2);
  }
  const deferred = statement.deferred.filter((d) => before([d.atMs, d.version], position.key)).reverse();
  const merged = merge(inPlace, deferred, limit + 1, (a, b) => before(b, a));
  const lines = await resolve(statement, merged.slice(0, limit));
  const balances = new Map(position.balances);
  const data = lines.map(({ line }) => {
    const balance = balances.get(line.currency) ?? 0n;
    balances.set(line.currency, balance - line.amount);
    return formatLine(line, balance, statement.source.decimals(line.currency));
  });
  if (merged.length <= limit) return { data, next: null };
  const lastLine = lines.at(-1)!;
  const firstLeft = inPlace.find((k) => before(keyOf(k), keyOf(lastLine)));
  return {
    data,
    next: { key: keyOf(lastLine), next: firstLeft?.version ?? frontier, balances },
  };
}

const keyOf = (keyed: Keyed): Key => [keyed.line.atMs, keyed.version];

type Slot = { readonly keyed: Keyed } | { readonly deferred: DeferredLine };

/** The first `count` of two lists each already in order, merged by `first`. */
function merge(
  inPlace: readonly Keyed[],
  deferred: readonly DeferredLine[],
  count: number,
  first: (a: Key, b: Key) => boolean,
): Slot[] {
  const out: Slot[] = [];
  let i = 0;
  let j = 0;
  while (out.length < count && (i < inPlace.length || j < deferred.length)) {
    const a = inPlace[i];
    const d = deferred[j];
    if (d === undefined || (a !== undefined && first(keyOf(a), [d.atMs, d.version]))) {
      out.push({ keyed: a! });
      i += 1;
    } else {
      out.push({ deferred: d });
      j += 1;
    }
  }
  return out;
}

async function resolve(statement: Statement, slots: readonly Slot[]): Promise<Keyed[]> {
  const wanted = slots.flatMap((slot) => ('deferred' in slot ? [slot.deferred] : []));
  const read = await statement.deferredLines(wanted);
  let k = 0;
  return slots.map((slot) => ('keyed' in slot ? slot.keyed : read[k++]!));
}

// --- cursors -------------------------------------------------------------------------------------

interface CursorBody {
  /** Order: 'o' oldest first, 'n' newest first. */
  readonly o: 'o' | 'n';
  readonly k: [number, number];
  readonly n: number;
  readonly b: [string, string][];
  /** A stored version whose hash seals the cursor to this stream. */
  readonly h: number;
  readonly d: string;
}

const refuse = (): never => {
  throw new TallyError(
    'invalid_input',
    'cursor must be a nextCursor this ledger returned for the same read',
    {
      field: 'cursor',
    },
  );
};

/**
 * A digest of the cursor's contents, the read it belongs to and the hash of a stored event of the
 * customer's chain: an edited cursor, or one from another customer or another read, does not match.
 */
async function digest(statement: Statement, body: Omit<CursorBody, 'd'>, scope: string): Promise<string> {
  const [sealed] = await readRange(statement.source, body.h, body.h);
  if (sealed === undefined) return refuse();
  const seal = sealed.hash ?? sealed.event.id;
  return createHash('sha256')
    .update(JSON.stringify([scope, body.o, body.k, body.n, body.b, body.h, seal]))
    .digest('base64url')
    .slice(0, 22);
}

async function encodeCursor(
  statement: Statement,
  position: Position,
  order: EntriesOrder,
  scope: string,
): Promise<string> {
  const body: Omit<CursorBody, 'd'> = {
    o: order === 'oldest_first' ? 'o' : 'n',
    k: [position.key[0], position.key[1]],
    n: position.next,
    b: [...position.balances].map(([currency, amount]) => [currency, amount.toString()]),
    h: Math.max(1, Math.min(statement.source.top, position.key[1])),
  };
  const full: CursorBody = { ...body, d: await digest(statement, body, scope) };
  return Buffer.from(JSON.stringify(full)).toString('base64url');
}

async function decodeCursor(
  statement: Statement,
  cursor: string,
  order: EntriesOrder,
  scope: string,
): Promise<Position> {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorBody;
  } catch {
    return refuse();
  }
  const int = (v: unknown): v is number => Number.isSafeInteger(v);
  const shaped =
    typeof body === 'object' &&
    body !== null &&
    (body.o === 'o' || body.o === 'n') &&
    Array.isArray(body.k) &&
    body.k.length === 2 &&
    body.k.every(int) &&
    int(body.n) &&
    int(body.h) &&
    body.h >= 1 &&
    typeof body.d === 'string' &&
    Array.isArray(body.b) &&
    body.b.every(
      (e) =>
        Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && /^-?\d{1,40}$/.test(String(e[1])),
    );
  if (!shaped || body.o !== (order === 'oldest_first' ? 'o' : 'n')) return refuse();
  const { d, ...rest } = body;
  if (d !== (await digest(statement, rest, scope))) return refuse();
  return {
    key: [body.k[0], body.k[1]],
    next: body.n,
    balances: new Map(body.b.map(([currency, amount]) => [currency, BigInt(amount)])),
  };
}
