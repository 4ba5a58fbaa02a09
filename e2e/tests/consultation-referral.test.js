// 相談とつなぎ: a coordinator logs a phone consultation, introduces a resource found with the
// picker, records the requester's consent and refers the case to 盛岡市役所; the municipal
// officer sees the referral in 受け付けた依頼 with the requester's name (consent given),
// acknowledges it and records an outcome, and the coordinator sees each step on the record.
// Without consent the officer gets the summary only: no name, no contact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  clickChecked,
  escapeRegExp,
  field,
  heading,
  login,
  mainText,
  pathOf,
  recordConsultation,
  sharedApp,
  todayJst,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

const OFFICE = '盛岡市役所';
const KAMAISHI_SHORT_STAY = '釜石はまゆり医療療育センター 短期入所';

async function signedIn(loginId) {
  const page = await s.page();
  await login(page, loginId, DEMO_PASSWORD);
  assert.equal(pathOf(page), '/', `${loginId} lands on the home page`);
  await axeCheck(page);
  return page;
}

/** The row of the record page's つなぎ先への依頼 table for `office`. */
function referralRow(page, office) {
  return page
    .getByRole('region', { name: 'つなぎ先への依頼', exact: true })
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: office, exact: true }) });
}

/**
 * Refers the consultation shown on `page` to `office` with `note`, checking that the form says
 * `notice` about the name and contact; returns the confirmation message.
 */
async function refer(page, office, note, notice) {
  await clickChecked(page, page.getByRole('link', { name: 'つなぎ先へ依頼する', exact: true }));
  assert.equal(await heading(page), 'つなぎ先へ依頼する');
  assert.match(await mainText(page), notice);
  const to = field(page, '依頼先');
  // The office of the child's municipality is offered first and already chosen.
  assert.equal(
    (await to.locator('option:checked').innerText()).trim(),
    office,
    'the child’s municipal office is suggested',
  );
  await to.selectOption({ label: office });
  await field(page, '依頼の内容').fill(note);
  await clickChecked(page, page.getByRole('button', { name: '依頼を送る', exact: true }));
  assert.match(pathOf(page), /^\/consultations\/[^/]+$/);
  return page.getByRole('status').filter({ hasText: `${office}へ依頼しました` }).innerText();
}

/** As the municipal officer: 受け付けた依頼 from the menu, then the referral of `receiptNo`. */
async function openReferral(page, receiptNo) {
  await clickChecked(
    page,
    page
      .getByRole('navigation', { name: 'メインメニュー' })
      .getByRole('link', { name: '受け付けた依頼', exact: true }),
  );
  assert.equal(pathOf(page), '/referrals');
  assert.equal(await heading(page), '受け付けた依頼');
  const link = page
    .getByRole('region', { name: '依頼の一覧' })
    .getByRole('link', { name: receiptNo, exact: true });
  assert.equal(await link.count(), 1, `the referral of ${receiptNo} is in the inbox`);
  await clickChecked(page, link);
  assert.match(pathOf(page), /^\/referrals\/[^/]+$/);
  assert.equal(await heading(page), `依頼 ${receiptNo}`);
}

test('with consent: a resource is introduced, 盛岡市役所 sees the name, acknowledges and answers', async () => {
  const coordinator = await signedIn('coordinator');
  const name = '試験 はるか';
  const contact = '090-0000-1234';
  const question = '人工呼吸器をつけた子の短期入所先を、沿岸で探しています。';
  const { id, receiptNo } = await recordConsultation(coordinator, {
    channel: '電話',
    requesterType: '本人・家族',
    name,
    contact,
    municipality: '盛岡市',
    ageBand: '3〜5歳（就学前）',
    careTypes: [/^人工呼吸器の管理/],
    topics: ['福祉サービス', '医療・医療的ケア'],
    question,
    advice: '釜石圏域の医療型短期入所を紹介し、市の窓口につなぐことにした。',
  });
  assert.equal(await heading(coordinator), `相談記録 ${receiptNo}`);
  const record = await mainText(coordinator);
  assert.match(record, new RegExp(escapeRegExp(name)));
  assert.match(record, /電話/);
  assert.match(record, /盛岡市/);

  // The resource picker: 釜石圏域, 短期入所（医療型）, 人工呼吸器の管理.
  await clickChecked(
    coordinator,
    coordinator.getByRole('link', { name: '社会資源を探して紹介先に追加', exact: true }),
  );
  assert.equal(pathOf(coordinator), `/consultations/${id}/resources`);
  const search = coordinator.getByRole('search', { name: '社会資源の検索' });
  await search.getByLabel('圏域', { exact: true }).selectOption({ label: '釜石圏域' });
  await search.getByLabel('種類', { exact: true }).selectOption({ label: '短期入所（医療型）' });
  await search
    .getByRole('group', { name: /^対応できる医療的ケア/ })
    .getByRole('checkbox', { name: /^人工呼吸器の管理/ })
    .check();
  await clickChecked(coordinator, search.getByRole('button', { name: '検索', exact: true }));
  const results = coordinator.getByRole('region', { name: '社会資源の検索結果' });
  const found = (await results.getByRole('rowheader').allInnerTexts()).map((t) => t.trim());
  assert.ok(found.includes(KAMAISHI_SHORT_STAY), `results: ${found.join(', ')}`);
  assert.ok(!found.includes('もりおか医療療育センター 短期入所'), 'another area is not listed');
  assert.ok(!found.includes('浜風クリニック 短期入所'), 'a place without ventilator care is not');
  await results.getByLabel(`${KAMAISHI_SHORT_STAY}を選ぶ`).check();
  await clickChecked(
    coordinator,
    coordinator.getByRole('button', { name: '選んだ社会資源を紹介先に追加', exact: true }),
  );
  assert.equal(pathOf(coordinator), `/consultations/${id}`);
  assert.match(await mainText(coordinator), /1件の社会資源を紹介先に追加しました/);
  const introduced = coordinator.getByRole('region', { name: '紹介した社会資源', exact: true });
  assert.equal(
    await introduced.getByRole('link', { name: KAMAISHI_SHORT_STAY, exact: true }).count(),
    1,
  );

  // Consent: yes, today, by word of mouth on the phone.
  const consent = coordinator.getByRole('group', {
    name: 'つなぎ先に氏名・連絡先を伝えることへの同意',
  });
  await consent.getByLabel('同意あり', { exact: true }).check();
  await field(coordinator, '同意を得た日').fill(todayJst());
  await field(coordinator, '同意を得た方法').selectOption({ label: '口頭（電話）' });
  await clickChecked(
    coordinator,
    coordinator.getByRole('button', { name: '同意の記録を保存', exact: true }),
  );
  const consentSaved = await mainText(coordinator);
  assert.match(consentSaved, /同意を記録しました/);
  assert.match(consentSaved, /ご本人の同意あり（.+、口頭（電話））/);

  // Referral to 盛岡市役所.
  const flash = await refer(
    coordinator,
    OFFICE,
    '短期入所の利用申請について、ご家族へ連絡をお願いします。',
    /氏名・連絡先も伝わります/,
  );
  assert.match(flash, /氏名・連絡先も伝わります/);
  assert.match(await referralRow(coordinator, OFFICE).innerText(), /伝えている（同意あり）[\s\S]*未確認/);

  // The municipal officer: the inbox, the referral with the requester's name and contact.
  const officer = await signedIn('municipal');
  await openReferral(officer, receiptNo);
  const personal = officer.getByRole('region', { name: '相談者の氏名・連絡先' });
  const personalText = await personal.innerText();
  assert.match(personalText, new RegExp(escapeRegExp(name)));
  assert.match(personalText, new RegExp(escapeRegExp(contact)));
  assert.match(await mainText(officer), new RegExp(escapeRegExp(question)));

  await clickChecked(officer, officer.getByRole('button', { name: '受領を記録する', exact: true }));
  assert.match(await mainText(officer), /受領を記録しました/);
  assert.equal(await officer.getByRole('button', { name: '受領を記録する' }).count(), 0);

  // The coordinator sees 受領済み.
  await visitChecked(coordinator, `/consultations/${id}`);
  assert.match(await referralRow(coordinator, OFFICE).innerText(), /受領済み/);

  const outcome = '家族に連絡し、短期入所の利用申請を受け付けた。';
  await field(officer, '対応結果').fill(outcome);
  await clickChecked(officer, officer.getByRole('button', { name: '対応結果を保存', exact: true }));
  const answered = await mainText(officer);
  assert.match(answered, /対応結果を記録しました/);
  assert.match(answered, /対応結果あり/);
  assert.match(answered, new RegExp(escapeRegExp(outcome)));

  // … and then 対応結果あり with the outcome.
  await visitChecked(coordinator, `/consultations/${id}`);
  const row = await referralRow(coordinator, OFFICE).innerText();
  assert.match(row, /対応結果あり/);
  assert.match(row, new RegExp(escapeRegExp(outcome)));
});

test('without consent: 盛岡市役所 gets the summary but neither the name nor the contact', async () => {
  const coordinator = await signedIn('coordinator');
  const name = '匿名 希望子';
  const contact = '019-000-9876';
  const question = '胃ろうの子の保育所入所について相談したい。';
  const { id, receiptNo } = await recordConsultation(coordinator, {
    name,
    contact,
    municipality: '盛岡市',
    ageBand: '0〜2歳',
    topics: ['保育・教育'],
    question,
  });
  assert.match(
    await coordinator.getByRole('region', { name: '情報提供への同意' }).innerText(),
    /同意は記録されていません/,
  );

  const flash = await refer(
    coordinator,
    OFFICE,
    '保育所の入所相談の窓口を教えてください。',
    /氏名・連絡先は伝わりません/,
  );
  assert.match(flash, /同意が記録されていないため、氏名・連絡先は伝わりません/);
  assert.match(await referralRow(coordinator, OFFICE).innerText(), /伝えていない/);
  assert.equal(pathOf(coordinator), `/consultations/${id}`);

  const officer = await signedIn('municipal');
  await openReferral(officer, receiptNo);
  const text = await mainText(officer);
  assert.match(text, new RegExp(escapeRegExp(question)), 'the summary is shown');
  assert.doesNotMatch(text, new RegExp(escapeRegExp(name)), 'the name is not shown');
  assert.doesNotMatch(text, new RegExp(escapeRegExp(contact)), 'the contact is not shown');
  assert.match(
    await officer.getByRole('region', { name: '相談者の氏名・連絡先' }).innerText(),
    /ご本人の同意がないため、氏名・連絡先は表示されません/,
  );
  // Not in the page's markup either (hidden text, attributes).
  const html = await officer.content();
  assert.ok(!html.includes(name) && !html.includes(contact), 'nothing personal in the HTML');
});
