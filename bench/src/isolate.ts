/**
 * Each group in a process of its own, so that what a group measures does not depend on the groups run
 * before it: in one process, after the 1M-event fold and streams of groups 1 and 2, the write group
 * measured about a third lower than alone (bench/README.md, history 34): V8 keeps the old space those
 * groups grew committed, and its scavenges stay slower. A service that reads through snapshots and
 * pages never holds a million events at once; the bench's first two groups do it on purpose.
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

const CHILD = process.env.BENCH_CHILD;

/** This process is a group's child. */
export const isChild = CHILD !== undefined;

/** Where the run's progress counter stands: the child's from its parent, else none done of `total`. */
export function progressAtStart(total: number): { done: number; total: number } {
  if (CHILD === undefined) return { done: 0, total };
  const [done, ofTotal] = CHILD.split('/').map(Number) as [number, number];
  return { done, total: ofTotal };
}

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
  const ended = await new Promise<{ code: number | null; signal: string | null } | Error>((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, script], {
      env: {
        ...process.env,
        BENCH_GROUPS: groupId,
        BENCH_RESULTS: resultsFile,
        BENCH_CHILD: `${progress.done}/${progress.total}`,
      },
      stdio: 'inherit',
    });
    child.once('error', resolve);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const failed = (why: string): ChildOutcome => ({
    results: [failedGroup(groupId, why)],
    ok: false,
    printed: false,
  });
  if (ended instanceof Error) return failed(`its process could not start: ${ended.message}`);
  const exit = ended.signal ?? `exit ${ended.code}`;
  if (!existsSync(resultsFile)) return failed(`its process ended (${exit}) before writing results`);
  try {
    const written = JSON.parse(readFileSync(resultsFile, 'utf8')) as { groups: GroupResult[] };
    return { results: written.groups, ok: ended.code === 0, printed: true };
  } catch (error) {
    // Killed while writing: what it printed stands, but there are no results to gather.
    return failed(`its process ended (${exit}) with its results unreadable: ${String(error)}`);
  }
}

/** A group that could not run, reported as such so the rest of the run goes on. */
export function failedGroup(id: string, why: string): GroupResult {
  return { id, title: id, unit: '–', rows: [], goals: [], extra: {}, notes: [`failed: ${why}`] };
}
