//! Consultation statistics (相談の統計) for a 年度 or any period, for coordinators and the
//! prefecture: tables and server-drawn bar charts per dimension, printable, and downloadable as
//! xlsx (one sheet per dimension) and CSV (one long table). Downloads are recorded in the audit
//! log. The figures go into the center's annual report.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use time::Date;
use tsunagu_domain::policy::Action;
use tsunagu_domain::validation::FieldErrors;
use tsunagu_domain::wareki::{
    fiscal_year, format_fiscal_year, format_wareki_date, parse_date_ja, today_jst,
};
use tsunagu_store::audit::{self, Event};
use tsunagu_store::clock;
use tsunagu_store::consultation_stats::{self as store, Count, Period, Stats};

use super::render_status;
use crate::AppState;
use crate::charts::{Bar, bar_chart};
use crate::csv_export::{Encoding, to_csv_bytes};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::forms::{Choice, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;
use crate::xlsx::{self, Cell, Sheet};

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/consultations/stats", Action::ViewConsultationStats, page)
        .get(
            "/consultations/stats.xlsx",
            Action::ViewConsultationStats,
            export_xlsx,
        )
        .get(
            "/consultations/stats.csv",
            Action::ViewConsultationStats,
            export_csv,
        )
}

/// How many 年度 the select offers (the current one and those before it).
const FISCAL_YEARS_OFFERED: i32 = 10;

/// The note under tables whose rows may count one consultation several times.
const MULTI_NOTE: &str = "複数選択のため合計は相談件数と一致しません";

// ---------------------------------------------------------------------------------------------
// The period asked for

/// The period form as typed: a 年度 (`fy`), or a custom period (`from`, `to`) which wins when
/// either date is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PeriodForm {
    fy: String,
    from: String,
    to: String,
}

/// A period that was understood.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chosen {
    period: Period,
    /// The 年度, when the period is one chosen as such.
    fiscal_year: Option<i32>,
    /// `令和8年度（2026年度）：令和8年4月1日〜令和9年3月31日`.
    label: String,
    /// The query string that asks for this period again (for links and downloads).
    query: String,
}

impl PeriodForm {
    fn parse(q: &FormData) -> PeriodForm {
        let field = |name: &str| q.get(name).trim().chars().take(40).collect::<String>();
        PeriodForm {
            fy: field("fy"),
            from: field("from"),
            to: field("to"),
        }
    }

    fn is_custom(&self) -> bool {
        !self.from.is_empty() || !self.to.is_empty()
    }

    /// The period, or messages for the fields that could not be read. `current` is the
    /// 年度 of today (the default).
    fn resolve(&self, current: i32) -> Result<Chosen, FieldErrors> {
        let mut e = FieldErrors::new();
        if !self.is_custom() {
            let fy = if self.fy.is_empty() {
                Some(current)
            } else {
                self.fy
                    .parse::<i32>()
                    .ok()
                    .filter(|y| (1868..=9998).contains(y))
            };
            let Some(fy) = fy else {
                e.add("fy", "年度は一覧から選んでください");
                return Err(e);
            };
            let period = Period::fiscal_year(fy);
            let (from, to) = dates_of(&period);
            return Ok(Chosen {
                label: format!(
                    "{}：{}〜{}",
                    format_fiscal_year(fy),
                    format_wareki_date(from),
                    format_wareki_date(to)
                ),
                query: query_string(&[("fy", &fy.to_string())]),
                fiscal_year: Some(fy),
                period,
            });
        }
        let mut date = |field: &str, label: &str, value: &str| -> Option<Date> {
            if value.is_empty() {
                e.add(field, format!("{label}を入力してください"));
                return None;
            }
            match parse_date_ja(value) {
                Ok(d) => Some(d),
                Err(err) => {
                    e.add(field, format!("{label}：{err}"));
                    None
                }
            }
        };
        let from = date("from", "期間の開始日", &self.from);
        let to = date("to", "期間の終了日", &self.to);
        if let (Some(f), Some(t)) = (from, to) {
            let period = Period::new(f, t);
            if let Err(err) = period.dates() {
                e.add("to", err.to_string());
            }
        }
        e.clone().into_result()?;
        let (Some(from), Some(to)) = (from, to) else {
            return Err(e);
        };
        let period = Period::new(from, to);
        Ok(Chosen {
            label: format!("{}〜{}", format_wareki_date(from), format_wareki_date(to)),
            query: query_string(&[("from", &period.from), ("to", &period.to)]),
            fiscal_year: None,
            period,
        })
    }
}

/// The dates of a period made here (always well formed).
fn dates_of(p: &Period) -> (Date, Date) {
    p.dates().unwrap_or((Date::MIN, Date::MIN))
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn current_fiscal_year() -> i32 {
    fiscal_year(today_jst(clock::now()))
}

/// The last ten 年度, newest first; a 年度 asked for outside them is added so the select
/// still shows it.
fn fiscal_year_choices(current: i32, selected: Option<i32>) -> Vec<Choice> {
    let mut years: Vec<i32> = (0..FISCAL_YEARS_OFFERED).map(|i| current - i).collect();
    if let Some(s) = selected
        && !years.contains(&s)
    {
        years.push(s);
        years.sort_by(|a, b| b.cmp(a));
    }
    years
        .into_iter()
        .map(|y| Choice::new(y.to_string(), format_fiscal_year(y), Some(y) == selected))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Dimensions: the same tables on the page, in the workbook and in the CSV file

struct Dimension<'a> {
    /// For element ids.
    id: &'static str,
    /// Heading, sheet name and the 区分 column of the CSV file.
    title: &'static str,
    /// The header of the first column.
    head: &'static str,
    rows: &'a [Count],
    /// Whether the rows add up to the number of consultations (a 合計 row is shown).
    adds_up: bool,
    notes: Vec<String>,
}

fn dimensions(s: &Stats) -> Vec<Dimension<'_>> {
    let plain = |id, title, head, rows| Dimension {
        id,
        title,
        head,
        rows,
        adds_up: true,
        notes: Vec::new(),
    };
    let mut topic_notes = vec![MULTI_NOTE.to_string()];
    if s.without_topic > 0 {
        topic_notes.push(format!("分類のない相談：{}件", fmt_num(s.without_topic)));
    }
    let mut care_notes = vec![MULTI_NOTE.to_string()];
    if s.without_care_type > 0 {
        care_notes.push(format!(
            "医療的ケアの記録がない相談：{}件",
            fmt_num(s.without_care_type)
        ));
    }
    vec![
        plain("month", "月別", "月", &s.by_month),
        Dimension {
            id: "topic",
            title: "相談の分類",
            head: "分類",
            rows: &s.by_topic,
            adds_up: false,
            notes: topic_notes,
        },
        plain("requester", "相談者の種別", "相談者", &s.by_requester_type),
        plain("channel", "受付方法", "受付方法", &s.by_channel),
        plain("area", "圏域別", "圏域", &s.by_area),
        plain("municipality", "市町村別", "市町村", &s.by_municipality),
        Dimension {
            id: "care",
            title: "医療的ケアの種別",
            head: "医療的ケア",
            rows: &s.by_care_type,
            adds_up: false,
            notes: care_notes,
        },
        plain("age", "お子さんの年齢", "年齢", &s.by_age_band),
        plain("status", "対応状況（現在）", "対応状況", &s.by_status),
    ]
}

/// `1234567` → `1,234,567`.
fn fmt_num(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count as a share of the consultations, one decimal: `37.5%`.
fn share(n: i64, total: i64) -> String {
    if total <= 0 {
        return "－".to_string();
    }
    let tenths = (n * 1000 + total / 2) / total;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// `135` → `2時間15分`.
fn fmt_minutes(m: i64) -> String {
    match (m / 60, m % 60) {
        (0, m) => format!("{m}分"),
        (h, 0) => format!("{}時間", fmt_num(h)),
        (h, m) => format!("{}時間{m}分", fmt_num(h)),
    }
}

// ---------------------------------------------------------------------------------------------
// Page

struct RowView {
    label: String,
    count: String,
    share: String,
}

struct SectionView {
    id: &'static str,
    title: &'static str,
    head: &'static str,
    rows: Vec<RowView>,
    total: Option<String>,
    notes: Vec<String>,
    svg: String,
}

struct StatsView {
    label: String,
    total: String,
    minutes_total: String,
    minutes_note: String,
    referrals: String,
    sections: Vec<SectionView>,
}

fn stats_view(s: &Stats, label: &str) -> StatsView {
    let sections = dimensions(s)
        .into_iter()
        .map(|d| {
            let bars: Vec<Bar> = d.rows.iter().map(|r| Bar::new(&r.label, r.count)).collect();
            SectionView {
                id: d.id,
                title: d.title,
                head: d.head,
                rows: d
                    .rows
                    .iter()
                    .map(|r| RowView {
                        label: r.label.clone(),
                        count: fmt_num(r.count),
                        share: share(r.count, s.total),
                    })
                    .collect(),
                total: d
                    .adds_up
                    .then(|| fmt_num(d.rows.iter().map(|r| r.count).sum())),
                notes: d.notes,
                svg: bar_chart(
                    &format!("chart-{}", d.id),
                    &format!("{}の相談件数", d.title),
                    &bars,
                ),
            }
        })
        .collect();
    let minutes_note = if s.minutes_recorded == 0 {
        "所要時間の記録はありません".to_string()
    } else {
        format!(
            "所要時間を記録した{}件の合計（1件あたり平均{}分）",
            fmt_num(s.minutes_recorded),
            fmt_num((s.minutes_total + s.minutes_recorded / 2) / s.minutes_recorded)
        )
    };
    StatsView {
        label: label.to_string(),
        total: fmt_num(s.total),
        minutes_total: fmt_minutes(s.minutes_total),
        minutes_note,
        referrals: fmt_num(s.referrals_sent),
        sections,
    }
}

#[derive(Template)]
#[template(path = "consultation_stats/page.html")]
struct StatsPage {
    layout: Layout,
    lead: String,
    form: PeriodForm,
    custom: bool,
    fy_choices: Vec<Choice>,
    errors: Vec<(String, String)>,
    fy_error: Option<String>,
    from_error: Option<String>,
    to_error: Option<String>,
    stats: Option<StatsView>,
    xlsx_href: String,
    csv_href: String,
    csv_sjis_href: String,
    printed_on: String,
}

/// "この機能の主担当：…" (function 1, consultation, of the role matrix).
async fn consultation_lead(st: &AppState) -> Result<String, AppError> {
    let leads = st.matrix().await?.leads("consultation");
    Ok(if leads.is_empty() {
        String::new()
    } else {
        format!("この機能の主担当：{}", leads.join("、"))
    })
}

async fn page(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let form = PeriodForm::parse(&q);
    let current = current_fiscal_year();
    let lead = consultation_lead(&st).await?;
    let (stats, chosen, errors, status) = match form.resolve(current) {
        Ok(chosen) => {
            let s = store::stats(&st.db, &actor, &st.cfg.prefecture_code, &chosen.period).await?;
            (
                Some(stats_view(&s, &chosen.label)),
                Some(chosen),
                FieldErrors::new(),
                StatusCode::OK,
            )
        }
        Err(errors) => (None, None, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let selected_fy = chosen
        .as_ref()
        .and_then(|c| c.fiscal_year)
        .or_else(|| form.fy.parse().ok())
        .or(Some(current));
    let link = |path: &str, extra: &str| match &chosen {
        Some(c) => format!("{path}?{}{extra}", c.query),
        None => String::new(),
    };
    render_status(
        status,
        &StatsPage {
            layout: Layout::new(&st, &ctx, "相談の統計"),
            lead,
            custom: form.is_custom(),
            fy_choices: fiscal_year_choices(current, selected_fy),
            fy_error: errors.get("fy").map(str::to_string),
            from_error: errors.get("from").map(str::to_string),
            to_error: errors.get("to").map(str::to_string),
            errors: summary(&errors),
            stats,
            xlsx_href: link("/consultations/stats.xlsx", ""),
            csv_href: link("/consultations/stats.csv", "&enc=utf8"),
            csv_sjis_href: link("/consultations/stats.csv", "&enc=sjis"),
            printed_on: format_wareki_date(today_jst(clock::now())),
            form,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Downloads

/// The period of a download: bad input is a 400 with the messages (the page shows them next to
/// the fields; a download link is only offered for a period that was understood).
fn download_period(q: &FormData) -> Result<Chosen, AppError> {
    PeriodForm::parse(q)
        .resolve(current_fiscal_year())
        .map_err(|errors| {
            AppError::BadRequest(
                errors
                    .iter()
                    .map(|(_, m)| m.to_string())
                    .collect::<Vec<_>>()
                    .join("。"),
            )
        })
}

/// `consultation-stats-20260401-20270331.xlsx`.
fn filename(p: &Period, ext: &str) -> String {
    format!(
        "consultation-stats-{}-{}.{ext}",
        p.from.replace('-', ""),
        p.to.replace('-', "")
    )
}

/// Records the download before the file is made, in its own transaction.
async fn record_export(
    st: &AppState,
    ctx: &Ctx,
    chosen: &Chosen,
    what: &str,
) -> Result<(), AppError> {
    audit::record(
        &st.db,
        &ctx.audit(),
        Event::new("consultation_stats.export", "consultation", "").detail(format!(
            "{}〜{}（{}）{what}",
            chosen.period.from, chosen.period.to, chosen.label
        )),
    )
    .await?;
    Ok(())
}

fn download(body: Vec<u8>, content_type: &str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    resp
}

/// The summary figures: (name, value) — the CSV's 概要 rows and the workbook's first sheet.
fn summary_figures(s: &Stats) -> Vec<(&'static str, i64)> {
    vec![
        ("相談件数", s.total),
        ("所要時間の合計（分）", s.minutes_total),
        ("所要時間を記録した相談", s.minutes_recorded),
        ("つなぎ（連絡）の件数", s.referrals_sent),
        ("分類のない相談", s.without_topic),
        ("医療的ケアの記録がない相談", s.without_care_type),
    ]
}

fn workbook(s: &Stats, chosen: &Chosen) -> Result<Vec<u8>, AppError> {
    let mut overview = vec![
        vec![Cell::from("期間"), Cell::from(chosen.label.as_str())],
        vec![Cell::from("開始日"), Cell::from(s.period.from.as_str())],
        vec![Cell::from("終了日"), Cell::from(s.period.to.as_str())],
    ];
    overview.extend(
        summary_figures(s)
            .into_iter()
            .map(|(name, n)| vec![Cell::from(name), Cell::from(n)]),
    );
    overview.push(vec![
        Cell::from("注"),
        Cell::from(format!(
            "相談の分類と医療的ケアの種別は{MULTI_NOTE}。対応状況は出力した時点のものです。"
        )),
    ]);
    let mut sheets = vec![Sheet {
        name: "概要",
        headers: vec!["項目".into(), "値".into()],
        rows: overview,
    }];
    for d in dimensions(s) {
        let mut rows: Vec<Vec<Cell>> = d
            .rows
            .iter()
            .map(|r| vec![Cell::from(r.label.as_str()), Cell::from(r.count)])
            .collect();
        if d.adds_up {
            rows.push(vec![
                Cell::from("合計"),
                Cell::from(d.rows.iter().map(|r| r.count).sum::<i64>()),
            ]);
        }
        sheets.push(Sheet {
            name: d.title,
            headers: vec![d.head.to_string(), "件数".to_string()],
            rows,
        });
    }
    xlsx::write(&sheets)
}

async fn export_xlsx(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let chosen = download_period(&q)?;
    record_export(&st, &ctx, &chosen, "xlsx").await?;
    let s = store::stats(&st.db, &actor, &st.cfg.prefecture_code, &chosen.period).await?;
    let body = workbook(&s, &chosen)?;
    Ok(download(
        body,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &filename(&chosen.period, "xlsx"),
    ))
}

const CSV_HEADERS: &[&str] = &["区分", "項目", "件数"];

/// One long table: the summary figures, then every row of every dimension (no 合計 rows, so
/// that the file can be pivoted as it is).
fn csv_rows(s: &Stats) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = summary_figures(s)
        .into_iter()
        .map(|(name, n)| vec!["概要".to_string(), name.to_string(), n.to_string()])
        .collect();
    for d in dimensions(s) {
        rows.extend(
            d.rows
                .iter()
                .map(|r| vec![d.title.to_string(), r.label.clone(), r.count.to_string()]),
        );
    }
    rows
}

async fn export_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let chosen = download_period(&q)?;
    let enc = Encoding::from_param(q.get("enc"));
    record_export(
        &st,
        &ctx,
        &chosen,
        match enc {
            Encoding::Utf8Bom => "CSV UTF-8",
            Encoding::ShiftJis => "CSV Shift_JIS",
        },
    )
    .await?;
    let s = store::stats(&st.db, &actor, &st.cfg.prefecture_code, &chosen.period).await?;
    let body = to_csv_bytes(CSV_HEADERS, &csv_rows(&s), enc);
    Ok(download(
        body,
        enc.content_type(),
        &filename(&chosen.period, "csv"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_store::consultation_stats::MAX_YEARS;

    fn form(fy: &str, from: &str, to: &str) -> PeriodForm {
        PeriodForm {
            fy: fy.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn the_current_fiscal_year_is_the_default() {
        let c = form("", "", "").resolve(2026).expect("period");
        assert_eq!(c.fiscal_year, Some(2026));
        assert_eq!(c.period, Period::fiscal_year(2026));
        assert_eq!(c.query, "fy=2026");
        assert!(
            c.label
                .starts_with("令和8年度（2026年度）：令和8年4月1日〜令和9年3月31日")
        );
    }

    #[test]
    fn dates_win_over_the_fiscal_year_and_are_normalised() {
        let c = form("2026", "R8.4.1", "２０２６/９/３０")
            .resolve(2026)
            .expect("period");
        assert_eq!(c.fiscal_year, None);
        assert_eq!(c.period.from, "2026-04-01");
        assert_eq!(c.period.to, "2026-09-30");
        assert_eq!(c.query, "from=2026-04-01&to=2026-09-30");
        assert_eq!(c.label, "令和8年4月1日〜令和8年9月30日");
    }

    #[test]
    fn bad_missing_reversed_or_long_periods_are_reported_per_field() {
        let e = form("", "2026-02-30", "")
            .resolve(2026)
            .err()
            .unwrap_or_default();
        assert!(e.get("from").is_some_and(|m| m.contains("存在しない日付")));
        assert_eq!(e.get("to"), Some("期間の終了日を入力してください"));
        let e = form("", "2026-05-01", "2026-04-01")
            .resolve(2026)
            .err()
            .unwrap_or_default();
        assert!(e.get("to").is_some());
        let e = form("", "2000-04-01", "2026-03-31")
            .resolve(2026)
            .err()
            .unwrap_or_default();
        assert!(
            e.get("to")
                .is_some_and(|m| m.contains(&format!("{MAX_YEARS}年以内")))
        );
        let e = form("R8", "", "").resolve(2026).err().unwrap_or_default();
        assert!(e.get("fy").is_some());
    }

    #[test]
    fn the_select_offers_ten_years_and_keeps_an_older_choice() {
        let c = fiscal_year_choices(2026, Some(2026));
        assert_eq!(c.len(), 10);
        assert_eq!(c[0].value, "2026");
        assert!(c[0].selected);
        assert_eq!(c[9].value, "2017");
        let c = fiscal_year_choices(2026, Some(2010));
        assert_eq!(c.len(), 11);
        assert!(c.last().is_some_and(|l| l.value == "2010" && l.selected));
    }

    #[test]
    fn numbers_shares_and_minutes_read_naturally() {
        assert_eq!(fmt_num(0), "0");
        assert_eq!(fmt_num(1024), "1,024");
        assert_eq!(fmt_num(1234567), "1,234,567");
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(2, 3), "66.7%");
        assert_eq!(share(3, 3), "100.0%");
        assert_eq!(share(0, 0), "－");
        assert_eq!(fmt_minutes(45), "45分");
        assert_eq!(fmt_minutes(120), "2時間");
        assert_eq!(fmt_minutes(135), "2時間15分");
    }

    #[test]
    fn file_names_carry_the_period() {
        assert_eq!(
            filename(&Period::fiscal_year(2026), "csv"),
            "consultation-stats-20260401-20270331.csv"
        );
    }
}
