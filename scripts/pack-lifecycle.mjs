// The `prepack` and `postpack` scripts of the published packages (`node ../../scripts/pack-lifecycle.mjs
// prepack|postpack`, run in the package's directory by `pnpm pack`, `npm pack` and `npm publish`).
//
// prepack builds the package (its own `build` script), so a tarball always carries a fresh `dist/`,
// even from a clone where nothing was built. Under npm it also writes the publish manifest into
// package.json: npm, unlike pnpm, does not apply `publishConfig.exports`/`types`, so its tarball would
// point at `src/*.ts`. The original package.json is kept in `.package.json.prepack` and postpack puts
// it back (so does the next prepack, if a pack failed in between). Under pnpm package.json is left alone:
// pnpm applies `publishConfig` itself. Both write the same manifest (test/pack/pack-install.test.ts).
//
// Either way the manifest must not carry `workspace:` ranges (npm would pack them as they are, and the
// tarball would not install): the published packages depend on each other with real ranges, linked
// locally by `linkWorkspacePackages` (pnpm-workspace.yaml).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const MANIFEST = 'package.json';
const BACKUP = '.package.json.prepack';
/** `publishConfig` keys that configure npm itself rather than override the manifest. */
const NPM_SETTINGS = new Set(['access', 'registry', 'tag', 'provenance']);
const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];

function restore() {
  if (existsSync(BACKUP)) renameSync(BACKUP, MANIFEST);
}

function prepack() {
  restore();
  const text = readFileSync(MANIFEST, 'utf8');
  const manifest = JSON.parse(text);
  const local = DEPENDENCY_FIELDS.flatMap((field) =>
    Object.entries(manifest[field] ?? {})
      .filter(([, range]) => String(range).startsWith('workspace:'))
      .map(([name, range]) => `${field}.${name}: ${range}`),
  );
  if (local.length > 0) {
    console.error(
      `${manifest.name}: workspace: ranges would be packed as they are:\n  ${local.join('\n  ')}`,
    );
    process.exit(1);
  }
  if (manifest.scripts?.build) execSync(manifest.scripts.build, { stdio: 'inherit' });
  // The tool running this script; not npm_config_user_agent, which npm inherits from a pnpm around it.
  if (/pnpm/.test(basename(process.env.npm_execpath ?? ''))) return;
  const { publishConfig = {}, ...rest } = manifest;
  const overrides = Object.entries(publishConfig).filter(([key]) => !NPM_SETTINGS.has(key));
  if (overrides.length === 0) return;
  const settings = Object.fromEntries(Object.entries(publishConfig).filter(([key]) => NPM_SETTINGS.has(key)));
  const published = { ...rest, ...Object.fromEntries(overrides) };
  // As pnpm does: these scripts belong to the repository, not to the installed package.
  const { prepack: _prepack, postpack: _postpack, ...scripts } = published.scripts ?? {};
  if (Object.keys(scripts).length > 0) published.scripts = scripts;
  else delete published.scripts;
  if (Object.keys(settings).length > 0) published.publishConfig = settings;
  writeFileSync(BACKUP, text);
  writeFileSync(MANIFEST, `${JSON.stringify(published, null, 2)}\n`);
}

const step = process.argv[2];
if (step === 'prepack') prepack();
else if (step === 'postpack') restore();
else {
  console.error('usage: node scripts/pack-lifecycle.mjs prepack|postpack');
  process.exit(2);
}
