import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const workers = join(dirname(fileURLToPath(import.meta.url)), '..', 'workers');

/** Starts `test/reliability/workers/<name>.ts` in its own Node process (through tsx) with `task` as JSON. */
export function startWorker(name: string, task: unknown): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', join(workers, `${name}.ts`), JSON.stringify(task)], {
    cwd: workers,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Collects a worker's output until it exits; kills it (and fails) if it outlives `timeoutMs`. */
export function finished(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker ${child.pid} ran longer than ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
