// CSRF: a form post with a forged token, or from another origin, is refused with 403 and
// changes nothing; the same post done properly works (so the refusals are not accidents).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  TIMEOUT,
  axeCheck,
  heading,
  login,
  mainText,
  pathOf,
  sharedApp,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

async function signedIn(loginId) {
  const page = await s.page();
  await login(page, loginId, DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  await axeCheck(page);
  return page;
}

async function stillSignedIn(page, name) {
  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/', 'still signed in');
  assert.match(await page.locator('header').innerText(), new RegExp(name));
}

test('a form posted with a wrong csrf_token is refused (「不正な送信の可能性」)', async () => {
  const page = await signedIn('coordinator');
  const [res] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT.navigation }),
    page.evaluate(() => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/logout';
      const token = document.createElement('input');
      token.type = 'hidden';
      token.name = 'csrf_token';
      token.value = 'forged-token-forged-token-forged-token-00';
      form.append(token);
      document.body.append(form);
      form.submit();
    }),
  ]);
  assert.equal(res.status(), 403);
  assert.equal(await heading(page), 'このページを表示する権限がありません');
  assert.match(await mainText(page), /不正な送信の可能性/);
  await axeCheck(page);
  await stillSignedIn(page, '支援 さくら');
});

test('a form posted without any csrf_token is refused', async () => {
  const page = await signedIn('coordinator');
  const [res] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT.navigation }),
    page.evaluate(() => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/logout';
      document.body.append(form);
      form.submit();
    }),
  ]);
  assert.equal(res.status(), 403);
  assert.match(await mainText(page), /不正な送信の可能性/);
  await axeCheck(page);
  await stillSignedIn(page, '支援 さくら');
});

test('a post from another origin is refused even with the right token; same-origin works', async () => {
  const page = await signedIn('hospital');
  const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  assert.ok(token && token.length >= 32, 'the page carries the session’s token');

  const evil = await page.request.post('/logout', {
    headers: { Origin: 'http://evil.example' },
    form: { csrf_token: token },
    maxRedirects: 0,
  });
  assert.equal(evil.status(), 403);
  assert.match(await evil.text(), /不正な送信の可能性/);

  const crossSite = await page.request.post('/logout', {
    headers: { 'Sec-Fetch-Site': 'cross-site' },
    form: { csrf_token: token },
    maxRedirects: 0,
  });
  assert.equal(crossSite.status(), 403);
  await stillSignedIn(page, '医療 みどり');

  // The control: the same request from the application's own origin signs out.
  const own = await page.request.post('/logout', {
    headers: { Origin: new URL(page.url()).origin },
    form: { csrf_token: token },
    maxRedirects: 0,
  });
  assert.equal(own.status(), 303);
  assert.equal(own.headers().location, '/login');
  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/login', 'signed out by the genuine request');
});
