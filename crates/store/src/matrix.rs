//! The role matrix (役割分担, 別表1) as configured for this deployment.

use serde::Serialize;
use sqlx::Row;
use tsunagu_domain::matrix::Mark;

use crate::audit::{self, AuditCtx, Event};
use crate::{Db, Result, StoreError, Tx, new_id};

#[derive(Debug, Clone, Serialize)]
pub struct Function {
    pub id: String,
    pub code: String,
    pub title: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Participant {
    pub id: String,
    pub label: String,
    pub organisation_id: Option<String>,
    pub organisation_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub function_id: String,
    pub participant_id: String,
    pub mark: Mark,
    pub note: String,
}

/// The whole matrix.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub functions: Vec<Function>,
    pub participants: Vec<Participant>,
    pub cells: Vec<Cell>,
}

impl Matrix {
    pub fn cell(&self, function_id: &str, participant_id: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.function_id == function_id && c.participant_id == participant_id)
    }

    /// The labels of the participants that lead the function `code` (for the pages of that
    /// function).
    pub fn leads(&self, code: &str) -> Vec<String> {
        let Some(f) = self.functions.iter().find(|f| f.code == code) else {
            return Vec::new();
        };
        self.participants
            .iter()
            .filter(|p| {
                self.cell(&f.id, &p.id)
                    .is_some_and(|c| c.mark == Mark::Lead)
            })
            .map(|p| p.label.clone())
            .collect()
    }
}

pub async fn load(db: &Db) -> Result<Matrix> {
    let functions = sqlx::query(
        "SELECT id, code, title, detail FROM matrix_functions ORDER BY sort_order, code",
    )
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(Function {
            id: r.try_get("id")?,
            code: r.try_get("code")?,
            title: r.try_get("title")?,
            detail: r.try_get("detail")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let participants = sqlx::query(
        "SELECT p.id, p.label, p.organisation_id, o.name AS organisation_name FROM matrix_participants p LEFT JOIN organisations o ON o.id = p.organisation_id ORDER BY p.sort_order, p.label",
    )
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(Participant {
            id: r.try_get("id")?,
            label: r.try_get("label")?,
            organisation_id: r.try_get("organisation_id")?,
            organisation_name: r.try_get("organisation_name")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let cells = sqlx::query("SELECT function_id, participant_id, mark, note FROM matrix_cells")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            let mark: String = r.try_get("mark")?;
            Ok(Cell {
                function_id: r.try_get("function_id")?,
                participant_id: r.try_get("participant_id")?,
                mark: Mark::from_code(&mark).unwrap_or(Mark::None),
                note: r.try_get("note")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Matrix {
        functions,
        participants,
        cells,
    })
}

/// Saves the cells that changed, one audit entry per changed cell with old and new values.
pub async fn save_cells(
    tx: &mut Tx,
    ctx: &AuditCtx,
    before: &Matrix,
    cells: &[Cell],
) -> Result<usize> {
    let mut changed = 0;
    for c in cells {
        if !before.functions.iter().any(|f| f.id == c.function_id)
            || !before.participants.iter().any(|p| p.id == c.participant_id)
        {
            return Err(StoreError::Invalid(
                "表が他の人によって変更されました。開き直してください".into(),
            ));
        }
        let old = before.cell(&c.function_id, &c.participant_id);
        let old_mark = old.map(|o| o.mark).unwrap_or(Mark::None);
        let old_note = old.map(|o| o.note.as_str()).unwrap_or("");
        if old_mark == c.mark && old_note == c.note {
            continue;
        }
        sqlx::query(
            "INSERT INTO matrix_cells (function_id, participant_id, mark, note) VALUES ($1, $2, $3, $4)
             ON CONFLICT (function_id, participant_id) DO UPDATE SET mark = excluded.mark, note = excluded.note",
        )
        .bind(&c.function_id)
        .bind(&c.participant_id)
        .bind(c.mark.code())
        .bind(&c.note)
        .execute(tx.conn())
        .await?;
        audit::append(
            tx,
            ctx,
            Event::new(
                "matrix.update",
                "matrix_cell",
                &format!("{}:{}", c.function_id, c.participant_id),
            )
            .old(&serde_json::json!({ "mark": old_mark.symbol(), "note": old_note }))
            .new_values(&serde_json::json!({ "mark": c.mark.symbol(), "note": c.note })),
        )
        .await?;
        changed += 1;
    }
    Ok(changed)
}

/// Adds a participating body (a column).
pub async fn add_participant(
    tx: &mut Tx,
    ctx: &AuditCtx,
    label: &str,
    organisation_id: Option<&str>,
) -> Result<String> {
    let id = new_id();
    let next: Option<i64> = sqlx::query_scalar("SELECT MAX(sort_order) FROM matrix_participants")
        .fetch_one(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO matrix_participants (id, label, organisation_id, sort_order) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(label)
    .bind(organisation_id.map(str::to_string))
    .bind(next.unwrap_or(0) + 1)
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as("同じ名前の参加機関がすでにあります"))?;
    audit::append(
        tx,
        ctx,
        Event::new("matrix.participant_add", "matrix_participant", &id)
            .new_values(&serde_json::json!({ "label": label, "organisation_id": organisation_id })),
    )
    .await?;
    Ok(id)
}

/// Renames a participating body or links it to an organisation.
pub async fn update_participant(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    label: &str,
    organisation_id: Option<&str>,
) -> Result<()> {
    let row = sqlx::query("SELECT label, organisation_id FROM matrix_participants WHERE id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let old_label: String = row.try_get("label")?;
    let old_org: Option<String> = row.try_get("organisation_id")?;
    sqlx::query("UPDATE matrix_participants SET label = $1, organisation_id = $2 WHERE id = $3")
        .bind(label)
        .bind(organisation_id.map(str::to_string))
        .bind(id)
        .execute(tx.conn())
        .await
        .map_err(|e| StoreError::from(e).unique_as("同じ名前の参加機関がすでにあります"))?;
    audit::append(
        tx,
        ctx,
        Event::new("matrix.participant_update", "matrix_participant", id)
            .old(&serde_json::json!({ "label": old_label, "organisation_id": old_org }))
            .new_values(&serde_json::json!({ "label": label, "organisation_id": organisation_id })),
    )
    .await?;
    Ok(())
}

/// Removes a participating body and its cells.
pub async fn remove_participant(tx: &mut Tx, ctx: &AuditCtx, id: &str) -> Result<()> {
    let label: Option<String> =
        sqlx::query_scalar("SELECT label FROM matrix_participants WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let label = label.ok_or(StoreError::NotFound)?;
    sqlx::query("DELETE FROM matrix_participants WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::append(
        tx,
        ctx,
        Event::new("matrix.participant_remove", "matrix_participant", id)
            .old(&serde_json::json!({ "label": label })),
    )
    .await?;
    Ok(())
}
