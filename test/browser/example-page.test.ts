/**
 * The example service's page in a real browser: Debian's Chromium (`/usr/bin/chromium`, package
 * `chromium`; `.ci/run` installs it) driven by playwright-core. Builds the page with Vite, starts the
 * service on a free port on a fresh SQLite file, runs the walkthrough's steps with the secret key
 * (free plan +100, one ai-generation -10), then as the signed-in customer: balance 90, Generate →
 * 80 and a new ledger row, spend the rest → the gate closes, buy 100 credits → it opens, and the
 * page's token cannot read another customer (403). Screenshots go to test/browser/screenshots/;
 * the last one is docs/example-page.png, which README.md shows.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));
const serviceDir = join(root, 'packages/example-service');
const screenshots = join(root, 'test/browser/screenshots');
const KEY = 'sk_test_example_page_browser_1';
const TOKEN_SECRET = randomBytes(32).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'tally-example-page-'));
const timings: Record<string, number> = {};

let service: ChildProcess | undefined;
let browser: BrowserContext | undefined;
let url = '';
let output = '';

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    timings[label] = Math.round(performance.now() - started);
  }
}

/** The service's REST API with the secret key: what its back office (and the walkthrough) uses. */
async function api(method: string, path: string, body?: unknown, token = KEY) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Starts `src/main.ts` as the README runs it, on a free port; resolves with its URL. */
function startService(webRoot: string): Promise<string> {
  const child = spawn(join(serviceDir, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: serviceDir,
    env: {
      ...process.env,
      PORT: '0',
      TALLY_DB: join(work, 'tally.db'),
      TALLY_API_KEYS: KEY,
      TALLY_TOKEN_SECRET: TOKEN_SECRET,
      TALLY_WEB_ROOT: webRoot,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  service = child;
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${output}`)), 60_000);
    const poll = setInterval(() => {
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found === null) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(found[1]!);
    }, 50);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code}:\n${output}`));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: this test drives Debian's Chromium. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (.ci/run does when it is missing).',
    );
  }
  const webRoot = join(work, 'web');
  await timed('vite build', () =>
    promisify(execFile)(
      join(serviceDir, 'node_modules/.bin/vite'),
      ['build', '--config', 'web/vite.config.ts', '--outDir', webRoot],
      { cwd: serviceDir },
    ),
  );
  [url, browser] = await Promise.all([
    timed('service start', () => startService(webRoot)),
    timed('chromium launch', () =>
      // A fresh profile (--user-data-dir) each run: nothing cached from an earlier one.
      chromium.launchPersistentContext(join(work, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 900, height: 900 },
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--disable-quic',
          '--no-first-run',
        ],
      }),
    ),
  ]);
  // The walkthrough's steps, as the back office does them with the secret key.
  expect((await api('POST', '/v1/customers', { customerId: 'cus_123' })).status).toBe(201);
  expect((await api('POST', '/v1/subscriptions', { customerId: 'cus_123', planId: 'free' })).status).toBe(
    201,
  );
  const usage = await api('POST', '/v1/usage', {
    customerId: 'cus_123',
    feature: 'ai-generation',
    quantity: 1,
  });
  expect(usage.body).toMatchObject({ balance: '90' });
  expect((await api('POST', '/v1/customers', { customerId: 'cus_other' })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (service?.pid !== undefined && service.exitCode === null) {
    const exited = new Promise((resolve) => service?.once('exit', resolve));
    process.kill(-service.pid, 'SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
  console.log(`example-page timings (ms): ${JSON.stringify(timings)}`);
});

const balance = (page: Page) => page.getByTestId('balance');
/** A ledger row's What, Amount and Balance cells (its time differs run to run). */
const cells = async (row: Locator) => (await row.locator('td').allTextContents()).slice(1);
/** Waits until the balance shows `value` (the page refreshes it after each action). */
const balanceIs = (page: Page, value: string) =>
  page
    .getByTestId('balance')
    .filter({ hasText: new RegExp(`^${value}$`) })
    .waitFor({ timeout: 15_000 });
const shot = async (page: Page, name: string) => {
  mkdirSync(screenshots, { recursive: true });
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
};

describe('the example page in Chromium', () => {
  it('shows 90, generates, runs out, buys, and its token reads only its own customer', async () => {
    const page = await browser!.newPage();
    const tokens = new Set<string>();
    page.on('request', (request) => {
      const auth = request.headers().authorization;
      if (new URL(request.url()).pathname.startsWith('/v1/') && auth !== undefined) tokens.add(auth);
    });
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));

    await timed('page load', async () => {
      await page.goto(url);
      await balanceIs(page, '90');
    });
    const rows = page.getByTestId('ledger-row');
    await rows.nth(1).waitFor();
    expect(await rows.count()).toBe(2);
    expect(await cells(rows.nth(0))).toEqual(['grant (plan)', '+100', '100']);
    expect(await cells(rows.nth(1))).toEqual(['ai-generation × 1', '-10', '90']);
    await page.getByTestId('chart').locator('canvas').waitFor();
    await shot(page, '1-walkthrough');

    // Generate: the service checks, works and records the usage; the page refreshes.
    await page.getByTestId('generate').click();
    await balanceIs(page, '80');
    await rows.nth(2).waitFor();
    expect(await rows.count()).toBe(3);
    expect(await cells(rows.nth(2))).toEqual(['ai-generation × 1', '-10', '80']);
    expect(await page.getByTestId('output').textContent()).toBe('a picture of a lighthouse at dusk');
    await shot(page, '2-generated');

    // Spend the rest: the gate closes once nothing is left.
    for (let left = 70; left >= 0; left -= 10) {
      await page.getByTestId('generate').click();
      await balanceIs(page, String(left));
    }
    await page.getByTestId('gate-closed').waitFor();
    expect(await page.getByTestId('generate').count()).toBe(0);
    await shot(page, '3-out-of-credits');

    // Buy 100 credits: a grant with source 'purchase' and a payment id; the gate opens.
    await page.getByTestId('buy').click();
    await balanceIs(page, '100');
    await page.getByTestId('generate').waitFor();
    expect(await page.getByTestId('gate-closed').count()).toBe(0);
    const grants = (await api('GET', '/v1/grants?customerId=cus_123')).body.data as {
      source: string;
      amount: string;
      paymentId: string | null;
    }[];
    expect(grants.filter((g) => g.source === 'purchase')).toEqual([
      expect.objectContaining({ amount: '100', paymentId: expect.stringMatching(/^demo_pay_/) }),
    ]);
    expect(await rows.count()).toBe(12);
    const path = await shot(page, '4-bought');
    copyFileSync(path, join(root, 'docs/example-page.png'));

    // The page's token: never the secret key, reads its own customer, not another one.
    expect(tokens.size).toBeGreaterThan(0);
    expect([...tokens].some((t) => t.includes(KEY))).toBe(false);
    for (const auth of tokens) {
      const token = auth.replace(/^Bearer /, '');
      expect((await api('GET', '/v1/credit-accounts?customerId=cus_123', undefined, token)).status).toBe(200);
      const other = await api('GET', '/v1/credit-accounts?customerId=cus_other', undefined, token);
      expect([other.status, (other.body.error as { code: string }).code]).toEqual([403, 'forbidden']);
      const write = await api(
        'POST',
        '/v1/grants',
        { customerId: 'cus_123', currency: 'credits', amount: '1' },
        token,
      );
      expect(write.status).toBe(403);
    }
    expect(await balance(page).textContent()).toBe('100');
    expect(await cells(rows.nth(11))).toEqual(['grant (purchase)', '+100', '100']);
    expect(failures).toEqual([]);
  }, 120_000);
});
