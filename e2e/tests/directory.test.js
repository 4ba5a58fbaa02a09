// 社会資源を探す (public directory): opened from the login page without signing in; a keyword
// typed in ひらがな finds a name written in カタカナ; an area and a 「よく使う検索」 link are a
// two-click search; a detail page shows nothing meant for staff only and can be printed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  clickChecked,
  escapeRegExp,
  heading,
  login,
  mainText,
  pathOf,
  sharedApp,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

const KAMAISHI_SHORT_STAY = '釜石はまゆり医療療育センター 短期入所';
/** The demo internal note of 釜石はまゆり医療療育センター (crates/store/src/demo_resources.rs). */
const KAMAISHI_INTERNAL_NOTE = '【内部メモ】夜間の受け入れは看護師2名体制の日のみ（デモ）。';

/** A visitor, not signed in, on the directory reached from the login page's link. */
async function directoryFromLogin() {
  const page = await s.page();
  await visitChecked(page, '/login');
  await clickChecked(
    page,
    page.getByRole('link', { name: 'ログインせずに社会資源を探す', exact: true }),
  );
  assert.equal(pathOf(page), '/directory');
  assert.equal(await heading(page), '社会資源を探す');
  assert.equal(
    await page.getByRole('navigation', { name: 'メインメニュー' }).count(),
    0,
    'not signed in',
  );
  return page;
}

/** The names (row headers, without the provider line) of the results table. */
async function resultNames(page) {
  const links = page
    .getByRole('region', { name: '社会資源の検索結果' })
    .getByRole('rowheader')
    .getByRole('link');
  return (await links.allInnerTexts()).map((t) => t.trim());
}

/** The caption of the results table (社会資源（N件） and the conditions). */
async function caption(page) {
  const results = page.getByRole('region', { name: '社会資源の検索結果' });
  return (await results.locator('caption').innerText()).trim();
}

test('a keyword in ひらがな finds a resource named in カタカナ', async () => {
  const page = await directoryFromLogin();
  const search = page.getByRole('search', { name: '社会資源の検索' });
  await search.getByLabel('キーワード（名称・住所など）').fill('ひまわり');
  await clickChecked(page, search.getByRole('button', { name: '検索', exact: true }));
  assert.equal(pathOf(page), '/directory');
  const names = await resultNames(page);
  assert.ok(
    names.includes('こども訪問看護ステーション ヒマワリ'),
    `results for ひまわり: ${names.join(', ')}`,
  );
  assert.match(await caption(page), /「ひまわり」/);
  assert.equal(await search.getByLabel('キーワード（名称・住所など）').inputValue(), 'ひまわり');
});

test('two clicks: 釜石圏域, then ventilator short stays', async () => {
  const page = await directoryFromLogin();
  await clickChecked(
    page,
    page
      .getByRole('navigation', { name: '圏域で絞り込む' })
      .getByRole('link', { name: '釜石圏域', exact: true }),
  );
  await clickChecked(
    page,
    page
      .getByRole('navigation', { name: 'よく使う検索' })
      .getByRole('link', { name: /^人工呼吸器の管理に対応する短期入所（医療型）$/ }),
  );
  assert.equal(pathOf(page), '/directory');
  const cap = await caption(page);
  assert.match(cap, /社会資源（\d+件）/);
  assert.match(cap, /釜石圏域/);
  assert.match(cap, /短期入所（医療型）/);
  assert.match(cap, /人工呼吸器の管理/);
  // The links are marked as the current choices.
  assert.equal(
    await page
      .getByRole('navigation', { name: '圏域で絞り込む' })
      .getByRole('link', { name: '釜石圏域', exact: true })
      .getAttribute('aria-current'),
    'true',
  );
  const names = await resultNames(page);
  assert.ok(names.length > 0, 'something is found');
  assert.ok(names.includes(KAMAISHI_SHORT_STAY), `results: ${names.join(', ')}`);
  for (const absent of [
    'もりおか医療療育センター 短期入所', // 盛岡圏域
    '浜風クリニック 短期入所', // no ventilator care
    '緊急時短期入所枠（大槌）', // not public
    'かまいし療育ホーム 短期入所（廃止）', // retired
  ]) {
    assert.ok(!names.includes(absent), `${absent} is not listed: ${names.join(', ')}`);
  }
  // The form shows the same conditions.
  const search = page.getByRole('search', { name: '社会資源の検索' });
  assert.equal(
    (await search.getByLabel('圏域', { exact: true }).locator('option:checked').innerText()).trim(),
    '釜石圏域',
  );
  assert.equal(
    await search.getByRole('checkbox', { name: /^人工呼吸器の管理/ }).isChecked(),
    true,
  );
});

test('a detail page shows no internal note and has a print button', async () => {
  const page = await directoryFromLogin();
  const search = page.getByRole('search', { name: '社会資源の検索' });
  await search.getByLabel('キーワード（名称・住所など）').fill('はまゆり');
  await clickChecked(page, search.getByRole('button', { name: '検索', exact: true }));
  await clickChecked(
    page,
    page
      .getByRole('region', { name: '社会資源の検索結果' })
      .getByRole('link', { name: KAMAISHI_SHORT_STAY, exact: true }),
  );
  assert.match(pathOf(page), /^\/directory\/[^/]+$/);
  assert.equal(await heading(page), KAMAISHI_SHORT_STAY);
  const text = await mainText(page);
  assert.match(text, /社会医療法人（デモ）はまゆり会/, 'the public details are shown');
  assert.ok(!text.includes(KAMAISHI_INTERNAL_NOTE), 'the internal note is not shown');
  assert.ok(!text.includes('【内部メモ】'), 'no internal note at all');
  assert.doesNotMatch(text, /関係者向けの情報|内部メモ|直通電話/);
  assert.ok(!(await page.content()).includes('夜間の受け入れは看護師2名体制'), 'nor in the HTML');
  assert.equal(await page.getByRole('button', { name: '印刷', exact: true }).count(), 1);

  // The note exists: staff see it on the same resource's page (so its absence above means
  // something).
  const detailPath = pathOf(page);
  const staff = await s.page();
  await login(staff, 'coordinator', DEMO_PASSWORD);
  await axeCheck(staff);
  await visitChecked(staff, detailPath.replace(/^\/directory\//, '/resources/'));
  assert.match(await mainText(staff), new RegExp(escapeRegExp(KAMAISHI_INTERNAL_NOTE)));

  // A resource that is not public is not found at all (緊急時短期入所枠（大槌）, staff only).
  const backLink = page.getByRole('link', { name: '社会資源の検索へ戻る', exact: true });
  await clickChecked(page, backLink);
  await search.getByLabel('キーワード（名称・住所など）').fill('緊急時短期入所枠');
  await clickChecked(page, search.getByRole('button', { name: '検索', exact: true }));
  assert.deepEqual(await resultNames(page), []);
  assert.match(await mainText(page), /条件に合う社会資源はありません/);
});
