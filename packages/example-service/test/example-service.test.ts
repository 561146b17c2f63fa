import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog, type RunningService, startService } from '../src/service.js';

const KEY = 'sk_test_example_service_key_1';
const dir = mkdtempSync(join(tmpdir(), 'tally-example-'));
const catalog = loadCatalog(new URL('../catalog.json', import.meta.url));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = (database: string) =>
  startService({ port: 0, hostname: '127.0.0.1', database, apiKeys: [KEY], catalog });

async function call(service: RunningService, method: string, path: string, body?: unknown, headers = {}) {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('the example service, in process', () => {
  it('runs the quickstart and meters /ai/generate on SQLite, across a restart', async () => {
    const database = join(dir, 'in-process.db');
    let service = await start(database);
    try {
      expect((await call(service, 'POST', '/v1/customers', { customerId: 'cus_123' })).status).toBe(201);
      expect(
        (await call(service, 'POST', '/v1/subscriptions', { customerId: 'cus_123', planId: 'free' })).status,
      ).toBe(201);
      const usage = await call(service, 'POST', '/v1/usage', {
        customerId: 'cus_123',
        feature: 'ai-generation',
        quantity: 1,
      });
      expect(usage.body).toMatchObject({ cost: '10', balance: '90' });

      // The metered endpoint: a retried request id is charged once.
      const prompt = { customerId: 'cus_123', prompt: 'a cat' };
      const first = await call(service, 'POST', '/ai/generate', prompt, { 'x-request-id': 'req_1' });
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        requestId: 'req_1',
        output: 'a picture of a cat',
        cost: '10',
        balance: '80',
      });
      const retry = await call(service, 'POST', '/ai/generate', prompt, { 'x-request-id': 'req_1' });
      expect(retry.body).toEqual(first.body);
      const fresh = await call(service, 'POST', '/ai/generate', prompt);
      expect(fresh.body).toMatchObject({ balance: '70' });
      expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await service.close();
    }

    // The books are in the file: a new process (here: a new ledger) sees them.
    service = await start(database);
    try {
      const accounts = await call(service, 'GET', '/v1/credit-accounts?customerId=cus_123');
      expect(accounts.body).toMatchObject({ data: [{ currency: 'credits', balance: '70' }] });
      for (let i = 0; i < 7; i++) {
        expect(
          (await call(service, 'POST', '/ai/generate', { customerId: 'cus_123', prompt: `#${i}` })).status,
        ).toBe(200);
      }
      const refused = await call(service, 'POST', '/ai/generate', {
        customerId: 'cus_123',
        prompt: 'one more',
      });
      expect([refused.status, (refused.body.error as { code: string }).code]).toEqual([
        422,
        'insufficient_credits',
      ]);
      const nobody = await call(service, 'POST', '/ai/generate', { customerId: 'cus_nobody', prompt: 'x' });
      expect(nobody.status).toBe(404);
      const anonymous = await fetch(`${service.url}/ai/generate`, { method: 'POST', body: '{}' });
      expect(anonymous.status).toBe(401);
      const bad = await call(service, 'POST', '/ai/generate', { customerId: 'cus_123' });
      expect(bad.status).toBe(400);
    } finally {
      await service.close();
    }
  });
});

/** The fenced block right after `<!-- name -->` in the README. */
function readmeBlock(name: string): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const match = new RegExp(`<!-- ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (match === null) throw new Error(`README.md has no block ${name}`);
  return match[1]!;
}

const hasJq = await promisify(execFile)('jq', ['--version']).then(
  () => true,
  () => false,
);

describe('the example service, as the README runs it', () => {
  it('starts with one command and answers the README curl calls with +100, -10 and 90', async () => {
    const database = join(dir, 'readme.db');
    // The README's command, with a free port and a fresh database.
    const child: ChildProcess = spawn(
      'npx',
      ['-y', 'pnpm@10', '--filter', '@tally/example-service', 'start'],
      {
        cwd: new URL('../../..', import.meta.url),
        env: { ...process.env, PORT: '0', TALLY_DB: database, TALLY_API_KEYS: KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the service did not start:\n${output}`)), 60_000);
        const poll = setInterval(() => {
          const found = /listening on (http:\/\/\S+)/.exec(output);
          if (found !== null) {
            clearInterval(poll);
            clearTimeout(timer);
            resolve(found[1]!);
          }
        }, 50);
        child.once('exit', (code) => {
          clearInterval(poll);
          clearTimeout(timer);
          reject(new Error(`the service exited with ${code}:\n${output}`));
        });
      });

      const env = { ...process.env, TALLY_URL: url, TALLY_KEY: KEY };
      const sh = (script: string) => promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { env });

      const lines = (await sh(readmeBlock('quickstart'))).stdout.trim().split('\n');
      const [customer, subscription, usage, ledger, accounts] = lines.map((line) => JSON.parse(line));
      expect(lines).toHaveLength(5);
      expect(customer).toMatchObject({ customerId: 'cus_123', externalId: 'user_42' });
      expect(subscription).toMatchObject({ planId: 'free', status: 'active' });
      expect(usage).toMatchObject({ cost: '10', balance: '90' });
      expect(
        (ledger as { data: { kind: string; amount: string; balance: string }[] }).data.map((e) => [
          e.kind,
          e.amount,
          e.balance,
        ]),
      ).toEqual([
        ['grant', '100', '100'],
        ['usage', '-10', '90'],
      ]);
      expect(accounts).toEqual({
        data: [
          {
            currency: 'credits',
            balance: '90',
            held: '0',
            available: '90',
            creditLimit: '0',
            debt: '0',
            scoped: [],
          },
        ],
      });

      if (hasJq) {
        expect((await sh(readmeBlock('statement'))).stdout).toBe(
          'grant\t+100\tbalance 100\nusage\t-10\tbalance 90\n',
        );
      }
      const generated = JSON.parse((await sh(readmeBlock('generate'))).stdout);
      expect(generated).toEqual({
        requestId: 'req_0001',
        output: 'a picture of a lighthouse at dusk',
        cost: '10',
        balance: '80',
      });
    } finally {
      if (child.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
    }
  });
});
