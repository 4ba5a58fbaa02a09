//! What the survey definition editor (調査票の管理) needs beyond saving: the versions of one
//! definition, the rounds that use a version, and retiring a definition so that no new round
//! can be issued with it.

use sqlx::Row;

use crate::audit::{self, AuditCtx, Event};
use crate::surveys::{DefinitionSummary, STANDARD_FAMILY};
use crate::{Db, Result, StoreError, Tx};

/// One version of a definition (版), for the version list.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub rounds: i64,
    pub updated_at: String,
    pub retired: bool,
}

/// Every version of the definition `family`, oldest first.
pub async fn versions(db: &Db, prefecture_code: &str, family: &str) -> Result<Vec<Version>> {
    let rows = sqlx::query(
        "SELECT d.id, d.version, d.title, d.updated_at, d.retired,
            (SELECT COUNT(*) FROM survey_rounds r WHERE r.definition_id = d.id) AS rounds
         FROM survey_definitions d
         WHERE d.prefecture_code = $1 AND d.family = $2
         ORDER BY d.version",
    )
    .bind(prefecture_code)
    .bind(family)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Version {
                id: r.try_get("id")?,
                version: r.try_get("version")?,
                title: r.try_get("title")?,
                rounds: r.try_get("rounds")?,
                updated_at: r.try_get("updated_at")?,
                retired: r.try_get::<i64, _>("retired")? != 0,
            })
        })
        .collect()
}

/// The newest version of each retired definition, so that it can be put back into use.
pub async fn retired(db: &Db, prefecture_code: &str) -> Result<Vec<DefinitionSummary>> {
    crate::surveys::newest_versions(db, prefecture_code, true).await
}

/// A round issued with a version, as named in the definition view.
#[derive(Debug, Clone)]
pub struct RoundUse {
    pub id: String,
    pub title: String,
    pub fiscal_year: i64,
}

/// The rounds issued with the version `definition_id`, newest 年度 first.
pub async fn rounds_using(
    db: &Db,
    prefecture_code: &str,
    definition_id: &str,
) -> Result<Vec<RoundUse>> {
    let rows = sqlx::query(
        "SELECT id, title, fiscal_year FROM survey_rounds
         WHERE definition_id = $1 AND prefecture_code = $2
         ORDER BY fiscal_year DESC, created_at DESC",
    )
    .bind(definition_id)
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RoundUse {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                fiscal_year: r.try_get("fiscal_year")?,
            })
        })
        .collect()
}

/// Retires every version of `family` (no new round can be issued with it; rounds already
/// issued keep it), or puts it back into use. The standard definition is never retired: it is
/// what makes figures comparable between prefectures and years.
pub async fn set_retired(
    tx: &mut Tx,
    ctx: &AuditCtx,
    prefecture_code: &str,
    family: &str,
    retired: bool,
) -> Result<()> {
    if retired && family == STANDARD_FAMILY {
        return Err(StoreError::Invalid(
            "標準の調査票は使用を終了できません".into(),
        ));
    }
    let newest = sqlx::query(
        "SELECT id, title, version, retired FROM survey_definitions
         WHERE prefecture_code = $1 AND family = $2
         ORDER BY version DESC",
    )
    .bind(prefecture_code)
    .bind(family)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    let id: String = newest.try_get("id")?;
    let title: String = newest.try_get("title")?;
    let version: i64 = newest.try_get("version")?;
    let was = newest.try_get::<i64, _>("retired")? != 0;
    if was == retired {
        return Ok(());
    }
    sqlx::query(
        "UPDATE survey_definitions SET retired = $1 WHERE prefecture_code = $2 AND family = $3",
    )
    .bind(i64::from(retired))
    .bind(prefecture_code)
    .bind(family)
    .execute(tx.conn())
    .await?;
    let action = if retired {
        "survey_definition.retire"
    } else {
        "survey_definition.reinstate"
    };
    audit::append(
        tx,
        ctx,
        Event::new(action, "survey_definition", &id)
            .old(&serde_json::json!({ "retired": was }))
            .new_values(&serde_json::json!({ "retired": retired }))
            .detail(format!("{title} 第{version}版")),
    )
    .await?;
    Ok(())
}
