// 社会資源の取り込み（確認）: the coordinator downloads the directory as Shift_JIS CSV, breaks
// two rows (an unknown 市町村コード, an empty サービス名) and uploads it; the preview lists both
// rows' errors in the 「エラー」 column, offers no 「取り込む」, and nothing is imported.
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
  visitChecked,
} from '../lib/app.js';

const s = sharedApp();

const SJIS_DECODER = new TextDecoder('shift_jis', { fatal: false });

let sjisTable = null;

/**
 * Shift_JIS bytes of `text`: a table made by decoding every single- and double-byte code with
 * the WHATWG decoder (the same mapping the server's encoder uses), the first code kept where two
 * decode to the same character.
 */
function encodeShiftJis(text) {
  if (!sjisTable) {
    sjisTable = new Map();
    const add = (bytes) => {
      const ch = SJIS_DECODER.decode(Uint8Array.from(bytes));
      if ([...ch].length === 1 && ch !== '\uFFFD' && !sjisTable.has(ch)) sjisTable.set(ch, bytes);
    };
    for (let b = 0; b <= 0x7f; b += 1) add([b]);
    for (let b = 0xa1; b <= 0xdf; b += 1) add([b]);
    for (let lead = 0x81; lead <= 0xfc; lead += 1) {
      if (lead >= 0xa0 && lead <= 0xdf) continue;
      for (let trail = 0x40; trail <= 0xfc; trail += 1) {
        if (trail !== 0x7f) add([lead, trail]);
      }
    }
  }
  const out = [];
  for (const ch of text) {
    const bytes = sjisTable.get(ch);
    assert.ok(bytes, `「${ch}」 (U+${ch.codePointAt(0).toString(16)}) has no Shift_JIS code`);
    out.push(...bytes);
  }
  return Buffer.from(out);
}

/** Rows of cells of CSV text (RFC 4180: quoted cells may hold commas, quotes and newlines). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else {
      cell += ch;
    }
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** CSV text of rows, every cell quoted, lines ending in CRLF. */
function toCsv(rows) {
  const quote = (c) => `"${c.replace(/"/g, '""')}"`;
  return rows.map((r) => r.map(quote).join(',')).join('\r\n') + '\r\n';
}

/** The directory as the Shift_JIS export: `{ header, rows }` (decoded). */
async function exportShiftJis(page) {
  const res = await page.request.get('/resources/export.csv?enc=sjis');
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/csv/);
  assert.match(res.headers()['content-type'], /shift_jis/i);
  const [header, ...rows] = parseCsv(SJIS_DECODER.decode(await res.body()));
  return { header, rows };
}

/** 社会資源（N件） of the list for staff. */
async function listTotal(page) {
  await visitChecked(page, '/resources');
  const results = page.getByRole('region', { name: '社会資源の検索結果' });
  const caption = await results.locator('caption').innerText();
  const m = caption.match(/社会資源（(\d+)件）/);
  assert.ok(m, caption);
  return Number(m[1]);
}

test('a Shift_JIS file with two bad rows is previewed with both errors and cannot be imported', async () => {
  const page = await s.page();
  await login(page, 'coordinator', DEMO_PASSWORD);
  assert.equal(pathOf(page), '/');
  await axeCheck(page);

  const totalBefore = await listTotal(page);
  await clickChecked(page, page.getByRole('link', { name: '取り込み・書き出し', exact: true }));
  assert.equal(pathOf(page), '/resources/import');
  assert.equal(await heading(page), '社会資源の取り込み・書き出し');
  assert.equal(
    await page.getByRole('link', { name: 'CSV（Shift_JIS）で書き出す' }).getAttribute('href'),
    '/resources/export.csv?enc=sjis',
  );

  const { header, rows } = await exportShiftJis(page);
  assert.equal(rows.length, totalBefore, 'the export holds every listed resource');
  const col = (name) => {
    const i = header.indexOf(name);
    assert.ok(i >= 0, `the export has a ${name} column: ${header.join(',')}`);
    return i;
  };
  const idCol = col('外部ID');
  const nameCol = col('サービス名');
  const muniCol = col('市町村コード');

  // Row A: a 市町村コード nobody has; row B: no サービス名.
  const a = rows.findIndex((r) => r[nameCol] === '浜風クリニック 短期入所');
  const b = rows.findIndex((r) => r[nameCol] === 'たのはた薬局');
  assert.ok(a >= 0 && b >= 0, 'the demo rows to break are in the export');
  const idA = rows[a][idCol];
  const idB = rows[b][idCol];
  rows[a][muniCol] = '039999';
  rows[b][nameCol] = '';
  const file = encodeShiftJis(toCsv([header, ...rows]));
  // Unchanged rows round-trip: the file decodes to what was written.
  assert.ok(!SJIS_DECODER.decode(file).includes('\uFFFD'));

  await field(page, 'ファイル').setInputFiles({
    name: 'resources-sjis.csv',
    mimeType: 'text/csv',
    buffer: file,
  });
  await clickChecked(page, page.getByRole('button', { name: '確認する', exact: true }));
  assert.match(pathOf(page), /^\/resources\/import\/[^/]+$/);
  assert.equal(await heading(page), '取り込む内容の確認');
  const text = await mainText(page);
  assert.match(text, /CSV（Shift_JIS）/, 'read as Shift_JIS');
  assert.match(await page.getByRole('alert').first().innerText(), /エラーのある行が2行あります/);

  const table = page.getByRole('region', { name: '読み込んだ行' }).getByRole('table');
  const heads = (await table.getByRole('columnheader').allInnerTexts()).map((t) => t.trim());
  assert.ok(heads.includes('エラー'), `columns: ${heads.join(', ')}`);
  const cells = await table.evaluate((t) =>
    [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.innerText.trim())),
  );
  assert.equal(cells.length, rows.length, 'every row of the file is listed');
  const at = (name) => heads.indexOf(name);
  const rowOf = (id) => cells.find((r) => r[at('外部ID')] === id);
  const errorsA = rowOf(idA)?.[at('エラー')] ?? '';
  const errorsB = rowOf(idB)?.[at('エラー')] ?? '';
  assert.match(errorsA, /市町村コード「039999」は登録されていません/);
  assert.match(errorsB, /サービス名/);
  assert.match(errorsB, /入力してください/);
  assert.match(rowOf(idA)[at('処理')], /取り込めません/);
  const withErrors = cells.filter((r) => r[at('エラー')] !== 'なし');
  assert.equal(withErrors.length, 2, `only the two broken rows: ${JSON.stringify(withErrors)}`);

  assert.equal(await page.getByRole('button', { name: '取り込む', exact: true }).count(), 0);

  // Nothing was imported: the same number of resources, and the broken rows are as they were.
  assert.equal(await listTotal(page), totalBefore);
  const after = await exportShiftJis(page);
  assert.equal(after.rows.length, rows.length);
  assert.equal(after.rows.find((r) => r[idCol] === idB)?.[nameCol], 'たのはた薬局');
  assert.notEqual(after.rows.find((r) => r[idCol] === idA)?.[muniCol], '039999');
});
