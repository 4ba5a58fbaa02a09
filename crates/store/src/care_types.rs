//! The care-type code list (医療的ケアの種別) as configured: seeded from the national scoring
//! sheet and corrected by administrators.

use serde::Serialize;
use sqlx::Row;
use tsunagu_domain::care::SEED;

use crate::audit::{self, AuditCtx, Event};
use crate::{Db, Result, StoreError, Tx, clock};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CareType {
    pub code: String,
    pub number: String,
    pub name: String,
    pub base_score: i64,
    pub supervision_scores: String,
    pub power_dependent: bool,
    pub unconfirmed: bool,
    pub sort_order: i64,
    pub retired: bool,
}

/// What an administrator enters for a care type.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CareTypeInput {
    pub number: String,
    pub name: String,
    pub base_score: i64,
    pub supervision_scores: String,
    pub power_dependent: bool,
    pub unconfirmed: bool,
    pub sort_order: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<CareType> {
    let power: i64 = r.try_get("power_dependent")?;
    let unconfirmed: i64 = r.try_get("unconfirmed")?;
    let retired: Option<String> = r.try_get("retired_at")?;
    Ok(CareType {
        code: r.try_get("code")?,
        number: r.try_get("number")?,
        name: r.try_get("name")?,
        base_score: r.try_get("base_score")?,
        supervision_scores: r.try_get("supervision_scores")?,
        power_dependent: power != 0,
        unconfirmed: unconfirmed != 0,
        sort_order: r.try_get("sort_order")?,
        retired: retired.is_some(),
    })
}

const SELECT: &str = "SELECT code, number, name, base_score, supervision_scores, power_dependent, unconfirmed, sort_order, retired_at FROM care_types";

/// Loads the seed when the list is empty.
pub async fn seed_if_empty(db: &Db) -> Result<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM care_types")
        .fetch_one(db.pool())
        .await?;
    if n > 0 {
        return Ok(());
    }
    let now = clock::now_text();
    let mut tx = db.begin().await?;
    for (i, s) in SEED.iter().enumerate() {
        sqlx::query(
            "INSERT INTO care_types (code, number, name, base_score, supervision_scores, power_dependent, unconfirmed, sort_order, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.code)
        .bind(s.number)
        .bind(s.name)
        .bind(s.base_score)
        .bind(s.supervision_scores)
        .bind(i64::from(s.power_dependent))
        .bind(i64::from(s.unconfirmed))
        .bind((i as i64 + 1) * 10)
        .bind(&now)
        .execute(tx.conn())
        .await?;
    }
    audit::append(
        &mut tx,
        &AuditCtx::system("setup"),
        Event::new("care_type.seed", "care_type", "").detail(format!(
            "{} care types loaded from the national scoring sheet",
            SEED.len()
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The list in sheet order; retired ones only when asked.
pub async fn list(db: &Db, include_retired: bool) -> Result<Vec<CareType>> {
    let sql = format!(
        "{SELECT} {} ORDER BY sort_order, code",
        if include_retired {
            ""
        } else {
            "WHERE retired_at IS NULL"
        }
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, code: &str) -> Result<CareType> {
    let row = sqlx::query(&format!("{SELECT} WHERE code = $1"))
        .bind(code)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

pub async fn add(tx: &mut Tx, ctx: &AuditCtx, code: &str, input: &CareTypeInput) -> Result<()> {
    sqlx::query(
        "INSERT INTO care_types (code, number, name, base_score, supervision_scores, power_dependent, unconfirmed, sort_order, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(code)
    .bind(&input.number)
    .bind(&input.name)
    .bind(input.base_score)
    .bind(&input.supervision_scores)
    .bind(i64::from(input.power_dependent))
    .bind(i64::from(input.unconfirmed))
    .bind(input.sort_order)
    .bind(clock::now_text())
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as("このコードはすでに使われています"))?;
    audit::append(
        tx,
        ctx,
        Event::new("care_type.create", "care_type", code).new_values(input),
    )
    .await?;
    Ok(())
}

pub async fn update(tx: &mut Tx, ctx: &AuditCtx, code: &str, input: &CareTypeInput) -> Result<()> {
    let row = sqlx::query(&format!("{SELECT} WHERE code = $1"))
        .bind(code)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let old = from_row(&row)?;
    let old_input = CareTypeInput {
        number: old.number,
        name: old.name,
        base_score: old.base_score,
        supervision_scores: old.supervision_scores,
        power_dependent: old.power_dependent,
        unconfirmed: old.unconfirmed,
        sort_order: old.sort_order,
    };
    if &old_input == input {
        return Ok(());
    }
    sqlx::query(
        "UPDATE care_types SET number = $1, name = $2, base_score = $3, supervision_scores = $4, power_dependent = $5, unconfirmed = $6, sort_order = $7, updated_at = $8 WHERE code = $9",
    )
    .bind(&input.number)
    .bind(&input.name)
    .bind(input.base_score)
    .bind(&input.supervision_scores)
    .bind(i64::from(input.power_dependent))
    .bind(i64::from(input.unconfirmed))
    .bind(input.sort_order)
    .bind(clock::now_text())
    .bind(code)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("care_type.update", "care_type", code)
            .old(&old_input)
            .new_values(input),
    )
    .await?;
    Ok(())
}

/// Retires (or reinstates) a care type: records that use it keep it, new ones cannot pick it.
pub async fn set_retired(tx: &mut Tx, ctx: &AuditCtx, code: &str, retired: bool) -> Result<()> {
    let now = clock::now_text();
    let n = sqlx::query("UPDATE care_types SET retired_at = $1, updated_at = $2 WHERE code = $3")
        .bind(if retired { Some(now.clone()) } else { None })
        .bind(&now)
        .bind(code)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(
        tx,
        ctx,
        Event::new(
            if retired {
                "care_type.retire"
            } else {
                "care_type.reinstate"
            },
            "care_type",
            code,
        ),
    )
    .await?;
    Ok(())
}
