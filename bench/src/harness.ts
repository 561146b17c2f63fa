/**
 * The measuring side of `pnpm bench`: every figure comes from tinybench (one `Bench` per measurement and
 * round), and every group reports its rows as a ratio to a baseline measured in the same run.
 *
 * ops/s is operations completed divided by the wall time of tinybench's run phase (from its `beforeAll`
 * to its `afterAll` hook), so it counts GC pauses and, for concurrent callers, the overlap between them.
 * Latency percentiles are tinybench's per-iteration samples: one call for the write and read groups, one
 * whole fold for the derivation group.
 */
import { Bench } from 'tinybench';

export const QUICK = process.env.BENCH_QUICK === '1';

export interface Measurement {
  readonly name: string;
  /** The group's baseline: every row's ratio is its ops/s over this row's... */
  readonly baseline?: boolean;
  /** ...unless the row names another row to compare with. */
  readonly vs?: string;
  /** Operations one call of `fn` stands for (events for a fold, 1 for a command). */
  readonly opsPerCall?: number;
  readonly fn: () => unknown;
  /**
   * `fn` returns no promise. Said, not detected: tinybench detects by calling `fn` once outside the
   * measurement without awaiting it, which would overlap two commands on a peer's single connection.
   */
  readonly sync?: boolean;
  /** Callers in a closed loop: each starts its next call when its last one ends. Default 1. */
  readonly callers?: number;
  /** Time budget of the run phase, ms. */
  readonly time?: number;
  /** Least (sequential) or most (concurrent) calls in the run phase. */
  readonly iterations?: number;
  readonly warmupTime?: number;
  readonly warmupIterations?: number;
  /** Whether the latency percentiles mean something here (they do for single calls). */
  readonly latency?: boolean;
  /** Runs before warmup and again before the run phase. */
  readonly before?: (phase: 'warmup' | 'run') => Promise<void> | void;
  /** Runs after warmup and after the run phase, outside the timed span (stops what `before` started). */
  readonly after?: (phase: 'warmup' | 'run') => Promise<void> | void;
  readonly note?: string;
}

export interface Row {
  readonly name: string;
  readonly baseline: boolean;
  readonly opsPerSec: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly calls: number;
  /** ops/s over the reference row's ops/s (1 for the baseline itself; null if there is none). */
  ratio: number | null;
  /** The reference row, when it is not the group's baseline. */
  readonly vs?: string;
  /** Why the measurement has no figures. */
  readonly error?: string;
  readonly note?: string;
}

export interface Goal {
  readonly label: string;
  readonly value: number | null;
  readonly target: number;
  /** The goal is `value ≤ target` (a cost), not `value ≥ target` (a rate). */
  readonly atMost?: boolean;
  readonly met: boolean;
}

export interface GroupResult {
  readonly id: string;
  readonly title: string;
  /** What one op is, and anything a reader needs to read the rows. */
  readonly unit: string;
  readonly rows: Row[];
  readonly goals: Goal[];
  readonly extra: Record<string, unknown>;
  readonly notes: string[];
}

/** Progress on stderr: one line per measurement, rewritten in place on a terminal. */
export const progress = {
  total: 0,
  done: 0,
  line(text: string): void {
    const line = `[${String(Math.min(this.done + 1, this.total)).padStart(2)}/${this.total}] ${text}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
  },
  clear(): void {
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  },
};

/** Rounds each group runs its measurements in, interleaved, so a noisy neighbour hits all rows alike. */
export const ROUNDS = QUICK ? 1 : 3;

interface Tally {
  samples: number[];
  wall: number;
}

/**
 * Runs a group's measurements through tinybench in `ROUNDS` interleaved rounds (baseline, then each
 * candidate, then again), each round a share of the time budget, and merges them into one row each.
 */
export async function measureAll(group: string, measurements: readonly Measurement[]): Promise<Row[]> {
  const tallies = measurements.map((): Tally & { error?: string } => ({ samples: [], wall: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, m] of measurements.entries()) {
      const tally = tallies[i]!;
      if (tally.error !== undefined) continue;
      progress.line(`${group} · ${m.name}${ROUNDS > 1 ? ` · round ${round + 1}/${ROUNDS}` : ''}`);
      try {
        const { samples, wall } = await runOnce(m, round === 0);
        // A loop, not push(...samples): a fast row's round holds more samples than a call takes arguments.
        for (const sample of samples) tally.samples.push(sample);
        tally.wall += wall;
      } catch (error) {
        // One failing measurement (a peer that cannot run here, say) leaves the rest of the group.
        tally.error = error instanceof Error ? error.message : String(error);
      }
    }
  }
  progress.done += measurements.length;
  return withRatios(
    measurements.map((m, i): Row => {
      const { samples, wall, error } = tallies[i]!;
      samples.sort((a, b) => a - b);
      const latency = (m.latency ?? true) && error === undefined;
      return {
        name: m.name,
        baseline: m.baseline ?? false,
        opsPerSec: error === undefined ? ((m.opsPerCall ?? 1) * samples.length * 1000) / wall : Number.NaN,
        p50Ms: latency ? percentile(samples, 0.5) : null,
        p99Ms: latency ? percentile(samples, 0.99) : null,
        calls: samples.length,
        ratio: null,
        ...(m.vs === undefined ? {} : { vs: m.vs }),
        ...(error === undefined ? {} : { error }),
        ...(m.note === undefined ? {} : { note: m.note }),
      };
    }),
  );
}

async function runOnce(m: Measurement, warmup: boolean): Promise<Tally> {
  const callers = m.callers ?? 1;
  const concurrent = callers > 1;
  const time = (m.time ?? (QUICK ? 150 : 1500)) / ROUNDS;
  const iterations = Math.ceil((m.iterations ?? (QUICK ? 5 : 20)) / ROUNDS);
  const bench = new Bench({
    name: m.name,
    time,
    // In task-concurrent mode `iterations` caps the calls instead; 0 lets the time budget decide.
    iterations: concurrent ? 0 : iterations,
    warmup,
    warmupTime: m.warmupTime ?? (QUICK ? 30 : 300),
    // Likewise for the warm-up: in task-concurrent mode a count ends it at that many calls whatever the
    // time (5 calls, where 300 ms were meant), so concurrent rows warm up by time alone.
    warmupIterations: concurrent ? 0 : (m.warmupIterations ?? (QUICK ? 2 : 5)),
    retainSamples: true,
    throws: true,
    ...(concurrent ? { concurrency: 'task' as const, threshold: callers } : {}),
  });
  let started = 0;
  let wall = 0;
  bench.add(m.name, m.fn, {
    async: m.sync !== true,
    beforeAll: async (mode) => {
      await m.before?.(mode ?? 'run');
      started = performance.now();
    },
    afterAll: async (mode) => {
      if (mode === 'run') wall = performance.now() - started;
      await m.after?.(mode ?? 'run');
    },
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') {
    throw 'error' in result ? result.error : new Error(`${m.name}: task ended ${result.state}`);
  }
  return { samples: [...(result.latency.samples ?? [])], wall };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/**
 * A call made by one of `ids.length` concurrent callers, each on its own id: a call takes an id no
 * other call in flight holds and gives it back when it ends, so each id sees one command at a time.
 */
export function onOwnId<T>(ids: readonly T[], fn: (id: T) => Promise<unknown>): () => Promise<unknown> {
  const free = [...ids];
  return async () => {
    const id = free.pop();
    if (id === undefined) throw new Error('more callers in flight than ids');
    try {
      return await fn(id);
    } finally {
      free.push(id);
    }
  };
}

/** Fills each row's ratio to its reference row, or to the group's baseline. */
export function withRatios(rows: Row[]): Row[] {
  const baseline = rows.find((row) => row.baseline);
  for (const row of rows) {
    const ref = row.vs === undefined ? baseline : rows.find((r) => r.name === row.vs);
    const ratio = ref === undefined ? Number.NaN : row.opsPerSec / ref.opsPerSec;
    row.ratio = Number.isFinite(ratio) ? ratio : null;
  }
  return rows;
}

export function ratioOf(rows: readonly Row[], name: string, over: string): number | null {
  const a = rows.find((row) => row.name === name);
  const b = rows.find((row) => row.name === over);
  const ratio = a === undefined || b === undefined ? Number.NaN : a.opsPerSec / b.opsPerSec;
  return Number.isFinite(ratio) ? ratio : null;
}

export function goal(label: string, value: number | null, target: number): Goal {
  return { label, value, target, met: value !== null && value >= target };
}

/** A goal on a cost (a slowdown, a size): met when the value is at most the target. */
export function goalAtMost(label: string, value: number | null, target: number): Goal {
  return { label, value, target, atMost: true, met: value !== null && value <= target };
}

export function formatGroup(group: GroupResult): string {
  const refs = [...new Set(group.rows.flatMap((row) => (row.vs === undefined ? [] : [row.vs])))];
  const header = ['', 'ops/s', 'p50', 'p99', 'calls', '× ref', 'ref'];
  const lines = group.rows.map((row) => [
    `${row.baseline ? '◆ ' : '  '}${row.name}`,
    row.error === undefined ? formatRate(row.opsPerSec) : 'failed',
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    String(row.calls),
    row.ratio === null ? '–' : formatRatio(row.ratio),
    row.baseline
      ? '◆'
      : row.vs === undefined
        ? row.ratio === null
          ? ''
          : '◆'
        : `#${refs.indexOf(row.vs) + 1}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  const render = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const out = [`## ${group.title}`, `   one op = ${group.unit}`];
  if (group.rows.length > 0) out.push(render(header), ...lines.map(render));
  refs.forEach((ref, i) => {
    out.push(`   #${i + 1} = ${ref}`);
  });
  for (const row of group.rows) if (row.error !== undefined) out.push(`   failed: ${row.name}: ${row.error}`);
  for (const g of group.goals) {
    const value = g.value === null ? 'n/a' : formatRatio(g.value);
    out.push(
      `   ${g.met ? 'MET ' : 'MISS'}  ${g.label}: ${value} (goal ${g.atMost === true ? '≤' : '≥'} ${formatRatio(g.target)})`,
    );
  }
  for (const [key, value] of Object.entries(group.extra)) out.push(`   ${key}: ${String(value)}`);
  for (const note of group.notes) out.push(`   note: ${note}`);
  return out.join('\n');
}

export function formatRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M`;
  if (perSec >= 1e4) return `${(perSec / 1e3).toFixed(1)}k`;
  return perSec.toFixed(perSec >= 100 ? 0 : 1);
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '–';
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

export function formatRatio(ratio: number): string {
  return ratio >= 10 ? `${ratio.toFixed(1)}×` : `${ratio.toFixed(2)}×`;
}
