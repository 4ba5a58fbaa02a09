// ログアウト: the session ends on the server, the login page says so, and the old session
// cookie no longer opens anything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  login,
  logout,
  pathOf,
  sharedApp,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

test('after ログアウト the login page says 「ログアウトしました」 and / needs a sign-in again', async () => {
  const page = await s.page();
  await login(page, 'municipal', DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  await axeCheck(page);
  const sessionCookies = (await page.context().cookies()).filter((c) =>
    c.name.includes('session'),
  );
  assert.equal(sessionCookies.length, 1, 'a session cookie is set after sign-in');
  assert.equal(sessionCookies[0].httpOnly, true);

  await logout(page);
  assert.equal(pathOf(page), '/login');
  assert.match(await page.getByRole('status').innerText(), /ログアウトしました/);
  await axeCheck(page);

  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/');
  assert.equal(await page.locator('header .user-name').count(), 0);

  // The old cookie, put back by hand, no longer opens the home page: the session ended on
  // the server, not only in the browser.
  await page.context().addCookies(sessionCookies);
  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/login');
});

test('ログアウト on one device ends the same user’s session on another device too', async () => {
  const office = await s.page();
  const home = await s.page();
  await login(office, 'hospital', DEMO_PASSWORD);
  await login(home, 'hospital', DEMO_PASSWORD);
  assert.equal(pathOf(office), '/');
  assert.equal(pathOf(home), '/');
  await axeCheck(home);

  await logout(home);
  assert.equal(pathOf(home), '/login');

  await visitChecked(office, '/');
  assert.equal(pathOf(office), '/login', 'the other device is signed out as well');
  assert.equal(await office.locator('header .user-name').count(), 0);
});
