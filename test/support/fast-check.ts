/**
 * The options every fast-check property in the repository runs with, so that any failure can be
 * replayed and any run made longer or shorter from the environment:
 *
 * - `FC_RUNS=<n>` scales every property's run count: `n` is the count of the core's main properties
 *   (1,000 by default) and every other property keeps its share of it (the archive properties a
 *   quarter, the store properties a fifth, …). Counts are rounded, and never below 1.
 * - `FC_SEED=<int>` replays a run: each property prints the seed it used, random unless this is set.
 * - `FC_PATH=<path>` (with `FC_SEED`) starts from the counterexample fast-check reported, as its
 *   failure message gives it (`path: "12:3:0"`).
 *
 * @example
 * await fc.assert(fc.asyncProperty(commandSequence(), check), fcOptions({ runs: 1000 }));
 * // stdout: fast-check seed 1234567, 1000 runs (replay: FC_SEED=1234567 FC_RUNS=1000)
 */
import type { Parameters } from 'fast-check';

/** What `FC_RUNS` stands for when it is not set: the run count of the core's main properties. */
export const BASE_RUNS = 1000;

function positiveInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** `FC_RUNS`, or {@link BASE_RUNS}. */
export function baseRuns(): number {
  return positiveInteger('FC_RUNS') ?? BASE_RUNS;
}

/**
 * The run count of a property whose default is `runs` (its count when `FC_RUNS` is not set): scaled by
 * `FC_RUNS / 1000`, rounded to an integer, at least 1. For test titles; {@link fcOptions} uses it too.
 */
export function fcRuns(runs: number): number {
  if (!Number.isFinite(runs) || runs <= 0) throw new RangeError(`fcRuns: runs must be positive, got ${runs}`);
  return Math.max(1, Math.round((runs * baseRuns()) / BASE_RUNS));
}

function seedFromEnv(): number | undefined {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED must be an integer, got "${raw}"`);
  return n;
}

/**
 * fast-check parameters for one property, whose run count is `runs` by default: `numRuns` from
 * {@link fcRuns}, the seed from `FC_SEED` (else a fresh random one), `path` from `FC_PATH`. Prints
 * the seed and how to replay the run, once per call: call it once per `fc.assert`.
 */
export function fcOptions<Ts = unknown>(options: { readonly runs: number }): Parameters<Ts> {
  const numRuns = fcRuns(options.runs);
  const seed = seedFromEnv() ?? Math.floor(Math.random() * 2 ** 32) - 2 ** 31;
  const path =
    process.env.FC_PATH === undefined || process.env.FC_PATH === '' ? undefined : process.env.FC_PATH;
  if (path !== undefined && process.env.FC_SEED === undefined) {
    throw new Error('FC_PATH replays a counterexample of one seed: set FC_SEED too');
  }
  const replay = `FC_SEED=${seed} FC_RUNS=${baseRuns()}${path === undefined ? '' : ` FC_PATH=${path}`}`;
  console.info(`fast-check seed ${seed}, ${numRuns} run${numRuns === 1 ? '' : 's'} (replay: ${replay})`);
  return path === undefined ? { numRuns, seed } : { numRuns, seed, path };
}
