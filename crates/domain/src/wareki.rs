//! Japanese era dates (和暦) and fiscal years (年度).
//!
//! Documents of prefectures and municipalities mix 和暦 (`令和4年9月15日`, `R4.9.15`) and
//! 西暦 (`2022-09-15`), and every survey, training and report belongs to a 年度 that starts on
//! 1 April. This module converts between them and parses what people type into forms.

use std::fmt;

use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::text::fold_width;

/// Japan Standard Time (日本標準時), UTC+09:00. Time is stored in UTC and shown in JST.
pub const JST: UtcOffset = time::macros::offset!(+9);

/// A Japanese era (元号) of the modern calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Era {
    /// 明治
    Meiji,
    /// 大正
    Taisho,
    /// 昭和
    Showa,
    /// 平成
    Heisei,
    /// 令和
    Reiwa,
}

impl Era {
    /// All eras, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The era's name in kanji, e.g. `令和`.
    pub const fn name(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The one-letter abbreviation used on forms, e.g. `R` in `R4.9.15`.
    pub const fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// The first day of the era (in the Gregorian calendar).
    ///
    /// Meiji is taken from 1868-10-23 (the Gregorian date of the era proclamation); dates of
    /// Meiji 1–5 were then written in the lunisolar calendar, which this module does not model.
    pub const fn start(self) -> Date {
        match self {
            Era::Meiji => time::macros::date!(1868 - 10 - 23),
            Era::Taisho => time::macros::date!(1912 - 07 - 30),
            Era::Showa => time::macros::date!(1926 - 12 - 25),
            Era::Heisei => time::macros::date!(1989 - 01 - 08),
            Era::Reiwa => time::macros::date!(2019 - 05 - 01),
        }
    }

    /// The era that followed this one, if any.
    pub const fn next(self) -> Option<Era> {
        match self {
            Era::Meiji => Some(Era::Taisho),
            Era::Taisho => Some(Era::Showa),
            Era::Showa => Some(Era::Heisei),
            Era::Heisei => Some(Era::Reiwa),
            Era::Reiwa => None,
        }
    }

    /// The last day of the era, or `None` for the current era.
    pub fn end(self) -> Option<Date> {
        self.next().and_then(|next| next.start().previous_day())
    }

    /// The era in effect on `date`, or `None` before Meiji.
    pub fn at(date: Date) -> Option<Era> {
        Era::ALL.into_iter().rev().find(|era| date >= era.start())
    }

    /// The 西暦 year of year `n` of this era (元年 is `n = 1`).
    fn gregorian_year(self, n: i32) -> i32 {
        self.start().year() + (n - 1)
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A date in 和暦: era, year of the era (1 = 元年), month and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WarekiDate {
    pub era: Era,
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl WarekiDate {
    /// The 西暦 date, or `None` when no such day exists in that era (e.g. 令和1年4月1日).
    pub fn to_date(self) -> Option<Date> {
        era_date(self.era, self.year, self.month, self.day).ok()
    }
}

impl fmt::Display for WarekiDate {
    /// `令和4年9月15日`; the first year of an era is written `元年` (`令和元年5月1日`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}年{}月{}日",
            self.era,
            EraYear(self.year),
            self.month,
            self.day
        )
    }
}

/// Writes an era year as people do: `元` for 1, the number otherwise.
struct EraYear(i32);

impl fmt::Display for EraYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 1 {
            f.write_str("元")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The 年度 (fiscal year) of `date`: 年度 N runs from 1 April N to 31 March N+1.
pub fn fiscal_year(date: Date) -> i32 {
    if u8::from(date.month()) >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// First and last day (inclusive) of 年度 `fy`: 1 April `fy` .. 31 March `fy + 1`.
///
/// Years outside what [`Date`] can hold are clamped to its range rather than panicking.
pub fn fiscal_year_range(fy: i32) -> (Date, Date) {
    let fy = fy.clamp(Date::MIN.year(), Date::MAX.year() - 1);
    // Cannot fail after clamping; the fallbacks only keep this path free of panics.
    let first = Date::from_calendar_date(fy, Month::April, 1).unwrap_or(Date::MIN);
    let last = Date::from_calendar_date(fy + 1, Month::March, 31).unwrap_or(Date::MAX);
    (first, last)
}

/// `date` in 和暦, or `None` before Meiji (1868-10-23).
pub fn to_wareki(date: Date) -> Option<WarekiDate> {
    let era = Era::at(date)?;
    Some(WarekiDate {
        era,
        year: date.year() - era.start().year() + 1,
        month: u8::from(date.month()),
        day: date.day(),
    })
}

/// `令和4年9月15日`; falls back to 西暦 (`1850年1月1日`) before Meiji.
pub fn format_wareki_date(date: Date) -> String {
    match to_wareki(date) {
        Some(w) => w.to_string(),
        None => format_seireki_date(date),
    }
}

/// 西暦 in Japanese style: `2022年9月15日`.
pub fn format_seireki_date(date: Date) -> String {
    format!(
        "{}年{}月{}日",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `令和4年度（2022年度）`.
///
/// A 年度 takes the era in effect on its first day (so 1988 is 昭和63年度 although it ended in
/// Heisei), except 2019: the change to 令和 on 1 May 2019 was announced in advance and the
/// government renamed that whole year 令和元年度, which is how everyone writes it.
/// Before Meiji only the 西暦 form is given: `1867年度`.
pub fn format_fiscal_year(fy: i32) -> String {
    let probe = if fy == Era::Reiwa.start().year() {
        Era::Reiwa.start()
    } else {
        fiscal_year_range(fy).0
    };
    match Era::at(probe) {
        Some(era) => format!(
            "{}{}年度（{}年度）",
            era,
            EraYear(fy - era.start().year() + 1),
            fy
        ),
        None => format!("{fy}年度"),
    }
}

/// Why a typed date was not accepted (日付の入力エラー).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateParseError {
    /// Not in any of the accepted shapes.
    Format,
    /// The shape is right but the day does not exist (2023-02-29, 9月31日).
    Nonexistent,
    /// The day exists but not in that era (令和1年4月1日 was still 平成).
    OutsideEra(Era),
}

impl fmt::Display for DateParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateParseError::Format => {
                f.write_str("日付は 2022-09-15 または 令和4年9月15日 の形で入力してください")
            }
            DateParseError::Nonexistent => f.write_str("存在しない日付です"),
            DateParseError::OutsideEra(era) => {
                write!(
                    f,
                    "存在しない日付です（{}は{}から",
                    era,
                    format_seireki_date(era.start())
                )?;
                if let Some(end) = era.end() {
                    write!(f, "{}まで", format_seireki_date(end))?;
                }
                f.write_str("）")
            }
        }
    }
}

impl std::error::Error for DateParseError {}

/// Parses a date as people type it on Japanese forms.
///
/// Accepted: `2022-09-15`, `2022/9/15`, `2022.9.15`, `20220915`, `2022年9月15日`,
/// `令和4年9月15日`, `令和元年5月1日`, `R4.9.15`, `R4/9/15`, `r4-9-15`, `H31.4.30`, `㋿4.9.15`;
/// full-width digits, letters and separators; spaces anywhere. Days that do not exist, or do not
/// exist in the given era, are refused.
pub fn parse_date_ja(input: &str) -> Result<Date, DateParseError> {
    let folded: String = input
        .chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace())
        .collect();
    let (era, rest) = split_era(&folded);
    match era {
        Some(era) => {
            let parts = parse_parts(rest, true).ok_or(DateParseError::Format)?;
            era_date(era, parts.year, parts.month, parts.day)
        }
        None => {
            let parts = parse_compact(rest)
                .or_else(|| parse_parts(rest, false))
                .ok_or(DateParseError::Format)?;
            make_date(parts.year, parts.month, parts.day)
        }
    }
}

/// Formats `t` in JST as `2026-11-24 13:20`.
pub fn format_jst_datetime(t: OffsetDateTime) -> String {
    // Only the very edge of the representable range cannot be shifted; show it unshifted then.
    let local = t.checked_to_offset(JST).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// Today's date in Japan at the instant `now`.
pub fn today_jst(now: OffsetDateTime) -> Date {
    now.checked_to_offset(JST).unwrap_or(now).date()
}

struct Parts {
    year: i32,
    month: u8,
    day: u8,
}

/// Splits a leading era (`令和`, `R`, `r`, `㋿`) from the rest.
fn split_era(s: &str) -> (Option<Era>, &str) {
    for era in Era::ALL {
        if let Some(rest) = s.strip_prefix(era.name()) {
            return (Some(era), rest);
        }
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return (None, s);
    };
    // Single-character era ligatures (㍾㍽㍼㍻㋿) that some fonts and IMEs produce.
    let ligature = match first {
        '\u{337E}' => Some(Era::Meiji),
        '\u{337D}' => Some(Era::Taisho),
        '\u{337C}' => Some(Era::Showa),
        '\u{337B}' => Some(Era::Heisei),
        '\u{32FF}' => Some(Era::Reiwa),
        _ => None,
    };
    let era = ligature.or_else(|| {
        Era::ALL
            .into_iter()
            .find(|era| first.to_ascii_uppercase() == era.letter())
    });
    match era {
        Some(era) => (Some(era), chars.as_str()),
        None => (None, s),
    }
}

/// `YYYYMMDD`, as exported by many systems.
fn parse_compact(s: &str) -> Option<Parts> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Parts {
        year: s.get(0..4)?.parse().ok()?,
        month: s.get(4..6)?.parse().ok()?,
        day: s.get(6..8)?.parse().ok()?,
    })
}

/// `Y年M月D日`, `Y-M-D`, `Y/M/D` or `Y.M.D`. An era year has 1–2 digits or is `元`;
/// a 西暦 year has exactly 4 digits (two-digit years are ambiguous).
fn parse_parts(s: &str, era: bool) -> Option<Parts> {
    let mut cur = s;
    let year = if era {
        if let Some(rest) = cur.strip_prefix('元') {
            cur = rest;
            1
        } else {
            let (n, len, rest) = take_number(cur)?;
            if len > 2 {
                return None;
            }
            cur = rest;
            i32::try_from(n).ok()?
        }
    } else {
        let (n, len, rest) = take_number(cur)?;
        if len != 4 {
            return None;
        }
        cur = rest;
        i32::try_from(n).ok()?
    };

    let sep1 = cur.chars().next()?;
    let sep2 = match sep1 {
        '年' => '月',
        '-' | '/' | '.' => sep1,
        _ => return None,
    };
    cur = &cur[sep1.len_utf8()..];

    let (month, len, rest) = take_number(cur)?;
    if len > 2 {
        return None;
    }
    cur = rest.strip_prefix(sep2)?;

    let (day, len, rest) = take_number(cur)?;
    if len > 2 {
        return None;
    }
    cur = rest;
    if sep1 == '年' {
        // "2022年9月15" without the final 日 is still unambiguous.
        cur = cur.strip_prefix('日').unwrap_or(cur);
    }
    if !cur.is_empty() {
        return None;
    }
    Some(Parts {
        year,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
    })
}

/// Leading ASCII digits: (value, number of digits, rest). At most 4 digits are accepted.
fn take_number(s: &str) -> Option<(u32, usize, &str)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 4 {
        return None;
    }
    let n = s.get(..len)?.parse().ok()?;
    Some((n, len, s.get(len..)?))
}

fn make_date(year: i32, month: u8, day: u8) -> Result<Date, DateParseError> {
    let month = Month::try_from(month).map_err(|_| DateParseError::Nonexistent)?;
    Date::from_calendar_date(year, month, day).map_err(|_| DateParseError::Nonexistent)
}

/// The 西暦 date of an era date, checking that the day lies within that era.
fn era_date(era: Era, year: i32, month: u8, day: u8) -> Result<Date, DateParseError> {
    // Era years beyond a few hundred are typos, and would overflow near i32::MAX.
    if !(1..=999).contains(&year) {
        return Err(DateParseError::OutsideEra(era));
    }
    let date = make_date(era.gregorian_year(year), month, day)?;
    if date < era.start() {
        return Err(DateParseError::OutsideEra(era));
    }
    if let Some(next) = era.next()
        && date >= next.start()
    {
        return Err(DateParseError::OutsideEra(era));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn fiscal_year_turns_on_first_of_april() {
        assert_eq!(fiscal_year(date!(2023 - 03 - 31)), 2022);
        assert_eq!(fiscal_year(date!(2023 - 04 - 01)), 2023);
        assert_eq!(fiscal_year(date!(2023 - 01 - 01)), 2022);
        assert_eq!(fiscal_year(date!(2023 - 12 - 31)), 2023);
    }

    #[test]
    fn fiscal_year_range_is_april_to_march_inclusive() {
        assert_eq!(
            fiscal_year_range(2022),
            (date!(2022 - 04 - 01), date!(2023 - 03 - 31))
        );
        let (first, last) = fiscal_year_range(2023);
        assert_eq!(fiscal_year(first), 2023);
        assert_eq!(fiscal_year(last), 2023);
        assert_eq!(fiscal_year(first.previous_day().unwrap()), 2022);
        assert_eq!(fiscal_year(last.next_day().unwrap()), 2024);
    }

    #[test]
    fn fiscal_year_range_clamps_instead_of_panicking() {
        let (first, last) = fiscal_year_range(i32::MAX);
        assert!(first < last);
        let (first, last) = fiscal_year_range(i32::MIN);
        assert!(first < last);
    }

    #[test]
    fn era_boundaries_convert_to_the_right_era_and_year() {
        let cases = [
            (date!(1868 - 10 - 22), None),
            (date!(1868 - 10 - 23), Some("明治元年10月23日")),
            (date!(1912 - 07 - 29), Some("明治45年7月29日")),
            (date!(1912 - 07 - 30), Some("大正元年7月30日")),
            (date!(1926 - 12 - 24), Some("大正15年12月24日")),
            (date!(1926 - 12 - 25), Some("昭和元年12月25日")),
            (date!(1989 - 01 - 07), Some("昭和64年1月7日")),
            (date!(1989 - 01 - 08), Some("平成元年1月8日")),
            (date!(2019 - 04 - 30), Some("平成31年4月30日")),
            (date!(2019 - 05 - 01), Some("令和元年5月1日")),
            (date!(2020 - 01 - 01), Some("令和2年1月1日")),
            (date!(2022 - 09 - 15), Some("令和4年9月15日")),
        ];
        for (d, expected) in cases {
            assert_eq!(
                to_wareki(d).map(|w| w.to_string()).as_deref(),
                expected,
                "{d}"
            );
        }
    }

    #[test]
    fn to_wareki_gives_structured_fields() {
        assert_eq!(
            to_wareki(date!(2022 - 09 - 15)),
            Some(WarekiDate {
                era: Era::Reiwa,
                year: 4,
                month: 9,
                day: 15
            })
        );
    }

    #[test]
    fn wareki_to_date_refuses_days_outside_the_era() {
        let ok = WarekiDate {
            era: Era::Heisei,
            year: 31,
            month: 4,
            day: 30,
        };
        assert_eq!(ok.to_date(), Some(date!(2019 - 04 - 30)));
        let after = WarekiDate { day: 31, ..ok };
        assert_eq!(after.to_date(), None, "4月31日 does not exist");
        let reiwa_day = WarekiDate {
            month: 5,
            day: 1,
            ..ok
        };
        assert_eq!(reiwa_day.to_date(), None, "平成31年5月1日 was already 令和");
    }

    #[test]
    fn era_end_is_the_day_before_the_next_start() {
        assert_eq!(Era::Heisei.end(), Some(date!(2019 - 04 - 30)));
        assert_eq!(Era::Showa.end(), Some(date!(1989 - 01 - 07)));
        assert_eq!(Era::Reiwa.end(), None);
    }

    #[test]
    fn formats_wareki_with_seireki_fallback() {
        assert_eq!(format_wareki_date(date!(2022 - 09 - 15)), "令和4年9月15日");
        assert_eq!(format_wareki_date(date!(1850 - 01 - 02)), "1850年1月2日");
        assert_eq!(format_seireki_date(date!(2022 - 09 - 15)), "2022年9月15日");
        assert_eq!(format_seireki_date(date!(2022 - 12 - 01)), "2022年12月1日");
    }

    #[test]
    fn formats_fiscal_years_as_documents_do() {
        assert_eq!(format_fiscal_year(2022), "令和4年度（2022年度）");
        assert_eq!(format_fiscal_year(2019), "令和元年度（2019年度）");
        assert_eq!(format_fiscal_year(2020), "令和2年度（2020年度）");
        assert_eq!(format_fiscal_year(2018), "平成30年度（2018年度）");
        assert_eq!(format_fiscal_year(1989), "平成元年度（1989年度）");
        assert_eq!(format_fiscal_year(1988), "昭和63年度（1988年度）");
        assert_eq!(format_fiscal_year(1926), "大正15年度（1926年度）");
        assert_eq!(format_fiscal_year(1869), "明治2年度（1869年度）");
        assert_eq!(format_fiscal_year(1867), "1867年度");
    }

    #[test]
    fn parses_every_documented_shape() {
        let d = date!(2022 - 09 - 15);
        for s in [
            "2022-09-15",
            "2022/9/15",
            "2022/09/15",
            "2022.9.15",
            "20220915",
            "2022年9月15日",
            "2022年09月15日",
            "2022年9月15",
            "令和4年9月15日",
            "令和04年09月15日",
            "R4.9.15",
            "R4/9/15",
            "R4-9-15",
            "r4.9.15",
            "R04.09.15",
            "令和4.9.15",
            "R4年9月15日",
            "\u{32FF}4.9.15",
            "  2022-09-15  ",
            "\u{3000}令和 4 年 9 月 15 日\u{3000}",
            "２０２２／９／１５",
            "２０２２－０９－１５",
            "令和４年９月１５日",
            "Ｒ４．９．１５",
            "2022ー09ー15",
        ] {
            assert_eq!(parse_date_ja(s), Ok(d), "{s:?}");
        }
    }

    #[test]
    fn parses_first_years_and_era_edges() {
        assert_eq!(parse_date_ja("令和元年5月1日"), Ok(date!(2019 - 05 - 01)));
        assert_eq!(parse_date_ja("R1.5.1"), Ok(date!(2019 - 05 - 01)));
        assert_eq!(parse_date_ja("H31.4.30"), Ok(date!(2019 - 04 - 30)));
        assert_eq!(parse_date_ja("平成元年1月8日"), Ok(date!(1989 - 01 - 08)));
        assert_eq!(parse_date_ja("S64.1.7"), Ok(date!(1989 - 01 - 07)));
        assert_eq!(parse_date_ja("T15.12.24"), Ok(date!(1926 - 12 - 24)));
        assert_eq!(parse_date_ja("M45.7.29"), Ok(date!(1912 - 07 - 29)));
        assert_eq!(parse_date_ja("\u{337B}31.4.30"), Ok(date!(2019 - 04 - 30)));
    }

    #[test]
    fn refuses_days_outside_their_era() {
        assert_eq!(
            parse_date_ja("令和1年4月1日"),
            Err(DateParseError::OutsideEra(Era::Reiwa))
        );
        assert_eq!(
            parse_date_ja("H31.5.1"),
            Err(DateParseError::OutsideEra(Era::Heisei))
        );
        assert_eq!(
            parse_date_ja("S64.1.8"),
            Err(DateParseError::OutsideEra(Era::Showa))
        );
        assert_eq!(
            parse_date_ja("令和0年5月1日"),
            Err(DateParseError::OutsideEra(Era::Reiwa))
        );
        assert_eq!(
            parse_date_ja("H32.1.1"),
            Err(DateParseError::OutsideEra(Era::Heisei))
        );
    }

    #[test]
    fn refuses_nonexistent_days() {
        for s in [
            "2023-02-29",
            "2022/9/31",
            "2022-13-01",
            "2022-00-10",
            "2022-01-00",
            "R5.2.29",
        ] {
            assert_eq!(parse_date_ja(s), Err(DateParseError::Nonexistent), "{s:?}");
        }
        assert_eq!(parse_date_ja("2024-02-29"), Ok(date!(2024 - 02 - 29)));
    }

    #[test]
    fn refuses_malformed_input() {
        for s in [
            "",
            "   ",
            "2022",
            "22/9/15",
            "2022-9/15",
            "2022年9/15",
            "2022-09-15-01",
            "2022-09-15日",
            "令和4年9月15日です",
            "X4.9.15",
            "令和123年1月1日",
            "2022-123-1",
            "元年5月1日",
            "2022年元月1日",
            "tomorrow",
            "202209151",
        ] {
            assert_eq!(parse_date_ja(s), Err(DateParseError::Format), "{s:?}");
        }
    }

    #[test]
    fn error_messages_tell_the_user_what_to_type() {
        assert_eq!(
            DateParseError::Format.to_string(),
            "日付は 2022-09-15 または 令和4年9月15日 の形で入力してください"
        );
        assert_eq!(
            DateParseError::Nonexistent.to_string(),
            "存在しない日付です"
        );
        assert_eq!(
            DateParseError::OutsideEra(Era::Reiwa).to_string(),
            "存在しない日付です（令和は2019年5月1日から）"
        );
        assert_eq!(
            DateParseError::OutsideEra(Era::Heisei).to_string(),
            "存在しない日付です（平成は1989年1月8日から2019年4月30日まで）"
        );
    }

    #[test]
    fn wareki_and_seireki_formats_round_trip_for_every_day() {
        let mut d = Era::Meiji.start();
        let end = date!(2100 - 12 - 31);
        while d <= end {
            assert_eq!(parse_date_ja(&format_wareki_date(d)), Ok(d), "{d}");
            assert_eq!(parse_date_ja(&format_seireki_date(d)), Ok(d), "{d}");
            assert_eq!(parse_date_ja(&d.to_string()), Ok(d), "{d}");
            d = d.next_day().unwrap();
        }
    }

    #[test]
    fn formats_in_jst() {
        assert_eq!(
            format_jst_datetime(datetime!(2026-11-24 04:20:59 UTC)),
            "2026-11-24 13:20"
        );
        assert_eq!(
            format_jst_datetime(datetime!(2026-11-23 15:05 UTC)),
            "2026-11-24 00:05"
        );
        // Already-offset input is converted, not reinterpreted.
        assert_eq!(
            format_jst_datetime(datetime!(2026-11-24 13:20 +09:00)),
            "2026-11-24 13:20"
        );
        assert_eq!(
            format_jst_datetime(datetime!(2026-11-24 00:00 -05:00)),
            "2026-11-24 14:00"
        );
    }

    #[test]
    fn today_in_japan_changes_at_jst_midnight() {
        assert_eq!(
            today_jst(datetime!(2026-11-23 14:59 UTC)),
            date!(2026 - 11 - 23)
        );
        assert_eq!(
            today_jst(datetime!(2026-11-23 15:00 UTC)),
            date!(2026 - 11 - 24)
        );
        assert_eq!(
            fiscal_year(today_jst(datetime!(2027-03-31 15:00 UTC))),
            2027
        );
    }

    #[test]
    fn era_at_and_names() {
        assert_eq!(Era::at(date!(2022 - 09 - 15)), Some(Era::Reiwa));
        assert_eq!(Era::at(date!(1900 - 01 - 01)), Some(Era::Meiji));
        assert_eq!(Era::at(date!(1800 - 01 - 01)), None);
        assert_eq!(Era::Reiwa.to_string(), "令和");
        assert_eq!(Era::Heisei.letter(), 'H');
    }
}
