/**
 * Installs the packages as a user would. Copies the repository as a fresh clone has it (tracked and
 * unignored files: no node_modules, no dist), runs there the pack command README.md gives
 * (`<!-- pack-command -->`), then in a new project outside the workspace the install command it gives
 * (`<!-- install-command -->`), and type-checks (strict, NodeNext, library declarations included) and
 * runs there: the walkthrough on a SQLite file, the HTTP quickstart, a SQLite store reopened, and the
 * Postgres store on PGlite. A file missing from `files`, an export map pointing nowhere, a package
 * not built on pack, a dependency declared only in the workspace or a broken declaration fails here
 * before it reaches a user. It also packs @tally/core with `npm pack` and expects the same tarball.
 *
 * All seven published packages. better-sqlite3 compiles from source on `npm install` (90-120 s on a
 * 2-core machine), which is most of this test's 2-3 minutes; the timings are printed at the end.
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = [
  'core',
  'http',
  'react',
  'store-memory',
  'store-postgres',
  'store-sqlite',
  'webhooks',
] as const;
const work = mkdtempSync(join(tmpdir(), 'tally-pack-'));
// The README's layout: Tally cloned next to the user's project.
const clone = join(work, 'tally');
const project = join(work, 'project');
const npmPacked = join(work, 'npm-pack');
const timings: Record<string, number> = {};

/** The environment of a user's shell: none of what `pnpm test` and vitest add around this test. */
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^(npm_|pnpm_|vitest)/i.test(key) && !['INIT_CWD', 'NODE_ENV', 'NODE_PATH'].includes(key),
  ),
);
env.PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter);

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    timings[label] = Math.round(performance.now() - started);
  }
}

/** Runs a command, failing with its output. */
async function sh(
  file: string,
  args: string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...env, ...extraEnv },
    });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${file} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`,
    );
  }
}

/** The shell command README.md gives between `<!-- marker -->` and `<!-- /marker -->`. */
function readmeCommand(marker: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(`<!-- ${marker} -->`)[1]?.split(`<!-- /${marker} -->`)[0];
  const lines = (section ?? '').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('```'));
  if (lines.length === 0) throw new Error(`README.md has no command between <!-- ${marker} --> markers`);
  return lines.join('\n');
}

/** The files a fresh clone has: tracked ones and new ones not ignored (this test runs on uncommitted work). */
async function copyRepository(): Promise<void> {
  const listed = await sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root);
  for (const file of listed.split('\0').filter((f) => f !== '' && existsSync(join(root, f)))) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    copyFileSync(join(root, file), join(clone, file));
  }
}

const tarList = async (file: string) =>
  (await sh('tar', ['tzf', file], work)).split('\n').filter(Boolean).sort();
const tarManifest = async (file: string) =>
  JSON.parse(await sh('tar', ['xzOf', file, 'package/package.json'], work));

const CATALOG = `defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
})`;

/** The HTTP quickstart as a user's program: the REST API on node:http, driven with fetch. */
const HTTP_PROGRAM = `import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, defineCatalog, type CreditAccount, type LedgerEntry } from '@tally/core';
import { createHttpHandler, type ErrorBody, statusOf, toNodeListener } from '@tally/http';
import { memoryStore } from '@tally/store-memory';

const catalog = ${CATALOG};
const key = 'sk_test_pack_install_key';
const ledger = createLedger({ catalog, store: memoryStore() });
const server = createServer(toNodeListener(createHttpHandler({ ledger, apiKeys: [key] })));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = \`http://127.0.0.1:\${(server.address() as AddressInfo).port}/v1\`;
const headers = { authorization: \`Bearer \${key}\`, 'content-type': 'application/json' };
const post = (path: string, body: unknown) =>
  fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });

await post('/customers', { customerId: 'cus_123' });
await post('/subscriptions', { customerId: 'cus_123', planId: 'free' });
await post('/usage', { customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
const ledgerRes = await fetch(\`\${base}/ledger?customerId=cus_123&currency=credits\`, { headers });
const entries = ((await ledgerRes.json()) as { data: LedgerEntry[] }).data;
console.log(entries.map((e) => \`\${e.kind} \${e.amount} \${e.balance}\`).join(', '));
const accountsRes = await fetch(\`\${base}/credit-accounts?customerId=cus_123\`, { headers });
const [account] = ((await accountsRes.json()) as { data: CreditAccount[] }).data;
console.log(\`http balance: \${account?.balance}\`);
const refused = await fetch(\`\${base}/catalog\`);
const { error } = (await refused.json()) as ErrorBody;
console.log(\`without a key: \${refused.status} \${error.code} \${statusOf(error.code)}\`);
server.close();
await ledger.close();
`;

/** Webhooks as a user's program: an endpoint registered, a delivery signed and verified. */
const WEBHOOKS_PROGRAM = `import { memoryStore } from '@tally/store-memory';
import { createWebhooks, signatureHeader, verifyWebhook, WebhookVerificationError } from '@tally/webhooks';

const webhooks = createWebhooks({ store: memoryStore() });
const { id, secret } = await webhooks.registerEndpoint({ url: 'https://example.com/hooks', eventTypes: ['*'] });
const body = JSON.stringify({ id: 'evt_1', type: 'customer_created', createdAt: '', customerId: 'cus_123', data: {} });
const header = signatureHeader(body, [secret], Math.floor(Date.now() / 1000));
console.log(\`webhooks: \${id.startsWith('we_')} \${verifyWebhook(body, header, secret).id}\`);
try {
  verifyWebhook(body.replace('cus_123', 'cus_999'), header, secret);
} catch (error) {
  if (error instanceof WebhookVerificationError) console.log(\`altered: \${error.reason}\`);
}
`;

/**
 * @tally/react as a user's program: its client against the installed REST API with a customer token
 * (the hooks' transport), and the provider and gate rendered on the server with the installed peers.
 */
const REACT_PROGRAM = `import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, defineCatalog } from '@tally/core';
import { createCustomerToken, createHttpHandler, toNodeListener } from '@tally/http';
import { createTallyClient, Gate, TallyProvider } from '@tally/react';
import { memoryStore } from '@tally/store-memory';
import { renderToString } from 'react-dom/server';

const catalog = ${CATALOG};
const secret = 'a customer token secret of 32 bytes or more';
const ledger = createLedger({ catalog, store: memoryStore() });
await ledger.createCustomer({ customerId: 'cus_123' });
await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
const handler = createHttpHandler({ ledger, apiKeys: ['sk_test_pack_react'], customerTokens: { secret } });
const server = createServer(toNodeListener(handler));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = \`http://127.0.0.1:\${(server.address() as AddressInfo).port}\`;
const getToken = () =>
  createCustomerToken({ customerId: 'cus_123', scopes: ['read', 'trackUsage'], expiresIn: '5m' }, secret);
const client = createTallyClient({ baseUrl, customerId: 'cus_123', getToken });
await client.trackUsage({ feature: 'ai-generation', quantity: 1, idempotencyKey: 'pack-1' });
const [account] = await client.creditAccounts();
console.log(\`react client balance: \${account?.balance}\`);
const html = renderToString(
  <TallyProvider baseUrl={baseUrl} customerId="cus_123" getToken={getToken}>
    <Gate feature="ai-generation" quantity={1} fallback={<p>buy credits</p>}>
      <p>generate</p>
    </Gate>
  </TallyProvider>,
);
console.log(\`react server render: \${JSON.stringify(html)}\`);
server.close();
await ledger.close();
`;

/**
 * The durable stores as a user's program: a ledger on a SQLite file, written, closed and reopened
 * (`sqlite.ts`); on Postgres through PGlite (`pglite.ts`). `stores.ts` is what both share.
 */
const STORES_MODULE = `import { createLedger, defineCatalog, type EventStore } from '@tally/core';
import { type PGliteLike, postgresStore } from '@tally/store-postgres';
import { sqliteStore } from '@tally/store-sqlite';

const catalog = ${CATALOG};

/** The walkthrough's customer (created when \`write\`) and its balance afterwards. */
export async function balance(store: EventStore, write: boolean): Promise<string | undefined> {
  const ledger = createLedger({ catalog, store });
  if (write) {
    await ledger.createCustomer({ customerId: 'cus_123' });
    await ledger.subscribe({ customerId: 'cus_123', planId: 'free' });
    await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
  }
  const [account] = await ledger.creditAccounts({ customerId: 'cus_123' });
  await ledger.close();
  return account?.balance;
}

export const onSqlite = (filename: string): EventStore => sqliteStore({ filename, synchronous: 'NORMAL' });
export const onPglite = (pglite: PGliteLike): EventStore => postgresStore({ pglite });
`;

const SQLITE_PROGRAM = `import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { balance, onSqlite } from './stores.js';

const filename = join(process.argv[2]!, 'ledger.db');
console.log(\`sqlite: \${await balance(onSqlite(filename), true)}\`);
const where = existsSync(filename) ? 'the file' : 'nowhere';
console.log(\`sqlite reopened: \${await balance(onSqlite(filename), false)} from \${where}\`);
`;

const PGLITE_PROGRAM = `import { PGlite } from '@electric-sql/pglite';
import { balance, onPglite } from './stores.js';

const pglite = new PGlite();
console.log(\`postgres (PGlite): \${await balance(onPglite(pglite), true)}\`);
console.log(\`postgres (PGlite) reopened: \${await balance(onPglite(pglite), false)}\`);
await pglite.close();
`;

/** The user's project, and the tools it develops with (PGlite at the workspace's version). */
async function createProject(): Promise<void> {
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'tally-user-project', private: true, type: 'module' }, null, 2),
  );
  const json = (file: string, value: unknown) =>
    writeFileSync(join(project, file), `${JSON.stringify(value, null, 2)}\n`);
  json('tsconfig.json', {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      // Type-check the installed declarations too, not only this project's files.
      skipLibCheck: false,
      types: ['node'],
      rootDir: 'src',
      outDir: 'dist',
    },
    include: ['src'],
    exclude: ['src/pglite.ts', 'src/react.tsx'],
  });
  // React's declarations are written against the DOM's types, as a browser project has them.
  json('tsconfig.react.json', {
    extends: './tsconfig.json',
    compilerOptions: { jsx: 'react-jsx', lib: ['ES2022', 'DOM', 'DOM.Iterable'] },
    include: ['src/react.tsx'],
    exclude: [],
  });
  // PGlite's own declarations need the DOM and Emscripten types: that program skips checking them.
  json('tsconfig.pglite.json', {
    extends: './tsconfig.json',
    compilerOptions: { skipLibCheck: true },
    include: ['src/pglite.ts'],
    exclude: [],
  });
  // The walkthrough and the README's main command exactly as the repository has them.
  for (const file of ['walkthrough.ts', 'main.ts']) {
    copyFileSync(join(root, 'packages/walkthrough/src', file), join(project, 'src', file));
  }
  writeFileSync(join(project, 'src/http.ts'), HTTP_PROGRAM);
  writeFileSync(join(project, 'src/webhooks.ts'), WEBHOOKS_PROGRAM);
  writeFileSync(join(project, 'src/stores.ts'), STORES_MODULE);
  writeFileSync(join(project, 'src/sqlite.ts'), SQLITE_PROGRAM);
  writeFileSync(join(project, 'src/pglite.ts'), PGLITE_PROGRAM);
  writeFileSync(join(project, 'src/react.tsx'), REACT_PROGRAM);
  const pglite = JSON.parse(
    readFileSync(join(root, 'test/node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as { version: string };
  await sh(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      '--save-dev',
      'typescript@~5.9.3',
      '@types/node@^20.19.0',
      `@electric-sql/pglite@${pglite.version}`,
      // @tally/react's peers (npm installs a missing peer anyway; named here so their versions are the workspace's majors).
      'react@^19',
      'react-dom@^19',
      '@tanstack/react-query@^5',
      '@types/react@^19',
      '@types/react-dom@^19',
    ],
    project,
  );
}

beforeAll(async () => {
  mkdirSync(npmPacked, { recursive: true });
  await Promise.all([
    timed('npm install (tools)', createProject),
    (async () => {
      await timed('copy', copyRepository);
      if (existsSync(join(clone, 'node_modules')) || existsSync(join(clone, 'packages/core/dist'))) {
        throw new Error('the copy is not a fresh clone: it has node_modules or a dist');
      }
      await timed('README pack command', () =>
        sh('bash', ['-euo', 'pipefail', '-c', readmeCommand('pack-command')], clone),
      );
      await timed('npm pack core', () =>
        sh(
          'npm',
          ['pack', '--pack-destination', npmPacked, '--loglevel=error'],
          join(clone, 'packages/core'),
        ),
      );
    })(),
  ]);
  await timed('README install command', () =>
    sh('bash', ['-euo', 'pipefail', '-c', readmeCommand('install-command')], project),
  );
}, 900_000); // npm installs and a compile of better-sqlite3: minutes on a loaded machine

afterAll(() => {
  console.log(`pack-install timings (ms): ${JSON.stringify(timings)}`);
  rmSync(work, { recursive: true, force: true });
});

describe('the packed packages, installed with npm outside the workspace', () => {
  it('are the seven published packages, each with only dist, README and sources, exports pointing at dist', () => {
    expect(readdirSync(join(clone, 'tarballs')).sort()).toEqual(
      PACKAGES.map((name) => `tally-${name}-0.1.0.tgz`),
    );
    for (const name of PACKAGES) {
      const dir = join(project, 'node_modules/@tally', name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        exports: Record<string, { types: string; default: string }>;
        types: string;
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
        scripts?: Record<string, string>;
      };
      expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect(manifest.types).toBe('./dist/index.d.ts');
      expect(readdirSync(dir).sort()).toEqual(['README.md', 'dist', 'package.json', 'src']);
      expect(existsSync(join(dir, 'dist/index.js'))).toBe(true);
      const ranges = { ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.devDependencies };
      for (const range of Object.values(ranges)) expect(range).not.toMatch(/^workspace:/);
      if (name !== 'core') expect(manifest.peerDependencies?.['@tally/core']).toBe('^0.1.0');
      expect(manifest.scripts?.prepack).toBeUndefined();
    }
    // One copy of the core, so TallyError and the store's error classes are the ones the ledger knows.
    expect(readdirSync(join(project, 'node_modules/@tally')).sort()).toEqual([...PACKAGES]);
    for (const name of PACKAGES) {
      expect(existsSync(join(project, 'node_modules/@tally', name, 'node_modules/@tally'))).toBe(false);
    }
  });

  it('npm pack makes the same tarball as pnpm pack', async () => {
    const [fromNpm] = readdirSync(npmPacked);
    const npmTarball = join(npmPacked, fromNpm!);
    const pnpmTarball = join(clone, 'tarballs/tally-core-0.1.0.tgz');
    expect(await tarManifest(npmTarball)).toEqual(await tarManifest(pnpmTarball));
    expect(await tarList(npmTarball)).toEqual(await tarList(pnpmTarball));
    // npm's pack put the repository's package.json back.
    expect(readFileSync(join(clone, 'packages/core/package.json'), 'utf8')).toBe(
      readFileSync(join(root, 'packages/core/package.json'), 'utf8'),
    );
  });

  it('type-check strictly (NodeNext) and compile', async () => {
    const tsc = join(project, 'node_modules/.bin/tsc');
    await timed('tsc', async () => {
      await sh(tsc, ['-p', 'tsconfig.json'], project);
      await sh(tsc, ['-p', 'tsconfig.pglite.json'], project);
      await sh(tsc, ['-p', 'tsconfig.react.json'], project);
    });
  }, 120_000);

  it('run the README walkthrough on a SQLite file: +100, -10, balance 90', async () => {
    const filename = join(work, 'walkthrough', 'tally.db');
    const out = await sh(process.execPath, ['dist/main.js'], project, { TALLY_DB: filename });
    expect(out).toMatch(/grant\s+\+100\s+100/);
    expect(out).toMatch(/usage\s+-10\s+90/);
    expect(out).toContain('balance of cus_123: 90 credits');
    expect(out).toContain(`ledger stored in ${filename} (SQLite)`);
    expect(existsSync(filename)).toBe(true);
  });

  it('serve the REST API from the installed @tally/http', async () => {
    const out = await sh(process.execPath, ['dist/http.js'], project);
    expect(out).toContain('grant 100 100, usage -10 90');
    expect(out).toContain('http balance: 90');
    expect(out).toContain('without a key: 401 unauthorized 401');
  });

  it('sign and verify webhooks with the installed @tally/webhooks', async () => {
    const out = await sh(process.execPath, ['dist/webhooks.js'], project);
    expect(out.trim().split('\n')).toEqual(['webhooks: true evt_1', 'altered: no_valid_signature']);
  });

  it('read and write through the installed @tally/react client, and render its provider and gate', async () => {
    const out = await sh(process.execPath, ['dist/react.js'], project);
    const [balance, render] = out.trim().split('\n');
    expect(balance).toBe('react client balance: 90');
    // On the server the gate's check has not answered yet: it renders its loading state, not the fallback.
    expect(render).toMatch(/^react server render: /);
    expect(render).not.toContain('buy credits');
    expect(render).not.toContain('generate');
  });

  it('keep a ledger in a SQLite file across opens', async () => {
    const dir = mkdtempSync(join(work, 'sqlite-'));
    const out = await sh(process.execPath, ['dist/sqlite.js', dir], project);
    expect(out.trim().split('\n')).toEqual(['sqlite: 90', 'sqlite reopened: 90 from the file']);
  });

  it('keep a ledger in Postgres (PGlite)', async () => {
    const out = await sh(process.execPath, ['dist/pglite.js'], project);
    expect(out.trim().split('\n')).toEqual(['postgres (PGlite): 90', 'postgres (PGlite) reopened: 90']);
  });
});
