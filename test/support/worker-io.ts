/**
 * What a test's child process needs to talk to its parent: the task it was started with, and a way to
 * print a line that is on the pipe before the next instruction runs, so a line the parent reads is a
 * fact even when the child is killed (SIGKILL) right after.
 */
import { writeSync } from 'node:fs';

/**
 * The task the parent passed as the first argument, as JSON.
 *
 * @example
 * const task = workerTask<CrashTask>(); // node --import tsx crash-appender.ts '{"run":1,…}'
 */
export function workerTask<Task>(): Task {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error(`usage: node --import tsx ${process.argv[1]} '<task as JSON>'`);
  return JSON.parse(raw) as Task;
}

/** Writes `line` and a newline to stdout synchronously, waiting out a momentarily full pipe. */
export function printNow(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      // A non-blocking pipe that is momentarily full: try again until the parent has read some.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}
