// メニュー: the menu shows what the one policy lets each role do, and a page outside a role
// answers with the 403 page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  heading,
  login,
  menuLabels,
  pathOf,
  sharedApp,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

async function signedIn(loginId) {
  const page = await s.page();
  await login(page, loginId, DEMO_PASSWORD);
  assert.equal(pathOf(page), '/', `${loginId} lands on the home page`);
  await axeCheck(page);
  return page;
}

test('admin sees 利用者管理 and 監査ログ in the menu', async () => {
  const page = await signedIn('admin');
  const labels = await menuLabels(page);
  assert.ok(labels.includes('利用者管理'), `menu: ${labels.join(', ')}`);
  assert.ok(labels.includes('監査ログ'), `menu: ${labels.join(', ')}`);
  const res = await visitChecked(page, '/admin/users');
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), '/admin/users');
});

test('coordinator sees neither, and /admin/users answers 「このページを表示する権限がありません」', async () => {
  const page = await signedIn('coordinator');
  const labels = await menuLabels(page);
  assert.ok(labels.length > 0, 'the menu is shown');
  assert.ok(!labels.includes('利用者管理'), `menu: ${labels.join(', ')}`);
  assert.ok(!labels.includes('監査ログ'), `menu: ${labels.join(', ')}`);
  const res = await visitChecked(page, '/admin/users');
  assert.equal(res.status(), 403);
  assert.equal(await heading(page), 'このページを表示する権限がありません');
  const audit = await visitChecked(page, '/admin/audit');
  assert.equal(audit.status(), 403);
});

test('municipal sees 関係機関 and 役割分担', async () => {
  const page = await signedIn('municipal');
  const labels = await menuLabels(page);
  assert.ok(labels.includes('関係機関'), `menu: ${labels.join(', ')}`);
  assert.ok(labels.includes('役割分担'), `menu: ${labels.join(', ')}`);
  assert.ok(!labels.includes('利用者管理'), `menu: ${labels.join(', ')}`);
  for (const label of ['関係機関', '役割分担']) {
    const href = await page
      .locator('nav[aria-label="メインメニュー"]')
      .getByRole('link', { name: label, exact: true })
      .getAttribute('href');
    const res = await visitChecked(page, href);
    assert.equal(res.status(), 200, `${label} (${href})`);
  }
});
