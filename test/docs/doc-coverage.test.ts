/**
 * Every export of the published packages has a doc comment with an `@example`: doc-coverage.mjs
 * --strict (`npx -y pnpm@10 docs:coverage` lists what is missing), run here so CI keeps it so.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('every export is documented with an example (docs:coverage --strict)', async () => {
  const result = await promisify(execFile)(process.execPath, ['test/docs/doc-coverage.mjs', '--strict'], {
    cwd: root,
  }).catch((error: { stdout?: string; stderr?: string; code?: number }) => error);
  expect(
    'code' in result ? result.code : 0,
    `docs:coverage --strict failed:\n${result.stdout ?? ''}${result.stderr ?? ''}`,
  ).toBe(0);
  expect(result.stdout).toContain('@tally/core: every export documented with an example');
}, 600_000); // TypeDoc over every package: a minute alone, several on a loaded machine
