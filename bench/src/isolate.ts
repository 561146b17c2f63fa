/**
 * Each group in a process of its own, so that what a group measures does not depend on the groups run
 * before it. In one process, after the derivation and read groups (a 1M-event fold, 1M-event streams),
 * the write group measured about a third lower than with a process per group, in alternated full runs
 * on one machine (2026-12-04 18:12 and 18:35 against 18:25: the limit baseline 166k and 158k vs 237k/s,
 * memory one caller 33.1k and 35.5k vs 54.1k/s, SQLite 64 on 64 14.6k and 14.7k vs 21.9k/s), though
 * gc() had brought the JS heap back to 17 MB: the process stayed 2.5 GB resident. A service does not
 * fold a million events before it takes writes. (bench/README.md, history 34.)
 *
 * The child is the same script with the same Node flags (`--expose-gc`, `--cpu-prof` under
 * `profile`), told its one group (BENCH_GROUPS), where to write its results (BENCH_RESULTS), and where
 * the run's progress counter stands (BENCH_CHILD). It prints its own tables; the parent gathers the
 * results into one file.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GroupResult } from './harness.ts';

/** Set in a child: `done/total`, the run's progress counter when the child starts. */
export const CHILD = process.env.BENCH_CHILD;

/** What a child's process gave: its groups' results, or a failed group saying why there are none. */
export interface ChildOutcome {
  readonly results: GroupResult[];
  /** The child exited 0: every group in it ran. */
  readonly ok: boolean;
  /** The child printed the tables of `results` itself (it got as far as writing them). */
  readonly printed: boolean;
}

/** Runs one group in a child process of `script`; `done` and `total` place it in the progress counter. */
export async function runInChild(
  script: string,
  groupId: string,
  progress: { readonly done: number; readonly total: number },
  dir: string,
): Promise<ChildOutcome> {
  const resultsFile = join(dir, `${groupId}.json`);
  const exit = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script], {
      env: {
        ...process.env,
        BENCH_GROUPS: groupId,
        BENCH_RESULTS: resultsFile,
        BENCH_CHILD: `${progress.done}/${progress.total}`,
      },
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
  });
  if (existsSync(resultsFile)) {
    const written = JSON.parse(readFileSync(resultsFile, 'utf8')) as { groups: GroupResult[] };
    return { results: written.groups, ok: exit === '0', printed: true };
  }
  const why = `its process ended (exit ${exit}) before writing results`;
  return { results: [failedGroup(groupId, why)], ok: false, printed: false };
}

/** A group that could not run, reported as such so the rest of the run goes on. */
export function failedGroup(id: string, why: string): GroupResult {
  return { id, title: id, unit: '–', rows: [], goals: [], extra: {}, notes: [`failed: ${why}`] };
}
