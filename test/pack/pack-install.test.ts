/**
 * Installs the packages as a user would: build, `pnpm pack` each one, `npm install` the tarballs into a
 * fresh project outside the workspace, then type-check (strict, NodeNext, library declarations
 * included) and run the walkthrough and an HTTP quickstart there. A file missing from `files`, an
 * export map pointing nowhere, a dependency declared only in the workspace or a broken declaration
 * fails here before it reaches a user.
 *
 * Packs @tally/core, @tally/store-memory and @tally/http. The SQLite and Postgres stores are left out
 * to keep this under a minute: better-sqlite3 compiles from source on install (about two minutes).
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = ['core', 'store-memory', 'http'] as const;
const work = mkdtempSync(join(tmpdir(), 'tally-pack-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
const timings: Record<string, number> = {};

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    timings[label] = Math.round(performance.now() - started);
  }
}

/** Runs a command, failing with its output. */
async function sh(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: process.env });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${file} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`,
    );
  }
}

/** The HTTP quickstart as a user's program: the REST API on node:http, driven with fetch. */
const HTTP_PROGRAM = `import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLedger, defineCatalog, type CreditAccount, type LedgerEntry } from '@tally/core';
import { createHttpHandler, type ErrorBody, statusOf, toNodeListener } from '@tally/http';
import { memoryStore } from '@tally/store-memory';

const catalog = defineCatalog({
  currencies: [{ code: 'credits', decimals: 0 }],
  features: [{ key: 'ai-generation', cost: { currency: 'credits', perUnit: '10' } }],
  plans: [{ id: 'free', interval: 'month', grants: [{ currency: 'credits', amount: '100' }] }],
});
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

beforeAll(async () => {
  mkdirSync(tarballs);
  mkdirSync(join(project, 'src'), { recursive: true });
  await timed('build', () =>
    sh(
      'npx',
      ['-y', 'pnpm@10', ...PACKAGES.flatMap((name) => ['--filter', `@tally/${name}`]), 'run', 'build'],
      root,
    ),
  );
  await timed('pack', () =>
    Promise.all(
      PACKAGES.map((name) =>
        sh('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', tarballs], join(root, 'packages', name)),
      ),
    ),
  );
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'tally-user-project', private: true, type: 'module' }, null, 2),
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify(
      {
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
      },
      null,
      2,
    ),
  );
  // The walkthrough exactly as the repository has it.
  copyFileSync(join(root, 'packages/walkthrough/src/walkthrough.ts'), join(project, 'src/walkthrough.ts'));
  writeFileSync(join(project, 'src/http.ts'), HTTP_PROGRAM);
  const files = readdirSync(tarballs).map((file) => join(tarballs, file));
  await timed('npm install', () =>
    sh(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...files,
        'typescript@~5.9.3',
        '@types/node@^20.19.0',
      ],
      project,
    ),
  );
}, 180_000);

afterAll(() => {
  console.log(`pack-install timings (ms): ${JSON.stringify(timings)}`);
  rmSync(work, { recursive: true, force: true });
});

describe('the packed packages, installed with npm outside the workspace', () => {
  it('install only dist, README and sources, with the export map pointing at dist', () => {
    for (const name of PACKAGES) {
      const dir = join(project, 'node_modules/@tally', name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        exports: Record<string, { types: string; default: string }>;
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };
      expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect(readdirSync(dir).sort()).toEqual(['README.md', 'dist', 'package.json', 'src']);
      const ranges = { ...manifest.dependencies, ...manifest.peerDependencies };
      for (const range of Object.values(ranges)) expect(range).not.toMatch(/^workspace:/);
    }
    // One copy of the core, so TallyError and the store's error classes are the ones the ledger knows.
    expect(readdirSync(join(project, 'node_modules/@tally'))).toEqual(['core', 'http', 'store-memory']);
  });

  it('type-check strictly (NodeNext) and compile', async () => {
    await timed('tsc', () => sh(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], project));
  }, 120_000);

  it('run the walkthrough: +100, -10, balance 90', async () => {
    const out = await sh(process.execPath, ['dist/walkthrough.js'], project);
    expect(out).toMatch(/grant\s+\+100\s+100/);
    expect(out).toMatch(/usage\s+-10\s+90/);
    expect(out).toContain('balance of cus_123: 90 credits');
  });

  it('serve the REST API from the installed @tally/http', async () => {
    const out = await sh(process.execPath, ['dist/http.js'], project);
    expect(out).toContain('grant 100 100, usage -10 90');
    expect(out).toContain('http balance: 90');
    expect(out).toContain('without a key: 401 unauthorized 401');
  });
});
