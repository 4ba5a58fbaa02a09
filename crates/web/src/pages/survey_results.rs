//! The roll-up of the regional situation survey (状況把握調査の集計と地図): approved answers
//! summed for the prefecture and by area (圏域), each figure with its completeness (n / N
//! 市町村) and last year's; a choropleth map of any count item with the table it shows; the
//! trend over the 年度; and every count item of the 年度, care types per type and never summed.
//! A national view puts the prefectures side by side for a 年度 and the one before.
//!
//! Everything is read live from the approved responses, so an approval shows at once. A page
//! makes a handful of queries: one field of every 年度 comes out of the database already picked
//! from the answers' JSON, and only the chosen 年度 and the one before are parsed whole.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::map::{self, Choropleth};
use tsunagu_domain::policy::Action;
use tsunagu_domain::survey::{
    Definition, Field as SurveyField, FieldKind, ItemKind, Total, add_to_totals, grid_key,
    parse_count,
};
use tsunagu_domain::validation::FieldErrors;
use tsunagu_domain::wareki::{format_fiscal_year, format_wareki_date, today_jst};
use tsunagu_store::survey_results::{self as results, AskedMunicipality, FieldValue, YearCount};
use tsunagu_store::surveys::{self as surveys_store, ApprovedAnswers, STANDARD_FAMILY};
use tsunagu_store::{clock, geo};

use super::render_status;
use crate::AppState;
use crate::charts::{Point, line_chart};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::forms::{Choice, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get(
        "/surveys/results",
        Action::ViewSurveyResults,
        prefecture_page,
    )
    .get(
        "/surveys/results/national",
        Action::ViewSurveyResults,
        national_page,
    )
}

/// Shown where there is no figure.
const DASH: &str = "－";
/// The item shown when none is asked for.
const DEFAULT_FIELD: &str = "total";

// ---------------------------------------------------------------------------------------------
// What is asked for

/// The query as typed.
#[derive(Debug, Clone, Default)]
struct Query {
    year: String,
    field: String,
    round: String,
    /// National map: `prefecture` (default) or `municipality`.
    by: String,
}

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let q = FormData::parse_str(raw.unwrap_or(""));
        let get = |name: &str| q.get(name).trim().chars().take(80).collect::<String>();
        Query {
            year: get("year"),
            field: get("field"),
            round: get("round"),
            by: get("by"),
        }
    }
}

/// The 年度 asked for, else the given default (a round's), else the newest with approved
/// answers, else the newest with a round. `None` when the family was never asked.
fn resolve_year(
    q: &Query,
    counts: &[YearCount],
    default: Option<i64>,
    errors: &mut FieldErrors,
) -> Option<i64> {
    if !q.year.is_empty() {
        let year = q
            .year
            .parse::<i64>()
            .ok()
            .filter(|y| (1900..=9999).contains(y));
        if year.is_none() {
            errors.add("year", "年度は一覧から選んでください");
        }
        return year;
    }
    // `counts` is newest first.
    default
        .or_else(|| {
            counts
                .iter()
                .find(|c| c.approved > 0)
                .map(|c| c.fiscal_year)
        })
        .or_else(|| counts.first().map(|c| c.fiscal_year))
}

/// The count fields of a definition: counts, grid cells and care types.
fn count_fields(def: &Definition) -> Vec<SurveyField> {
    def.fields()
        .into_iter()
        .filter(|f| f.kind == FieldKind::Count)
        .collect()
}

/// The field asked for, else 医療的ケア児の総数 (or the first count when there is none).
fn pick_field(q: &Query, fields: &[SurveyField], errors: &mut FieldErrors) -> Option<SurveyField> {
    if q.field.is_empty() {
        return fields
            .iter()
            .find(|f| f.key == DEFAULT_FIELD)
            .or_else(|| fields.first())
            .cloned();
    }
    let found = fields.iter().find(|f| f.key == q.field).cloned();
    if found.is_none() {
        errors.add("field", "項目は一覧から選んでください");
    }
    found
}

/// `平成22年度` (the column heads; the full label carries the 西暦 too).
fn short_year(y: i64) -> String {
    let label = format_fiscal_year(y as i32);
    match label.split_once('（') {
        Some((wareki, _)) => wareki.to_string(),
        None => label,
    }
}

fn year_label(y: i64) -> String {
    format_fiscal_year(y as i32)
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    s.finish()
}

// ---------------------------------------------------------------------------------------------
// The picker (年度 and item)

struct FieldGroup {
    label: String,
    options: Vec<Choice>,
}

struct Picker {
    action: &'static str,
    round: String,
    years: Vec<Choice>,
    groups: Vec<FieldGroup>,
    /// The national map's choice of colouring by prefecture or municipality.
    by: Vec<Choice>,
    year_error: Option<String>,
    field_error: Option<String>,
    by_error: Option<String>,
}

/// The 年度 with a round, newest first, with the one shown even if it has none.
fn year_choices(counts: &[YearCount], selected: Option<i64>) -> Vec<Choice> {
    let mut years: Vec<i64> = counts.iter().map(|c| c.fiscal_year).collect();
    years.extend(selected);
    years.sort_by(|a, b| b.cmp(a));
    years.dedup();
    years
        .into_iter()
        .map(|y| Choice::new(y.to_string(), year_label(y), Some(y) == selected))
        .collect()
}

/// The count fields as option groups, one per section of the definition.
fn field_groups(def: &Definition, fields: &[SurveyField], selected: &str) -> Vec<FieldGroup> {
    def.sections
        .iter()
        .map(|s| FieldGroup {
            label: s.title.clone(),
            options: fields
                .iter()
                .filter(|f| f.section == s.key)
                .map(|f| Choice::new(f.key.clone(), f.label.clone(), f.key == selected))
                .collect(),
        })
        .filter(|g| !g.options.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Figures

/// A sum and how many municipalities it is of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sum {
    sum: u64,
    reporting: usize,
}

impl Sum {
    fn add(&mut self, n: u64) {
        self.sum += n;
        self.reporting += 1;
    }

    fn of(t: Option<&Total>) -> Sum {
        t.map_or(Sum::default(), |t| Sum {
            sum: t.sum,
            reporting: t.reporting as usize,
        })
    }

    /// No municipality reporting is no figure, not zero.
    fn value(self) -> Option<u64> {
        (self.reporting > 0).then_some(self.sum)
    }
}

/// `1234567` → `1,234,567`.
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_value(v: Option<u64>) -> String {
    v.map_or_else(|| DASH.to_string(), fmt_count)
}

/// `2 / 3 市町村`: how many of the municipalities asked gave the figure.
fn completeness(reporting: usize, asked: i64) -> String {
    format!("{reporting} / {asked} 市町村")
}

/// `+3（+33.3%）`, `−2（−10.0%）`, `±0（±0.0%）`; a dash without both figures.
fn change(now: Option<u64>, last: Option<u64>) -> String {
    let (Some(now), Some(last)) = (now, last) else {
        return DASH.to_string();
    };
    let diff = now as i64 - last as i64;
    let sign = match diff.cmp(&0) {
        Ordering::Greater => "+",
        Ordering::Less => "−",
        Ordering::Equal => "±",
    };
    let mut s = format!("{sign}{}", fmt_count(diff.unsigned_abs()));
    if let Some(tenths) = (diff.unsigned_abs() * 1000 + last / 2).checked_div(last) {
        s.push_str(&format!("（{sign}{}.{}%）", tenths / 10, tenths % 10));
    }
    s
}

/// One figure with its completeness, last year's and the change.
struct FigureView {
    value: String,
    has_value: bool,
    completeness: String,
    last: String,
    last_completeness: String,
    change: String,
    /// Last year's figure is of a different number of municipalities: the change is only
    /// indicative.
    uneven: bool,
    /// Then, the change over the municipalities that gave the figure in both 年度: how many,
    /// and the change.
    matched: Option<(usize, String)>,
}

impl FigureView {
    /// Adds the like-for-like change when the two 年度 are of different municipalities (early
    /// in a round, a raw comparison with a complete last year reads as a fall).
    fn matched(
        mut self,
        by_year: &ByYear<'_>,
        year: i64,
        keep: impl Fn(&FieldValue) -> bool,
    ) -> FigureView {
        if !self.uneven {
            return self;
        }
        let (Some(now), Some(last)) = (by_year.get(&year), by_year.get(&(year - 1))) else {
            return self;
        };
        let (mut n, mut now_sum, mut last_sum) = (0, 0, 0);
        for (code6, (value, v)) in now {
            if let Some((last_value, _)) = last.get(code6).filter(|_| keep(v)) {
                n += 1;
                now_sum += value;
                last_sum += last_value;
            }
        }
        if n > 0 {
            self.matched = Some((n, change(Some(now_sum), Some(last_sum))));
        }
        self
    }
}

fn figure(now: Sum, asked: i64, last: Sum, last_asked: i64) -> FigureView {
    FigureView {
        value: fmt_value(now.value()),
        has_value: now.value().is_some(),
        completeness: completeness(now.reporting, asked),
        last: fmt_value(last.value()),
        last_completeness: completeness(last.reporting, last_asked),
        change: change(now.value(), last.value()),
        uneven: now.reporting > 0 && last.reporting > 0 && now.reporting != last.reporting,
        matched: None,
    }
}

/// Reported counts by 年度 and municipality (6-digit code), with the row they came from.
type ByYear<'a> = BTreeMap<i64, HashMap<&'a str, (u64, &'a FieldValue)>>;

/// The field's reported counts by 年度 and municipality (6-digit code). A municipality approved
/// in two rounds of a 年度 counts once, with the newer round's answer; a blank or unreadable
/// answer is not a report.
fn reported(values: &[FieldValue]) -> ByYear<'_> {
    let mut out = ByYear::new();
    let mut seen = HashSet::new();
    for v in values {
        if !seen.insert((v.fiscal_year, v.code6.as_str())) {
            continue;
        }
        if let Some(n) = v
            .value
            .as_deref()
            .and_then(|t| parse_count(t).ok().flatten())
        {
            out.entry(v.fiscal_year)
                .or_default()
                .insert(v.code6.as_str(), (n, v));
        }
    }
    out
}

/// The sum of a 年度's reports that `keep` selects.
fn sum_where(by_year: &ByYear<'_>, year: i64, keep: impl Fn(&FieldValue) -> bool) -> Sum {
    let mut s = Sum::default();
    for (n, v) in by_year.get(&year).into_iter().flat_map(|m| m.values()) {
        if keep(v) {
            s.add(*n);
        }
    }
    s
}

/// Municipalities asked in a 年度 over the prefectures that `keep` selects.
fn asked_where(counts: &[YearCount], year: i64, keep: impl Fn(&str) -> bool) -> i64 {
    counts
        .iter()
        .filter(|c| c.fiscal_year == year && keep(&c.prefecture_code))
        .map(|c| c.asked)
        .sum()
}

/// Approved answers with one response per municipality (two rounds of a 年度 would count a
/// municipality twice).
fn one_each(mut list: Vec<ApprovedAnswers>) -> Vec<ApprovedAnswers> {
    list.dedup_by(|a, b| a.code6 == b.code6);
    list
}

// ---------------------------------------------------------------------------------------------
// The trend

struct TrendRow {
    year: String,
    value: String,
    completeness: String,
    change: String,
}

struct TrendView {
    svg: String,
    rows: Vec<TrendRow>,
}

/// The figure in every 年度 with approved answers, oldest first.
fn trend(by_year: &ByYear<'_>, counts: &[YearCount], label: &str, unit: &str) -> TrendView {
    let mut years: Vec<i64> = counts
        .iter()
        .filter(|c| c.approved > 0)
        .map(|c| c.fiscal_year)
        .collect();
    years.sort_unstable();
    years.dedup();
    let mut rows = Vec::with_capacity(years.len());
    let mut points = Vec::with_capacity(years.len());
    let mut previous: Option<u64> = None;
    for &y in &years {
        let s = sum_where(by_year, y, |_| true);
        rows.push(TrendRow {
            year: year_label(y),
            value: fmt_value(s.value()),
            completeness: completeness(s.reporting, asked_where(counts, y, |_| true)),
            change: change(s.value(), previous),
        });
        points.push(Point::new(format!("{y}年度"), s.value().map(|v| v as i64)));
        previous = s.value();
    }
    TrendView {
        svg: line_chart("trend", &format!("{label}の推移"), unit, &points),
        rows,
    }
}

// ---------------------------------------------------------------------------------------------
// Every count item of the 年度 (the roll-up table)

struct CountRow {
    label: String,
    unit: String,
    /// The map of this figure.
    href: String,
    figure: FigureView,
}

struct GridRowView {
    label: String,
    cells: Vec<String>,
    total: String,
}

struct GridView {
    id: String,
    label: String,
    unit: String,
    columns: Vec<String>,
    rows: Vec<GridRowView>,
    column_totals: Vec<String>,
    total: String,
    last_total: String,
    completeness: String,
}

struct CareView {
    id: String,
    label: String,
    rows: Vec<CountRow>,
}

enum Block {
    Counts(Vec<CountRow>),
    Grid(GridView),
    Care(CareView),
}

struct SectionView {
    title: String,
    blocks: Vec<Block>,
}

/// What the roll-up table needs of one 年度: the totals and who was asked.
struct YearTotals<'a> {
    totals: &'a BTreeMap<String, Total>,
    asked: i64,
}

/// Every count item of the definition, section by section. Grids show their row and column
/// totals (the cells add up); care types show per type with no total, since one child may need
/// several.
fn rollup(
    def: &Definition,
    answers: &[ApprovedAnswers],
    now: &YearTotals<'_>,
    last: &YearTotals<'_>,
    href: &dyn Fn(&str) -> String,
) -> Vec<SectionView> {
    let row = |key: &str, label: &str, unit: &str| CountRow {
        label: label.to_string(),
        unit: unit.to_string(),
        href: href(key),
        figure: figure(
            Sum::of(now.totals.get(key)),
            now.asked,
            Sum::of(last.totals.get(key)),
            last.asked,
        ),
    };
    let mut sections = Vec::new();
    for s in &def.sections {
        let mut blocks: Vec<Block> = Vec::new();
        for item in &s.items {
            match &item.kind {
                ItemKind::Count => {
                    let r = row(&item.key, &item.label, &item.unit);
                    match blocks.last_mut() {
                        Some(Block::Counts(rows)) => rows.push(r),
                        _ => blocks.push(Block::Counts(vec![r])),
                    }
                }
                ItemKind::CareTypes { types } => blocks.push(Block::Care(CareView {
                    id: item.key.clone(),
                    label: item.label.clone(),
                    rows: types
                        .iter()
                        .map(|t| row(&format!("{}.{}", item.key, t.key), &t.label, &item.unit))
                        .collect(),
                })),
                ItemKind::Grid { rows, columns } => {
                    let cell = |totals: &BTreeMap<String, Total>, r: &str, c: &str| {
                        Sum::of(totals.get(&grid_key(&item.key, r, c)))
                    };
                    let mut column_totals = vec![Sum::default(); columns.len()];
                    let mut grand = Sum::default();
                    let mut last_grand = Sum::default();
                    let mut row_views = Vec::with_capacity(rows.len());
                    for r in rows {
                        let mut row_total = Sum::default();
                        let mut cells = Vec::with_capacity(columns.len());
                        for (i, c) in columns.iter().enumerate() {
                            let v = cell(now.totals, &r.key, &c.key);
                            if let Some(n) = v.value() {
                                row_total.add(n);
                                column_totals[i].add(n);
                                grand.add(n);
                            }
                            if let Some(n) = cell(last.totals, &r.key, &c.key).value() {
                                last_grand.add(n);
                            }
                            cells.push(fmt_value(v.value()));
                        }
                        row_views.push(GridRowView {
                            label: r.label.clone(),
                            cells,
                            total: fmt_value(row_total.value()),
                        });
                    }
                    // A municipality reports the grid when it gave any of its cells.
                    let reporting = answers
                        .iter()
                        .filter(|a| {
                            rows.iter().any(|r| {
                                columns.iter().any(|c| {
                                    a.answers
                                        .get(&grid_key(&item.key, &r.key, &c.key))
                                        .is_some_and(|v| matches!(parse_count(v), Ok(Some(_))))
                                })
                            })
                        })
                        .count();
                    blocks.push(Block::Grid(GridView {
                        id: item.key.clone(),
                        label: item.label.clone(),
                        unit: item.unit.clone(),
                        columns: columns.iter().map(|c| c.label.clone()).collect(),
                        rows: row_views,
                        column_totals: column_totals
                            .into_iter()
                            .map(|s| fmt_value(s.value()))
                            .collect(),
                        total: fmt_value(grand.value()),
                        last_total: fmt_value(last_grand.value()),
                        completeness: completeness(reporting, now.asked),
                    }));
                }
                _ => {}
            }
        }
        if !blocks.is_empty() {
            sections.push(SectionView {
                title: s.title.clone(),
                blocks,
            });
        }
    }
    sections
}

fn totals_of(fields: &[SurveyField], answers: &[ApprovedAnswers]) -> BTreeMap<String, Total> {
    let mut totals = BTreeMap::new();
    for a in answers {
        add_to_totals(fields, &a.answers, &mut totals);
    }
    totals
}

// ---------------------------------------------------------------------------------------------
// The prefecture page

struct AreaRow {
    name: String,
    figure: FigureView,
}

struct MunicipalityRow {
    name: String,
    area: String,
    value: Option<String>,
    last: String,
}

struct PrefectureResult {
    definition_title: String,
    year_label: String,
    year_short: String,
    last_year_short: String,
    field_label: String,
    unit: String,
    figure: FigureView,
    areas: Vec<AreaRow>,
    map_svg: Option<String>,
    credit: &'static str,
    municipalities: Vec<MunicipalityRow>,
    trend: TrendView,
    sections: Vec<SectionView>,
}

#[derive(Template)]
#[template(path = "survey_results/prefecture.html")]
struct PrefecturePage {
    layout: Layout,
    prefecture_name: String,
    picker: Picker,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    result: Option<PrefectureResult>,
    national_href: String,
    printed_on: String,
}

async fn prefecture_page(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    ctx.require_actor()?;
    let q = Query::parse(raw.as_deref());
    let pref = st.cfg.prefecture_code.clone();
    let round = if q.round.is_empty() {
        None
    } else {
        Some(surveys_store::round(&st.db, &pref, &q.round).await?)
    };
    let family = round
        .as_ref()
        .map_or(STANDARD_FAMILY, |r| r.family.as_str())
        .to_string();
    let counts = results::year_counts(&st.db, &family, Some(&pref)).await?;
    let mut errors = FieldErrors::new();
    let year = resolve_year(
        &q,
        &counts,
        round.as_ref().map(|r| r.fiscal_year),
        &mut errors,
    );
    let definition = match year {
        Some(y) if errors.is_empty() => {
            results::definition_of_year(&st.db, &family, y, &pref, false).await?
        }
        _ => None,
    };
    let fields = definition.as_ref().map(count_fields).unwrap_or_default();
    let field = if definition.is_some() {
        pick_field(&q, &fields, &mut errors)
    } else {
        None
    };
    let notice = notice_for(&counts, year, definition.as_ref(), &fields, &errors);

    let result = match (year, &definition, &field) {
        (Some(year), Some(def), Some(field)) if errors.is_empty() => Some(
            prefecture_result(
                &st,
                &Shown {
                    family: &family,
                    round_id: &q.round,
                    year,
                    def,
                    fields: &fields,
                    field,
                    counts: &counts,
                },
            )
            .await?,
        ),
        _ => None,
    };
    let prefecture_name = tsunagu_store::reference::prefecture_name(&st.db, &pref)
        .await?
        .unwrap_or_default();
    let picker = Picker {
        action: "/surveys/results",
        round: q.round.clone(),
        years: year_choices(&counts, year),
        groups: definition
            .as_ref()
            .map(|d| {
                field_groups(
                    d,
                    &fields,
                    field.as_ref().map_or(q.field.as_str(), |f| f.key.as_str()),
                )
            })
            .unwrap_or_default(),
        by: Vec::new(),
        year_error: errors.get("year").map(str::to_string),
        field_error: errors.get("field").map(str::to_string),
        by_error: errors.get("by").map(str::to_string),
    };
    let national_href = format!(
        "/surveys/results/national?{}",
        query_string(&[
            ("year", &year.map(|y| y.to_string()).unwrap_or_default()),
            ("field", field.as_ref().map_or("", |f| f.key.as_str())),
        ])
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &PrefecturePage {
            layout: Layout::new(&st, &ctx, "状況把握調査の集計と地図"),
            prefecture_name,
            picker,
            errors: summary(&errors),
            notice,
            result,
            national_href,
            printed_on: format_wareki_date(today_jst(clock::now())),
        },
    )
}

/// Why there is nothing to show, when the query itself was fine.
fn notice_for(
    counts: &[YearCount],
    year: Option<i64>,
    definition: Option<&Definition>,
    fields: &[SurveyField],
    errors: &FieldErrors,
) -> Option<String> {
    if !errors.is_empty() {
        return None;
    }
    match (year, definition) {
        (None, _) if counts.is_empty() => Some(
            "まだ調査を発出していません。集計は、市町村の回答が承認されると表示されます。"
                .to_string(),
        ),
        (Some(y), None) => Some(format!("{}の調査はありません。", year_label(y))),
        (Some(_), Some(_)) if fields.is_empty() => {
            Some("この調査票には数を答える設問がないため、集計する項目がありません。".to_string())
        }
        _ => None,
    }
}

/// What the prefecture page shows: a 年度 of a definition family, and one count of it.
struct Shown<'a> {
    family: &'a str,
    /// The round the page was opened from (kept in the links), or empty.
    round_id: &'a str,
    year: i64,
    def: &'a Definition,
    /// The definition's count fields.
    fields: &'a [SurveyField],
    field: &'a SurveyField,
    counts: &'a [YearCount],
}

async fn prefecture_result(st: &AppState, shown: &Shown<'_>) -> Result<PrefectureResult, AppError> {
    let &Shown {
        family,
        round_id,
        year,
        def,
        fields,
        field,
        counts,
    } = shown;
    let pref = st.cfg.prefecture_code.as_str();
    // The trend covers every 年度 the family was asked in.
    let first = counts.iter().map(|c| c.fiscal_year).min().unwrap_or(year);
    let newest = counts.iter().map(|c| c.fiscal_year).max().unwrap_or(year);
    let values =
        results::field_values(&st.db, family, Some(pref), &field.key, first, newest).await?;
    let now_answers = one_each(surveys_store::approved(&st.db, family, year, Some(pref)).await?);
    let last_answers =
        one_each(surveys_store::approved(&st.db, family, year - 1, Some(pref)).await?);
    let asked = results::asked(&st.db, family, pref, year - 1, year).await?;
    let areas = geo::areas(&st.db, pref).await?;

    let by_year = reported(&values);
    let value_of =
        |y: i64, code6: &str| by_year.get(&y).and_then(|m| m.get(code6)).map(|(n, _)| *n);
    let asked_in = |y: i64| -> Vec<&AskedMunicipality> {
        asked.iter().filter(|a| a.fiscal_year == y).collect()
    };
    let (asked_now, asked_last) = (asked_in(year), asked_in(year - 1));
    let asked_total = asked_where(counts, year, |_| true);
    let last_asked_total = asked_where(counts, year - 1, |_| true);

    // The area of each municipality: the first by the areas' order, as elsewhere.
    let mut area_of_code6: HashMap<&str, &str> = HashMap::new();
    for a in &areas {
        for (code6, _) in &a.municipalities {
            area_of_code6
                .entry(code6.as_str())
                .or_insert(a.name.as_str());
        }
    }
    let area_of_code5: HashMap<String, String> = area_of_code6
        .iter()
        .filter_map(|(code6, name)| Some((code6.get(..5)?.to_string(), name.to_string())))
        .collect();

    let prefecture_figure = figure(
        sum_where(&by_year, year, |_| true),
        asked_total,
        sum_where(&by_year, year - 1, |_| true),
        last_asked_total,
    )
    .matched(&by_year, year, |_| true);
    let in_group = |code6: &str, group: Option<&str>| area_of_code6.get(code6).copied() == group;
    let mut groups: Vec<(String, Option<&str>)> = areas
        .iter()
        .map(|a| (a.name.clone(), Some(a.name.as_str())))
        .collect();
    if asked_now
        .iter()
        .any(|m| !area_of_code6.contains_key(m.code6.as_str()))
    {
        groups.push(("（圏域未設定）".to_string(), None));
    }
    let area_rows = groups
        .into_iter()
        .map(|(name, group)| AreaRow {
            name,
            figure: figure(
                sum_where(&by_year, year, |v| in_group(&v.code6, group)),
                asked_now
                    .iter()
                    .filter(|m| in_group(&m.code6, group))
                    .count() as i64,
                sum_where(&by_year, year - 1, |v| in_group(&v.code6, group)),
                asked_last
                    .iter()
                    .filter(|m| in_group(&m.code6, group))
                    .count() as i64,
            )
            .matched(&by_year, year, |v| in_group(&v.code6, group)),
        })
        .collect();

    let municipalities: Vec<MunicipalityRow> = asked_now
        .iter()
        .map(|m| MunicipalityRow {
            name: m.name.clone(),
            area: area_of_code6
                .get(m.code6.as_str())
                .map(|a| a.to_string())
                .unwrap_or_default(),
            value: value_of(year, &m.code6).map(fmt_count),
            last: fmt_value(value_of(year - 1, &m.code6)),
        })
        .collect();

    let map_svg = map::prefecture_map(pref).map(|m| {
        let values: Vec<(String, Option<f64>)> = asked_now
            .iter()
            .map(|a| (a.code5.clone(), value_of(year, &a.code6).map(|n| n as f64)))
            .collect();
        let area_of = |code5: &str| area_of_code5.get(code5).cloned();
        map::render(
            m,
            &Choropleth {
                id: "map",
                title: &format!("市町村別の{}（{}）", field.label, year_label(year)),
                unit: &field.unit,
                values: &values,
                area_of: Some(&area_of),
            },
        )
    });

    let now_totals = totals_of(fields, &now_answers);
    let last_totals = totals_of(fields, &last_answers);
    let year_text = year.to_string();
    let href = |key: &str| {
        format!(
            "/surveys/results?{}#map",
            query_string(&[("year", &year_text), ("field", key), ("round", round_id)])
        )
    };
    let sections = rollup(
        def,
        &now_answers,
        &YearTotals {
            totals: &now_totals,
            asked: asked_total,
        },
        &YearTotals {
            totals: &last_totals,
            asked: last_asked_total,
        },
        &href,
    );

    Ok(PrefectureResult {
        definition_title: def.title.clone(),
        year_label: year_label(year),
        year_short: short_year(year),
        last_year_short: short_year(year - 1),
        field_label: field.label.clone(),
        unit: field.unit.clone(),
        figure: prefecture_figure,
        areas: area_rows,
        map_svg,
        credit: map::CREDIT,
        municipalities,
        trend: trend(&by_year, counts, &field.label, &field.unit),
        sections,
    })
}

// ---------------------------------------------------------------------------------------------
// The national page

struct PrefectureRow {
    name: String,
    figure: FigureView,
}

struct NationalMunicipalityRow {
    prefecture: String,
    name: String,
    value: String,
    last: String,
}

struct NationalResult {
    definition_title: String,
    year_label: String,
    year_short: String,
    last_year_short: String,
    field_label: String,
    unit: String,
    figure: FigureView,
    prefectures: Vec<PrefectureRow>,
    map_svg: Option<String>,
    credit: &'static str,
    by_municipality: bool,
    municipalities: Vec<NationalMunicipalityRow>,
}

#[derive(Template)]
#[template(path = "survey_results/national.html")]
struct NationalPage {
    layout: Layout,
    picker: Picker,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    result: Option<NationalResult>,
    prefecture_href: String,
    printed_on: String,
}

async fn national_page(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    ctx.require_actor()?;
    let q = Query::parse(raw.as_deref());
    let pref = st.cfg.prefecture_code.clone();
    let counts = results::year_counts(&st.db, STANDARD_FAMILY, None).await?;
    let mut errors = FieldErrors::new();
    let year = resolve_year(&q, &counts, None, &mut errors);
    let by_municipality = match q.by.as_str() {
        "" | "prefecture" => false,
        "municipality" => true,
        _ => {
            errors.add("by", "地図の塗り分けは一覧から選んでください");
            false
        }
    };
    let definition = match year {
        Some(y) if errors.is_empty() => {
            results::definition_of_year(&st.db, STANDARD_FAMILY, y, &pref, true).await?
        }
        _ => None,
    };
    let fields = definition.as_ref().map(count_fields).unwrap_or_default();
    let field = if definition.is_some() {
        pick_field(&q, &fields, &mut errors)
    } else {
        None
    };
    let notice = notice_for(&counts, year, definition.as_ref(), &fields, &errors);
    let result = match (year, &definition, &field) {
        (Some(year), Some(def), Some(field)) if errors.is_empty() => {
            Some(national_result(&st, year, def, field, &counts, by_municipality).await?)
        }
        _ => None,
    };
    let picker = Picker {
        action: "/surveys/results/national",
        round: String::new(),
        years: year_choices(&counts, year),
        groups: definition
            .as_ref()
            .map(|d| {
                field_groups(
                    d,
                    &fields,
                    field.as_ref().map_or(q.field.as_str(), |f| f.key.as_str()),
                )
            })
            .unwrap_or_default(),
        by: vec![
            Choice::new("prefecture", "都道府県別", !by_municipality),
            Choice::new("municipality", "市区町村別", by_municipality),
        ],
        year_error: errors.get("year").map(str::to_string),
        field_error: errors.get("field").map(str::to_string),
        by_error: errors.get("by").map(str::to_string),
    };
    let prefecture_href = format!(
        "/surveys/results?{}",
        query_string(&[
            ("year", &year.map(|y| y.to_string()).unwrap_or_default()),
            ("field", field.as_ref().map_or("", |f| f.key.as_str())),
        ])
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &NationalPage {
            layout: Layout::new(&st, &ctx, "状況把握調査の全国集計"),
            picker,
            errors: summary(&errors),
            notice,
            result,
            prefecture_href,
            printed_on: format_wareki_date(today_jst(clock::now())),
        },
    )
}

async fn national_result(
    st: &AppState,
    year: i64,
    def: &Definition,
    field: &SurveyField,
    counts: &[YearCount],
    by_municipality: bool,
) -> Result<NationalResult, AppError> {
    // Only the 年度 shown and the one before: reading one field out of every answer of the
    // country is the cost of this page.
    let values =
        results::field_values(&st.db, STANDARD_FAMILY, None, &field.key, year - 1, year).await?;
    let prefectures = results::prefectures(&st.db).await?;
    let by_year = reported(&values);
    let prefecture_names: HashMap<&str, &str> = prefectures
        .iter()
        .map(|(code, name)| (code.as_str(), name.as_str()))
        .collect();

    let rows: Vec<PrefectureRow> = prefectures
        .iter()
        .map(|(code, name)| PrefectureRow {
            name: name.clone(),
            figure: figure(
                sum_where(&by_year, year, |v| v.prefecture_code == *code),
                asked_where(counts, year, |p| p == code),
                sum_where(&by_year, year - 1, |v| v.prefecture_code == *code),
                asked_where(counts, year - 1, |p| p == code),
            )
            .matched(&by_year, year, |v| v.prefecture_code == *code),
        })
        .collect();

    let now = by_year.get(&year);
    let map_values: Vec<(String, Option<f64>)> = if by_municipality {
        now.into_iter()
            .flat_map(|m| m.values())
            .map(|(n, v)| (v.code5.clone(), Some(*n as f64)))
            .collect()
    } else {
        prefectures
            .iter()
            .map(|(code, _)| {
                let s = sum_where(&by_year, year, |v| v.prefecture_code == *code);
                (code.clone(), s.value().map(|n| n as f64))
            })
            .collect()
    };
    let title = format!(
        "{}の{}（{}）",
        if by_municipality {
            "市区町村別"
        } else {
            "都道府県別"
        },
        field.label,
        year_label(year)
    );
    let map_svg = map::japan_map().map(|m| {
        map::render(
            m,
            &Choropleth {
                id: "map",
                title: &title,
                unit: &field.unit,
                values: &map_values,
                area_of: None,
            },
        )
    });

    let mut municipalities: Vec<NationalMunicipalityRow> = Vec::new();
    if by_municipality {
        let mut reported_now: Vec<&(u64, &FieldValue)> =
            now.into_iter().flat_map(|m| m.values()).collect();
        reported_now.sort_by(|a, b| a.1.code6.cmp(&b.1.code6));
        let last = by_year.get(&(year - 1));
        municipalities = reported_now
            .into_iter()
            .map(|(n, v)| NationalMunicipalityRow {
                prefecture: prefecture_names
                    .get(v.prefecture_code.as_str())
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                name: v.name.clone(),
                value: fmt_count(*n),
                last: fmt_value(last.and_then(|m| m.get(v.code6.as_str())).map(|(n, _)| *n)),
            })
            .collect();
    }

    Ok(NationalResult {
        definition_title: def.title.clone(),
        year_label: year_label(year),
        year_short: short_year(year),
        last_year_short: short_year(year - 1),
        field_label: field.label.clone(),
        unit: field.unit.clone(),
        figure: figure(
            sum_where(&by_year, year, |_| true),
            asked_where(counts, year, |_| true),
            sum_where(&by_year, year - 1, |_| true),
            asked_where(counts, year - 1, |_| true),
        )
        .matched(&by_year, year, |_| true),
        prefectures: rows,
        map_svg,
        credit: map::CREDIT,
        by_municipality,
        municipalities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_with_their_sign_and_share() {
        assert_eq!(change(Some(12), Some(9)), "+3（+33.3%）");
        assert_eq!(change(Some(8), Some(10)), "−2（−20.0%）");
        assert_eq!(change(Some(5), Some(5)), "±0（±0.0%）");
        assert_eq!(change(Some(5), Some(0)), "+5");
        assert_eq!(change(Some(5), None), DASH);
        assert_eq!(change(None, Some(5)), DASH);
    }

    #[test]
    fn counts_are_grouped_and_missing_figures_are_dashes() {
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_value(None), DASH);
        assert_eq!(completeness(2, 3), "2 / 3 市町村");
        let none = Sum::default();
        assert_eq!(none.value(), None);
        let mut zero = Sum::default();
        zero.add(0);
        assert_eq!(zero.value(), Some(0));
    }

    #[test]
    fn a_municipality_counts_once_a_year_with_its_newest_answer() {
        let v = |year: i64, code6: &str, value: Option<&str>| FieldValue {
            fiscal_year: year,
            prefecture_code: "03".into(),
            code6: code6.into(),
            code5: code6[..5].into(),
            name: String::new(),
            value: value.map(str::to_string),
        };
        let values = vec![
            v(2010, "032018", Some("５")),
            v(2010, "032018", Some("7")),
            v(2010, "032026", None),
            v(2010, "032034", Some("1,200")),
            v(2011, "032018", Some("abc")),
        ];
        let by_year = reported(&values);
        let s = sum_where(&by_year, 2010, |_| true);
        assert_eq!((s.sum, s.reporting), (1205, 2));
        assert_eq!(sum_where(&by_year, 2011, |_| true), Sum::default());
    }

    #[test]
    fn an_uneven_year_is_also_compared_like_for_like() {
        let v = |year: i64, code6: &str, value: &str| FieldValue {
            fiscal_year: year,
            prefecture_code: "03".into(),
            code6: code6.into(),
            code5: code6[..5].into(),
            name: String::new(),
            value: Some(value.into()),
        };
        let values = vec![
            v(2010, "032018", "10"),
            v(2010, "032026", "4"),
            v(2011, "032018", "12"),
            v(2011, "032026", "5"),
            v(2011, "032034", "3"),
        ];
        let by_year = reported(&values);
        let all = |_: &FieldValue| true;
        let f = figure(
            sum_where(&by_year, 2011, all),
            3,
            sum_where(&by_year, 2010, all),
            3,
        )
        .matched(&by_year, 2011, all);
        assert!(f.uneven);
        assert_eq!(f.change, "+6（+42.9%）");
        assert_eq!(f.matched, Some((2, "+3（+21.4%）".to_string())));
        // The same municipalities both years: nothing to add.
        let even = figure(
            sum_where(&by_year, 2011, |v| v.code6 != "032034"),
            3,
            sum_where(&by_year, 2010, all),
            3,
        )
        .matched(&by_year, 2011, |v| v.code6 != "032034");
        assert!(!even.uneven && even.matched.is_none());
    }
}
