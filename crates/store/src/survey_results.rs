//! The roll-up of the regional situation survey (状況把握調査の集計): how many municipalities
//! were asked and approved per 年度, the definition a 年度 was asked with, and one field's
//! approved values over all 年度.
//!
//! Figures are read live from the approved responses, so they change the moment a response is
//! approved. A trend needs one field of every 年度: the database picks it out of the answers'
//! JSON, so the page does not parse every answer of every year. Picking it out still reads each
//! answer, so the national figures ask only for the 年度 they show.

use sqlx::Row;
use tsunagu_domain::survey::Definition;

use crate::{Backend, Db, Result, StoreError};

/// The condition on the round's prefecture, bound as parameter `n`; none for the whole
/// country. Written out rather than as `($n = '' OR …)`, which keeps SQLite from using the index
/// on the prefecture and makes it read every prefecture's answers.
fn in_prefecture(prefecture_code: Option<&str>, n: u8) -> String {
    match prefecture_code {
        Some(_) => format!("AND r.prefecture_code = ${n}"),
        None => String::new(),
    }
}

/// How many municipalities were asked, and how many have an approved response, in one 年度 and
/// prefecture (回答状況).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCount {
    pub fiscal_year: i64,
    pub prefecture_code: String,
    pub asked: i64,
    pub approved: i64,
}

/// Every 年度 and prefecture with a round of the family, newest 年度 first. `prefecture_code`
/// None means the whole country.
pub async fn year_counts(
    db: &Db,
    family: &str,
    prefecture_code: Option<&str>,
) -> Result<Vec<YearCount>> {
    let sql = format!(
        "SELECT r.fiscal_year, r.prefecture_code,
            COUNT(DISTINCT s.municipality_code6) AS asked,
            COUNT(DISTINCT CASE WHEN s.status = 'approved' THEN s.municipality_code6 END) AS approved
         FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id
         JOIN survey_responses s ON s.round_id = r.id
         WHERE d.family = $1 {}
         GROUP BY r.fiscal_year, r.prefecture_code
         ORDER BY r.fiscal_year DESC, r.prefecture_code",
        in_prefecture(prefecture_code, 2)
    );
    let mut query = sqlx::query(&sql).bind(family);
    if let Some(p) = prefecture_code {
        query = query.bind(p);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(YearCount {
                fiscal_year: r.try_get("fiscal_year")?,
                prefecture_code: r.try_get("prefecture_code")?,
                asked: r.try_get("asked")?,
                approved: r.try_get("approved")?,
            })
        })
        .collect()
}

/// A municipality asked to respond in a 年度.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedMunicipality {
    pub fiscal_year: i64,
    pub code6: String,
    pub code5: String,
    pub name: String,
}

/// The municipalities of the prefecture asked in the family's rounds of the 年度 `from` to
/// `to`, by 年度 and code.
pub async fn asked(
    db: &Db,
    family: &str,
    prefecture_code: &str,
    from: i64,
    to: i64,
) -> Result<Vec<AskedMunicipality>> {
    let rows = sqlx::query(
        "SELECT DISTINCT r.fiscal_year, m.code6, m.code5, m.name
         FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id
         JOIN survey_responses s ON s.round_id = r.id JOIN municipalities m ON m.code6 = s.municipality_code6
         WHERE d.family = $1 AND r.prefecture_code = $2 AND r.fiscal_year BETWEEN $3 AND $4
         ORDER BY r.fiscal_year, m.code6",
    )
    .bind(family)
    .bind(prefecture_code)
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AskedMunicipality {
                fiscal_year: r.try_get("fiscal_year")?,
                code6: r.try_get("code6")?,
                code5: r.try_get("code5")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

/// The definition the family was asked with in a 年度: that of the newest round of the
/// prefecture, or with `elsewhere`, of any prefecture when it has none (for national figures).
pub async fn definition_of_year(
    db: &Db,
    family: &str,
    fiscal_year: i64,
    prefecture_code: &str,
    elsewhere: bool,
) -> Result<Option<Definition>> {
    let body: Option<String> = sqlx::query_scalar(
        "SELECT d.body FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id
         WHERE d.family = $1 AND r.fiscal_year = $2 AND (r.prefecture_code = $3 OR $4 = 1)
         ORDER BY CASE WHEN r.prefecture_code = $3 THEN 0 ELSE 1 END, r.created_at DESC, d.version DESC
         LIMIT 1",
    )
    .bind(family)
    .bind(fiscal_year)
    .bind(prefecture_code)
    .bind(i64::from(elsewhere))
    .fetch_optional(db.pool())
    .await?;
    body.map(|b| {
        serde_json::from_str(&b)
            .map_err(|e| StoreError::Other(format!("survey definition is not readable: {e}")))
    })
    .transpose()
}

/// One municipality's approved answer to one field in a 年度: the text as entered, None when
/// left blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    pub fiscal_year: i64,
    pub prefecture_code: String,
    pub code6: String,
    pub code5: String,
    pub name: String,
    pub value: Option<String>,
}

/// The approved answers to the field `key` in the 年度 `from` to `to` of the family, by 年度 and
/// municipality. A municipality approved in two rounds of one 年度 comes twice, the newer
/// round first. `prefecture_code` None means the whole country.
pub async fn field_values(
    db: &Db,
    family: &str,
    prefecture_code: Option<&str>,
    key: &str,
    from: i64,
    to: i64,
) -> Result<Vec<FieldValue>> {
    // Field keys are made of these (see the survey definition's key check); anything else
    // cannot be a field, and would not be safe inside a JSON path.
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    {
        return Err(StoreError::Invalid(format!("項目「{key}」はありません")));
    }
    let (extract, lookup) = match db.backend() {
        Backend::Sqlite => ("json_extract(s.answers, $2)", format!("$.\"{key}\"")),
        Backend::Postgres => (
            "(CAST(s.answers AS json) ->> CAST($2 AS TEXT))",
            key.to_string(),
        ),
    };
    let sql = format!(
        "SELECT r.fiscal_year, r.prefecture_code, m.code6, m.code5, m.name, {extract} AS value
         FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id
         JOIN survey_responses s ON s.round_id = r.id JOIN municipalities m ON m.code6 = s.municipality_code6
         WHERE d.family = $1 AND s.status = 'approved' AND r.fiscal_year BETWEEN $3 AND $4 {}
         ORDER BY r.fiscal_year, m.code6, r.created_at DESC",
        in_prefecture(prefecture_code, 5)
    );
    let mut query = sqlx::query(&sql)
        .bind(family)
        .bind(lookup)
        .bind(from)
        .bind(to);
    if let Some(p) = prefecture_code {
        query = query.bind(p);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(FieldValue {
                fiscal_year: r.try_get("fiscal_year")?,
                prefecture_code: r.try_get("prefecture_code")?,
                code6: r.try_get("code6")?,
                code5: r.try_get("code5")?,
                name: r.try_get("name")?,
                value: r.try_get("value")?,
            })
        })
        .collect()
}

/// Every prefecture as (2-digit code, name), by code.
pub async fn prefectures(db: &Db) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT code, name FROM prefectures ORDER BY code")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
        .collect()
}
