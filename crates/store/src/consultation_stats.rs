//! Consultation statistics (相談の統計) for a 年度 or any period: counts by month, topic,
//! requester type, channel, area, municipality, care type, age band and status, the minutes
//! spent and the referrals sent. These figures go into the center's annual report.
//!
//! Every count is aggregated in the database, one `GROUP BY` query per dimension over an index
//! that holds every counted column (`consultations_period`) and the primary keys of the topic
//! and care-type join tables; Rust only labels, adds up and orders the groups (at most a few
//! hundred), never the rows. The queries run concurrently.
//!
//! A consultation belongs to the period in which it was received (`received_on`, JST date).
//! Its status is the status it has now.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;
use time::macros::format_description;
use time::{Date, Month, PrimitiveDateTime, Time};
use tsunagu_domain::consultation::{AgeBand, Channel, Code, RequesterType, Status, Topic};
use tsunagu_domain::policy::{Action, Actor, Target, can};
use tsunagu_domain::wareki::{JST, fiscal_year_range, to_wareki};

use crate::{Db, Result, StoreError, clock};

/// 市町村不明: consultations without the child's municipality.
pub const UNKNOWN_MUNICIPALITY: &str = "市町村不明";
/// 県外・その他: municipalities of other prefectures, or of this one but in no area.
pub const OUTSIDE_AREAS: &str = "県外・その他";

/// The row code of consultations without a municipality (in `by_area` and `by_municipality`).
pub const UNKNOWN_CODE: &str = "unknown";
/// The row code of `OUTSIDE_AREAS` in `by_area`.
pub const OUTSIDE_CODE: &str = "outside";

/// The longest period statistics are drawn for (so that the month table stays readable).
pub const MAX_YEARS: i32 = 10;

/// A period of JST dates, both ends inclusive, as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: String,
    pub to: String,
}

impl Period {
    pub fn new(from: Date, to: Date) -> Period {
        Period {
            from: from.to_string(),
            to: to.to_string(),
        }
    }

    /// 年度 `fy`: 1 April `fy` to 31 March `fy + 1`.
    pub fn fiscal_year(fy: i32) -> Period {
        let (from, to) = fiscal_year_range(fy);
        Period::new(from, to)
    }

    /// Both ends as dates, checked: `from` not after `to`, at most [`MAX_YEARS`] long.
    pub fn dates(&self) -> Result<(Date, Date)> {
        let fmt = format_description!("[year]-[month]-[day]");
        let parse = |s: &str| {
            Date::parse(s, &fmt)
                .map_err(|_| StoreError::Invalid(format!("日付ではありません：{s}")))
        };
        let (from, to) = (parse(&self.from)?, parse(&self.to)?);
        if from > to {
            return Err(StoreError::Invalid(
                "期間の終了日は開始日と同じか、それより後の日付にしてください".into(),
            ));
        }
        if months_between(from, to) > MAX_YEARS as usize * 12 {
            return Err(StoreError::Invalid(format!(
                "期間は{MAX_YEARS}年以内で指定してください"
            )));
        }
        Ok((from, to))
    }

    /// Every month the period touches, as `YYYY-MM`, oldest first.
    pub fn months(&self) -> Result<Vec<String>> {
        let (from, to) = self.dates()?;
        let mut out = Vec::new();
        let (mut y, mut m) = (from.year(), u8::from(from.month()));
        let end = (to.year(), u8::from(to.month()));
        while (y, m) <= end {
            out.push(format!("{y:04}-{m:02}"));
            if m == 12 {
                y += 1;
                m = 1;
            } else {
                m += 1;
            }
        }
        Ok(out)
    }
}

/// How many months `from..=to` touches.
fn months_between(from: Date, to: Date) -> usize {
    let a = from.year() * 12 + i32::from(u8::from(from.month()));
    let b = to.year() * 12 + i32::from(u8::from(to.month()));
    (b - a + 1).max(0) as usize
}

/// `2026-04` → `令和8年4月` (`令和元年5月`, `平成31年4月`); before Meiji `1850年1月`.
pub fn month_label(ym: &str) -> String {
    let parsed = ym.split_once('-').and_then(|(y, m)| {
        let y: i32 = y.parse().ok()?;
        let m: u8 = m.parse().ok()?;
        Date::from_calendar_date(y, Month::try_from(m).ok()?, 1).ok()
    });
    let Some(first) = parsed else {
        return ym.to_string();
    };
    let month = u8::from(first.month());
    match to_wareki(first) {
        Some(w) if w.year == 1 => format!("{}元年{month}月", w.era),
        Some(w) => format!("{}{}年{month}月", w.era, w.year),
        None => format!("{}年{month}月", first.year()),
    }
}

/// One row of a table: what is counted (`code`), what people read (`label`), how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub code: String,
    pub label: String,
    pub count: i64,
}

impl Count {
    fn new(code: impl Into<String>, label: impl Into<String>, count: i64) -> Count {
        Count {
            code: code.into(),
            label: label.into(),
            count,
        }
    }
}

/// The statistics of one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub period: Period,
    /// Consultations received in the period.
    pub total: i64,
    /// Every month of the period, zeros included.
    pub by_month: Vec<Count>,
    /// Once per topic: a consultation with several topics counts under each.
    pub by_topic: Vec<Count>,
    /// Consultations without any topic.
    pub without_topic: i64,
    pub by_requester_type: Vec<Count>,
    pub by_channel: Vec<Count>,
    /// The areas (圏域) of the deployment's prefecture, then 県外・その他 and 市町村不明.
    pub by_area: Vec<Count>,
    /// The municipalities of the prefecture (zeros included), others that occur, 市町村不明.
    pub by_municipality: Vec<Count>,
    /// Once per care type: a consultation with several counts under each.
    pub by_care_type: Vec<Count>,
    /// Consultations without any care type recorded.
    pub without_care_type: i64,
    pub by_age_band: Vec<Count>,
    /// The status the consultations have now.
    pub by_status: Vec<Count>,
    /// Minutes spent, summed over the consultations that record them.
    pub minutes_total: i64,
    /// How many consultations record the minutes spent.
    pub minutes_recorded: i64,
    /// Referrals (つなぎ) sent during the period (JST days), whenever their consultation came.
    pub referrals_sent: i64,
}

impl Stats {
    /// Statistics with nothing counted (what those without the right see).
    pub fn empty(period: &Period) -> Stats {
        Stats {
            period: period.clone(),
            total: 0,
            by_month: Vec::new(),
            by_topic: Vec::new(),
            without_topic: 0,
            by_requester_type: Vec::new(),
            by_channel: Vec::new(),
            by_area: Vec::new(),
            by_municipality: Vec::new(),
            by_care_type: Vec::new(),
            without_care_type: 0,
            by_age_band: Vec::new(),
            by_status: Vec::new(),
            minutes_total: 0,
            minutes_recorded: 0,
            referrals_sent: 0,
        }
    }
}

/// The instant a JST day starts, as stored UTC text.
fn jst_day_start(d: Date) -> String {
    clock::format(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(JST))
}

/// `(code, count)` groups of one `GROUP BY` query over the period (`$1`, `$2`).
async fn groups(db: &Db, sql: &str, period: &Period) -> Result<Vec<(Option<String>, i64)>> {
    let rows = sqlx::query(sql)
        .bind(&period.from)
        .bind(&period.to)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<Option<String>, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

/// One month of the period: its consultations and the minutes they record.
struct MonthRow {
    /// `YYYY-MM`.
    month: String,
    count: i64,
    minutes: i64,
    with_minutes: i64,
}

/// Splits the groups of a `LEFT JOIN` on a code table into the groups of the codes and the
/// number of consultations without any code (the group whose code is NULL).
fn split_unjoined(found: Vec<(Option<String>, i64)>) -> (Vec<(Option<String>, i64)>, i64) {
    let mut without = 0;
    let mut codes = Vec::with_capacity(found.len());
    for (code, n) in found {
        match code {
            Some(c) => codes.push((Some(c), n)),
            None => without += n,
        }
    }
    (codes, without)
}

/// Every code of the list in its order (zeros included), then codes found that the list does
/// not know, shown as they are stored.
fn by_code<C: Code>(found: Vec<(Option<String>, i64)>) -> Vec<Count> {
    let mut counts: HashMap<String, i64> = HashMap::new();
    for (code, n) in found {
        *counts.entry(code.unwrap_or_default()).or_insert(0) += n;
    }
    let mut out: Vec<Count> = C::ALL
        .iter()
        .map(|c| Count::new(c.code(), c.label(), counts.remove(c.code()).unwrap_or(0)))
        .collect();
    let mut rest: Vec<(String, i64)> = counts.into_iter().collect();
    rest.sort();
    out.extend(
        rest.into_iter()
            .map(|(code, n)| Count::new(code.clone(), code, n)),
    );
    out
}

/// Consultations received in the period.
const IN_PERIOD: &str = "c.received_on >= $1 AND c.received_on <= $2";

/// The statistics of `period` for `actor`: empty unless the policy lets the actor see
/// consultation statistics. `prefecture_code` is the deployment's prefecture (its areas and
/// municipalities make the area and municipality tables).
pub async fn stats(
    db: &Db,
    actor: &Actor,
    prefecture_code: &str,
    period: &Period,
) -> Result<Stats> {
    let (from, to) = period.dates()?;
    if !can(Some(actor), Action::ViewConsultationStats, Target::Any) {
        return Ok(Stats::empty(period));
    }
    // Every query reads the consultations of the period from the index `consultations_period`
    // (migration 0006), which holds every column counted here, so none reads the table. The
    // totals and the minutes come with the months; the consultations without a topic or a care
    // type are the group without a join row.
    let month_sql = format!(
        "SELECT substr(c.received_on, 1, 7) AS code, COUNT(*) AS n,
                CAST(COALESCE(SUM(c.minutes_spent), 0) AS BIGINT) AS minutes,
                COUNT(c.minutes_spent) AS with_minutes
         FROM consultations c WHERE {IN_PERIOD} GROUP BY substr(c.received_on, 1, 7)"
    );
    let topic_sql = format!(
        "SELECT t.topic AS code, COUNT(*) AS n FROM consultations c LEFT JOIN consultation_topics t ON t.consultation_id = c.id WHERE {IN_PERIOD} GROUP BY t.topic"
    );
    let care_sql = format!(
        "SELECT t.care_type_code AS code, COUNT(*) AS n FROM consultations c LEFT JOIN consultation_care_types t ON t.consultation_id = c.id WHERE {IN_PERIOD} GROUP BY t.care_type_code"
    );
    let column_sql = |column: &str| {
        format!(
            "SELECT c.{column} AS code, COUNT(*) AS n FROM consultations c WHERE {IN_PERIOD} GROUP BY c.{column}"
        )
    };
    let requester_sql = column_sql("requester_type");
    let channel_sql = column_sql("channel");
    let age_sql = column_sql("child_age_band");
    let status_sql = column_sql("status");
    let municipality_sql = column_sql("child_municipality_code6");
    let referrals = async {
        let until = to
            .next_day()
            .map(jst_day_start)
            .unwrap_or_else(|| "9".into());
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM referrals WHERE sent_at >= $1 AND sent_at < $2",
        )
        .bind(jst_day_start(from))
        .bind(until)
        .fetch_one(db.pool())
        .await?;
        Ok::<_, StoreError>(n)
    };
    let months = async {
        let rows = sqlx::query(&month_sql)
            .bind(&period.from)
            .bind(&period.to)
            .fetch_all(db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MonthRow {
                    month: r.try_get("code")?,
                    count: r.try_get("n")?,
                    minutes: r.try_get("minutes")?,
                    with_minutes: r.try_get("with_minutes")?,
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    let (
        months,
        topics,
        care,
        requesters,
        channels,
        ages,
        statuses,
        municipalities,
        referrals_sent,
    ) = tokio::try_join!(
        months,
        groups(db, &topic_sql, period),
        groups(db, &care_sql, period),
        groups(db, &requester_sql, period),
        groups(db, &channel_sql, period),
        groups(db, &age_sql, period),
        groups(db, &status_sql, period),
        groups(db, &municipality_sql, period),
        referrals,
    )?;

    let total = months.iter().map(|m| m.count).sum();
    let minutes_total = months.iter().map(|m| m.minutes).sum();
    let minutes_recorded = months.iter().map(|m| m.with_minutes).sum();
    let (topics, without_topic) = split_unjoined(topics);
    let (care, without_care_type) = split_unjoined(care);
    let month_counts: HashMap<String, i64> =
        months.into_iter().map(|m| (m.month, m.count)).collect();
    let by_month = period
        .months()?
        .into_iter()
        .map(|m| {
            let n = month_counts.get(&m).copied().unwrap_or(0);
            let label = month_label(&m);
            Count::new(m, label, n)
        })
        .collect();

    let (by_area, by_municipality) = places(db, prefecture_code, municipalities).await?;

    Ok(Stats {
        period: period.clone(),
        total,
        by_month,
        by_topic: by_code::<Topic>(topics),
        without_topic,
        by_requester_type: by_code::<RequesterType>(requesters),
        by_channel: by_code::<Channel>(channels),
        by_area,
        by_municipality,
        by_care_type: care_types(db, care).await?,
        without_care_type,
        by_age_band: by_code::<AgeBand>(ages),
        by_status: by_code::<Status>(statuses),
        minutes_total,
        minutes_recorded,
        referrals_sent,
    })
}

/// Care types in list order: those in use (zeros included), then retired ones that occur.
async fn care_types(db: &Db, found: Vec<(Option<String>, i64)>) -> Result<Vec<Count>> {
    let mut counts: HashMap<String, i64> = found
        .into_iter()
        .map(|(c, n)| (c.unwrap_or_default(), n))
        .collect();
    let mut out = Vec::new();
    for ct in crate::care_types::list(db, true).await? {
        let n = counts.remove(&ct.code).unwrap_or(0);
        if ct.retired && n == 0 {
            continue;
        }
        let label = if ct.retired {
            format!("{}（使用終了）", ct.name)
        } else {
            ct.name
        };
        out.push(Count::new(ct.code, label, n));
    }
    let mut rest: Vec<(String, i64)> = counts.into_iter().collect();
    rest.sort();
    out.extend(
        rest.into_iter()
            .map(|(code, n)| Count::new(code.clone(), code, n)),
    );
    Ok(out)
}

/// A municipality as the place tables need it.
struct Place {
    name: String,
    prefecture_code: String,
    prefecture_name: String,
    kind: String,
    parent_code6: Option<String>,
    retired: bool,
}

const PLACE_SELECT: &str = "SELECT m.code6, m.name, m.prefecture_code, p.name AS prefecture_name, m.kind, m.parent_code6, m.retired_on, par.name AS parent_name
    FROM municipalities m
    LEFT JOIN prefectures p ON p.code = m.prefecture_code
    LEFT JOIN municipalities par ON par.code6 = m.parent_code6";

fn place_from_row(r: &sqlx::any::AnyRow) -> Result<(String, Place)> {
    let name: String = r.try_get("name")?;
    let parent_name: Option<String> = r.try_get("parent_name")?;
    let kind: String = r.try_get("kind")?;
    // A ward is written with its city: 仙台市青葉区.
    let name = match parent_name {
        Some(p) if kind == "ward" && !name.starts_with(&p) => format!("{p}{name}"),
        _ => name,
    };
    let retired: Option<String> = r.try_get("retired_on")?;
    Ok((
        r.try_get("code6")?,
        Place {
            name,
            prefecture_code: r.try_get("prefecture_code")?,
            prefecture_name: r
                .try_get::<Option<String>, _>("prefecture_name")?
                .unwrap_or_default(),
            kind,
            parent_code6: r.try_get("parent_code6")?,
            retired: retired.is_some(),
        },
    ))
}

/// The area and municipality tables from the counts per municipality code.
///
/// A municipality in several areas counts under the first (by the areas' order, as
/// everywhere else); a ward that is in no area itself counts under its city's area.
async fn places(
    db: &Db,
    prefecture_code: &str,
    found: Vec<(Option<String>, i64)>,
) -> Result<(Vec<Count>, Vec<Count>)> {
    let mut unknown = 0i64;
    let mut counts: Vec<(String, i64)> = Vec::new();
    for (code, n) in found {
        match code.filter(|c| !c.trim().is_empty()) {
            Some(c) => counts.push((c, n)),
            None => unknown += n,
        }
    }

    // The prefecture's own municipalities, then any other that occurs.
    let rows = sqlx::query(&format!(
        "{PLACE_SELECT} WHERE m.prefecture_code = $1 ORDER BY m.code6"
    ))
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    let mut places: Vec<(String, Place)> =
        rows.iter().map(place_from_row).collect::<Result<_>>()?;
    let missing: Vec<&String> = counts
        .iter()
        .map(|(c, _)| c)
        .filter(|c| !places.iter().any(|(p, _)| p == *c))
        .collect();
    for chunk in missing.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "{PLACE_SELECT} WHERE m.code6 IN ({}) ORDER BY m.code6",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q.bind(c.as_str());
        }
        for r in q.fetch_all(db.pool()).await? {
            places.push(place_from_row(&r)?);
        }
    }
    let place_of: HashMap<&str, &Place> = places.iter().map(|(c, p)| (c.as_str(), p)).collect();
    let count_of: HashMap<&str, i64> = counts.iter().map(|(c, n)| (c.as_str(), *n)).collect();

    // By municipality: the prefecture's current municipalities (zeros included), then every
    // other code that occurs (retired ones, wards, other prefectures), then 市町村不明.
    let mut by_municipality = Vec::new();
    for (code, p) in &places {
        let n = count_of.get(code.as_str()).copied().unwrap_or(0);
        let listed_always =
            p.prefecture_code == prefecture_code && p.kind == "municipality" && !p.retired;
        if !listed_always && n == 0 {
            continue;
        }
        let label = if p.prefecture_code != prefecture_code && !p.prefecture_name.is_empty() {
            format!("{}{}", p.prefecture_name, p.name)
        } else if p.retired {
            format!("{}（廃止）", p.name)
        } else {
            p.name.clone()
        };
        by_municipality.push((
            p.prefecture_code != prefecture_code,
            code.clone(),
            Count::new(code.clone(), label, n),
        ));
    }
    for (code, n) in &counts {
        if !place_of.contains_key(code.as_str()) {
            by_municipality.push((
                true,
                code.clone(),
                Count::new(code.clone(), code.clone(), *n),
            ));
        }
    }
    by_municipality.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut by_municipality: Vec<Count> = by_municipality.into_iter().map(|(_, _, c)| c).collect();
    by_municipality.push(Count::new(UNKNOWN_CODE, UNKNOWN_MUNICIPALITY, unknown));

    // By area.
    let area_rows = sqlx::query(
        "SELECT a.id, a.name, am.municipality_code6 FROM areas a
         LEFT JOIN area_municipalities am ON am.area_id = a.id
         WHERE a.prefecture_code = $1 ORDER BY a.sort_order, a.name, am.municipality_code6",
    )
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    let mut areas: Vec<Count> = Vec::new();
    let mut area_of: HashMap<String, usize> = HashMap::new();
    for r in &area_rows {
        let id: String = r.try_get("id")?;
        let i = match areas.iter().position(|a| a.code == id) {
            Some(i) => i,
            None => {
                areas.push(Count::new(id, r.try_get::<String, _>("name")?, 0));
                areas.len() - 1
            }
        };
        if let Some(m) = r.try_get::<Option<String>, _>("municipality_code6")? {
            area_of.entry(m).or_insert(i);
        }
    }
    let mut outside = 0i64;
    for (code, n) in &counts {
        let area = area_of.get(code).copied().or_else(|| {
            place_of
                .get(code.as_str())
                .filter(|p| p.prefecture_code == prefecture_code)
                .and_then(|p| p.parent_code6.as_ref())
                .and_then(|parent| area_of.get(parent).copied())
        });
        match area {
            Some(i) => areas[i].count += n,
            None => outside += n,
        }
    }
    areas.push(Count::new(OUTSIDE_CODE, OUTSIDE_AREAS, outside));
    areas.push(Count::new(UNKNOWN_CODE, UNKNOWN_MUNICIPALITY, unknown));
    Ok((areas, by_municipality))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fiscal_year_runs_april_to_march_and_lists_twelve_months() {
        let p = Period::fiscal_year(2026);
        assert_eq!(p.from, "2026-04-01");
        assert_eq!(p.to, "2027-03-31");
        let months = p.months().unwrap_or_default();
        assert_eq!(months.len(), 12);
        assert_eq!(months.first().map(String::as_str), Some("2026-04"));
        assert_eq!(months.last().map(String::as_str), Some("2027-03"));
    }

    #[test]
    fn a_short_period_touches_the_months_it_spans() {
        let p = Period {
            from: "2026-12-20".into(),
            to: "2027-01-05".into(),
        };
        assert_eq!(p.months().unwrap_or_default(), ["2026-12", "2027-01"]);
    }

    #[test]
    fn reversed_long_or_malformed_periods_are_refused() {
        let reversed = Period {
            from: "2026-05-01".into(),
            to: "2026-04-01".into(),
        };
        assert!(reversed.dates().is_err());
        let long = Period {
            from: "2000-04-01".into(),
            to: "2026-03-31".into(),
        };
        assert!(long.dates().is_err());
        let bad = Period {
            from: "2026-4-1".into(),
            to: "2026-04-30".into(),
        };
        assert!(bad.dates().is_err());
        let ten_years = Period {
            from: "2016-04-01".into(),
            to: "2026-03-31".into(),
        };
        assert!(ten_years.dates().is_ok());
    }

    #[test]
    fn months_are_labelled_in_wareki() {
        assert_eq!(month_label("2026-04"), "令和8年4月");
        assert_eq!(month_label("2019-05"), "令和元年5月");
        assert_eq!(month_label("2019-04"), "平成31年4月");
        assert_eq!(month_label("garbage"), "garbage");
    }

    #[test]
    fn codes_keep_list_order_with_zeros_and_show_unknown_codes_raw() {
        let rows = by_code::<Channel>(vec![
            (Some("visit".into()), 2),
            (Some("fax".into()), 1),
            (Some("phone".into()), 5),
        ]);
        let view: Vec<(&str, &str, i64)> = rows
            .iter()
            .map(|c| (c.code.as_str(), c.label.as_str(), c.count))
            .collect();
        assert_eq!(
            view,
            [
                ("phone", "電話", 5),
                ("visit", "来所", 2),
                ("home_visit", "訪問", 0),
                ("email", "メール", 0),
                ("online", "オンライン", 0),
                ("other", "その他", 0),
                ("fax", "fax", 1),
            ]
        );
    }
}
