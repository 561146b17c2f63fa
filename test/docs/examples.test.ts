/**
 * Every `@example` in packages/*\/src type-checks against the workspace packages (machinery and how to
 * run it alone: check-examples.ts, `npx -y pnpm@10 docs:examples`).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkExamples, formatFailures } from './check-examples.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('doc comment examples', () => {
  it('every @example in packages/*/src type-checks', () => {
    const { examples, failures } = checkExamples();
    expect(formatFailures(failures), 'rerun with: npx -y pnpm@10 docs:examples').toBe('');
    const packages = new Set(examples.map((e) => e.file.split('/')[1]));
    for (const name of ['core', 'store-memory', 'store-sqlite', 'store-postgres', 'http']) {
      expect(packages, `no examples found in packages/${name}`).toContain(name);
    }
  }, 120_000);

  describe('the checker, on a package of its own', () => {
    const fixture = mkdtempSync(join(tmpdir(), 'tally-examples-'));
    afterAll(() => rmSync(fixture, { recursive: true, force: true }));
    mkdirSync(join(fixture, 'packages/demo/src'), { recursive: true });
    cpSync(join(root, 'tsconfig.base.json'), join(fixture, 'tsconfig.base.json'));
    const source = [
      '/**',
      ' * Adds, for the examples to call: exported from the entry point, so examples need no import.',
      ' *',
      ' * @example',
      ' * const three: number = add(1, 2);',
      ' * const sum: number = add(three, await ledger.customer({ customerId }).then(() => 1));',
      ' */',
      'export function add(a: number, b: number): number {',
      '  return a + b;',
      '}',
      '',
      '/**',
      ' * @example',
      ' * ```ts',
      ' * const fine = add(1, 2);',
      ' * const wrong: string = add(1, 2);',
      ' * ```',
      ' * ```sh',
      ' * not checked',
      ' * ```',
      ' * @example',
      ' * ```json',
      ' * { "not": json }',
      ' * ```',
      ' * @example notDefinedAnywhere()',
      ' */',
      'export const seven = 7;',
      '',
    ].join('\n');
    writeFileSync(join(fixture, 'packages/demo/src/index.ts'), source);

    it('reports each failure at its file and line, and passes the rest', () => {
      const { examples, failures } = checkExamples(fixture);
      expect(examples.map((e) => [e.line, e.language])).toEqual([
        [4, 'ts'],
        [13, 'ts'],
        [21, 'json'],
        [25, 'ts'],
      ]);
      expect(formatFailures(failures).split('\n')).toEqual([
        expect.stringMatching(/^packages\/demo\/src\/index\.ts:23: invalid JSON: .* \(example at :21\)$/),
        "packages/demo/src/index.ts:16: TS2322: Type 'number' is not assignable to type 'string'. (example at :13)",
        "packages/demo/src/index.ts:25: TS2304: Cannot find name 'notDefinedAnywhere'.",
      ]);
    }, 60_000);
  });
});
