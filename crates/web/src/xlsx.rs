//! Excel workbooks (xlsx), which prefectures and municipalities actually open: writing
//! exports and reading uploaded files.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook};

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
/// `.0`, so that codes such as 032018 typed as numbers come back as typed).
pub fn read_first_sheet(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|_| "Excelファイル（.xlsx）として読み取れません".to_string())?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| "ワークシートがありません".to_string())?
        .map_err(|_| "ワークシートを読み取れません".to_string())?;
    Ok(range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let rows = read_first_sheet(&bytes).expect("read");
        assert_eq!(rows[0], ["市町村", "件数"]);
        assert_eq!(rows[1], ["盛岡市", "12"]);
        // Text that looks like a formula stays text.
        assert_eq!(rows[2][0], "=1+1");
    }

    #[test]
    fn garbage_is_refused_with_a_message() {
        assert!(read_first_sheet(b"not a workbook").is_err());
    }

    #[test]
    fn sheet_names_are_made_valid() {
        assert_eq!(sheet_name("a/b:c"), "a_b_c");
        assert_eq!(sheet_name(""), "Sheet1");
        assert_eq!(sheet_name(&"あ".repeat(40)).chars().count(), 31);
    }
}
