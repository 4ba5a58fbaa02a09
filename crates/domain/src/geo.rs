//! Local government codes (全国地方公共団体コード, JIS X 0402).
//!
//! Every prefecture, municipality and ward of a designated city has a 5-digit code
//! (2 digits of prefecture + 3 digits) and a 6th check digit. Spreadsheets carry either form,
//! so both are accepted and the 6-digit form is what we keep.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::fold_width;

/// Weights of the check digit for digits 1..5 of the code.
const WEIGHTS: [u32; 5] = [6, 5, 4, 3, 2];

/// The JIS X 0402 check digit of a 5-digit code, or `None` unless `code5` is 5 ASCII digits.
///
/// With s = Σ dᵢ·wᵢ (weights 6,5,4,3,2) and r = s mod 11, the check digit is (11 − r) mod 10:
/// so r = 0 gives 1 and r = 1 gives 0. Verified against all 1,969 codes published by the
/// Ministry of Internal Affairs and Communications (`data/local_government_codes.csv`).
pub fn check_digit(code5: &str) -> Option<char> {
    let bytes = code5.as_bytes();
    if bytes.len() != 5 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let digit = (11 - sum % 11) % 10;
    char::from_digit(digit, 10)
}

/// A local government code (市町村コード / 団体コード), always held in its 6-digit form.
///
/// Covers prefectures (`010006` 北海道), municipalities (`032018` 盛岡市) and the wards of
/// designated cities (`011011` 札幌市中央区).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MunicipalityCode(String);

impl MunicipalityCode {
    /// The 6-digit code with its check digit, e.g. `032018`.
    pub fn code6(&self) -> &str {
        &self.0
    }

    /// The 5-digit code without the check digit, e.g. `03201`.
    pub fn code5(&self) -> &str {
        self.0.get(..5).unwrap_or(&self.0)
    }

    /// The 2-digit prefecture code (都道府県コード), e.g. `03` for 岩手県.
    pub fn prefecture_code(&self) -> &str {
        self.0.get(..2).unwrap_or(&self.0)
    }

    /// Whether this is the code of a prefecture itself (`03000x`), not a municipality.
    pub fn is_prefecture(&self) -> bool {
        self.0.get(2..5) == Some("000")
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for MunicipalityCode {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_municipality_code(s)
    }
}

impl TryFrom<String> for MunicipalityCode {
    type Error = CodeError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        parse_municipality_code(&s)
    }
}

impl From<MunicipalityCode> for String {
    fn from(code: MunicipalityCode) -> Self {
        code.0
    }
}

/// Why a typed code was not accepted (コードの入力エラー).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// Not 5 or 6 digits.
    MunicipalityFormat,
    /// The first two digits are not a prefecture (01–47).
    MunicipalityPrefecture,
    /// Six digits whose last digit is not the check digit; holds the corrected code.
    CheckDigit { expected: String },
    /// Not a prefecture code 01–47.
    Prefecture,
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeError::MunicipalityFormat => {
                f.write_str("市町村コードは5桁または6桁の数字で入力してください")
            }
            CodeError::MunicipalityPrefecture => f.write_str(
                "市町村コードの先頭2桁は都道府県コード（01〜47）です。入力を確かめてください",
            ),
            CodeError::CheckDigit { expected } => write!(
                f,
                "市町村コードの検査数字が正しくありません（正しくは {expected}）"
            ),
            CodeError::Prefecture => {
                f.write_str("都道府県コードは01から47までの数字で入力してください")
            }
        }
    }
}

impl std::error::Error for CodeError {}

/// Parses a local government code typed by a person or read from a spreadsheet.
///
/// Accepts 6 digits (the check digit is verified) or 5 digits (the check digit is added),
/// full-width digits, and spaces around or between the digits.
pub fn parse_municipality_code(input: &str) -> Result<MunicipalityCode, CodeError> {
    let digits = fold_digits(input).ok_or(CodeError::MunicipalityFormat)?;
    if digits.len() != 5 && digits.len() != 6 {
        return Err(CodeError::MunicipalityFormat);
    }
    let code5 = digits.get(..5).ok_or(CodeError::MunicipalityFormat)?;
    if !is_prefecture_number(code5.get(..2).unwrap_or_default()) {
        return Err(CodeError::MunicipalityPrefecture);
    }
    let check = check_digit(code5).ok_or(CodeError::MunicipalityFormat)?;
    let code6 = format!("{code5}{check}");
    if digits.len() == 6 && digits != code6 {
        return Err(CodeError::CheckDigit { expected: code6 });
    }
    Ok(MunicipalityCode(code6))
}

/// Parses a prefecture code (都道府県コード) `01`–`47`, returned as two digits.
///
/// A single digit (`3`) is accepted too, because spreadsheets drop the leading zero.
pub fn parse_prefecture_code(input: &str) -> Result<String, CodeError> {
    let digits = fold_digits(input).ok_or(CodeError::Prefecture)?;
    let padded = match digits.len() {
        1 => format!("0{digits}"),
        2 => digits,
        _ => return Err(CodeError::Prefecture),
    };
    if is_prefecture_number(&padded) {
        Ok(padded)
    } else {
        Err(CodeError::Prefecture)
    }
}

fn is_prefecture_number(two_digits: &str) -> bool {
    two_digits.len() == 2 && matches!(two_digits.parse::<u8>(), Ok(1..=47))
}

/// The ASCII digits of `input` with full-width digits folded and spaces removed; `None` if
/// anything else is present.
fn fold_digits(input: &str) -> Option<String> {
    let mut out = String::with_capacity(6);
    for c in input.chars().map(fold_width) {
        match c {
            '0'..='9' => out.push(c),
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real (code6, name) pairs from the ministry's list, chosen to cover every remainder
    /// r = s mod 11, including the special cases r = 0 (→ 1) and r = 1 (→ 0).
    const REAL: &[(&str, &str)] = &[
        ("010006", "北海道"),
        ("011002", "札幌市"),
        ("011011", "札幌市中央区"), // r = 0
        ("012050", "室蘭市"),       // r = 1
        ("030007", "岩手県"),
        ("032018", "盛岡市"),
        ("032034", "大船渡市"),
        ("032051", "花巻市"),
        ("032069", "北上市"),
        ("032085", "遠野市"),
        ("032093", "一関市"),
        ("032131", "二戸市"),
        ("032140", "八幡平市"),
        ("034410", "住田町"),
        ("131041", "新宿区"),
        ("141500", "相模原市"),
        ("271021", "大阪市都島区"),
        ("281000", "神戸市"),
        ("473821", "与那国町"),
        ("472140", "宮古島市"),
        ("470007", "沖縄県"),
    ];

    #[test]
    fn check_digit_matches_the_published_codes() {
        for (code6, name) in REAL {
            let (code5, check) = code6.split_at(5);
            assert_eq!(check_digit(code5), check.chars().next(), "{name} {code6}");
        }
    }

    #[test]
    fn check_digit_covers_every_remainder() {
        let mut remainders: Vec<u32> = REAL
            .iter()
            .map(|(c, _)| {
                c.bytes()
                    .take(5)
                    .zip(WEIGHTS)
                    .map(|(b, w)| u32::from(b - b'0') * w)
                    .sum::<u32>()
                    % 11
            })
            .collect();
        remainders.sort_unstable();
        remainders.dedup();
        assert_eq!(remainders, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn check_digit_needs_five_ascii_digits() {
        assert_eq!(check_digit("0320"), None);
        assert_eq!(check_digit("032018"), None);
        assert_eq!(check_digit("0320a"), None);
        assert_eq!(check_digit("０３２０１"), None);
        assert_eq!(check_digit(""), None);
    }

    #[test]
    fn parses_six_digits_and_checks_them() {
        let code = parse_municipality_code("032018").unwrap();
        assert_eq!(code.code6(), "032018");
        assert_eq!(code.code5(), "03201");
        assert_eq!(code.prefecture_code(), "03");
        assert_eq!(code.to_string(), "032018");
        assert!(!code.is_prefecture());
        assert!(parse_municipality_code("030007").unwrap().is_prefecture());
    }

    #[test]
    fn parses_five_digits_by_adding_the_check_digit() {
        assert_eq!(parse_municipality_code("03201").unwrap().code6(), "032018");
        assert_eq!(parse_municipality_code("01101").unwrap().code6(), "011011");
        assert_eq!(parse_municipality_code("01205").unwrap().code6(), "012050");
    }

    #[test]
    fn accepts_full_width_digits_and_spaces() {
        for s in [
            "０３２０１８",
            " 032018 ",
            "\u{3000}０３２０１\u{3000}",
            "03 201",
            "03201\t",
        ] {
            assert_eq!(
                parse_municipality_code(s).map(|c| c.code6().to_owned()),
                Ok("032018".to_owned()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn wrong_check_digit_names_the_right_code() {
        let err = parse_municipality_code("032017").unwrap_err();
        assert_eq!(
            err,
            CodeError::CheckDigit {
                expected: "032018".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "市町村コードの検査数字が正しくありません（正しくは 032018）"
        );
    }

    #[test]
    fn refuses_wrong_shapes() {
        for s in ["", "0320", "0320181", "03201a", "03-201", "盛岡市", "3201"] {
            assert_eq!(
                parse_municipality_code(s),
                Err(CodeError::MunicipalityFormat),
                "{s:?}"
            );
        }
        assert_eq!(
            CodeError::MunicipalityFormat.to_string(),
            "市町村コードは5桁または6桁の数字で入力してください"
        );
    }

    #[test]
    fn refuses_codes_outside_the_47_prefectures() {
        for s in ["00000", "48001", "99999", "000000"] {
            assert_eq!(
                parse_municipality_code(s),
                Err(CodeError::MunicipalityPrefecture),
                "{s:?}"
            );
        }
    }

    #[test]
    fn parses_prefecture_codes() {
        assert_eq!(parse_prefecture_code("03"), Ok("03".to_owned()));
        assert_eq!(parse_prefecture_code(" ４７ "), Ok("47".to_owned()));
        assert_eq!(parse_prefecture_code("01"), Ok("01".to_owned()));
        assert_eq!(parse_prefecture_code("3"), Ok("03".to_owned()));
        for s in ["00", "48", "0", "003", "", "岩手", "-1"] {
            assert_eq!(
                parse_prefecture_code(s),
                Err(CodeError::Prefecture),
                "{s:?}"
            );
        }
        assert_eq!(
            CodeError::Prefecture.to_string(),
            "都道府県コードは01から47までの数字で入力してください"
        );
    }

    #[test]
    fn conversions_validate() {
        assert_eq!(
            MunicipalityCode::try_from("03201".to_owned()).map(String::from),
            Ok("032018".to_owned())
        );
        assert!(MunicipalityCode::try_from("032019".to_owned()).is_err());
        assert_eq!(
            "011002".parse::<MunicipalityCode>().unwrap().code5(),
            "01100"
        );
    }
}
