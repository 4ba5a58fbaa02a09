//! The survey in Excel and CSV (調査票の Excel 入出力): a municipality downloads its response as
//! an xlsx form (記入用様式), fills it in offline and uploads it, where it goes through the same
//! checks as the screen and is kept as a draft to be checked and submitted; the center exports
//! a round as xlsx (a status sheet and one sheet per section, one row per municipality) or as
//! CSV in UTF-8 with a BOM or Shift_JIS.
//!
//! The form has one sheet, so that an error can name its row plainly; a hidden key column ties
//! every row to its field, whatever happens to the labels.

use std::collections::BTreeMap;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationRule, Format, FormatAlign, FormatBorder,
    ProtectionOptions, Workbook, Worksheet, XlsxError,
};
use tsunagu_domain::csv_import::{TableLimits, normalise_line_endings};
use tsunagu_domain::policy::{Action, Target};
use tsunagu_domain::survey::{
    Answers, Check, CheckMode, Definition, Field, FieldKind, check, parse_count,
};
use tsunagu_domain::text::fold_width_str;
use tsunagu_domain::wareki::{format_fiscal_year, format_jst_datetime, today_jst};
use tsunagu_store::audit::{self, Event};
use tsunagu_store::surveys::{self as store, Response as StoredResponse, ResponseLine, Saving};
use tsunagu_store::{StoreError, clock};

use super::consultations::date_label;
use super::surveys::{Shown, may_edit, response_page};
use crate::AppState;
use crate::csv_export::{Encoding, to_csv_bytes};
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::FormData;
use crate::routes::AppRouter;
use crate::xlsx::{self, Cell, Sheet};

pub fn routes(r: AppRouter) -> AppRouter {
    r.get(
        "/surveys/responses/{id}/form.xlsx",
        Action::ViewSurveys,
        form_xlsx,
    )
    .post(
        "/surveys/responses/{id}/upload",
        Action::RespondToSurvey,
        upload,
    )
    .get(
        "/surveys/rounds/{id}/export.xlsx",
        Action::ManageSurveys,
        export_xlsx,
    )
    .get(
        "/surveys/rounds/{id}/export.csv",
        Action::ManageSurveys,
        export_csv,
    )
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The one sheet of the form.
const FORM_SHEET: &str = "回答";
/// Headers of the form's table; the upload finds its columns by them.
const KEY_HEADER: &str = "キー";
const VALUE_HEADER: &str = "回答";
/// Written above the table (in the hidden key column) to tie a filled-in form to the response
/// and the revision it was downloaded at: `tsunagu-survey-response:{id}:{revision}`.
const MARKER: &str = "tsunagu-survey-response:";
/// A filled-in form is a few dozen kilobytes; anything much bigger is not one.
const MAX_UPLOAD_BYTES: usize = 1024 * 1024;
/// A filled-in survey form: our own sheet, a few hundred rows and a handful of columns.
const FORM_LIMITS: TableLimits = TableLimits {
    max_rows: 2000,
    max_columns: 20,
    max_cell_chars: 4000,
    max_unpacked_bytes: 16 * 1024 * 1024,
};

/// Columns of the form sheet.
const COL_KEY: u16 = 0;
const COL_LABEL: u16 = 1;
const COL_VALUE: u16 = 2;
const COL_UNIT: u16 = 3;
const COL_LAST: u16 = 4;
const COL_HOW: u16 = 5;

// ---------------------------------------------------------------------------------------------
// Values as a spreadsheet shows them

/// An answer as a person reads it in a sheet: counts as numbers, はい／いいえ, the label of a
/// choice, ○ for a ticked box; anything malformed (a draft may hold it) as it was typed.
fn display_cell(f: &Field, value: &str) -> Cell {
    let v = value.trim();
    if v.is_empty() {
        return Cell::Empty;
    }
    match &f.kind {
        FieldKind::Count => match parse_count(v) {
            Ok(Some(n)) => Cell::Number(n as f64),
            _ => Cell::from(v),
        },
        FieldKind::YesNo => Cell::from(match v {
            "yes" => "はい",
            "no" => "いいえ",
            other => other,
        }),
        FieldKind::Single(choices) => Cell::from(
            choices
                .iter()
                .find(|c| c.key == v)
                .map(|c| c.label.as_str())
                .unwrap_or(v),
        ),
        FieldKind::Flag => Cell::from(if v == "1" { "○" } else { v }),
        FieldKind::ShortText | FieldKind::LongText | FieldKind::Date => Cell::from(v),
    }
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Text(t) => t.clone(),
        Cell::Number(n) => format!("{n}"),
        Cell::Empty => String::new(),
    }
}

/// Words that mean yes or no as people type them in a sheet (after width folding and
/// lower-casing).
const YES_WORDS: &[&str] = &["はい", "yes", "y", "true", "○", "〇", "◯", "1"];
const NO_WORDS: &[&str] = &["いいえ", "no", "n", "false", "×", "✕", "0"];
const TICK_WORDS: &[&str] = &["○", "〇", "◯", "1", "✓", "✔", "レ", "はい", "yes", "true"];
const UNTICK_WORDS: &[&str] = &["0", "×", "✕", "いいえ", "no", "false", "-"];

/// A cell of the form as an answer: はい/いいえ (or yes/no) become `yes`/`no`, ○ or 1 a ticked
/// box, a choice's label its key. What cannot be read is kept as typed, so the check names it.
fn answer_of(kind: &FieldKind, raw: &str) -> String {
    let v = normalise_line_endings(raw).trim().to_string();
    if v.is_empty() {
        return v;
    }
    let folded = fold_width_str(&v).to_lowercase();
    let is = |words: &[&str]| words.contains(&folded.as_str());
    match kind {
        FieldKind::YesNo if is(YES_WORDS) => "yes".into(),
        FieldKind::YesNo if is(NO_WORDS) => "no".into(),
        FieldKind::Flag if is(TICK_WORDS) => "1".into(),
        FieldKind::Flag if is(UNTICK_WORDS) => String::new(),
        FieldKind::Single(choices) => choices
            .iter()
            .find(|c| c.label == v || c.key == v || fold_width_str(&c.label) == folded)
            .map(|c| c.key.clone())
            .unwrap_or(v),
        _ => v,
    }
}

/// How to fill in one field, in the form's last column.
fn how_to(f: &Field) -> String {
    match &f.kind {
        FieldKind::Count => "0以上の整数（該当なしは 0）".into(),
        FieldKind::YesNo => "「はい」か「いいえ」".into(),
        FieldKind::Flag => "該当すれば ○ か 1（該当しなければ空欄）".into(),
        FieldKind::Single(choices) => format!(
            "次から一つ：{}",
            choices
                .iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
                .join("／")
        ),
        FieldKind::ShortText => "200文字以内".into(),
        FieldKind::LongText => "4000文字以内（セル内の改行は Alt+Enter）".into(),
        FieldKind::Date => "2026-04-01 の形".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Downloads

/// Characters RFC 5987 lets through unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// A file name a desktop accepts: no path separators or characters Windows refuses.
fn safe_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || "\\/:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A download named `ascii` for old clients and `name` (UTF-8, RFC 5987) for the rest.
fn download(body: Vec<u8>, content_type: &str, ascii: &str, name: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, v);
    }
    let encoded = utf8_percent_encode(&safe_filename(name), ATTR_CHAR).to_string();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    resp
}

fn today_compact() -> String {
    let d = today_jst(clock::now());
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A stored instant as JST `2026-05-01 10:00`, for exports.
fn instant_text(utc: Option<&str>) -> String {
    utc.map(|s| {
        clock::parse(s)
            .map(format_jst_datetime)
            .unwrap_or_else(|| s.to_string())
    })
    .unwrap_or_default()
}

fn xlsx_err(e: XlsxError) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The form to fill in offline

fn put(ws: &mut Worksheet, row: u32, col: u16, cell: &Cell, fmt: &Format) -> Result<(), AppError> {
    match cell {
        Cell::Text(t) => ws.write_string_with_format(row, col, t, fmt),
        Cell::Number(n) => ws.write_number_with_format(row, col, *n, fmt),
        Cell::Empty => ws.write_blank(row, col, fmt),
    }
    .map_err(xlsx_err)?;
    Ok(())
}

/// The input rule Excel applies to a value cell, with a Japanese message; none for free text.
fn validation(f: &Field) -> Option<DataValidation> {
    let list = |items: &[&str]| DataValidation::new().allow_list_strings(items).ok();
    let v = match &f.kind {
        FieldKind::Count => Some(
            DataValidation::new().allow_whole_number(DataValidationRule::Between(0, 999_999_999)),
        ),
        FieldKind::YesNo => list(&["はい", "いいえ"]),
        FieldKind::Flag => list(&["○", "1"]),
        // A list longer than Excel allows, or with commas in a label, is left to the upload's
        // check.
        FieldKind::Single(choices) if choices.iter().all(|c| !c.label.contains(',')) => {
            list(&choices.iter().map(|c| c.label.as_str()).collect::<Vec<_>>())
        }
        _ => None,
    }?;
    v.set_error_title("入力できない値です")
        .and_then(|v| v.set_error_message(format!("{}：{}", f.label, how_to(f))))
        .ok()
}

/// The workbook a municipality fills in offline: a short instruction header, then one row per
/// field with its label, unit, the current answer, last year's approved answer and how to fill
/// it in. Only the answer column can be changed; the key column is hidden.
fn form_workbook(r: &StoredResponse, last: Option<&(i64, Answers)>) -> Result<Vec<u8>, AppError> {
    let def = &r.definition;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(FORM_SHEET).map_err(xlsx_err)?;
    let border = |f: Format| f.set_border(FormatBorder::Thin).set_text_wrap();
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let plain = Format::new();
    let header = border(
        Format::new()
            .set_bold()
            .set_background_color(Color::RGB(0xD9E1F2)),
    );
    let section = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xEDEDED));
    let label = border(Format::new());
    let value = border(
        Format::new()
            .set_unlocked()
            .set_background_color(Color::RGB(0xFFF2CC)),
    );
    // Text answers stay text: Excel would turn 1-2 into a date.
    let value_text = value.clone().set_num_format("@");
    let muted = border(Format::new().set_font_color(Color::RGB(0x595959)));
    let small = border(
        Format::new()
            .set_font_color(Color::RGB(0x595959))
            .set_align(FormatAlign::Top),
    );

    ws.write_string(0, COL_KEY, format!("{MARKER}{}:{}", r.line.id, r.revision))
        .map_err(xlsx_err)?;
    ws.write_string_with_format(0, COL_LABEL, format!("{} 記入用様式", def.title), &title)
        .map_err(xlsx_err)?;
    let facts = [
        (
            "市町村",
            format!(
                "{}（{}）",
                r.line.municipality_name, r.line.municipality_code6
            ),
        ),
        (
            "調査",
            format!(
                "{}（{}）",
                r.round.title,
                format_fiscal_year(r.round.fiscal_year as i32)
            ),
        ),
        ("調査基準日", date_label(&r.round.as_of)),
        ("提出期限", date_label(&r.round.due_on)),
    ];
    let mut row: u32 = 1;
    for (name, text) in &facts {
        ws.write_string_with_format(row, COL_LABEL, *name, &bold)
            .map_err(xlsx_err)?;
        ws.write_string_with_format(row, COL_VALUE, text, &plain)
            .map_err(xlsx_err)?;
        row += 1;
    }
    row += 1;
    let instructions = [
        "記入のしかた",
        "・黄色の「回答」欄に記入してください（ほかの欄は変更できません）。",
        "・該当がない場合は 0 を入力してください。空欄は「未回答」として扱います。",
        "・はい／いいえ の設問は「はい」か「いいえ」を入力してください。",
        "・複数選択と「公開してよい」は、該当するものに ○ か 1 を入力してください。",
        "・単一選択は選択肢の文言を、日付は 2026-04-01 の形で入力してください。",
        "・行を削除したり並べ替えたりしないでください。",
        "・記入したら、回答画面の「Excel で入力したものを取り込む」から取り込んでください。下書きとして保存されますので、画面で内容を確かめてから提出してください。",
    ];
    let wrapped = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (n, line) in instructions.iter().enumerate() {
        let fmt = if n == 0 { &bold } else { &wrapped };
        ws.merge_range(row, COL_LABEL, row, COL_HOW, line, fmt)
            .map_err(xlsx_err)?;
        // Excel does not fit the height of merged cells to their text.
        if line.chars().count() > 60 {
            ws.set_row_height(row, 30).map_err(xlsx_err)?;
        }
        row += 1;
    }
    row += 1;
    let last_header = match last {
        Some((fy, _)) => format!("前年度の回答（{}）", format_fiscal_year(*fy as i32)),
        None => "前年度の回答".to_string(),
    };
    let header_row = row;
    for (col, text) in [
        (COL_KEY, KEY_HEADER),
        (COL_LABEL, "設問"),
        (COL_VALUE, VALUE_HEADER),
        (COL_UNIT, "単位"),
        (COL_LAST, last_header.as_str()),
        (COL_HOW, "記入のしかた"),
    ] {
        ws.write_string_with_format(row, col, text, &header)
            .map_err(xlsx_err)?;
    }
    row += 1;
    let fields = def.fields();
    for s in &def.sections {
        ws.write_string_with_format(row, COL_LABEL, &s.title, &section)
            .map_err(xlsx_err)?;
        for col in [COL_VALUE, COL_UNIT, COL_LAST, COL_HOW] {
            ws.write_blank(row, col, &section).map_err(xlsx_err)?;
        }
        row += 1;
        let mut seen_items: Vec<&str> = Vec::new();
        for f in fields.iter().filter(|f| f.section == s.key) {
            let item = def.item(&f.item);
            let mut how = how_to(f);
            if item.is_some_and(|i| i.required) && !f.key.ends_with(".publishable") {
                how = format!("必須。{how}");
            }
            if !seen_items.contains(&f.item.as_str()) {
                seen_items.push(&f.item);
                if let Some(help) = item.map(|i| i.help.trim()).filter(|h| !h.is_empty()) {
                    how = format!("{how}\n{help}");
                }
            }
            ws.write_string(row, COL_KEY, &f.key).map_err(xlsx_err)?;
            ws.write_string_with_format(row, COL_LABEL, &f.label, &label)
                .map_err(xlsx_err)?;
            let current = display_cell(f, r.answers.get(&f.key).map_or("", String::as_str));
            let fmt = match f.kind {
                FieldKind::ShortText | FieldKind::LongText => &value_text,
                _ => &value,
            };
            put(ws, row, COL_VALUE, &current, fmt)?;
            ws.write_string_with_format(row, COL_UNIT, &f.unit, &muted)
                .map_err(xlsx_err)?;
            let before = last
                .and_then(|(_, a)| a.get(&f.key))
                .map(|v| display_cell(f, v))
                .unwrap_or(Cell::Empty);
            put(ws, row, COL_LAST, &before, &muted)?;
            ws.write_string_with_format(row, COL_HOW, &how, &small)
                .map_err(xlsx_err)?;
            if let Some(v) = validation(f) {
                ws.add_data_validation(row, COL_VALUE, row, COL_VALUE, &v)
                    .map_err(xlsx_err)?;
            }
            if f.kind == FieldKind::LongText {
                ws.set_row_height(row, 90).map_err(xlsx_err)?;
            }
            row += 1;
        }
    }
    ws.set_column_hidden(COL_KEY).map_err(xlsx_err)?;
    for (col, width) in [
        (COL_LABEL, 52.0),
        (COL_VALUE, 22.0),
        (COL_UNIT, 6.0),
        (COL_LAST, 16.0),
        (COL_HOW, 40.0),
    ] {
        ws.set_column_width(col, width).map_err(xlsx_err)?;
    }
    // Printed, it fits the page width and repeats the table's header on every page.
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(header_row, header_row)
        .map_err(xlsx_err)?;
    // Locked without a password: it keeps the layout from being broken by accident, and
    // anybody who needs to can still lift it.
    ws.protect_with_options(&ProtectionOptions {
        format_columns: true,
        format_rows: true,
        ..ProtectionOptions::default()
    });
    wb.save_to_buffer().map_err(xlsx_err)
}

async fn form_xlsx(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let r = store::response(&st.db, &actor, &id).await?;
    let last = store::last_year(&st.db, &r.round, &r.line.municipality_code6).await?;
    audit::record(
        &st.db,
        &ctx.audit(),
        Event::new(
            "survey_response.form_download",
            "survey_response",
            &r.line.id,
        )
        .detail(format!(
            "{}（{}）記入用様式",
            r.round.title, r.line.municipality_name
        )),
    )
    .await?;
    let body = form_workbook(&r, last.as_ref())?;
    Ok(download(
        body,
        XLSX_TYPE,
        &format!(
            "survey-{}-{}.xlsx",
            r.round.fiscal_year, r.line.municipality_code6
        ),
        &format!("{}_{}.xlsx", r.round.title, r.line.municipality_name),
    ))
}

// ---------------------------------------------------------------------------------------------
// Uploading a filled-in form

/// What a filled-in form holds.
#[derive(Debug, Default)]
struct Uploaded {
    /// Field key → (the sheet's row number, the answer).
    values: BTreeMap<String, (usize, String)>,
    /// Rows whose key is not a field of the definition, or repeats one: (row number, key).
    ignored: Vec<(usize, String)>,
    /// The response id and revision the form was downloaded for, when it says.
    made_for: Option<(String, i64)>,
}

/// Reads the form's rows (as [`xlsx::read_sheet`] gives them) against the definition.
fn read_form(rows: &[Vec<String>], def: &Definition) -> Result<Uploaded, String> {
    fn cell(row: &[String], col: usize) -> &str {
        row.get(col).map_or("", |s| s.trim())
    }
    let key_col = usize::from(COL_KEY);
    let Some((header_at, value_col)) = rows.iter().enumerate().find_map(|(n, row)| {
        (cell(row, key_col) == KEY_HEADER)
            .then(|| row.iter().position(|c| c.trim() == VALUE_HEADER))
            .flatten()
            .map(|col| (n, col))
    }) else {
        return Err(format!(
            "「{FORM_SHEET}」シートに見出しの行（{KEY_HEADER}・{VALUE_HEADER}）が見つかりません"
        ));
    };
    let made_for = rows[..header_at].iter().find_map(|row| {
        let (id, revision) = cell(row, key_col).strip_prefix(MARKER)?.rsplit_once(':')?;
        Some((id.to_string(), revision.parse().ok()?))
    });
    let all = def.fields();
    let fields: BTreeMap<&str, &Field> = all.iter().map(|f| (f.key.as_str(), f)).collect();
    let mut out = Uploaded {
        made_for,
        ..Uploaded::default()
    };
    for (n, row) in rows.iter().enumerate().skip(header_at + 1) {
        let key = cell(row, key_col);
        if key.is_empty() {
            continue;
        }
        let number = n + 1;
        match fields.get(key) {
            Some(f) if !out.values.contains_key(key) => {
                let answer = answer_of(&f.kind, row.get(value_col).map_or("", String::as_str));
                out.values.insert(key.to_string(), (number, answer));
            }
            _ => out.ignored.push((number, key.to_string())),
        }
    }
    if out.values.is_empty() {
        return Err("設問の行がありません".into());
    }
    Ok(out)
}

/// The stored answers with the form's values put in: a value emptied in the form is removed;
/// fields the form does not hold and notes explaining warnings stay as they are.
fn merged(stored: &Answers, up: &Uploaded) -> Answers {
    let mut a = stored.clone();
    for (key, (_, v)) in &up.values {
        if v.is_empty() {
            a.remove(key);
        } else {
            a.insert(key.clone(), v.clone());
        }
    }
    a
}

/// The check's errors named by the sheet row they come from: 「3行目（医療的ケア児の総数）：…」.
fn name_rows(found: &mut Check, up: &Uploaded, def: &Definition) {
    let fields = def.fields();
    for e in &mut found.errors {
        let Some((row, _)) = up.values.get(&e.field) else {
            continue;
        };
        let label = fields
            .iter()
            .find(|f| f.key == e.field)
            .map(|f| f.label.as_str())
            .unwrap_or(e.field.as_str());
        e.message = format!("{row}行目（{label}）：{}", e.message);
    }
}

/// The rows left out, for the message: 「12行目（xyz）、15行目（abc）」, the first few only.
fn ignored_text(up: &Uploaded) -> Option<String> {
    if up.ignored.is_empty() {
        return None;
    }
    let mut list: Vec<String> = up
        .ignored
        .iter()
        .take(5)
        .map(|(n, k)| format!("{n}行目（{}）", k.chars().take(30).collect::<String>()))
        .collect();
    if up.ignored.len() > 5 {
        list.push(format!("ほか{}行", up.ignored.len() - 5));
    }
    Some(format!(
        "この調査票にないキーか重複したキーの行は取り込んでいません：{}。",
        list.join("、")
    ))
}

/// The file and revision of the upload form, or what to tell the user.
async fn read_multipart(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(Vec<u8>, Option<i64>), String> {
    let unreadable = "ファイルを読み取れませんでした。もう一度選んでください";
    let mut multipart =
        multipart.map_err(|_| "取り込む Excel ファイルを選んでください".to_string())?;
    let mut file = None;
    let mut revision = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("file") => match field.bytes().await {
                    Ok(b) => file = Some(b.to_vec()),
                    Err(_) => {
                        return Err(
                            "ファイルを読み取れませんでした。大きすぎないか確かめて、もう一度選んでください"
                                .into(),
                        );
                    }
                },
                Some("revision") => {
                    revision = field.text().await.ok().and_then(|t| t.trim().parse().ok())
                }
                _ => {}
            },
            Ok(None) => break,
            Err(_) => return Err(unreadable.into()),
        }
    }
    match file {
        Some(b) if !b.is_empty() => Ok((b, revision)),
        _ => Err("取り込む Excel ファイルを選んでください".into()),
    }
}

/// Checks that `bytes` look like the form and reads it.
fn read_upload(bytes: &[u8], r: &StoredResponse) -> Result<Uploaded, String> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err("ファイルが大きすぎます（1MB まで）".into());
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(
            "Excel 97-2003 形式（.xls）は読めません。Excel で「Excel ブック（.xlsx）」として保存し直してください"
                .into(),
        );
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err("Excel ファイル（.xlsx）ではありません。CSV などは取り込めません".into());
    }
    let rows = xlsx::read_sheet(bytes, FORM_SHEET, &FORM_LIMITS)?;
    let up = read_form(&rows, &r.definition)?;
    if up.made_for.as_ref().is_some_and(|(id, _)| *id != r.line.id) {
        return Err(
            "別の回答（ほかの市町村か、ほかの調査）の様式です。この画面の「Excel の様式をダウンロード」で取り出した様式に記入してください"
                .into(),
        );
    }
    Ok(up)
}

async fn upload(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let r = store::response(&st.db, &actor, &id).await?;
    ctx.authorize(
        Action::RespondToSurvey,
        Target::Municipality {
            code6: &r.line.municipality_code6,
        },
    )?;
    // The whole request is read before answering, so the browser is not cut off mid-upload.
    let file = read_multipart(multipart).await;
    let stored_with = |message: String, status: StatusCode| Shown {
        answers: &r.answers,
        found: Check::default(),
        conflict: Some(message),
        comment_value: String::new(),
        comment_error: None,
        status,
    };
    if !may_edit(&ctx, &r)? {
        let msg = if r.line.status.is_open() {
            "提出期限を過ぎているため取り込めません。入力が必要な場合は支援センターに連絡してください。"
        } else {
            "この回答は提出済みまたは承認済みのため、Excel ファイルを取り込めません。"
        };
        return response_page(&st, &ctx, &r, stored_with(msg.into(), StatusCode::CONFLICT)).await;
    }
    let not_taken = |m: String| {
        format!(
            "Excel ファイルを取り込めませんでした：{m}。回答は変わっていません。この画面の「Excel の様式をダウンロード」で取り出した様式（.xlsx）に記入して、もう一度取り込んでください。"
        )
    };
    let (bytes, revision) = match file {
        Ok(f) => f,
        Err(m) => {
            return response_page(
                &st,
                &ctx,
                &r,
                stored_with(not_taken(m), StatusCode::UNPROCESSABLE_ENTITY),
            )
            .await;
        }
    };
    let up = match read_upload(&bytes, &r) {
        Ok(up) => up,
        Err(m) => {
            return response_page(
                &st,
                &ctx,
                &r,
                stored_with(not_taken(m), StatusCode::UNPROCESSABLE_ENTITY),
            )
            .await;
        }
    };
    let answers = merged(&r.answers, &up);
    let last = store::last_year(&st.db, &r.round, &r.line.municipality_code6).await?;
    let mut found = check(
        &r.definition,
        &answers,
        last.as_ref().map(|(_, a)| a),
        CheckMode::Draft,
    );
    let ignored = ignored_text(&up);
    if !found.errors.is_empty() {
        name_rows(&mut found, &up, &r.definition);
        let message = format!(
            "Excel ファイルに直すところがあるため、取り込んでいません（回答は変わっていません）。一覧の行を Excel で直して取り込み直すか、下の画面で直して一時保存してください。{}",
            ignored.clone().unwrap_or_default()
        );
        return response_page(
            &st,
            &ctx,
            &r,
            Shown {
                answers: &answers,
                found,
                conflict: Some(message),
                comment_value: String::new(),
                comment_error: None,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            },
        )
        .await;
    }
    let mut tx = st.db.begin().await?;
    match store::save_answers(
        &mut tx,
        &ctx.audit(),
        &r.line.id,
        revision.unwrap_or(-1),
        &answers,
        Saving::Upload,
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
        }
        Err(StoreError::Conflict(m)) => {
            drop(tx);
            return response_page(
                &st,
                &ctx,
                &r,
                Shown {
                    answers: &answers,
                    found,
                    conflict: Some(m),
                    comment_value: String::new(),
                    comment_error: None,
                    status: StatusCode::CONFLICT,
                },
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    let mut msg = format!(
        "Excel ファイルの内容（{}項目）を下書きとして取り込みました。まだ提出していません。内容を確かめて「提出する」を押してください。",
        up.values.len()
    );
    if up
        .made_for
        .as_ref()
        .is_some_and(|(_, rev)| *rev < r.revision)
    {
        msg.push_str(
            "様式のダウンロード後に画面で保存された内容は、Excel の内容で置き換えました。",
        );
    }
    let kind = if let Some(i) = ignored {
        msg.push_str(&i);
        "warning"
    } else {
        "success"
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/surveys/responses/{}", r.line.id),
        kind,
        &msg,
    ))
}

// ---------------------------------------------------------------------------------------------
// Exports of a round

/// A round with every municipality's line and answers, for an export (recorded first).
struct Export {
    round: store::Round,
    definition: Definition,
    lines: Vec<(ResponseLine, Answers)>,
}

async fn export_data(st: &AppState, ctx: &Ctx, id: &str, format: &str) -> Result<Export, AppError> {
    let actor = ctx.require_actor()?;
    let round = store::round(&st.db, &st.cfg.prefecture_code, id).await?;
    let definition = store::definition(&st.db, &st.cfg.prefecture_code, &round.definition_id)
        .await?
        .definition;
    let board = store::board(&st.db, &round.id).await?;
    audit::record(
        &st.db,
        &ctx.audit(),
        Event::new("survey_round.export", "survey_round", &round.id).detail(format!(
            "{}（{format}、{}市町村）",
            round.title,
            board.len()
        )),
    )
    .await?;
    let mut lines = Vec::with_capacity(board.len());
    for line in board {
        let answers = store::response(&st.db, &actor, &line.id).await?.answers;
        lines.push((line, answers));
    }
    Ok(Export {
        round,
        definition,
        lines,
    })
}

const STATUS_HEADERS: [&str; 8] = [
    "市町村コード",
    "市町村名",
    "圏域",
    "状態",
    "期限超過",
    "提出日時",
    "承認日時",
    "最終更新",
];

/// The status columns of one municipality, in [`STATUS_HEADERS`] order.
fn status_cells(l: &ResponseLine) -> Vec<String> {
    let today = today_jst(clock::now());
    vec![
        l.municipality_code6.clone(),
        l.municipality_name.clone(),
        l.area_name.clone().unwrap_or_default(),
        l.status.label().to_string(),
        if l.is_late(today) { "超過" } else { "" }.to_string(),
        instant_text(l.submitted_at.as_deref()),
        instant_text(l.approved_at.as_deref()),
        instant_text(Some(&l.updated_at)),
    ]
}

fn export_name(e: &Export, ext: &str) -> (String, String) {
    (
        format!("survey-{}-{}.{ext}", e.round.fiscal_year, today_compact()),
        format!("{}_回答一覧_{}.{ext}", e.round.title, today_compact()),
    )
}

async fn export_xlsx(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let e = export_data(&st, &ctx, &id, "Excel").await?;
    let fields = e.definition.fields();
    let status_sheet = "回答状況";
    let names = xlsx::unique_sheet_names(
        std::iter::once(status_sheet).chain(e.definition.sections.iter().map(|s| s.title.as_str())),
    );
    let mut sheets = vec![Sheet {
        name: &names[0],
        headers: STATUS_HEADERS.iter().map(|h| h.to_string()).collect(),
        rows: e
            .lines
            .iter()
            .map(|(l, _)| status_cells(l).into_iter().map(Cell::Text).collect())
            .collect(),
    }];
    for (s, name) in e.definition.sections.iter().zip(&names[1..]) {
        let section_fields: Vec<&Field> = fields.iter().filter(|f| f.section == s.key).collect();
        let mut headers = vec![
            "市町村コード".to_string(),
            "市町村名".to_string(),
            "状態".to_string(),
        ];
        headers.extend(section_fields.iter().map(|f| f.label.clone()));
        let rows = e
            .lines
            .iter()
            .map(|(l, a)| {
                let mut row = vec![
                    Cell::from(l.municipality_code6.as_str()),
                    Cell::from(l.municipality_name.as_str()),
                    Cell::from(l.status.label()),
                ];
                row.extend(
                    section_fields
                        .iter()
                        .map(|f| display_cell(f, a.get(&f.key).map_or("", String::as_str))),
                );
                row
            })
            .collect();
        sheets.push(Sheet {
            name,
            headers,
            rows,
        });
    }
    let body = xlsx::write(&sheets)?;
    let (ascii, name) = export_name(&e, "xlsx");
    Ok(download(body, XLSX_TYPE, &ascii, &name))
}

async fn export_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let requested = match q.get("encoding") {
        "" => q.get("enc"),
        v => v,
    };
    let enc = Encoding::from_param(requested);
    let label = match enc {
        Encoding::Utf8Bom => "CSV（UTF-8）",
        Encoding::ShiftJis => "CSV（Shift_JIS）",
    };
    let e = export_data(&st, &ctx, &id, label).await?;
    let fields = e.definition.fields();
    let mut headers: Vec<&str> = STATUS_HEADERS.to_vec();
    headers.extend(fields.iter().map(|f| f.label.as_str()));
    let rows: Vec<Vec<String>> =
        e.lines
            .iter()
            .map(|(l, a)| {
                let mut row = status_cells(l);
                row.extend(fields.iter().map(|f| {
                    cell_text(&display_cell(f, a.get(&f.key).map_or("", String::as_str)))
                }));
                row
            })
            .collect();
    let body = to_csv_bytes(&headers, &rows, enc);
    let (ascii, name) = export_name(&e, "csv");
    Ok(download(body, enc.content_type(), &ascii, &name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_domain::survey::{Choice, standard_definition};

    fn def() -> Definition {
        standard_definition(&[
            Choice::new("ventilator", "人工呼吸器"),
            Choice::new("suction", "吸引"),
        ])
    }

    fn field(key: &str) -> Field {
        def()
            .fields()
            .into_iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no field {key}"))
    }

    #[test]
    fn cells_are_read_as_people_type_them() {
        let yes_no = FieldKind::YesNo;
        for v in ["はい", "yes", "YES", "ｙｅｓ", " はい "] {
            assert_eq!(answer_of(&yes_no, v), "yes", "{v}");
        }
        for v in ["いいえ", "no", "No"] {
            assert_eq!(answer_of(&yes_no, v), "no", "{v}");
        }
        assert_eq!(answer_of(&yes_no, "たぶん"), "たぶん");
        for v in ["○", "〇", "1", "１"] {
            assert_eq!(answer_of(&FieldKind::Flag, v), "1", "{v}");
        }
        assert_eq!(answer_of(&FieldKind::Flag, "×"), "");
        assert_eq!(answer_of(&FieldKind::Flag, ""), "");
        let single = FieldKind::Single(vec![Choice::new("a", "あり"), Choice::new("b", "なし")]);
        assert_eq!(answer_of(&single, "なし"), "b");
        assert_eq!(answer_of(&single, "a"), "a");
        assert_eq!(answer_of(&single, "不明"), "不明");
        assert_eq!(
            answer_of(&FieldKind::LongText, "一行目\r\n二行目 "),
            "一行目\n二行目"
        );
        assert_eq!(answer_of(&FieldKind::Count, " 12 "), "12");
    }

    #[test]
    fn answers_show_in_words_and_counts_as_numbers() {
        assert_eq!(display_cell(&field("total"), "12"), Cell::Number(12.0));
        assert_eq!(display_cell(&field("total"), "12a"), Cell::from("12a"));
        assert_eq!(display_cell(&field("total"), ""), Cell::Empty);
        assert_eq!(display_cell(&field("council"), "yes"), Cell::from("はい"));
        assert_eq!(
            display_cell(&field("measures.respite"), "1"),
            Cell::from("○")
        );
    }

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn a_form_is_read_by_its_key_column() {
        let sheet = rows(&[
            &["tsunagu-survey-response:abc:3", "調査"],
            &[],
            &["キー", "設問", "回答"],
            &["", "1 医療的ケア児の人数"],
            &["total", "総数", "10"],
            &["council", "協議の場", "はい"],
            &["measures.respite", "レスパイト", "○"],
            &["nursery", "保育所", ""],
            &["nonsense", "?", "1"],
            &["total", "総数（重複）", "11"],
        ]);
        let up = read_form(&sheet, &def()).expect("read");
        assert_eq!(up.made_for, Some(("abc".to_string(), 3)));
        assert_eq!(up.values["total"], (5, "10".to_string()));
        assert_eq!(up.values["council"], (6, "yes".to_string()));
        assert_eq!(up.values["measures.respite"], (7, "1".to_string()));
        assert_eq!(up.values["nursery"], (8, String::new()));
        assert_eq!(
            up.ignored,
            [(9, "nonsense".to_string()), (10, "total".to_string())]
        );
        let text = ignored_text(&up).expect("reported");
        assert!(text.contains("9行目（nonsense）"), "{text}");

        // Stored answers the form leaves out stay; emptied ones go.
        let mut stored = Answers::new();
        stored.insert("nursery".into(), "2".into());
        stored.insert("note.total".into(), "転入が多かったため".into());
        let a = merged(&stored, &up);
        assert_eq!(a.get("nursery"), None);
        assert_eq!(a["note.total"], "転入が多かったため");
        assert_eq!(a["total"], "10");
    }

    #[test]
    fn errors_name_the_sheet_row() {
        let sheet = rows(&[&["キー", "設問", "回答"], &["total", "総数", "たくさん"]]);
        let d = def();
        let up = read_form(&sheet, &d).expect("read");
        let mut found = check(&d, &merged(&Answers::new(), &up), None, CheckMode::Draft);
        name_rows(&mut found, &up, &d);
        assert_eq!(found.errors.len(), 1);
        assert!(
            found.errors[0]
                .message
                .starts_with("2行目（医療的ケア児の総数）："),
            "{}",
            found.errors[0].message
        );
    }

    #[test]
    fn a_sheet_without_the_table_is_refused() {
        assert!(read_form(&rows(&[&["a", "b"]]), &def()).is_err());
        assert!(read_form(&rows(&[&["キー", "設問", "回答"]]), &def()).is_err());
    }

    #[test]
    fn file_names_are_encoded_for_rfc_5987() {
        let resp = download(
            Vec::new(),
            XLSX_TYPE,
            "a.xlsx",
            "令和8年度 調査/盛岡市.xlsx",
        );
        let cd = resp
            .headers()
            .get(CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            cd.starts_with("attachment; filename=\"a.xlsx\"; filename*=UTF-8''"),
            "{cd}"
        );
        assert!(
            cd.contains("%20") && cd.contains("_%E7%9B%9B") && cd.ends_with(".xlsx"),
            "{cd}"
        );
    }
}
