//! Excel workbooks (xlsx), which prefectures and municipalities actually open: writing
//! exports and reading uploaded files.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook};
use tsunagu_domain::csv_import::TableLimits;

use crate::error::AppError;

/// One sheet of an export: a header row and rows of cells.
pub struct Sheet<'a> {
    pub name: &'a str,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A cell: numbers stay numbers so that Excel can sum them.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Number(n as f64)
    }
}

/// Sheet names may not hold these characters and are at most 31 characters long.
fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    if cleaned.trim().is_empty() {
        "Sheet1".to_string()
    } else {
        cleaned
    }
}

/// Writes a workbook. Text cells are written as text, so a leading `=` is never a formula.
pub fn write(sheets: &[Sheet<'_>]) -> Result<Vec<u8>, AppError> {
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(s.name)).map_err(err)?;
        for (c, h) in s.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)
                .map_err(err)?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            let r = (r + 1) as u32;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(t) => {
                        ws.write_string(r, c, t).map_err(err)?;
                    }
                    Cell::Number(n) => {
                        ws.write_number(r, c, *n).map_err(err)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
        ws.set_freeze_panes(1, 0).map_err(err)?;
        ws.autofit();
    }
    wb.save_to_buffer().map_err(err)
}

/// Reads the first sheet of an uploaded workbook as rows of text (numbers without a trailing
/// `.0`, so that codes such as 032018 typed as numbers come back as typed), within `limits`.
pub fn read_first_sheet(bytes: &[u8], limits: &TableLimits) -> Result<Vec<Vec<String>>, String> {
    let mut book = open_bounded(bytes, limits)?;
    let name = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| "ワークシートがありません".to_string())?;
    read_cells(&mut book, &name, limits, cell_text)
}

/// Opens a workbook after checking that all its parts together unpack to at most
/// `limits.max_unpacked_bytes`. The check inflates each part into nothing, counting, and stops
/// at the limit: a declared size can lie, the bytes that come out cannot. Without it a small
/// file could unpack to gigabytes inside the reader.
fn open_bounded(bytes: &[u8], limits: &TableLimits) -> Result<Xlsx<Cursor<Vec<u8>>>, String> {
    const MAX_PARTS: usize = 10_000;
    let unreadable = || "Excelファイル（.xlsx）として読み取れません".to_string();
    let too_big = || {
        format!(
            "Excelファイルの中身が大きすぎます（展開して{}MBまでにしてください）",
            limits.max_unpacked_bytes / (1024 * 1024)
        )
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| unreadable())?;
    if zip.len() > MAX_PARTS {
        return Err(too_big());
    }
    let mut left = limits.max_unpacked_bytes;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(|_| unreadable())?;
        let mut part = std::io::Read::take(part, left + 1);
        let read = std::io::copy(&mut part, &mut std::io::sink()).map_err(|_| unreadable())?;
        if read > left {
            return Err(too_big());
        }
        left -= read;
    }
    calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).map_err(|_| unreadable())
}

/// Reads sheet `name` cell by cell into rows of text, each cell in its place (index 0 is row 1
/// and column A). A file claiming a vast sheet costs nothing: only cells that hold something
/// take memory, cells past the last column are not read, and a value past the last row or
/// longer than a cell may be stops the reading with a message.
fn read_cells(
    book: &mut Xlsx<Cursor<Vec<u8>>>,
    name: &str,
    limits: &TableLimits,
    text_of: fn(&Data) -> String,
) -> Result<Vec<Vec<String>>, String> {
    let mut cells = book
        .worksheet_cells_reader(name)
        .map_err(|_| "ワークシートを読み取れません".to_string())?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(_) => return Err("ワークシートを読み取れません".to_string()),
        };
        let (r, c) = cell.get_position();
        let text = text_of(&Data::from(cell.get_value().clone()));
        if text.is_empty() || c >= limits.max_columns {
            continue;
        }
        if r >= limits.max_rows {
            return Err(limits.too_many_rows());
        }
        if text.chars().count() > limits.max_cell_chars {
            return Err(limits.cell_too_long(r as usize + 1));
        }
        let (r, c) = (r as usize, c as usize);
        if rows.len() <= r {
            rows.resize_with(r + 1, Vec::new);
        }
        let row = &mut rows[r];
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    Ok(rows)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) => dt.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(_) => String::new(),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

/// Sheet names made valid and unique (Excel compares them without regard to case), in order:
/// a name that is taken gets ` (2)`, ` (3)`… within the 31 characters.
pub fn unique_sheet_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let taken = |out: &[String], n: &str| out.iter().any(|o| o.to_lowercase() == n.to_lowercase());
    for name in names {
        let base = sheet_name(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while taken(&out, &candidate) {
            let suffix = format!(" ({n})");
            let keep = 31 - suffix.chars().count();
            candidate = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// Reads the sheet called `name` of an uploaded workbook as rows of text, every cell in its
/// place (index 0 is row 1 and column A), so that positions can be told back as the row
/// numbers Excel shows; within `limits` as [`read_first_sheet`]. Dates come back as
/// `2026-04-01`; other cells as [`read_first_sheet`] gives them.
pub fn read_sheet(
    bytes: &[u8],
    name: &str,
    limits: &TableLimits,
) -> Result<Vec<Vec<String>>, String> {
    let mut book = open_bounded(bytes, limits)?;
    let names = book.sheet_names();
    if !names.iter().any(|n| n == name) {
        return Err(format!(
            "「{name}」という名前のワークシートがありません（このファイルにあるのは「{}」）",
            names.join("」「")
        ));
    }
    read_cells(&mut book, name, limits, dated_cell_text)
}

/// A cell as text, with a cell that Excel holds as a date written `2026-04-01`.
fn dated_cell_text(d: &Data) -> String {
    match d {
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, day, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{day:02}")
        }
        _ => cell_text(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_rows: u32, max_columns: u32) -> TableLimits {
        TableLimits {
            max_rows,
            max_columns,
            ..TableLimits::IMPORT
        }
    }

    /// A workbook whose one sheet holds `cells` (reference, text), written by hand: the sheet's
    /// XML is what an attacker would write, not what a spreadsheet program would.
    fn workbook_with_cells(cells: &[(&str, &str)], padding: usize) -> Vec<u8> {
        use std::io::Write;
        let mut sheet = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, text) in cells {
            let row: String = r.chars().filter(char::is_ascii_digit).collect();
            sheet.push_str(&format!(
                r#"<row r="{row}"><c r="{r}" t="inlineStr"><is><t>{text}</t></is></c></row>"#
            ));
        }
        sheet.push_str(&" ".repeat(padding));
        sheet.push_str("</sheetData></worksheet>");
        let parts = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
            ),
            ("xl/worksheets/sheet1.xml", sheet),
        ];
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in parts {
            zip.start_file(name, opts).expect("part");
            zip.write_all(body.as_bytes()).expect("write");
        }
        zip.finish().expect("finish");
        out.into_inner()
    }

    #[test]
    fn a_sheet_claiming_the_whole_grid_is_read_in_its_cells_only() {
        // Cells at A1 and XFD1048576 made the reader allocate the whole grid (~550 GB).
        let bomb = workbook_with_cells(&[("A1", "名称"), ("XFD1048576", "x")], 0);
        assert!(bomb.len() < 4096, "{}", bomb.len());
        let rows = read_first_sheet(&bomb, &TableLimits::IMPORT).expect("read");
        assert_eq!(rows, vec![vec!["名称".to_string()]]);
        let tall = workbook_with_cells(&[("A1", "名称"), ("A1048576", "x")], 0);
        let refused = read_first_sheet(&tall, &TableLimits::IMPORT).expect_err("past the rows");
        assert!(refused.contains("20000行まで"), "{refused}");
        // Far to the right but within the rows: the far cell is simply not read.
        let wide = workbook_with_cells(&[("A1", "名称"), ("XFD2", "x"), ("B3", "盛岡")], 0);
        let rows = read_first_sheet(&wide, &TableLimits::IMPORT).expect("read");
        assert_eq!(
            rows,
            vec![
                vec!["名称".to_string()],
                vec![],
                vec![String::new(), "盛岡".into()]
            ]
        );
    }

    #[test]
    fn a_workbook_that_unpacks_past_the_limit_is_refused() {
        let small = TableLimits {
            max_unpacked_bytes: 1024 * 1024,
            ..TableLimits::IMPORT
        };
        let bomb = workbook_with_cells(&[("A1", "名称")], 2 * 1024 * 1024);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let refused = read_first_sheet(&bomb, &small).expect_err("unpacks to 2 MB");
        assert!(refused.contains("展開して1MBまで"), "{refused}");
        assert!(read_first_sheet(&workbook_with_cells(&[("A1", "名称")], 1000), &small).is_ok());
    }

    #[test]
    fn a_cell_longer_than_a_cell_may_be_is_refused() {
        let long = "あ".repeat(40);
        let book = workbook_with_cells(&[("A1", "名称"), ("B2", &long)], 0);
        let limits = TableLimits {
            max_cell_chars: 39,
            ..TableLimits::IMPORT
        };
        let refused = read_first_sheet(&book, &limits).expect_err("40 characters");
        assert!(
            refused.contains("2行目") && refused.contains("39文字まで"),
            "{refused}"
        );
    }

    #[test]
    fn a_written_workbook_reads_back_the_same() {
        let bytes = write(&[Sheet {
            name: "集計/2026",
            headers: vec!["市町村".into(), "件数".into()],
            rows: vec![
                vec![Cell::from("盛岡市"), Cell::from(12)],
                vec![Cell::from("=1+1"), Cell::Empty],
            ],
        }])
        .expect("write");
        let rows = read_first_sheet(&bytes, &TableLimits::IMPORT).expect("read");
        assert_eq!(rows[0], ["市町村", "件数"]);
        assert_eq!(rows[1], ["盛岡市", "12"]);
        // Text that looks like a formula stays text.
        assert_eq!(rows[2][0], "=1+1");
    }

    #[test]
    fn garbage_is_refused_with_a_message() {
        assert!(read_first_sheet(b"not a workbook", &TableLimits::IMPORT).is_err());
    }

    #[test]
    fn sheet_names_are_made_valid() {
        assert_eq!(sheet_name("a/b:c"), "a_b_c");
        assert_eq!(sheet_name(""), "Sheet1");
        assert_eq!(sheet_name(&"あ".repeat(40)).chars().count(), 31);
    }

    #[test]
    fn sheet_names_are_made_unique() {
        let long = "あ".repeat(40);
        let names = unique_sheet_names(["状況", "状況", "Sheet", "sheet", &long, &long]);
        assert_eq!(names[..4], ["状況", "状況 (2)", "Sheet", "sheet (2)"]);
        assert_eq!(names[4].chars().count(), 31);
        assert!(names[5].ends_with(" (2)") && names[5].chars().count() == 31);
    }

    #[test]
    fn a_named_sheet_reads_with_cells_in_their_places() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("表紙").expect("name");
        ws.write_string(0, 0, "表紙").expect("write");
        let ws = wb.add_worksheet();
        ws.set_name("回答").expect("name");
        ws.write_string(2, 1, "総数").expect("write");
        ws.write_number(2, 2, 12.0).expect("write");
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 4, 1).expect("date");
        let fmt = Format::new().set_num_format("yyyy/m/d");
        ws.write_datetime_with_format(3, 2, &date, &fmt)
            .expect("write");
        ws.write_string(3, 40, "遠くの列").expect("write");
        let bytes = wb.save_to_buffer().expect("save");
        let rows = read_sheet(&bytes, "回答", &limits(100, 10)).expect("read");
        assert_eq!(rows.len(), 4);
        assert!(rows[0].is_empty());
        assert_eq!(rows[2], ["", "総数", "12"]);
        assert_eq!(rows[3], ["", "", "2026-04-01"]);
        let missing = read_sheet(&bytes, "別", &limits(100, 10)).expect_err("no such sheet");
        assert!(
            missing.contains("「別」") && missing.contains("「表紙」「回答」"),
            "{missing}"
        );
        assert!(
            read_sheet(&bytes, "回答", &limits(3, 10)).is_err(),
            "too many rows"
        );
        assert!(read_sheet(b"not a workbook", "回答", &limits(100, 10)).is_err());
    }
}
