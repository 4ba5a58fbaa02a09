// 相談の申込み: anybody can send a request from the login page's link without signing in. A
// missing question comes back with the message next to the field and what was typed kept; the
// sent request shows only its receipt number, and arrives in the coordinators' list as 受付.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  clickChecked,
  description,
  escapeRegExp,
  field,
  heading,
  login,
  mainText,
  pathOf,
  sharedApp,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

test('a request without signing in: error by the empty question, a receipt number, 受付 in the list', async () => {
  const visitor = await s.page();
  await visitChecked(visitor, '/login');
  await clickChecked(
    visitor,
    visitor.getByRole('link', { name: '相談を申し込む（ログイン不要）', exact: true }),
  );
  assert.equal(pathOf(visitor), '/consult');
  assert.equal(await heading(visitor), '相談の申込み');
  assert.equal(
    await visitor.getByRole('navigation', { name: 'メインメニュー' }).count(),
    0,
    'not signed in',
  );

  const name = '申込 さつき';
  const contact = '080-0000-4321（平日の夕方）';
  const question = 'たんの吸引が必要な3歳の子の保育園探しについて相談したいです。';
  await field(visitor, 'お名前').fill(name);
  await field(visitor, 'ご連絡先（電話番号またはメールアドレス）').fill(contact);
  await field(visitor, 'お住まいの市町村').selectOption({ label: '花巻市' });

  // Sent without the question.
  const refused = await clickChecked(
    visitor,
    visitor.getByRole('button', { name: '申し込む', exact: true }),
  );
  assert.equal(refused.status(), 422);
  assert.equal(pathOf(visitor), '/consult');
  const message = 'ご相談の内容を入力してください';
  assert.match(await visitor.getByRole('alert').innerText(), new RegExp(message));
  const questionField = field(visitor, 'ご相談の内容');
  assert.equal(await questionField.getAttribute('aria-invalid'), 'true');
  assert.match(
    await description(questionField),
    new RegExp(message),
    'the message is tied to the field',
  );
  // Shown next to the field, in the field's own block.
  assert.match(
    await visitor.locator('.field', { has: questionField }).innerText(),
    new RegExp(message),
  );
  // What was typed is kept.
  assert.equal(await field(visitor, 'お名前').inputValue(), name);
  assert.equal(await field(visitor, 'ご連絡先（電話番号またはメールアドレス）').inputValue(), contact);
  assert.equal(
    (await field(visitor, 'お住まいの市町村').locator('option:checked').innerText()).trim(),
    '花巻市',
  );
  // The summary's link leads to the field.
  assert.equal(
    await visitor.getByRole('alert').getByRole('link', { name: message }).getAttribute('href'),
    '#question',
  );

  await questionField.fill(question);
  const sent = await clickChecked(
    visitor,
    visitor.getByRole('button', { name: '申し込む', exact: true }),
  );
  assert.equal(sent.status(), 200);
  assert.equal(await heading(visitor), '相談の申込みを受け付けました');
  const receipt = (await visitor.getByRole('status').innerText()).replace(/\s+/g, ' ').trim();
  const m = receipt.match(/^受付番号 (\S+)$/);
  assert.ok(m, `a receipt number is shown: ${receipt}`);
  const receiptNo = m[1];
  // Nothing else: none of what was sent comes back.
  const shown = await mainText(visitor);
  for (const typed of [name, contact, question, '花巻市']) {
    assert.ok(!shown.includes(typed), `the receipt page does not repeat 「${typed}」`);
  }

  // The coordinator finds it under 受付のまま, in state 受付.
  const coordinator = await s.page();
  await login(coordinator, 'coordinator', DEMO_PASSWORD);
  assert.equal(pathOf(coordinator), '/');
  await axeCheck(coordinator);
  await clickChecked(
    coordinator,
    coordinator
      .getByRole('navigation', { name: 'メインメニュー' })
      .getByRole('link', { name: '相談記録', exact: true }),
  );
  await clickChecked(
    coordinator,
    coordinator
      .getByRole('navigation', { name: '相談記録の表示の切り替え' })
      .getByRole('link', { name: /^受付のまま（\d+件）$/ }),
  );
  assert.match(coordinator.url(), /[?&]view=received/);
  const table = coordinator.getByRole('region', { name: '相談記録の一覧' });
  const row = table
    .getByRole('row')
    .filter({ has: coordinator.getByRole('link', { name: receiptNo, exact: true }) });
  assert.equal(await row.count(), 1, `${receiptNo} is listed under 受付のまま`);
  const rowText = await row.innerText();
  assert.match(rowText, /申込みフォーム/);
  assert.match(rowText, /花巻市/);
  assert.match(rowText, /受付/);
  assert.ok(!rowText.includes(name), 'lists show no name');

  // The keyword search (a few words of the question, state 受付) finds it too.
  await clickChecked(
    coordinator,
    coordinator
      .getByRole('navigation', { name: '相談記録の表示の切り替え' })
      .getByRole('link', { name: 'すべて・検索', exact: true }),
  );
  const search = coordinator.getByRole('search', { name: '相談記録の検索' });
  await search.getByLabel('キーワード', { exact: true }).fill('保育園探し');
  await search.getByLabel('対応状況', { exact: true }).selectOption({ label: '受付' });
  await clickChecked(coordinator, search.getByRole('button', { name: '検索', exact: true }));
  const hits = coordinator.getByRole('region', { name: '相談記録の一覧' });
  assert.equal(await hits.getByRole('link', { name: receiptNo, exact: true }).count(), 1);

  // The record: from the form, state 受付, with the name and contact for the coordinator.
  await clickChecked(coordinator, hits.getByRole('link', { name: receiptNo, exact: true }));
  assert.equal(await heading(coordinator), `相談記録 ${receiptNo}`);
  const record = await mainText(coordinator);
  assert.match(record, /相談申込みフォームから届いた相談です/);
  assert.match(record, new RegExp(escapeRegExp(name)));
  assert.match(record, new RegExp(escapeRegExp(question)));
  assert.equal((await coordinator.locator('main p .status').first().innerText()).trim(), '受付');
});
