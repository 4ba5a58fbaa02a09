// 状況把握調査: the center issues a round; 盛岡市's officer fills it in, hits a validation error
// that names the field, fixes it and submits; the center returns it with a comment; it is fixed
// and approved; the roll-up and the map change at once; the public statistics hide the small
// cells and their complements. Every page passes axe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  clickChecked,
  field,
  heading,
  login,
  mainText,
  pathOf,
  sharedApp,
  todayJst,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

/** The 年度 after the current one: no demo round uses it, so every figure is this test's. */
function nextFiscalYear() {
  const [y, m] = todayJst().split('-').map(Number);
  return (m >= 4 ? y : y - 1) + 1;
}

function addDays(ymd, days) {
  const d = new Date(`${ymd}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

async function signedIn(loginId) {
  const page = await s.page();
  // Submitting and returning ask for confirmation; the tests say yes.
  page.on('dialog', (d) => d.accept());
  await login(page, loginId, DEMO_PASSWORD);
  assert.equal(pathOf(page), '/', `${loginId} lands on the home page`);
  return page;
}

/** Fills 盛岡市's answers: 10 children (or `total`), ages and places adding up to 10. */
async function fillAnswers(page, { total = '10', nursery = '2' } = {}) {
  await field(page, '医療的ケア児の総数').fill(total);
  const grid = page.getByRole('group', { name: /^年齢別・居場所別の人数/ });
  const cells = grid.getByRole('textbox');
  const n = await cells.count();
  assert.equal(n, 18, 'six age bands × three places');
  for (let i = 0; i < n; i += 1) await cells.nth(i).fill('0');
  await grid.getByLabel('0〜2歳 在宅', { exact: true }).fill('3');
  await grid.getByLabel('3〜5歳 在宅', { exact: true }).fill('2');
  await grid.getByLabel('6〜11歳 在宅', { exact: true }).fill('4');
  await grid.getByLabel('6〜11歳 入院', { exact: true }).fill('1');
  const care = page.getByRole('group', { name: /^医療的ケアの種別ごとの人数/ }).getByRole('textbox');
  const c = await care.count();
  assert.ok(c >= 10, 'a count per care type of the code list');
  for (let i = 0; i < c; i += 1) await care.nth(i).fill(i % 3 === 0 ? '4' : '0');
  await field(page, '保育所に通う児童').fill(nursery);
  await field(page, '幼稚園・認定こども園に通う児童').fill('1');
  await field(page, '小・中・高等学校（通常の学級等）に通う児童').fill('1');
  await field(page, '特別支援学校に通う児童').fill('3');
  await field(page, '配置している医療的ケア児等コーディネーター').fill('2');
  await page
    .getByRole('group', { name: /^医療的ケア児の支援に関する協議の場を設置している/ })
    .getByLabel('はい', { exact: true })
    .check();
}

test('a round from issue to approval, with the roll-up, the map and the public table', async () => {
  const fy = nextFiscalYear();
  const title = `${fy}年度 画面試験の実態調査`;
  const today = todayJst();

  // The center issues the round to every municipality.
  const coordinator = await signedIn('coordinator');
  await clickChecked(
    coordinator,
    coordinator.getByRole('navigation', { name: 'メインメニュー' }).getByRole('link', { name: '状況把握調査' }),
  );
  assert.equal(await heading(coordinator), '状況把握調査');
  await clickChecked(coordinator, coordinator.getByRole('link', { name: '調査を発出する', exact: true }));
  await field(coordinator, '年度（西暦）').fill(String(fy));
  await field(coordinator, '調査の名前').fill(title);
  await field(coordinator, '調査基準日').fill(`${fy}-04-01`);
  await field(coordinator, '受付開始日').fill(today);
  await field(coordinator, '提出期限').fill(addDays(today, 30));
  await clickChecked(coordinator, coordinator.getByRole('button', { name: '発出する', exact: true }));
  assert.equal(await heading(coordinator), title);
  assert.match(await mainText(coordinator), /33市町村に発出しました/);
  const board = coordinator.url();

  // 盛岡市 finds it in the inbox and fills it in with a total that does not add up.
  const municipal = await signedIn('municipal');
  await clickChecked(
    municipal,
    municipal.getByRole('navigation', { name: 'メインメニュー' }).getByRole('link', { name: '状況把握調査' }),
  );
  await clickChecked(municipal, municipal.getByRole('link', { name: title, exact: true }));
  assert.match(await mainText(municipal), /までに提出してください/);
  await fillAnswers(municipal, { total: '11' });
  await clickChecked(municipal, municipal.getByRole('button', { name: '提出する', exact: true }));
  const summary = municipal.getByRole('alert').filter({ hasText: '入力内容を確認してください' });
  assert.match(await summary.innerText(), /年齢別・居場所別の人数の合計が総数と一致しません/);
  // The message links to the field to fix, which is marked invalid; what was typed stays.
  const link = summary.getByRole('link', { name: /年齢別・居場所別の人数の合計/ });
  assert.equal(await link.getAttribute('href'), '#f-age_place-a0_2-home');
  assert.equal(
    await municipal.getByLabel('0〜2歳 在宅', { exact: true }).getAttribute('aria-invalid'),
    'true',
  );
  assert.equal(await field(municipal, '医療的ケア児の総数').inputValue(), '11');
  await field(municipal, '医療的ケア児の総数').fill('10');
  await clickChecked(municipal, municipal.getByRole('button', { name: '提出する', exact: true }));
  // Far from last year's figure: a warning asks for the reason before it can be submitted.
  const warning = municipal.getByRole('status').filter({ hasText: '確認をお願いします' });
  assert.match(await warning.innerText(), /医療的ケア児の総数が前年度（\d+）から50%以上変わっています/);
  await municipal.getByLabel('理由', { exact: true }).fill('画面の試験のため、一部の地区だけを数えました。');
  await clickChecked(municipal, municipal.getByRole('button', { name: '提出する', exact: true }));
  assert.match(await mainText(municipal), /提出しました/);
  assert.match(await mainText(municipal), /提出済み/);
  const response = municipal.url();

  // The center returns it with a comment.
  await coordinator.goto(board);
  await clickChecked(coordinator, coordinator.getByRole('link', { name: '盛岡市', exact: true }));
  await coordinator.getByLabel('差し戻す理由（市町村に表示されます）').fill('保育所に通う児童の人数をご確認ください。');
  await clickChecked(coordinator, coordinator.getByRole('button', { name: '差し戻す', exact: true }));
  assert.match(await mainText(coordinator), /差し戻しました/);

  // 盛岡市 sees the comment, fixes and submits again.
  await municipal.goto(response);
  await axeCheck(municipal);
  const text = await mainText(municipal);
  assert.match(text, /差し戻し/);
  assert.match(text, /保育所に通う児童の人数をご確認ください。/);
  await field(municipal, '保育所に通う児童').fill('1');
  await clickChecked(municipal, municipal.getByRole('button', { name: '提出する', exact: true }));
  assert.match(await mainText(municipal), /提出済み/);

  // The roll-up before approval has no figure for 盛岡市 …
  const results = `/surveys/results?year=${fy}&field=total`;
  await visitChecked(coordinator, results);
  const before = await mainText(coordinator);
  assert.match(before, /0 ?\/ ?33/, 'no municipality counted yet');

  // … approval locks the answers and the figures change at once.
  await coordinator.goto(response);
  await clickChecked(coordinator, coordinator.getByRole('button', { name: '承認する', exact: true }));
  assert.match(await mainText(coordinator), /承認しました/);
  await visitChecked(coordinator, results);
  const after = await mainText(coordinator);
  assert.match(after, /1 ?\/ ?33/, '盛岡市 now counts');
  const titles = (await coordinator.locator('svg[role="img"] title').allTextContents()).join('\n');
  assert.match(titles, /盛岡市[^\n]*10/, 'the map says 盛岡市 has 10');
  assert.match(after, /出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成/);

  await municipal.goto(response);
  assert.match(await mainText(municipal), /承認済み/);
  assert.equal(await municipal.getByRole('button', { name: '提出する' }).count(), 0, 'approved answers are locked');

  // The public statistics, without signing in: this 年度 is not published while other
  // municipalities are still to be approved; the demo's last complete 年度 is, with small
  // counts shown as a range, their complements hidden and zeros visible.
  const anonymous = await s.page();
  const unpublished = await anonymous.goto(`/statistics/${fy}`);
  assert.equal(unpublished.status(), 404);
  await visitChecked(anonymous, '/statistics');
  const pub = await mainText(anonymous);
  assert.match(pub, /1〜9/);
  assert.match(pub, /秘匿/);
  assert.match(pub, /出典|承認した回答だけを集計/);
  assert.doesNotMatch(pub, /保育所に通う児童の人数をご確認ください/);
});

test('the survey pages around the round pass axe: definitions, national roll-up, good practices', async () => {
  const coordinator = await signedIn('coordinator');
  await visitChecked(coordinator, '/surveys/definitions');
  await clickChecked(coordinator, coordinator.getByRole('link', { name: /医療的ケア児等の実態調査/ }).first());
  assert.match(await mainText(coordinator), /医療的ケア児の総数/);
  await visitChecked(coordinator, '/surveys/results/national');
  assert.match(await mainText(coordinator), /岩手県/);
  await visitChecked(coordinator, '/surveys/good-practices');
  assert.match(await heading(coordinator), /好事例/);
  // The demo's current round: its board shows every state.
  await visitChecked(coordinator, '/surveys');
  await clickChecked(coordinator, coordinator.getByRole('region', { name: '発出した調査の一覧' }).getByRole('link').first());
  const board = await mainText(coordinator);
  for (const state of ['未着手', '入力中', '提出済み', '差し戻し', '承認済み']) {
    assert.match(board, new RegExp(state));
  }
});
