// Helpers for Tsunagu's browser tests: start the release binary with demo data, drive Debian's
// chromium with playwright-core, sign in, check each page with axe-core, compute TOTP codes.
//
// Nothing here downloads a browser: playwright-core launches /usr/bin/chromium (or
// $CHROMIUM_PATH).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** The repository root (e2e/lib/ → ../../). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The binary under test; `TSUNAGU_BIN` may name another one. */
export const BINARY = process.env.TSUNAGU_BIN || join(ROOT, 'target', 'release', 'tsunagu');

/** Every demo account gets this password (passed to the binary explicitly). */
export const DEMO_PASSWORD = 'e2e-demo-pass-2026';

/** Bounded waits: generous, so a slow 2-core machine passes, but never endless. */
export const TIMEOUT = {
  ready: 30_000,
  action: 15_000,
  navigation: 20_000,
};

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Every app started by this process, so they are stopped even if a test crashes. */
const running = new Set();

function killGroup(child, signal) {
  try {
    // The app runs in its own process group (detached): end the whole group.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

process.on('exit', () => {
  for (const app of running) {
    killGroup(app.child, 'SIGKILL');
  }
});

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `tsunagu demo` on a fresh data folder and a free port, and waits until GET /readyz
 * answers 200. Returns `{ baseURL, port, dataDir, output(), stop() }`.
 */
export async function startApp({ env = {} } = {}) {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} がありません。先に cargo build --release を実行してください。`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'tsunagu-e2e-'));
  const port = await freePort();
  const bind = `127.0.0.1:${port}`;
  const childEnv = { ...process.env };
  // The demo picks its own SQLite database; settings from the caller's shell must not leak in.
  for (const k of Object.keys(childEnv)) {
    if (k.startsWith('TSUNAGU_')) delete childEnv[k];
  }
  Object.assign(childEnv, {
    TSUNAGU_DEMO_PASSWORD: DEMO_PASSWORD,
    TSUNAGU_LOG_LEVEL: process.env.TEST_LOG ? 'debug' : 'warn',
    ...env,
  });
  let log = '';
  const child = spawn(BINARY, ['demo', '--data-dir', dataDir, '--bind', bind], {
    // Its own folder, so that no tsunagu.toml of the repository is read.
    cwd: dataDir,
    env: childEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
    if (process.env.TEST_LOG) process.stderr.write(chunk);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  const app = {
    baseURL: `http://${bind}`,
    port,
    dataDir,
    child,
    output: () => log,
    async stop() {
      if (!running.has(app)) return;
      running.delete(app);
      if (!exited) {
        killGroup(child, 'SIGTERM');
        let timer;
        const timeout = new Promise((r) => {
          timer = setTimeout(() => r('timeout'), 10_000);
        });
        const outcome = await Promise.race([exitPromise, timeout]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          killGroup(child, 'SIGKILL');
          await exitPromise;
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  running.add(app);

  const deadline = Date.now() + TIMEOUT.ready;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited) {
      await app.stop();
      throw new Error(
        `tsunagu demo ended before it was ready (${JSON.stringify(exited)}):\n${log}`,
      );
    }
    try {
      const res = await fetch(`${app.baseURL}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return app;
      last = `status ${res.status}`;
    } catch (e) {
      last = e.cause?.code || e.message;
    }
    await sleep(200);
  }
  await app.stop();
  throw new Error(`GET /readyz did not answer 200 within ${TIMEOUT.ready} ms (${last}):\n${log}`);
}

/** Debian's chromium, headless, without any network of its own. */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `${executablePath} がありません: apt-get install -y --no-install-recommends chromium`,
    );
  }
  return chromium.launch({
    executablePath,
    args: CHROMIUM_ARGS,
    timeout: TIMEOUT.ready,
  });
}

/**
 * A fresh browser context (own cookies) and page for `app`. `bypassCSP` lets the test inject
 * axe-core inline; the application's own CSP (`script-src 'self'`) is otherwise untouched.
 */
export async function newPage(browser, app) {
  const context = await browser.newContext({
    baseURL: app.baseURL,
    bypassCSP: true,
    locale: 'ja-JP',
    timezoneId: 'Asia/Tokyo',
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT.action);
  context.setDefaultNavigationTimeout(TIMEOUT.navigation);
  const page = await context.newPage();
  return page;
}

/** The path of the page's current URL. */
export function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Opens `path` and returns the main response (its status tells 200, 403, 404…). */
export async function visit(page, path) {
  const res = await page.goto(path, { waitUntil: 'load' });
  return res;
}

/**
 * Clicks something that submits a form or follows a link, and waits until the next page has
 * loaded. Returns the main response of that navigation.
 */
export async function clickAndWait(page, locator) {
  const [res] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT.navigation }),
    locator.click(),
  ]);
  return res;
}

/**
 * Signs in on /login (opened first when the page is elsewhere): fills ログインID and パスワード
 * by their labels and presses ログイン. Returns the response of the page it lands on.
 */
export async function login(page, loginId, password) {
  if (pathOf(page) !== '/login') {
    await visit(page, '/login');
  }
  await page.getByLabel('ログインID', { exact: false }).fill(loginId);
  await page.getByLabel(/^パスワード/).fill(password);
  return clickAndWait(page, page.getByRole('button', { name: 'ログイン', exact: true }));
}

/** `text` with the characters a regular expression treats specially escaped. */
export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The form control whose label is exactly `label`, allowing the 「必須」 tag that required
 * fields carry (so 新しいパスワード does not also match 新しいパスワード（確認）).
 */
export function field(page, label) {
  return page.getByLabel(new RegExp(`^\\s*${escapeRegExp(label)}(\\s*必須)?\\s*$`));
}

/** Presses ログアウト in the header and waits for the login page. */
export async function logout(page) {
  return clickAndWait(page, page.getByRole('button', { name: 'ログアウト', exact: true }));
}

/** The visible text of the page's main content. */
export async function mainText(page) {
  return (await page.locator('main').innerText()).trim();
}

/** The first heading (h1) of the page. */
export async function heading(page) {
  return (await page.locator('main h1').first().innerText()).trim();
}

/** The labels of the main menu. */
export async function menuLabels(page) {
  const nav = page.locator('nav[aria-label="メインメニュー"] a');
  return (await nav.allInnerTexts()).map((s) => s.trim());
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now and fails with a
 * readable list of violations.
 */
export async function axeCheck(page) {
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) {
    await page.addScriptTag({ content: AXE_SOURCE });
  }
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    AXE_TAGS,
  );
  const violations = result.violations;
  if (violations.length > 0) {
    const lines = [`axe: ${violations.length} 件の違反 (${page.url()})`];
    for (const v of violations) {
      lines.push(`- ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})`);
      for (const n of v.nodes.slice(0, 10)) {
        lines.push(`    at ${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ') ?? ''}`);
      }
      if (v.nodes.length > 10) lines.push(`    … ${v.nodes.length - 10} more`);
    }
    throw new Error(lines.join('\n'));
  }
  return result;
}

/** Opens `path`, checks it with axe, and returns the main response. */
export async function visitChecked(page, path) {
  const res = await visit(page, path);
  await axeCheck(page);
  return res;
}

// ---- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) ----

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 as shown to people: spaces ignored, any case, optional `=` padding. */
export function base32Decode(text) {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = BASE32.indexOf(ch);
    if (idx < 0) throw new Error(`not base32: ${JSON.stringify(ch)} in ${JSON.stringify(text)}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

export const TOTP_STEP_SECONDS = 30;

/** The TOTP step (time counter) that `ms` (default: now) falls in. */
export function totpStep(ms = Date.now()) {
  return Math.floor(ms / 1000 / TOTP_STEP_SECONDS);
}

/** The 6-digit HOTP code of `secret` (base32) for `counter`. */
export function hotp(secretBase32, counter) {
  const key = base32Decode(secretBase32);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const hash = createHmac('sha1', key).update(msg).digest();
  const offset = hash[hash.length - 1] & 0x0f;
  const binary = hash.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** The TOTP code of `secret` (base32) for step `step` (default: the current one). */
export function totp(secretBase32, step = totpStep()) {
  return hotp(secretBase32, step);
}

/**
 * Registers `before`/`after` hooks of node:test that start one app and one browser for the
 * test file, and returns an object whose `app` and `browser` are set once they run. Each test
 * opens its own browser context (own cookies), so tests do not depend on their order.
 */
export function sharedApp(options = {}) {
  const shared = { app: null, browser: null };
  before(async () => {
    shared.app = await startApp(options);
    shared.browser = await launchBrowser();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.app?.stop();
  });
  shared.page = () => newPage(shared.browser, shared.app);
  return shared;
}

/**
 * Clicks a link or submit button (as `clickAndWait` does), then checks the page it lands on
 * with axe. Returns the main response of that navigation.
 */
export async function clickChecked(page, locator) {
  const res = await clickAndWait(page, locator);
  await axeCheck(page);
  return res;
}

/** Today's date in Japan as `YYYY-MM-DD` (the app's day for 受付日 and 同意を得た日). */
export function todayJst(now = new Date()) {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Tokyo' }).format(now);
}

/** The text that assistive technology reads as the description of `locator` (aria-describedby). */
export async function description(locator) {
  return locator.evaluate((el) =>
    (el.getAttribute('aria-describedby') || '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent?.trim() ?? '')
      .join(' '),
  );
}

/**
 * Records a consultation the way a coordinator does during a call: from the home page's
 * 「相談を受け付ける」 to /consultations/new, the fields by their labels, then 記録する. Fields
 * left out of `c` keep the form's defaults (受付日時 now, 受付方法 電話). Lands on the record
 * page and returns `{ id, receiptNo }` (the number from the confirmation message).
 */
export async function recordConsultation(page, c = {}) {
  const {
    channel = '電話',
    requesterType = '本人・家族',
    name = '',
    contact = '',
    municipality = '',
    ageBand = '',
    careTypes = [],
    topics = ['福祉サービス'],
    question = '短期入所先を探しています。',
    advice = '',
  } = c;
  await visitChecked(page, '/');
  await clickChecked(page, page.getByRole('link', { name: '相談を受け付ける', exact: true }));
  assert.equal(pathOf(page), '/consultations/new');
  await page.getByRole('group', { name: /^受付方法/ }).getByLabel(channel, { exact: true }).check();
  await page
    .getByRole('group', { name: /^相談者の種別/ })
    .getByLabel(requesterType, { exact: true })
    .check();
  if (name) await field(page, '相談者の氏名').fill(name);
  if (contact) await field(page, '連絡先（電話番号・メールなど）').fill(contact);
  if (municipality) await field(page, 'お住まいの市町村').selectOption({ label: municipality });
  if (ageBand) await field(page, '年齢').selectOption({ label: ageBand });
  const care = page.getByRole('group', { name: /^必要な医療的ケア/ });
  for (const careName of careTypes) await care.getByRole('checkbox', { name: careName }).check();
  const topicGroup = page.getByRole('group', { name: /^相談の分類/ });
  for (const label of topics) await topicGroup.getByLabel(label, { exact: true }).check();
  await field(page, '相談内容').fill(question);
  if (advice) await field(page, '助言・対応内容').fill(advice);
  const res = await clickChecked(page, page.getByRole('button', { name: '記録する', exact: true }));
  assert.equal(res.status(), 200, await mainText(page));
  const match = pathOf(page).match(/^\/consultations\/([^/]+)$/);
  assert.ok(match, `lands on the record page, not ${page.url()}`);
  const flash = await page.getByRole('status').filter({ hasText: '受付番号' }).innerText();
  const receipt = flash.match(/受付番号\s*(\S+)\s*で相談を記録しました/);
  assert.ok(receipt, `the confirmation names the receipt number: ${flash}`);
  return { id: match[1], receiptNo: receipt[1] };
}
