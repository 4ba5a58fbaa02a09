//! CSV files for download (CSV出力): UTF-8 with a BOM, which Excel opens as UTF-8, or
//! Shift_JIS for older Excel and municipal systems. Cells that a spreadsheet would run as a
//! formula are neutralised.

/// The character encoding of a CSV download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 with a byte order mark (the default).
    Utf8Bom,
    /// Shift_JIS (Windows-31J / CP932, as encoding_rs writes it).
    ShiftJis,
}

impl Encoding {
    /// `enc=sjis` (or `shift_jis`, `cp932`) asks for Shift_JIS; anything else is UTF-8.
    pub fn from_param(value: &str) -> Encoding {
        match value.trim().to_ascii_lowercase().as_str() {
            "sjis" | "shift_jis" | "shift-jis" | "cp932" | "windows-31j" => Encoding::ShiftJis,
            _ => Encoding::Utf8Bom,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Utf8Bom => "text/csv; charset=utf-8",
            Encoding::ShiftJis => "text/csv; charset=Shift_JIS",
        }
    }
}

/// The whole file: a header row, then `rows`, CRLF line ends, in `enc`.
pub fn to_csv_bytes(headers: &[&str], rows: &[Vec<String>], enc: Encoding) -> Vec<u8> {
    let mut text = String::with_capacity(64 * (rows.len() + 1));
    write_row(&mut text, headers.iter().copied());
    for row in rows {
        write_row(&mut text, row.iter().map(String::as_str));
    }
    match enc {
        Encoding::Utf8Bom => {
            let mut out = Vec::with_capacity(text.len() + 3);
            out.extend_from_slice(b"\xEF\xBB\xBF");
            out.extend_from_slice(text.as_bytes());
            out
        }
        Encoding::ShiftJis => encode_shift_jis(&text),
    }
}

fn write_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_cell(out, &neutralise(cell));
    }
    out.push_str("\r\n");
}

/// A cell that starts like a formula (`=`, `+`, `-`, `@`, or a tab or carriage return that
/// some spreadsheets skip) gets a leading single quote, so it is shown as text, never run.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn write_cell(out: &mut String, cell: &str) {
    let needs_quotes =
        cell.contains([',', '"', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ');
    if needs_quotes {
        out.push('"');
        for c in cell.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

/// Characters that Japanese text often holds in a form Shift_JIS (as encoding_rs implements
/// it, the WHATWG / Windows-31J table) cannot encode, mapped to the form it can. Without this
/// `〜` (U+301C WAVE DASH, what macOS and many IMEs type) would be lost; encoding_rs writes
/// 0x8160 for U+FF5E FULLWIDTH TILDE.
fn sjis_compatible(c: char) -> char {
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

/// Encodes in Shift_JIS; a character it still cannot encode becomes `?` (never an HTML
/// numeric character reference such as `&#128512;`, which encoding_rs would write by default).
fn encode_shift_jis(text: &str) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&str]) -> Vec<Vec<String>> {
        vec![cells.iter().map(|c| c.to_string()).collect()]
    }

    #[test]
    fn utf8_starts_with_a_bom_and_uses_crlf() {
        let out = to_csv_bytes(
            &["番号", "名前"],
            &rows(&["1", "盛岡市"]),
            Encoding::Utf8Bom,
        );
        assert_eq!(&out[..3], b"\xEF\xBB\xBF");
        assert_eq!(
            std::str::from_utf8(&out[3..]).ok(),
            Some("番号,名前\r\n1,盛岡市\r\n")
        );
    }

    #[test]
    fn shift_jis_has_no_bom_and_encodes_kanji() {
        let out = to_csv_bytes(&["名前"], &rows(&["盛岡"]), Encoding::ShiftJis);
        // 名前 = 96BC 914F, 盛岡 = 90B7 89AA
        assert_eq!(out, b"\x96\xBC\x91\x4F\r\n\x90\xB7\x89\xAA\r\n".to_vec());
    }

    #[test]
    fn wave_dash_and_its_fullwidth_twin_both_become_0x8160() {
        for s in ["\u{301C}", "\u{FF5E}"] {
            let out = to_csv_bytes(&[s], &[], Encoding::ShiftJis);
            assert_eq!(out, b"\x81\x60\r\n".to_vec(), "{s:?}");
        }
    }

    #[test]
    fn ibm_extension_kanji_are_kept() {
        // 髙 (はしごだか) is a Windows-31J extension character: 0xFBFC.
        let out = to_csv_bytes(&["髙橋"], &[], Encoding::ShiftJis);
        assert_eq!(out, b"\xFB\xFC\x8B\xB4\r\n".to_vec());
    }

    #[test]
    fn other_variant_characters_are_mapped() {
        let out = to_csv_bytes(&["‖¬¢£—"], &[], Encoding::ShiftJis);
        assert_eq!(
            out,
            b"\x81\x61\x81\xCA\x81\x91\x81\x92\x81\x5C\r\n".to_vec()
        );
    }

    #[test]
    fn unencodable_characters_become_question_marks_not_references() {
        let out = to_csv_bytes(&["a😀b", "ß"], &[], Encoding::ShiftJis);
        assert_eq!(out, b"a?b,?\r\n".to_vec());
        assert!(!out.windows(2).any(|w| w == b"&#"));
    }

    #[test]
    fn formulas_are_neutralised() {
        let out = to_csv_bytes(
            &["h"],
            &rows(&["=SUM(A1)", "+1", "-2", "@cmd", "a=b", "\tx"]),
            Encoding::Utf8Bom,
        );
        let text = std::str::from_utf8(&out[3..]).unwrap_or_default();
        assert_eq!(text, "h\r\n'=SUM(A1),'+1,'-2,'@cmd,a=b,'\tx\r\n");
    }

    #[test]
    fn quotes_commas_and_newlines_are_quoted() {
        let out = to_csv_bytes(
            &["h"],
            &rows(&["a,b", "say \"hi\"", "two\nlines", " pad"]),
            Encoding::Utf8Bom,
        );
        let text = std::str::from_utf8(&out[3..]).unwrap_or_default();
        assert_eq!(
            text,
            "h\r\n\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\"\r\n"
        );
    }

    #[test]
    fn encoding_parameter() {
        assert_eq!(Encoding::from_param("sjis"), Encoding::ShiftJis);
        assert_eq!(Encoding::from_param("SJIS"), Encoding::ShiftJis);
        assert_eq!(Encoding::from_param(""), Encoding::Utf8Bom);
        assert_eq!(Encoding::from_param("utf8"), Encoding::Utf8Bom);
    }
}
