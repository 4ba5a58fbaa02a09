//! The consultation desk (相談支援): the code lists of a consultation record (受付方法, 相談者,
//! 相談の分類, 年齢, 状態), receipt numbers per 年度, and the pure checks of what a coordinator
//! types into the intake form.
//!
//! The codes are what the database stores (see `0004_consultations.sql`) and what statistics
//! group by; the labels are what people read.

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::text::fold_width_str;
use crate::wareki::{DateParseError, Era, JST, fiscal_year_range, parse_date_ja};

/// A closed list of codes with Japanese labels.
pub trait Code: Sized + Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    fn code(self) -> &'static str;
    fn label(self) -> &'static str;

    fn from_code(code: &str) -> Option<Self> {
        let code = code.trim();
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The label of a stored code; an unknown code is shown as it is.
    fn label_of(code: &str) -> String {
        Self::from_code(code)
            .map(|c| c.label().to_string())
            .unwrap_or_else(|| code.to_string())
    }
}

macro_rules! code_list {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = ($code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl Code for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }

            fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label),+
                }
            }
        }
    };
}

code_list! {
    /// How the consultation came in (受付方法).
    Channel {
        Phone = ("phone", "電話"),
        Visit = ("visit", "来所"),
        HomeVisit = ("home_visit", "訪問"),
        Email = ("email", "メール"),
        Online = ("online", "オンライン"),
        Other = ("other", "その他"),
    }
}

code_list! {
    /// Who is asking (相談者の種別).
    RequesterType {
        Family = ("family", "本人・家族"),
        Municipality = ("municipality", "市町村"),
        Coordinator = ("coordinator", "コーディネーター・相談支援専門員"),
        Medical = ("medical", "医療機関"),
        School = ("school", "保育所・学校"),
        Provider = ("provider", "障害福祉サービス事業所"),
        Other = ("other", "その他"),
    }
}

code_list! {
    /// What the consultation is about (相談の分類); a consultation has one or more.
    Topic {
        Medical = ("medical", "医療・医療的ケア"),
        Welfare = ("welfare", "福祉サービス"),
        ChildcareEducation = ("childcare_education", "保育・教育"),
        WorkFamily = ("work_family", "就労・家族支援"),
        Disaster = ("disaster", "災害・緊急時"),
        Financial = ("financial", "経済的支援"),
        Procedures = ("procedures", "制度・手続き"),
        Transition = ("transition", "成人期への移行"),
        Other = ("other", "その他"),
    }
}

code_list! {
    /// The child's age band (年齢区分), wide enough that it identifies nobody.
    AgeBand {
        Infant = ("0-2", "0〜2歳"),
        Preschool = ("3-5", "3〜5歳（就学前）"),
        Elementary = ("6-11", "6〜11歳（小学生）"),
        JuniorHigh = ("12-14", "12〜14歳（中学生）"),
        HighSchool = ("15-17", "15〜17歳（高校生）"),
        YoungAdult = ("18-19", "18〜19歳"),
        Adult = ("20+", "20歳以上"),
        Unknown = ("unknown", "不明"),
    }
}

code_list! {
    /// Where a consultation stands (対応状況).
    Status {
        Received = ("received", "受付"),
        InProgress = ("in_progress", "対応中"),
        AwaitingFollowUp = ("awaiting_follow_up", "フォロー待ち"),
        Closed = ("closed", "完了"),
    }
}

impl Status {
    /// The CSS modifier of the status badge (the word carries the meaning).
    pub fn css(self) -> &'static str {
        match self {
            Status::Received => "status-bad",
            Status::InProgress => "status-warn",
            Status::AwaitingFollowUp => "status-warn",
            Status::Closed => "status-ok",
        }
    }
}

code_list! {
    /// Where a referral to a local window stands (つなぎ先での状況).
    ReferralStatus {
        Sent = ("sent", "未確認"),
        Acknowledged = ("acknowledged", "受領済み"),
        Closed = ("closed", "対応結果あり"),
    }
}

impl ReferralStatus {
    pub fn css(self) -> &'static str {
        match self {
            ReferralStatus::Sent => "status-bad",
            ReferralStatus::Acknowledged => "status-warn",
            ReferralStatus::Closed => "status-ok",
        }
    }
}

code_list! {
    /// How the requester's consent to pass their details on was given (同意の方法).
    ConsentMethod {
        OralPhone = ("oral_phone", "口頭（電話）"),
        OralInPerson = ("oral_in_person", "口頭（来所・訪問）"),
        Written = ("written", "書面"),
        Email = ("email", "メール"),
        Other = ("other", "その他"),
    }
}

code_list! {
    /// Where a consultation record came from.
    Source {
        Desk = ("desk", "窓口で記録"),
        PublicForm = ("public_form", "相談申込みフォーム"),
    }
}

/// The era and era year a 年度 is written with: the era of its first day, except that 2019 is
/// 令和元年度 (as [`crate::wareki::format_fiscal_year`] writes it). `None` before Meiji.
pub fn fiscal_year_era(fy: i32) -> Option<(Era, i32)> {
    let probe = if fy == Era::Reiwa.start().year() {
        Era::Reiwa.start()
    } else {
        fiscal_year_range(fy).0
    };
    let era = Era::at(probe)?;
    Some((era, fy - era.start().year() + 1))
}

/// The receipt number (受付番号) of the `n`th consultation of 年度 `fy`: `R8-0001` for the first
/// of 令和8年度. Numbers beyond 9999 simply grow (`R8-10000`); a 年度 before Meiji is written in
/// 西暦 (`1867-0001`).
pub fn format_receipt_no(fy: i32, n: i64) -> String {
    match fiscal_year_era(fy) {
        Some((era, year)) => format!("{}{}-{:04}", era.letter(), year, n),
        None => format!("{fy}-{n:04}"),
    }
}

/// Why a typed date and time was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateTimeError {
    Date(DateParseError),
    Time,
    Future,
}

impl std::fmt::Display for DateTimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateTimeError::Date(DateParseError::Format) => f.write_str(
                "日時は 2026-04-01 13:20 のように入力してください（時刻は省略できます）",
            ),
            DateTimeError::Date(e) => write!(f, "{e}"),
            DateTimeError::Time => {
                f.write_str("時刻は 13:20 のように0:00〜23:59で入力してください")
            }
            DateTimeError::Future => f.write_str("受付日時に未来の日時は入力できません"),
        }
    }
}

/// How far ahead of the server's clock a typed time may be (clocks of PCs drift).
const CLOCK_SLACK_MINUTES: i64 = 10;

/// Parses the moment a consultation was received, as typed: a date in any form
/// [`parse_date_ja`] accepts, optionally followed by a time (`13:20`, `9:05`, `13時20分`,
/// `13時`), separated by a space or `T` (what `<input type="datetime-local">` sends). A date
/// without a time means the start of that day. Times are Japan time; a moment later than `now`
/// is refused.
pub fn parse_received_at(
    input: &str,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, DateTimeError> {
    let folded = fold_width_str(input.trim());
    let (date_part, time_part) = split_date_time(&folded);
    let date = parse_date_ja(date_part).map_err(DateTimeError::Date)?;
    let time = match time_part {
        Some(t) => parse_time(t).ok_or(DateTimeError::Time)?,
        None => Time::MIDNIGHT,
    };
    let at = PrimitiveDateTime::new(date, time).assume_offset(JST);
    if at > now + time::Duration::minutes(CLOCK_SLACK_MINUTES) {
        return Err(DateTimeError::Future);
    }
    Ok(at)
}

/// Splits `2026-04-01 13:20` / `2026-04-01T13:20` / `令和8年4月1日 13時20分` into date and time.
fn split_date_time(s: &str) -> (&str, Option<&str>) {
    let s = s.trim();
    // The time starts at the last run of digits followed by ':' or '時'.
    let time_start = s
        .char_indices()
        .filter(|(_, c)| *c == ':' || *c == '時')
        .map(|(i, _)| i)
        .next()
        .map(|colon| {
            s[..colon]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_digit())
                .last()
                .map(|(i, _)| i)
                .unwrap_or(colon)
        });
    match time_start {
        Some(start) => {
            let date = s[..start].trim_end();
            let date = date.strip_suffix('T').unwrap_or(date).trim_end();
            (date, Some(s[start..].trim()))
        }
        None => (s, None),
    }
}

/// `13:20`, `9:05`, `13:20:59` (seconds dropped), `13時20分`, `13時`.
fn parse_time(s: &str) -> Option<Time> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (h, m) = if let Some((h, rest)) = s.split_once(':') {
        let m = rest.split(':').next()?;
        (h.to_string(), m.to_string())
    } else if let Some((h, rest)) = s.split_once('時') {
        let m = rest.strip_suffix('分').unwrap_or(rest);
        (
            h.to_string(),
            if m.is_empty() {
                "0".into()
            } else {
                m.to_string()
            },
        )
    } else {
        return None;
    };
    let digits = |v: &str| !v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit());
    if !digits(&h) || !digits(&m) {
        return None;
    }
    let hour: u8 = h.parse().ok()?;
    let minute: u8 = m.parse().ok()?;
    Time::from_hms(hour, minute, 0).ok()
}

/// The JST date of an instant (what `received_on` stores).
pub fn jst_date(at: OffsetDateTime) -> Date {
    at.checked_to_offset(JST).unwrap_or(at).date()
}

/// Parses an optional date (follow-up, consent): empty is `None`.
pub fn parse_optional_date(input: &str) -> Result<Option<Date>, DateParseError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    parse_date_ja(input).map(Some)
}

/// The longest single consultation worth recording, in minutes (a whole day).
pub const MAX_MINUTES: i64 = 24 * 60;

/// Parses minutes spent: `30`, `３０`, `30分`; empty is `None`.
pub fn parse_minutes(input: &str) -> Result<Option<i64>, String> {
    let folded = fold_width_str(input.trim());
    let v = folded.strip_suffix('分').unwrap_or(&folded).trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<i64>() {
        Ok(n) if (0..=MAX_MINUTES).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "所要時間は0から{MAX_MINUTES}までの分数で入力してください（例：30）"
        )),
    }
}

/// The codes of a group of checkboxes, each known, without repeats, in list order. Unknown
/// codes are reported (they can only come from a tampered or outdated form).
pub fn parse_codes<C: Code>(values: &[&str]) -> Result<Vec<C>, String> {
    let mut out = Vec::new();
    for v in values {
        if v.trim().is_empty() {
            continue;
        }
        match C::from_code(v) {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => return Err(format!("一覧にない値が送られました：{}", v.trim())),
        }
    }
    out.sort_by_key(|c| C::ALL.iter().position(|x| x == c).unwrap_or(usize::MAX));
    Ok(out)
}

/// A state the record may not be saved in, or `None`: フォロー待ち needs a follow-up date.
pub fn status_problem(status: Status, follow_up_on: Option<Date>) -> Option<&'static str> {
    match (status, follow_up_on) {
        (Status::AwaitingFollowUp, None) => {
            Some("フォロー待ちにする場合は、フォロー予定日を入力してください")
        }
        _ => None,
    }
}

/// Checks a consent record: given consent needs the date and how it was given, and may not be
/// dated in the future. Refused consent carries neither.
pub fn check_consent(
    given: bool,
    on: Option<Date>,
    method: Option<ConsentMethod>,
    today: Date,
) -> Vec<(&'static str, &'static str)> {
    let mut problems = Vec::new();
    if given {
        match on {
            None => problems.push(("consent_on", "同意を得た日を入力してください")),
            Some(d) if d > today => {
                problems.push(("consent_on", "同意を得た日に未来の日付は入力できません"))
            }
            Some(_) => {}
        }
        if method.is_none() {
            problems.push(("consent_method", "同意を得た方法を選んでください"));
        }
    }
    problems
}

/// Whether the requester's name and contact go with a referral: only when consent was recorded
/// when it was sent. Nobody chooses this per referral; it follows the record.
pub fn referral_carries_personal_details(consent_given: bool) -> bool {
    consent_given
}

/// The first `max` characters of `text` on one line, with `…` when cut (for lists).
pub fn excerpt(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut s: String = one_line.chars().take(max).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn codes_are_unique<C: Code>() {
        let mut codes: Vec<&str> = C::ALL.iter().map(|c| c.code()).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
        for c in C::ALL {
            assert_eq!(C::from_code(c.code()).map(|x| x.code()), Some(c.code()));
            assert!(!c.label().is_empty());
        }
    }

    #[test]
    fn code_lists_round_trip_and_match_the_schema() {
        codes_are_unique::<Channel>();
        codes_are_unique::<RequesterType>();
        codes_are_unique::<Topic>();
        codes_are_unique::<AgeBand>();
        codes_are_unique::<Status>();
        codes_are_unique::<ReferralStatus>();
        codes_are_unique::<ConsentMethod>();
        codes_are_unique::<Source>();
        // The codes the migration's comments document.
        let join = |v: Vec<&str>| v.join(" | ");
        assert_eq!(
            join(Channel::ALL.iter().map(|c| c.code()).collect()),
            "phone | visit | home_visit | email | online | other"
        );
        assert_eq!(
            join(RequesterType::ALL.iter().map(|c| c.code()).collect()),
            "family | municipality | coordinator | medical | school | provider | other"
        );
        assert_eq!(
            join(Topic::ALL.iter().map(|c| c.code()).collect()),
            "medical | welfare | childcare_education | work_family | disaster | financial | procedures | transition | other"
        );
        assert_eq!(
            join(AgeBand::ALL.iter().map(|c| c.code()).collect()),
            "0-2 | 3-5 | 6-11 | 12-14 | 15-17 | 18-19 | 20+ | unknown"
        );
        assert_eq!(
            join(Status::ALL.iter().map(|c| c.code()).collect()),
            "received | in_progress | awaiting_follow_up | closed"
        );
        assert_eq!(Status::label_of("closed"), "完了");
        assert_eq!(Status::label_of("weird"), "weird");
        assert_eq!(Channel::from_code(" phone "), Some(Channel::Phone));
        assert_eq!(Channel::from_code("fax"), None);
    }

    #[test]
    fn receipt_numbers_follow_the_reiwa_year_of_the_fiscal_year() {
        assert_eq!(format_receipt_no(2026, 1), "R8-0001");
        assert_eq!(format_receipt_no(2022, 42), "R4-0042");
        assert_eq!(format_receipt_no(2019, 7), "R1-0007");
        assert_eq!(format_receipt_no(2018, 7), "H30-0007");
        assert_eq!(format_receipt_no(2026, 12345), "R8-12345");
        assert_eq!(format_receipt_no(1800, 3), "1800-0003");
        assert_eq!(fiscal_year_era(2026), Some((Era::Reiwa, 8)));
    }

    #[test]
    fn received_at_accepts_what_people_type() {
        let now = datetime!(2026-11-24 06:00 UTC); // 15:00 JST
        let cases = [
            ("2026-11-24 13:20", datetime!(2026-11-24 13:20 +09:00)),
            ("2026-11-24T13:20", datetime!(2026-11-24 13:20 +09:00)),
            ("2026/11/24 9:05", datetime!(2026-11-24 09:05 +09:00)),
            (
                "令和8年11月24日 13時20分",
                datetime!(2026-11-24 13:20 +09:00),
            ),
            ("R8.11.24 13時", datetime!(2026-11-24 13:00 +09:00)),
            (
                "２０２６－１１－２４　１３：２０",
                datetime!(2026-11-24 13:20 +09:00),
            ),
            ("2026-11-24 13:20:59", datetime!(2026-11-24 13:20 +09:00)),
            ("2026-11-20", datetime!(2026-11-20 00:00 +09:00)),
            ("令和8年4月1日", datetime!(2026-04-01 00:00 +09:00)),
        ];
        for (s, expected) in cases {
            assert_eq!(parse_received_at(s, now), Ok(expected), "{s:?}");
        }
        assert_eq!(
            parse_received_at("2026-11-24 25:00", now),
            Err(DateTimeError::Time)
        );
        assert_eq!(
            parse_received_at("2026-11-24 13:7x", now),
            Err(DateTimeError::Time)
        );
        assert_eq!(
            parse_received_at("2026-11-31 10:00", now),
            Err(DateTimeError::Date(DateParseError::Nonexistent))
        );
        assert_eq!(
            parse_received_at("昨日", now),
            Err(DateTimeError::Date(DateParseError::Format))
        );
        assert_eq!(
            parse_received_at("2026-11-24 16:00", now),
            Err(DateTimeError::Future)
        );
        assert!(
            parse_received_at("2026-11-24 15:05", now).is_ok(),
            "clock slack"
        );
        assert!(
            DateTimeError::Date(DateParseError::Format)
                .to_string()
                .contains("2026-04-01 13:20")
        );
    }

    #[test]
    fn the_jst_date_turns_at_jst_midnight() {
        assert_eq!(
            jst_date(datetime!(2026-03-31 14:59 UTC)),
            date!(2026 - 03 - 31)
        );
        assert_eq!(
            jst_date(datetime!(2026-03-31 15:00 UTC)),
            date!(2026 - 04 - 01)
        );
    }

    #[test]
    fn minutes_and_optional_dates() {
        assert_eq!(parse_minutes(""), Ok(None));
        assert_eq!(parse_minutes("３０"), Ok(Some(30)));
        assert_eq!(parse_minutes("45分"), Ok(Some(45)));
        assert!(parse_minutes("-1").is_err());
        assert!(parse_minutes("1441").is_err());
        assert!(parse_minutes("半日").is_err());
        assert_eq!(parse_optional_date("  "), Ok(None));
        assert_eq!(
            parse_optional_date("R8.12.1"),
            Ok(Some(date!(2026 - 12 - 01)))
        );
        assert!(parse_optional_date("12/1").is_err());
    }

    #[test]
    fn checkbox_codes_are_checked_deduplicated_and_ordered() {
        assert_eq!(
            parse_codes::<Topic>(&["welfare", "medical", "welfare", ""]),
            Ok(vec![Topic::Medical, Topic::Welfare])
        );
        assert!(parse_codes::<Topic>(&["astrology"]).is_err());
        assert_eq!(parse_codes::<Topic>(&[]), Ok(vec![]));
    }

    #[test]
    fn awaiting_follow_up_needs_a_date() {
        assert!(status_problem(Status::AwaitingFollowUp, None).is_some());
        assert!(status_problem(Status::AwaitingFollowUp, Some(date!(2026 - 12 - 01))).is_none());
        assert!(status_problem(Status::Closed, None).is_none());
    }

    #[test]
    fn consent_needs_date_and_method_and_no_future() {
        let today = date!(2026 - 11 - 24);
        assert!(check_consent(false, None, None, today).is_empty());
        let missing = check_consent(true, None, None, today);
        assert_eq!(
            missing.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            ["consent_on", "consent_method"]
        );
        assert_eq!(
            check_consent(
                true,
                Some(date!(2026 - 11 - 25)),
                Some(ConsentMethod::OralPhone),
                today
            )
            .len(),
            1
        );
        assert!(check_consent(true, Some(today), Some(ConsentMethod::Written), today).is_empty());
        assert!(referral_carries_personal_details(true));
        assert!(!referral_carries_personal_details(false));
    }

    #[test]
    fn excerpts_are_one_line_and_cut() {
        assert_eq!(excerpt("短い\n質問", 10), "短い 質問");
        assert_eq!(excerpt("あいうえおかきくけこ", 5), "あいうえお…");
    }
}
