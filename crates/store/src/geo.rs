//! Geography (地域): prefectures, municipalities (市町村, with wards of designated cities) and
//! areas (圏域) that group a prefecture's municipalities.

use serde::Serialize;
use sqlx::Row;

use crate::audit::{self, AuditCtx, Event};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Municipality {
    pub code6: String,
    pub code5: String,
    pub prefecture_code: String,
    pub kind: String,
    pub name: String,
    pub kana: String,
    pub parent_code6: Option<String>,
    pub retired_on: Option<String>,
    pub note: String,
    pub area_name: Option<String>,
}

impl Municipality {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "ward" => "区",
            _ => "市町村",
        }
    }
}

fn municipality_from_row(r: &sqlx::any::AnyRow) -> Result<Municipality> {
    Ok(Municipality {
        code6: r.try_get("code6")?,
        code5: r.try_get("code5")?,
        prefecture_code: r.try_get("prefecture_code")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        kana: r.try_get("kana")?,
        parent_code6: r.try_get("parent_code6")?,
        retired_on: r.try_get("retired_on")?,
        note: r.try_get("note")?,
        area_name: r.try_get("area_name")?,
    })
}

const MUNICIPALITY_SELECT: &str = "SELECT m.code6, m.code5, m.prefecture_code, m.kind, m.name, m.kana, m.parent_code6, m.retired_on, m.note,
    (SELECT a.name FROM area_municipalities am JOIN areas a ON a.id = am.area_id WHERE am.municipality_code6 = m.code6 ORDER BY a.sort_order LIMIT 1) AS area_name
    FROM municipalities m";

/// The municipalities of a prefecture, by code. `include_retired` adds merged-away ones.
pub async fn municipalities(
    db: &Db,
    prefecture_code: &str,
    include_retired: bool,
) -> Result<Vec<Municipality>> {
    let sql = format!(
        "{MUNICIPALITY_SELECT} WHERE m.prefecture_code = $1 {} ORDER BY m.code6",
        if include_retired {
            ""
        } else {
            "AND m.retired_on IS NULL"
        }
    );
    let rows = sqlx::query(&sql)
        .bind(prefecture_code)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(municipality_from_row).collect()
}

pub async fn municipality(db: &Db, code6: &str) -> Result<Municipality> {
    let sql = format!("{MUNICIPALITY_SELECT} WHERE m.code6 = $1");
    let row = sqlx::query(&sql)
        .bind(code6)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    municipality_from_row(&row)
}

/// What an administrator enters for a municipality.
#[derive(Debug, Clone, Serialize)]
pub struct MunicipalityInput {
    pub name: String,
    pub kana: String,
    pub retired_on: Option<String>,
    pub note: String,
}

/// Adds a municipality (for example one created by a merger).
pub async fn add_municipality(
    tx: &mut Tx,
    ctx: &AuditCtx,
    code: &tsunagu_domain::geo::MunicipalityCode,
    input: &MunicipalityInput,
) -> Result<()> {
    let pref: Option<String> = sqlx::query_scalar("SELECT code FROM prefectures WHERE code = $1")
        .bind(code.prefecture_code())
        .fetch_optional(tx.conn())
        .await?;
    if pref.is_none() {
        return Err(StoreError::Invalid(
            "市町村コードの上2桁が都道府県コードではありません".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO municipalities (code6, code5, prefecture_code, kind, name, kana, parent_code6, retired_on, note, updated_at)
         VALUES ($1, $2, $3, 'municipality', $4, $5, NULL, $6, $7, $8)",
    )
    .bind(code.code6())
    .bind(code.code5())
    .bind(code.prefecture_code())
    .bind(&input.name)
    .bind(&input.kana)
    .bind(input.retired_on.clone())
    .bind(&input.note)
    .bind(clock::now_text())
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as("この市町村コードはすでに登録されています"))?;
    audit::append(
        tx,
        ctx,
        Event::new("municipality.create", "municipality", code.code6()).new_values(input),
    )
    .await?;
    Ok(())
}

/// Renames or retires a municipality.
pub async fn update_municipality(
    tx: &mut Tx,
    ctx: &AuditCtx,
    code6: &str,
    input: &MunicipalityInput,
) -> Result<()> {
    let row =
        sqlx::query("SELECT name, kana, retired_on, note FROM municipalities WHERE code6 = $1")
            .bind(code6)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
    let old = MunicipalityInput {
        name: row.try_get("name")?,
        kana: row.try_get("kana")?,
        retired_on: row.try_get("retired_on")?,
        note: row.try_get("note")?,
    };
    sqlx::query(
        "UPDATE municipalities SET name = $1, kana = $2, retired_on = $3, note = $4, updated_at = $5 WHERE code6 = $6",
    )
    .bind(&input.name)
    .bind(&input.kana)
    .bind(input.retired_on.clone())
    .bind(&input.note)
    .bind(clock::now_text())
    .bind(code6)
    .execute(tx.conn())
    .await?;
    if old.name != input.name {
        // The directory finds resources by their municipality's name.
        crate::resources::refresh_search_texts_in_municipality(tx, code6).await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new("municipality.update", "municipality", code6)
            .old(&old)
            .new_values(input),
    )
    .await?;
    Ok(())
}

/// An area (圏域) and its municipalities.
#[derive(Debug, Clone, Serialize)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub sort_order: i64,
    pub municipalities: Vec<(String, String)>,
}

impl Area {
    pub fn municipality_names(&self) -> String {
        self.municipalities
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }

    pub fn has(&self, code6: &str) -> bool {
        self.municipalities.iter().any(|(c, _)| c == code6)
    }
}

pub async fn areas(db: &Db, prefecture_code: &str) -> Result<Vec<Area>> {
    let rows = sqlx::query(
        "SELECT id, name, kind, sort_order FROM areas WHERE prefecture_code = $1 ORDER BY sort_order, name",
    )
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    let members = sqlx::query(
        "SELECT am.area_id, m.code6, m.name FROM area_municipalities am JOIN municipalities m ON m.code6 = am.municipality_code6 JOIN areas a ON a.id = am.area_id WHERE a.prefecture_code = $1 ORDER BY m.code6",
    )
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let mut list = Vec::new();
        for m in &members {
            let area_id: String = m.try_get("area_id")?;
            if area_id == id {
                list.push((m.try_get("code6")?, m.try_get("name")?));
            }
        }
        out.push(Area {
            id,
            name: r.try_get("name")?,
            kind: r.try_get("kind")?,
            sort_order: r.try_get("sort_order")?,
            municipalities: list,
        });
    }
    Ok(out)
}

pub async fn area(db: &Db, prefecture_code: &str, id: &str) -> Result<Area> {
    areas(db, prefecture_code)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(StoreError::NotFound)
}

/// What an officer enters for an area.
#[derive(Debug, Clone, Serialize)]
pub struct AreaInput {
    pub name: String,
    pub kind: String,
    pub sort_order: i64,
    pub municipality_codes: Vec<String>,
}

/// Creates (id None) or updates an area with its municipalities; returns its id.
pub async fn save_area(
    tx: &mut Tx,
    ctx: &AuditCtx,
    prefecture_code: &str,
    id: Option<&str>,
    input: &AreaInput,
) -> Result<String> {
    for code in &input.municipality_codes {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT code6 FROM municipalities WHERE code6 = $1 AND prefecture_code = $2",
        )
        .bind(code)
        .bind(prefecture_code)
        .fetch_optional(tx.conn())
        .await?;
        if found.is_none() {
            return Err(StoreError::Invalid(format!(
                "市町村コード {code} はこの都道府県の市町村ではありません"
            )));
        }
    }
    let now = clock::now_text();
    let (area_id, old) = match id {
        Some(id) => {
            let row = sqlx::query(
                "SELECT name, kind, sort_order FROM areas WHERE id = $1 AND prefecture_code = $2",
            )
            .bind(id)
            .bind(prefecture_code)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
            let codes: Vec<String> = sqlx::query_scalar(
                "SELECT municipality_code6 FROM area_municipalities WHERE area_id = $1 ORDER BY municipality_code6",
            )
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
            let old = AreaInput {
                name: row.try_get("name")?,
                kind: row.try_get("kind")?,
                sort_order: row.try_get("sort_order")?,
                municipality_codes: codes,
            };
            sqlx::query(
                "UPDATE areas SET name = $1, kind = $2, sort_order = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(&input.name)
            .bind(&input.kind)
            .bind(input.sort_order)
            .bind(&now)
            .bind(id)
            .execute(tx.conn())
            .await
            .map_err(|e| StoreError::from(e).unique_as("同じ名前の圏域がすでにあります"))?;
            sqlx::query("DELETE FROM area_municipalities WHERE area_id = $1")
                .bind(id)
                .execute(tx.conn())
                .await?;
            (id.to_string(), Some(old))
        }
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO areas (id, prefecture_code, name, kind, sort_order, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&id)
            .bind(prefecture_code)
            .bind(&input.name)
            .bind(&input.kind)
            .bind(input.sort_order)
            .bind(&now)
            .execute(tx.conn())
            .await
            .map_err(|e| StoreError::from(e).unique_as("同じ名前の圏域がすでにあります"))?;
            (id, None)
        }
    };
    for code in &input.municipality_codes {
        sqlx::query(
            "INSERT INTO area_municipalities (area_id, municipality_code6) VALUES ($1, $2)",
        )
        .bind(&area_id)
        .bind(code)
        .execute(tx.conn())
        .await?;
    }
    let mut event = Event::new(
        if old.is_some() {
            "area.update"
        } else {
            "area.create"
        },
        "area",
        &area_id,
    )
    .new_values(input);
    if let Some(old) = &old {
        event = event.old(old);
    }
    audit::append(tx, ctx, event).await?;
    Ok(area_id)
}

/// Deletes an area (its municipalities stay).
pub async fn delete_area(
    tx: &mut Tx,
    ctx: &AuditCtx,
    prefecture_code: &str,
    id: &str,
) -> Result<()> {
    let row = sqlx::query("SELECT name FROM areas WHERE id = $1 AND prefecture_code = $2")
        .bind(id)
        .bind(prefecture_code)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let name: String = row.try_get("name")?;
    sqlx::query("DELETE FROM areas WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::append(
        tx,
        ctx,
        Event::new("area.delete", "area", id).old(&serde_json::json!({ "name": name })),
    )
    .await?;
    Ok(())
}
