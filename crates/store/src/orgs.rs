//! Organisations (機関): the prefectural office, the center, the training body, hospitals,
//! municipal offices, providers, nurseries and schools. Every user belongs to one.

use serde::Serialize;
use sqlx::Row;
use tsunagu_domain::policy::{Action, Actor};
use tsunagu_domain::roles::OrgKind;

use crate::audit::{self, AuditCtx, Event};
use crate::sql::{Owners, Where};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

#[derive(Debug, Clone, Serialize)]
pub struct Organisation {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub municipality_code6: Option<String>,
    pub municipality_name: Option<String>,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub retired_at: Option<String>,
}

impl Organisation {
    pub fn kind_label(&self) -> &'static str {
        OrgKind::from_code(&self.kind)
            .map(|k| k.label())
            .unwrap_or("その他")
    }
}

/// What a person enters for an organisation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrgInput {
    pub kind: String,
    pub name: String,
    pub municipality_code6: Option<String>,
    pub address: String,
    pub phone: String,
    pub email: String,
}

const SELECT: &str = "SELECT o.id, o.kind, o.name, o.municipality_code6, m.name AS municipality_name, o.address, o.phone, o.email, o.retired_at
    FROM organisations o LEFT JOIN municipalities m ON m.code6 = o.municipality_code6";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Organisation> {
    Ok(Organisation {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        municipality_code6: r.try_get("municipality_code6")?,
        municipality_name: r.try_get("municipality_name")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        retired_at: r.try_get("retired_at")?,
    })
}

/// Filters for the organisation list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: String,
    pub name_contains: String,
    pub include_retired: bool,
}

/// Organisations the actor may see, by kind and name.
pub async fn list(db: &Db, actor: &Actor, filter: &Filter) -> Result<Vec<Organisation>> {
    let mut w = Where::scoped(
        actor,
        Action::ViewOrganisations,
        Owners {
            organisation: Some("o.id"),
            ..Owners::CENTER_ONLY
        },
    );
    if w.allows_nothing() {
        return Ok(Vec::new());
    }
    if !filter.include_retired {
        w.raw("o.retired_at IS NULL");
    }
    if !filter.kind.is_empty() {
        w.and_text("o.kind = ?", filter.kind.clone());
    }
    if !filter.name_contains.is_empty() {
        w.and_text(
            "o.name LIKE ? ESCAPE '\\'",
            format!("%{}%", audit::escape_like(&filter.name_contains)),
        );
    }
    let sql = format!(
        "{SELECT} WHERE 1 = 1{} ORDER BY o.kind, o.municipality_code6, o.name",
        w.sql()
    );
    let rows = w.query(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Organisation> {
    let row = sqlx::query(&format!("{SELECT} WHERE o.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

/// The municipal office of a municipality, if one is registered.
pub async fn municipal_office(db: &Db, code6: &str) -> Result<Option<Organisation>> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE o.municipality_code6 = $1 AND o.kind = 'municipal_office' AND o.retired_at IS NULL ORDER BY o.name LIMIT 1"
    ))
    .bind(code6)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<Organisation>> {
    let row = sqlx::query(&format!("{SELECT} WHERE o.name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

const DUPLICATE_NAME: &str = "同じ名称の機関がすでに登録されています";

async fn check_municipality(tx: &mut Tx, input: &OrgInput) -> Result<()> {
    if let Some(code) = &input.municipality_code6 {
        let found: Option<String> =
            sqlx::query_scalar("SELECT code6 FROM municipalities WHERE code6 = $1")
                .bind(code)
                .fetch_optional(tx.conn())
                .await?;
        if found.is_none() {
            return Err(StoreError::Invalid(format!(
                "市町村コード {code} は登録されていません"
            )));
        }
    }
    Ok(())
}

pub async fn create(tx: &mut Tx, ctx: &AuditCtx, input: &OrgInput) -> Result<String> {
    check_municipality(tx, input).await?;
    let id = new_id();
    let now = clock::now_text();
    sqlx::query(
        "INSERT INTO organisations (id, kind, name, municipality_code6, address, phone, email, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(&input.kind)
    .bind(&input.name)
    .bind(input.municipality_code6.clone())
    .bind(&input.address)
    .bind(&input.phone)
    .bind(&input.email)
    .bind(&now)
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_NAME))?;
    audit::append(
        tx,
        ctx,
        Event::new("organisation.create", "organisation", &id).new_values(input),
    )
    .await?;
    Ok(id)
}

pub async fn update(tx: &mut Tx, ctx: &AuditCtx, id: &str, input: &OrgInput) -> Result<()> {
    check_municipality(tx, input).await?;
    let row = sqlx::query(&format!("{SELECT} WHERE o.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let o = from_row(&row)?;
    let old = OrgInput {
        kind: o.kind,
        name: o.name,
        municipality_code6: o.municipality_code6,
        address: o.address,
        phone: o.phone,
        email: o.email,
    };
    if &old == input {
        return Ok(());
    }
    sqlx::query(
        "UPDATE organisations SET kind = $1, name = $2, municipality_code6 = $3, address = $4, phone = $5, email = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(&input.kind)
    .bind(&input.name)
    .bind(input.municipality_code6.clone())
    .bind(&input.address)
    .bind(&input.phone)
    .bind(&input.email)
    .bind(clock::now_text())
    .bind(id)
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_NAME))?;
    audit::append(
        tx,
        ctx,
        Event::new("organisation.update", "organisation", id)
            .old(&old)
            .new_values(input),
    )
    .await?;
    Ok(())
}

/// Retires (or reinstates) an organisation. A retired organisation's users keep their history
/// but cannot sign in.
pub async fn set_retired(tx: &mut Tx, ctx: &AuditCtx, id: &str, retired: bool) -> Result<()> {
    let now = clock::now_text();
    let n = sqlx::query("UPDATE organisations SET retired_at = $1, updated_at = $2 WHERE id = $3")
        .bind(if retired { Some(now.clone()) } else { None })
        .bind(&now)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    if retired {
        sqlx::query("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE organisation_id = $1)")
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new(
            if retired {
                "organisation.retire"
            } else {
                "organisation.reinstate"
            },
            "organisation",
            id,
        ),
    )
    .await?;
    Ok(())
}
