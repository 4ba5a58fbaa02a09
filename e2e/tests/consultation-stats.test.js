// 相談の統計: the current 年度 is shown as tables with SVG bar charts; a phone consultation
// logged by the coordinator adds one to 電話 under 受付方法 (and to the total); the Excel
// download answers with an xlsx workbook.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_PASSWORD,
  axeCheck,
  clickChecked,
  heading,
  login,
  pathOf,
  recordConsultation,
  sharedApp,
  todayJst,
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The 年度 (April–March) of today in Japan. */
function currentFiscalYear() {
  const [y, m] = todayJst().split('-').map(Number);
  return m >= 4 ? y : y - 1;
}

/** `1,234` → 1234. */
function count(text) {
  const n = Number(text.replace(/[,\s]/g, ''));
  assert.ok(Number.isInteger(n), `a count: ${JSON.stringify(text)}`);
  return n;
}

/** The 件数 of row `label` in the table of section `title` (by the table's caption). */
async function tableCount(page, title, label) {
  const table = page.getByRole('table', { name: new RegExp(`^${title}の相談件数`) });
  const row = table
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: label, exact: true }) });
  assert.equal(await row.count(), 1, `${title}: a row for ${label}`);
  return count(await row.getByRole('cell').first().innerText());
}

/** 相談件数 of the summary card. */
async function total(page) {
  const card = page.locator('section.card').filter({
    has: page.getByRole('heading', { name: '相談件数', exact: true }),
  });
  return count((await card.locator('.card-figure').innerText()).replace('件', ''));
}

/** Opens 相談の統計 from the menu and checks it shows the current 年度. */
async function openStats(page) {
  await clickChecked(
    page,
    page
      .getByRole('navigation', { name: 'メインメニュー' })
      .getByRole('link', { name: '相談の統計', exact: true }),
  );
  assert.equal(pathOf(page), '/consultations/stats');
  assert.equal(await heading(page), '相談の統計');
  const fy = currentFiscalYear();
  const fySelect = page.getByLabel('年度', { exact: true });
  const chosen = (await fySelect.locator('option:checked').innerText()).trim();
  assert.match(chosen, new RegExp(`（${fy}年度）`), `the current 年度 is chosen: ${chosen}`);
  assert.match(
    await page.getByRole('heading', { name: /^集計期間：/ }).innerText(),
    new RegExp(`${fy}年度.*4月1日〜.*3月31日`),
  );
}

test('the current 年度: tables and charts; a new phone consultation counts under 電話; xlsx download', async () => {
  const page = await s.page();
  await login(page, 'coordinator', DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  await axeCheck(page);

  await openStats(page);
  for (const title of ['月別', '相談の分類', '相談者の種別', '受付方法', '圏域別', '医療的ケアの種別']) {
    assert.equal(
      await page.getByRole('heading', { name: title, exact: true }).count(),
      1,
      `a section ${title}`,
    );
    assert.equal(
      await page.getByRole('table', { name: new RegExp(`^${title}の相談件数`) }).count(),
      1,
      `a table for ${title}`,
    );
    // The chart is an SVG image named by its title.
    const chart = page.getByRole('img', { name: new RegExp(`^${title}の相談件数`) });
    assert.equal(await chart.count(), 1, `a chart for ${title}`);
    assert.equal(await chart.evaluate((el) => el.tagName.toLowerCase()), 'svg');
  }
  const phoneBefore = await tableCount(page, '受付方法', '電話');
  const visitBefore = await tableCount(page, '受付方法', '来所');
  const totalBefore = await total(page);

  // The Excel download of the same period.
  const xlsxHref = await page
    .getByRole('link', { name: 'Excelで出力', exact: true })
    .getAttribute('href');
  assert.match(xlsxHref, /^\/consultations\/stats\.xlsx\?/);
  const xlsx = await page.request.get(xlsxHref);
  assert.equal(xlsx.status(), 200);
  assert.equal(xlsx.headers()['content-type'], XLSX_TYPE);
  const body = await xlsx.body();
  assert.equal(body.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'a zip (xlsx) file');

  // A phone consultation today.
  await recordConsultation(page, {
    channel: '電話',
    requesterType: '本人・家族',
    municipality: '盛岡市',
    ageBand: '6〜11歳（小学生）',
    careTypes: [/^人工呼吸器の管理/],
    topics: ['制度・手続き'],
    question: '統計の確認用：医療的ケア児の手当について知りたい。',
  });

  await openStats(page);
  assert.equal(await tableCount(page, '受付方法', '電話'), phoneBefore + 1, '電話 goes up by one');
  assert.equal(await tableCount(page, '受付方法', '来所'), visitBefore, '来所 does not change');
  assert.equal(await total(page), totalBefore + 1, '相談件数 goes up by one');

  // Another 年度 is a page of its own, still checked by axe.
  const lastYear = currentFiscalYear() - 1;
  await visitChecked(page, `/consultations/stats?fy=${lastYear}`);
  assert.match(
    await page.getByRole('heading', { name: /^集計期間：/ }).innerText(),
    new RegExp(`${lastYear}年度`),
  );
});
