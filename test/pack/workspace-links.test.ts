/**
 * The published packages depend on each other with real ranges (`^0.1.0`), not `workspace:`, so their
 * package.json is right whichever of `npm pack` and `pnpm pack` packs it. pnpm links those ranges to
 * the packages here only because of `linkWorkspacePackages: true` (pnpm-workspace.yaml); without it,
 * or once a version here stops matching a range, pnpm would install `@tally/*` from the registry
 * instead. This fails first.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies'] as const;

type Manifest = { name: string; private?: boolean } & Partial<
  Record<(typeof FIELDS)[number] | 'peerDependencies', Record<string, string>>
>;

const projects = [
  ...readdirSync(join(root, 'packages')).map((dir) => join('packages', dir)),
  'bench',
  'test',
].filter((dir) => existsSync(join(root, dir, 'package.json')));
const manifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
const byName = new Map(projects.map((dir) => [manifest(dir).name, dir]));

describe('workspace packages resolve to this repository', () => {
  it.each(projects)('%s: every @tally/* dependency is a link into packages/', (dir) => {
    const own = manifest(dir);
    for (const field of FIELDS) {
      for (const name of Object.keys(own[field] ?? {}).filter((n) => n.startsWith('@tally/'))) {
        const target = byName.get(name);
        expect(target, `${dir} depends on ${name}, which is not in this workspace`).toBeDefined();
        expect(realpathSync(join(root, dir, 'node_modules', name))).toBe(realpathSync(join(root, target!)));
      }
    }
  });

  it('published packages carry no workspace: ranges', () => {
    for (const dir of projects) {
      const own = manifest(dir);
      if (own.private) continue;
      for (const field of [...FIELDS, 'peerDependencies'] as const) {
        for (const [name, range] of Object.entries(own[field] ?? {})) {
          expect(range, `${own.name} ${field}.${name}`).not.toMatch(/^workspace:/);
        }
      }
    }
  });

  it('the lockfile installs no @tally/* package from a registry', () => {
    const lockfile = readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8');
    // Registry packages are listed under `packages:` as `  '@scope/name@version':`.
    expect(lockfile).not.toMatch(/^ {2}'?@tally\//m);
    expect(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')).toMatch(/^linkWorkspacePackages: true$/m);
  });
});
