// Lists every exported function, class, interface, type and constant of the published packages that
// has no doc comment, or no `@example` in it: `npx -y pnpm@10 docs:coverage` (`node
// test/docs/doc-coverage.mjs [--strict]`); with --strict it exits 1 when anything is missing, as
// test/docs/doc-coverage.test.ts runs it. Reads TypeDoc's JSON (built here into a temp file).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tally-doc-coverage-'));
const out = join(dir, 'api.json');
const typedoc = join(root, 'node_modules/typedoc/bin/typedoc');
let project;
try {
  execFileSync(
    process.execPath,
    // A link TypeDoc cannot resolve (in a doc comment or the landing page) fails the run too, and is
    // printed (warnings are only what fails it: the config turns off the checks it need not make).
    [
      typedoc,
      '--json',
      out,
      '--out',
      join(dir, 'html'),
      '--logLevel',
      'Warn',
      '--treatValidationWarningsAsErrors',
    ],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  project = JSON.parse(readFileSync(out, 'utf8'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const KINDS = { 32: 'variable', 64: 'function', 128: 'class', 256: 'interface', 2097152: 'type' };
/** The comments that document a reflection: its own and, for functions, its signatures'. */
const commentsOf = (r) => [r.comment, ...(r.signatures ?? []).map((s) => s.comment)].filter(Boolean);
const hasText = (c) => (c.summary ?? []).some((part) => part.text.trim() !== '');
const hasExample = (c) => (c.blockTags ?? []).some((tag) => tag.tag === '@example');

/** A package's exports: its children, or its modules' children when it has several entry points. */
const exportsOf = (pkg) =>
  (pkg.children ?? []).flatMap((r) =>
    r.kind === 2 ? (r.children ?? []).map((c) => ({ ...c, name: `${r.name}: ${c.name}` })) : [r],
  );

let missing = 0;
for (const pkg of project.children ?? []) {
  const lines = [];
  for (const r of exportsOf(pkg)) {
    const kind = KINDS[r.kind];
    if (kind === undefined) continue;
    const comments = commentsOf(r);
    const problem =
      !comments.some(hasText) && !comments.some(hasExample)
        ? 'no doc comment'
        : !comments.some(hasExample)
          ? 'no @example'
          : null;
    if (problem !== null) lines.push(`  ${kind.padEnd(9)} ${r.name.padEnd(32)} ${problem}`);
  }
  missing += lines.length;
  console.log(
    `${pkg.name}: ${lines.length === 0 ? 'every export documented with an example' : `${lines.length} to do`}`,
  );
  for (const line of lines) console.log(line);
}
if (missing > 0 && process.argv.includes('--strict')) process.exit(1);
