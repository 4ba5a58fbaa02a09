// ログイン: a wrong password is refused with one message for both fields; the right one lands
// on the home page with the user's name in the header. axe checks each page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  login,
  mainText,
  pathOf,
  sharedApp,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

test('the login page has labelled fields and passes axe', async () => {
  const page = await s.page();
  const res = await visitChecked(page, '/login');
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), `ログイン | 岩手県医療的ケア児支援センター`);
  assert.equal(await page.getByLabel('ログインID').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('パスワード').getAttribute('type'), 'password');
});

test('a wrong password is refused with 「ログインIDまたはパスワードが正しくありません」', async () => {
  const page = await s.page();
  await visitChecked(page, '/login');
  const res = await login(page, 'coordinator', 'not-the-password-1');
  assert.equal(res.status(), 422);
  assert.equal(pathOf(page), '/login');
  assert.match(await mainText(page), /ログインIDまたはパスワードが正しくありません/);
  // What was typed as the login id is kept; the password is not.
  assert.equal(await page.getByLabel('ログインID').inputValue(), 'coordinator');
  assert.equal(await page.getByLabel('パスワード').inputValue(), '');
  await axeCheck(page);
  // Still signed out: the home page sends back to the login page.
  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/login');
});

test('the right password lands on the home page showing the user’s name', async () => {
  const page = await s.page();
  await visitChecked(page, '/login');
  const res = await login(page, 'coordinator', DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  assert.equal(res.status(), 200, `home page answered ${res.status()}`);
  const header = page.locator('header');
  assert.match(await header.innerText(), /支援 さくら/);
  assert.match(await header.innerText(), /みちのく療育園メディカルセンター/);
  assert.equal(await page.getByRole('button', { name: 'ログアウト' }).count(), 1);
  await axeCheck(page);
  // Signed in, the login page is not shown again.
  await visitChecked(page, '/login');
  assert.equal(pathOf(page), '/');
});
