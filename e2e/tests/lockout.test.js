// ロックアウト: 10 failed sign-ins within 15 minutes lock a login id, whether or not it exists,
// with one message that never tells which; the right password is refused while locked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_PASSWORD, axeCheck, login, mainText, pathOf, sharedApp, visit } from '../lib/app.js';

const s = sharedApp();

const WRONG = 'ログインIDまたはパスワードが正しくありません';
const LOCKED = '一時的にログインできません';

/** Fails `times` sign-ins for `loginId` and returns the message shown after each. */
async function failSignIns(page, loginId, times) {
  const messages = [];
  for (let i = 1; i <= times; i += 1) {
    await login(page, loginId, `wrong-password-${i}`);
    assert.equal(pathOf(page), '/login');
    await axeCheck(page);
    messages.push(await page.getByRole('alert').innerText());
  }
  return messages;
}

/** The message shown with the error, as one line. */
function oneLine(text) {
  return text.replace(/\s+/g, ' ').trim();
}

test('10 wrong passwords lock `viewer`; then even the right password is refused', async () => {
  const page = await s.page();
  const messages = await failSignIns(page, 'viewer', 10);
  for (const m of messages.slice(0, 9)) {
    assert.match(m, new RegExp(WRONG));
    assert.doesNotMatch(m, new RegExp(LOCKED));
  }
  assert.match(messages[9], new RegExp(LOCKED), 'the 10th failure locks the login id');

  const res = await login(page, 'viewer', DEMO_PASSWORD);
  assert.equal(res.status(), 429);
  assert.equal(pathOf(page), '/login');
  assert.match(await mainText(page), new RegExp(LOCKED));
  await axeCheck(page);
  assert.equal(await page.locator('header .user-name').count(), 0, 'not signed in');

  // Another account is not affected by viewer's lock.
  await login(page, 'pref', DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  await axeCheck(page);
  assert.match(await page.locator('header').innerText(), /県庁 花子/);
});

test('a made-up login id gets the same messages, and the same lock after 10 tries', async () => {
  const page = await s.page();
  const madeUp = `nobody-${Date.now().toString(36)}`;
  const madeUpMessages = (await failSignIns(page, madeUp, 10)).map(oneLine);
  assert.match(madeUpMessages[9], new RegExp(LOCKED));

  // The same words, step by step, as for an account that exists (`trainer` here, so that this
  // test does not depend on the other one having run).
  const other = await s.page();
  const realMessages = (await failSignIns(other, 'trainer', 10)).map(oneLine);
  assert.deepEqual(madeUpMessages, realMessages);

  const again = await login(page, madeUp, DEMO_PASSWORD);
  assert.equal(again.status(), 429);
  assert.match(await mainText(page), new RegExp(LOCKED));
  await axeCheck(page);
});
