//! Reading uploaded tables (CSV・Excelの取り込み), without IO: working out the character
//! encoding, splitting CSV into rows, matching the header row however it was typed, and the
//! small parsers for the values people put in cells (dates, ages, yes/no, lists).
//!
//! It also knows what a value looks like after a round trip through our own CSV export
//! ([`exported_image`]): Shift_JIS cannot hold `〜` (U+301C) and writes it as 0x8160, which reads
//! back as `～` (U+FF5E); a cell starting like a formula gets a leading `'`. An importer compares
//! a cell with the exported image of the stored value and keeps the stored value when they are
//! the same, so export → import changes nothing.

use std::borrow::Cow;

use time::{Date, Duration, Month};

use crate::text::normalize_for_search;
use crate::wareki::parse_date_ja;

/// How much of an uploaded table is read at most. Every import passes one, so that a file
/// cannot make the server read or hold more than a real table of its kind would need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLimits {
    /// Rows, counting the header row.
    pub max_rows: u32,
    /// Columns: cells further right are not read.
    pub max_columns: u32,
    /// Characters in one cell (Excel's own limit is 32,767).
    pub max_cell_chars: usize,
    /// Bytes a workbook may unpack to, all its parts together.
    pub max_unpacked_bytes: u64,
}

impl TableLimits {
    /// For a directory or roster import: a prefecture's whole list, with room to spare.
    pub const IMPORT: TableLimits = TableLimits {
        max_rows: 20_000,
        max_columns: 200,
        max_cell_chars: 32_767,
        max_unpacked_bytes: 64 * 1024 * 1024,
    };

    /// The message for a table with more rows than allowed.
    pub fn too_many_rows(&self) -> String {
        format!(
            "行が多すぎます（見出しを含めて{}行までにしてください）",
            self.max_rows
        )
    }

    /// The message for a cell longer than allowed; `row` counts from 1.
    pub fn cell_too_long(&self, row: usize) -> String {
        format!(
            "{row}行目に長すぎるセルがあります（1つのセルは{}文字までにしてください）",
            self.max_cell_chars
        )
    }
}

/// What an uploaded file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// UTF-8 starting with a byte order mark (what Excel writes as 「CSV UTF-8」).
    Utf8Bom,
    /// UTF-8 without a byte order mark.
    Utf8,
    /// Shift_JIS, read as Windows-31J (CP932): NEC and IBM extensions such as `①` and `髙`.
    ShiftJis,
    /// An Excel workbook (.xlsx), first sheet.
    Xlsx,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Utf8Bom => "CSV（UTF-8・BOM付き）",
            Source::Utf8 => "CSV（UTF-8）",
            Source::ShiftJis => "CSV（Shift_JIS）",
            Source::Xlsx => "Excel（.xlsx）",
        }
    }

    /// A CSV file: cells may carry the quote that neutralises a formula.
    pub fn is_csv(self) -> bool {
        self != Source::Xlsx
    }
}

/// Works out the encoding of a CSV file and decodes it: a UTF-8 byte order mark means UTF-8;
/// otherwise text that is valid UTF-8 is UTF-8; otherwise Shift_JIS (Windows-31J). Text that
/// is none of these is refused with a message saying what to do.
pub fn decode(bytes: &[u8]) -> Result<(String, Source), String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_string(), Source::Utf8Bom))
            .map_err(|_| {
                "UTF-8 として読めない文字があります。ファイルを保存し直してから選んでください"
                    .to_string()
            });
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(
            "UTF-16 のファイルは読めません。「CSV UTF-8」または「CSV（コンマ区切り）」で保存してください"
                .to_string(),
        );
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), Source::Utf8));
    }
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(
            "文字コードを判別できません。UTF-8 または Shift_JIS で保存した CSV ファイルか、Excel（.xlsx）ファイルを選んでください"
                .to_string(),
        );
    }
    Ok((text.into_owned(), Source::ShiftJis))
}

/// CR LF and lone CR become LF.
pub fn normalise_line_endings(s: &str) -> Cow<'_, str> {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        s.into()
    }
}

/// Splits CSV text into rows of cells (rows may have different lengths), within `limits`.
pub fn parse_csv(text: &str, limits: &TableLimits) -> Result<Vec<Vec<String>>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|_| format!("{}行目を CSV として読み取れません", i + 1))?;
        if i >= limits.max_rows as usize {
            return Err(limits.too_many_rows());
        }
        if record
            .iter()
            .any(|c| c.len() > limits.max_cell_chars && c.chars().count() > limits.max_cell_chars)
        {
            return Err(limits.cell_too_long(i + 1));
        }
        // Cells past the last column are not read, as no column can be mapped there.
        let keep = limits.max_columns as usize;
        rows.push(record.iter().take(keep).map(str::to_string).collect());
    }
    Ok(rows)
}

/// A CSV file as rows of cells: decoded ([`decode`]), line endings made LF, split within
/// `limits`.
pub fn read_csv(bytes: &[u8], limits: &TableLimits) -> Result<(Vec<Vec<String>>, Source), String> {
    let (text, source) = decode(bytes)?;
    let text = normalise_line_endings(&text);
    Ok((parse_csv(&text, limits)?, source))
}

/// Whether a row holds nothing but blanks.
pub fn is_blank_row(row: &[String]) -> bool {
    row.iter().all(|c| c.trim().is_empty())
}

// ---------------------------------------------------------------------------------------------
// Headers

/// A header as compared: widths, kana forms and case folded, spaces and a stray BOM removed,
/// so that `外部ＩＤ`, ` 外部id` and `対象年齢(下限)` match `外部ID` and `対象年齢（下限）`.
pub fn header_key(h: &str) -> String {
    normalize_for_search(&h.replace('\u{FEFF}', ""))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Where each known column is in a header row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMatch {
    /// For each known column (in the order given), its position in the row.
    pub positions: Vec<Option<usize>>,
    /// Headers that match no known column (ignored by importers), as written.
    pub unknown: Vec<String>,
    /// Known columns that appear more than once, by their first name.
    pub duplicates: Vec<String>,
}

impl HeaderMatch {
    pub fn found_any(&self) -> bool {
        self.positions.iter().any(Option::is_some)
    }
}

/// Matches a header row against known columns, each given as its accepted names (the first
/// is the one shown to people).
pub fn match_headers(row: &[String], columns: &[&[&str]]) -> HeaderMatch {
    let keys: Vec<Vec<String>> = columns
        .iter()
        .map(|names| names.iter().map(|n| header_key(n)).collect())
        .collect();
    let mut m = HeaderMatch {
        positions: vec![None; columns.len()],
        ..HeaderMatch::default()
    };
    for (pos, cell) in row.iter().enumerate() {
        let key = header_key(cell);
        if key.is_empty() {
            continue;
        }
        match keys.iter().position(|names| names.contains(&key)) {
            Some(col) => {
                if m.positions[col].is_some() {
                    let name = columns[col]
                        .first()
                        .copied()
                        .unwrap_or_default()
                        .to_string();
                    if !m.duplicates.contains(&name) {
                        m.duplicates.push(name);
                    }
                } else {
                    m.positions[col] = Some(pos);
                }
            }
            None => m.unknown.push(cell.trim().to_string()),
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Formula neutralisation and round trips

/// A cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`, as our
/// CSV export writes it.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Takes away the `'` that [`neutralise`] added.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// The text of a cell as read from `source`: CSV cells lose the neutralising quote.
pub fn cell_value(raw: &str, source: Source) -> &str {
    if source.is_csv() {
        unneutralise(raw)
    } else {
        raw
    }
}

/// Characters that Shift_JIS (Windows-31J as encoding_rs implements it) cannot encode in the
/// form Japanese text often holds them, mapped to the form it can: the same table as the CSV
/// export uses.
pub fn sjis_compatible(c: char) -> char {
    match c {
        '\u{301C}' => '\u{FF5E}', // 〜 → ～ (0x8160)
        '\u{2016}' => '\u{2225}', // ‖ → ∥ (0x8161)
        '\u{00A2}' => '\u{FFE0}', // ¢ → ￠ (0x8191)
        '\u{00A3}' => '\u{FFE1}', // £ → ￡ (0x8192)
        '\u{00AC}' => '\u{FFE2}', // ¬ → ￢ (0x81CA)
        '\u{00A6}' => '\u{FFE4}', // ¦ → ￤ (0xFA55)
        '\u{2014}' => '\u{2015}', // — → ― (0x815C)
        '\u{00A0}' => ' ',        // no-break space
        _ => c,
    }
}

/// Encodes in Shift_JIS after [`sjis_compatible`]; what still cannot be encoded becomes `?`
/// (never an HTML character reference).
pub fn encode_shift_jis(text: &str) -> Vec<u8> {
    use encoding_rs::EncoderResult;
    let mapped: String = text.chars().map(sjis_compatible).collect();
    let mut encoder = encoding_rs::SHIFT_JIS.new_encoder();
    let mut out: Vec<u8> = Vec::with_capacity(mapped.len() + 16);
    let mut rest = mapped.as_str();
    loop {
        let want = encoder
            .max_buffer_length_from_utf8_without_replacement(rest.len())
            .unwrap_or(rest.len().saturating_mul(2))
            .max(16);
        out.reserve(want);
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        rest = rest.get(read..).unwrap_or("");
        match result {
            EncoderResult::InputEmpty => break,
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(_) => out.push(b'?'),
        }
    }
    out
}

/// What `s` reads back as after being written in Shift_JIS: `〜` becomes `～`, an emoji `?`.
pub fn sjis_image(s: &str) -> String {
    let bytes = encode_shift_jis(s);
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling(&bytes)
        .0
        .into_owned()
}

/// What a value written into a cell of our own export reads back as from a file of `source`.
pub fn exported_image(value: &str, source: Source) -> String {
    let v: Cow<'_, str> = if source.is_csv() {
        neutralise(value)
    } else {
        value.into()
    };
    let v = normalise_line_endings(&v).into_owned();
    if source == Source::ShiftJis {
        sjis_image(&v)
    } else {
        v
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// Splits a list cell at 「、」, `;`, `；`, `,`, `，` or a line break. Each item comes with the
/// separator before it (empty for the first), so that a caller can glue back pieces that turn
/// out to be one item (a note containing 「、」).
pub fn split_list(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut sep = String::new();
    let mut item = String::new();
    for c in s.chars() {
        if matches!(c, '、' | ';' | '；' | ',' | '，' | '\n') {
            out.push((std::mem::take(&mut sep), std::mem::take(&mut item)));
            sep.push(c);
        } else {
            item.push(c);
        }
    }
    out.push((sep, item));
    out.retain(|(_, item)| !item.trim().is_empty());
    out
}

/// A date as stored (`YYYY-MM-DD`) from what a cell holds: `2026-04-01`, `2026/4/1`,
/// `2026年4月1日`, `令和8年4月1日`, `R8.4.1`, with or without a time after it, or an Excel date
/// serial (`46113`). `None` when it is not a date.
pub fn parse_date(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let date = excel_serial_date(t)
        .or_else(|| parse_date_ja(t).ok())
        .or_else(|| {
            // "2026-04-01 00:00:00", "2026-04-01T00:00:00Z"
            let head = t.split([' ', 'T']).next().unwrap_or("");
            (head.len() < t.len())
                .then(|| parse_date_ja(head).ok())
                .flatten()
        })?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// An Excel date serial (days since 1899-12-30; a fraction is the time of day).
fn excel_serial_date(t: &str) -> Option<Date> {
    let whole = t.split('.').next().unwrap_or(t);
    let frac_ok = t
        .split_once('.')
        .is_none_or(|(_, f)| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    if whole.len() != 5 || !whole.chars().all(|c| c.is_ascii_digit()) || !frac_ok {
        return None;
    }
    let days: i64 = whole.parse().ok()?;
    let epoch = Date::from_calendar_date(1899, Month::December, 30).ok()?;
    epoch.checked_add(Duration::days(days))
}

/// What to write instead of a bad age.
pub const AGE_MESSAGE: &str = "0から99までの数字で入力してください";

/// An age in years (0–99) from `3`, `３`, `3歳`; `Ok(None)` when empty, else
/// [`AGE_MESSAGE`].
pub fn parse_age(s: &str) -> Result<Option<i64>, &'static str> {
    let folded = crate::text::fold_width_str(s.trim());
    let t = folded
        .trim_end_matches(['歳', '才'])
        .trim()
        .trim_end_matches(".0");
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i64>() {
        Ok(n) if (0..=99).contains(&n) => Ok(Some(n)),
        _ => Err(AGE_MESSAGE),
    }
}

/// 公開 / 非公開 (also はい / いいえ, 1 / 0, ○ / ×, TRUE / FALSE). Empty is 非公開; `None`
/// when it is neither.
pub fn parse_public(s: &str) -> Option<bool> {
    match header_key(s).as_str() {
        "公開" | "はい" | "1" | "○" | "◯" | "true" | "yes" | "掲載" | "する" => {
            Some(true)
        }
        "" | "非公開" | "いいえ" | "0" | "×" | "false" | "no" | "掲載しない" | "しない" => {
            Some(false)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_means_utf8_and_is_removed() {
        let (text, source) = decode(b"\xEF\xBB\xBF\xE5\xA4\x96,x").expect("decode");
        assert_eq!(source, Source::Utf8Bom);
        assert_eq!(text, "外,x");
    }

    #[test]
    fn valid_utf8_without_bom_is_utf8() {
        let (text, source) = decode("名前,〜".as_bytes()).expect("decode");
        assert_eq!(source, Source::Utf8);
        assert_eq!(text, "名前,〜");
        // Plain ASCII is UTF-8 too.
        assert_eq!(decode(b"a,b").map(|d| d.1), Ok(Source::Utf8));
    }

    #[test]
    fn anything_else_is_shift_jis_with_the_windows_extensions() {
        // 名前 ～ ① 髙 in Windows-31J.
        let bytes = b"\x96\xBC\x91\x4F,\x81\x60\x87\x40\xFB\xFC";
        let (text, source) = decode(bytes).expect("decode");
        assert_eq!(source, Source::ShiftJis);
        assert_eq!(text, "名前,\u{FF5E}①髙");
    }

    #[test]
    fn undecodable_bytes_and_utf16_are_refused_with_a_message() {
        let e = decode(b"\x82\xA0\x82").expect_err("truncated");
        assert!(e.contains("文字コード"), "{e}");
        let e = decode(b"\xFF\xFEa\x00").expect_err("utf16");
        assert!(e.contains("UTF-16"), "{e}");
        assert!(decode(b"\xEF\xBB\xBF\xFF").is_err());
    }

    #[test]
    fn line_endings_become_lf() {
        assert_eq!(normalise_line_endings("a\r\nb\rc\nd"), "a\nb\nc\nd");
        assert!(matches!(normalise_line_endings("abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_rows_keep_quotes_commas_and_newlines_and_may_differ_in_length() {
        let (rows, source) = read_csv(
            "h1,h2\r\n\"a,b\",\"two\r\nlines\"\r\n\"say \"\"hi\"\"\"\r\n,\r\n".as_bytes(),
            &TableLimits::IMPORT,
        )
        .expect("csv");
        assert_eq!(source, Source::Utf8);
        assert_eq!(rows[0], ["h1", "h2"]);
        assert_eq!(rows[1], ["a,b", "two\nlines"]);
        assert_eq!(rows[2], ["say \"hi\""]);
        assert!(is_blank_row(&rows[3]));
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn shift_jis_csv_reads_like_utf8() {
        let sjis = encode_shift_jis("外部ID,サービス名\r\nx1,髙橋〜ケア\r\n");
        let (rows, source) = read_csv(&sjis, &TableLimits::IMPORT).expect("csv");
        assert_eq!(source, Source::ShiftJis);
        assert_eq!(rows[1], ["x1", "髙橋\u{FF5E}ケア"]);
    }

    #[test]
    fn headers_match_whatever_their_width_spacing_and_case() {
        let cols: [&[&str]; 4] = [
            &["外部ID"],
            &["サービス名", "事業所・サービスの名称"],
            &["対象年齢（下限）"],
            &["FAX", "FAX番号"],
        ];
        let row: Vec<String> = [
            "\u{FEFF} 外部ＩＤ ",
            "対象年齢(下限)",
            "ｻｰﾋﾞｽ名",
            "fax番号",
            "備考",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = match_headers(&row, &cols);
        assert_eq!(m.positions, [Some(0), Some(2), Some(1), Some(3)]);
        assert_eq!(m.unknown, ["備考"]);
        assert!(m.duplicates.is_empty());
        let twice: Vec<String> = vec!["外部ID".into(), "外部 ID".into()];
        let m = match_headers(&twice, &cols);
        assert_eq!(m.duplicates, ["外部ID"]);
        assert!(m.found_any());
        assert!(!match_headers(&["x".to_string()], &cols).found_any());
    }

    #[test]
    fn the_formula_quote_comes_off_again() {
        for s in ["=SUM(A1)", "+81", "-", "@x", "plain", "'quoted"] {
            assert_eq!(unneutralise(&neutralise(s)), s, "{s}");
        }
        // Text that itself starts with '= cannot be told from a neutralised formula; the
        // importer keeps the stored value when the cell equals its exported image.
        assert_eq!(unneutralise(&neutralise("'=x")), "=x");
        assert_eq!(exported_image("'=x", Source::Utf8), "'=x");
        assert_eq!(unneutralise("'=1"), "=1");
        assert_eq!(unneutralise("'abc"), "'abc");
        assert_eq!(cell_value("'=1", Source::Xlsx), "'=1");
        assert_eq!(cell_value("'=1", Source::ShiftJis), "=1");
    }

    #[test]
    fn shift_jis_images_of_variant_characters() {
        assert_eq!(sjis_image("〜‖¬①髙😀"), "\u{FF5E}\u{2225}\u{FFE2}①髙?");
        assert!(!String::from_utf8_lossy(&encode_shift_jis("😀")).contains("&#"));
        // What the export writes, read back, equals the image.
        let stored = "=受付 9:00〜17:00\r\n‖¬①髙";
        let written = encode_shift_jis(&neutralise(stored));
        let (read, _) = decode(&written).expect("decode");
        assert_eq!(
            normalise_line_endings(&read),
            exported_image(stored, Source::ShiftJis)
        );
        assert_eq!(exported_image("=x", Source::Xlsx), "=x");
        assert_eq!(exported_image("=x\r\n", Source::Utf8Bom), "'=x\n");
    }

    #[test]
    fn lists_split_at_japanese_and_ascii_separators() {
        let items = split_list("a、b; c；d,\n、");
        let texts: Vec<&str> = items.iter().map(|(_, t)| t.trim()).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
        assert_eq!(items[1].0, "、");
        assert_eq!(items[2].0, ";");
        assert!(split_list("  ").is_empty());
    }

    #[test]
    fn dates_in_the_forms_people_type() {
        for s in [
            "2026-04-01",
            "2026/4/1",
            "２０２６年４月１日",
            "令和8年4月1日",
            "R8.4.1",
            "2026-04-01 00:00:00",
            "2026-04-01T09:00:00Z",
            "46113",
            "46113.5",
        ] {
            assert_eq!(parse_date(s).as_deref(), Some("2026-04-01"), "{s}");
        }
        for s in ["", "明日", "2026-13-01", "123"] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn ages_and_flags() {
        assert_eq!(parse_age("３歳"), Ok(Some(3)));
        assert_eq!(parse_age(" "), Ok(None));
        assert_eq!(parse_age("18.0"), Ok(Some(18)));
        assert!(parse_age("100").is_err());
        assert!(parse_age("三").is_err());
        assert_eq!(parse_public("公開"), Some(true));
        assert_eq!(parse_public(" 非公開 "), Some(false));
        assert_eq!(parse_public(""), Some(false));
        assert_eq!(parse_public("TRUE"), Some(true));
        assert_eq!(parse_public("たぶん"), None);
    }

    #[test]
    fn a_csv_past_the_limits_is_refused_with_the_limit() {
        let limits = TableLimits {
            max_rows: 3,
            max_columns: 2,
            max_cell_chars: 5,
            max_unpacked_bytes: 0,
        };
        assert_eq!(
            parse_csv("a,b\nc,d\ne,f\n", &limits).map(|r| r.len()),
            Ok(3)
        );
        let rows = parse_csv("a\nb\nc\nd\n", &limits).expect_err("4 rows");
        assert!(rows.contains("3行まで"), "{rows}");
        // Cells further right are not read.
        assert_eq!(
            parse_csv("a,b,c,,,\n", &limits),
            Ok(vec![vec!["a".to_string(), "b".to_string()]])
        );
        let long = parse_csv("a,あいうえおか\n", &limits).expect_err("6 characters");
        assert!(long.contains("5文字まで"), "{long}");
        assert!(parse_csv("a,あいうえお\n", &limits).is_ok());
    }
}
