// 初回ログインと二要素認証: an administrator registers a user and hands over the issued
// password; the user must change it at first sign-in, turns on two-factor sign-in with an
// authenticator app (TOTP), and from then on is asked for 確認コード after the password.
// A code's time step is accepted once only, and a recovery code works once instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  clickAndWait,
  field,
  heading,
  login,
  logout,
  mainText,
  pathOf,
  sharedApp,
  totp,
  totpStep,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

const NEW_NAME = '試験 つなぐ';
const NEW_ORG = 'みちのく療育園メディカルセンター';
const NEW_ROLE = '県コーディネーター';
const NEW_PASSWORD = 'Hayachine-sanroku-no-asa-48';

/** The submit button of the form that holds `control`. */
function submitOf(control) {
  return control.locator('xpath=ancestor::form').locator('button[type="submit"]');
}

/** Registers a user as `admin` and returns `{ loginId, password }` from the issued page. */
async function registerUser(page) {
  await login(page, 'admin', DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  await axeCheck(page);

  const res = await visitChecked(page, '/admin/users/new');
  assert.equal(res.status(), 200);
  const loginId = `e2e.${Date.now().toString(36)}`;
  await field(page, 'ログインID').fill(loginId);
  await field(page, '氏名').fill(NEW_NAME);
  const orgSelect = field(page, '所属機関');
  const orgValue = await orgSelect
    .locator('option', { hasText: NEW_ORG })
    .first()
    .getAttribute('value');
  assert.ok(orgValue, `${NEW_ORG} is offered in 所属機関`);
  await orgSelect.selectOption(orgValue);
  await page
    .getByRole('group', { name: /^役割/ })
    .getByLabel(NEW_ROLE, { exact: true })
    .check();
  await clickAndWait(page, page.getByRole('button', { name: '登録してパスワードを発行する' }));
  assert.equal(await heading(page), '利用者を登録しました', await mainText(page));
  await axeCheck(page);
  const password = (await page.locator('.issued-password').innerText()).trim();
  assert.ok(password.length >= 12, `an issued password is shown (${password.length} chars)`);
  assert.match(await mainText(page), new RegExp(loginId.replace(/\./g, '\\.')));
  await logout(page);
  await axeCheck(page);
  return { loginId, password };
}

test('a new user changes the issued password, turns on TOTP, and signs in with 確認コード', async () => {
  const page = await s.page();
  const { loginId, password } = await registerUser(page);

  // First sign-in: only the password change page may be opened.
  await login(page, loginId, password);
  assert.equal(pathOf(page), '/account/password', 'sent to change the issued password');
  assert.match(await heading(page), /パスワードの変更/);
  await axeCheck(page);
  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/account/password', 'nothing else opens before the change');

  await field(page, '現在のパスワード').fill(password);
  await field(page, '新しいパスワード').fill(NEW_PASSWORD);
  await field(page, '新しいパスワード（確認）').fill(NEW_PASSWORD);
  await clickAndWait(page, submitOf(field(page, '新しいパスワード')));
  assert.notEqual(pathOf(page), '/account/password', await mainText(page));
  await axeCheck(page);

  // Enrol an authenticator app: read the secret as a person would type it into the app.
  const res = await visitChecked(page, '/account/totp');
  assert.equal(res.status(), 200);
  const secret = (await page.locator('#totp-secret').innerText()).trim();
  assert.match(secret, /^[A-Z2-7][A-Z2-7\s]{15,}$/i, `a base32 secret is shown: ${secret}`);
  const enrolStep = totpStep();
  const codeInput = page.getByLabel('確認コード');
  await codeInput.fill(totp(secret, enrolStep));
  await clickAndWait(page, submitOf(codeInput));
  const codes = (await page.locator('.codes li').allInnerTexts()).map((c) => c.trim());
  assert.equal(codes.length, 10, `10 recovery codes are shown: ${JSON.stringify(codes)}`);
  assert.equal(new Set(codes).size, 10, 'the recovery codes differ');
  await axeCheck(page);

  // From now on the password alone is not enough.
  await logout(page);
  await login(page, loginId, NEW_PASSWORD);
  assert.equal(pathOf(page), '/login/totp', 'asked for 確認コード');
  await axeCheck(page);
  await visitChecked(page, '/');
  assert.equal(pathOf(page), '/login/totp', 'nothing opens before the second factor');
  assert.equal(await page.locator('header .user-name').count(), 0);

  // The enrolment used its step; the server refuses a step twice, so use the next one.
  const loginStep = Math.max(totpStep(), enrolStep + 1);
  const loginCode = totp(secret, loginStep);
  await page.getByLabel('確認コード').fill(loginCode);
  await clickAndWait(page, page.getByRole('button', { name: '確認', exact: true }));
  assert.equal(pathOf(page), '/', await mainText(page));
  assert.match(await page.locator('header').innerText(), new RegExp(NEW_NAME));
  await axeCheck(page);

  // Replay: the same code (same step) is refused the next time.
  await logout(page);
  await login(page, loginId, NEW_PASSWORD);
  assert.equal(pathOf(page), '/login/totp');
  await page.getByLabel('確認コード').fill(loginCode);
  const replay = await clickAndWait(page, page.getByRole('button', { name: '確認', exact: true }));
  assert.equal(replay.status(), 422, 'a used code is refused');
  assert.equal(pathOf(page), '/login/totp');
  assert.match(await mainText(page), /確認コードが正しくありません/);
  await axeCheck(page);

  // A recovery code signs in instead of the app, once.
  await page.getByLabel('確認コード').fill(codes[0]);
  await clickAndWait(page, page.getByRole('button', { name: '確認', exact: true }));
  assert.equal(pathOf(page), '/', await mainText(page));
  await axeCheck(page);
  await logout(page);
  await login(page, loginId, NEW_PASSWORD);
  await page.getByLabel('確認コード').fill(codes[0]);
  const reused = await clickAndWait(page, page.getByRole('button', { name: '確認', exact: true }));
  assert.equal(reused.status(), 422, 'a used recovery code is refused');
  assert.equal(pathOf(page), '/login/totp');
  await axeCheck(page);
});
