//! The resource directory (社会資源) after Open Referral HSDS 3.0: a provider organisation
//! offers a service at a location, for service areas (municipalities), with contacts, hours,
//! eligibility, fees, the kinds of medical care it can take (医療的ケアの種別, with a note per
//! kind), capacity and availability (空き状況). Municipal consultation windows (市町村相談窓口)
//! are resources of a seeded category.
//!
//! Every change is written with an audit entry holding the old and new values; the change
//! history shown on a resource is read from the audit log, not kept separately.
//!
//! For importers: [`save`] creates (`id: None`) or updates one resource from a
//! [`ResourceInput`], [`find_by_external_id`] / [`id_by_external_id`] find the resource a file
//! row stands for, [`validate`] checks an input without IO, and [`category_by_code`] /
//! [`category_by_name`] resolve categories.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;
use time::Date;
use time::macros::format_description;
use tsunagu_domain::policy::{Action, Actor, Target, can};
use tsunagu_domain::text::{fold_width_str, normalize_for_search};
use tsunagu_domain::validation::{
    FieldErrors, optional_email, optional_phone, optional_text, required_text,
};
use tsunagu_domain::wareki::{format_jst_datetime, format_wareki_date, today_jst};

use crate::audit::{self, AuditCtx, Event};
use crate::search_index::{self, Indexed};
use crate::sql::{Bind, Where};
use crate::{Backend, Db, Result, StoreError, Tx, clock, new_id};

/// Results per page of a search.
pub const PAGE_SIZE: i64 = 20;

/// The most rows a printable list shows at once.
pub const PRINT_LIMIT: i64 = 1000;

/// The code of the seeded category of municipal consultation windows.
pub const WINDOW_CATEGORY: &str = "municipal_window";

/// The seeded categories (code, name), in display order. Administrators rename, reorder, add
/// and retire them afterwards.
pub const SEED_CATEGORIES: [(&str, &str); 19] = [
    ("home_nursing", "訪問看護"),
    ("home_medical", "訪問診療"),
    ("home_rehab", "訪問リハビリ"),
    ("short_stay_medical", "短期入所（医療型）"),
    ("short_stay_welfare", "短期入所（福祉型）"),
    ("child_development", "児童発達支援"),
    ("medical_child_development", "医療型児童発達支援"),
    ("after_school_day", "放課後等デイサービス"),
    ("home_help", "居宅介護・重度訪問介護"),
    ("consultation_support", "相談支援（障害児相談支援）"),
    ("nursery", "保育所・認定こども園"),
    ("school", "学校（特別支援学校を含む）"),
    ("hospital", "病院・診療所"),
    ("pharmacy", "薬局"),
    ("medical_supplies", "医療機器・衛生材料"),
    ("respite", "レスパイト"),
    (WINDOW_CATEGORY, "市町村相談窓口"),
    ("coordinator", "医療的ケア児等コーディネーター"),
    ("other", "その他"),
];

// ---------------------------------------------------------------------------------------------
// Availability and viewers

/// 空き状況.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Limited,
    Full,
    #[default]
    Unknown,
}

impl Availability {
    /// In the order a select lists them.
    pub const ALL: [Availability; 4] = [
        Availability::Available,
        Availability::Limited,
        Availability::Full,
        Availability::Unknown,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Availability::Available => "available",
            Availability::Limited => "limited",
            Availability::Full => "full",
            Availability::Unknown => "unknown",
        }
    }

    pub fn from_code(code: &str) -> Option<Availability> {
        Availability::ALL
            .into_iter()
            .find(|a| a.code() == code.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Availability::Available => "空きあり",
            Availability::Limited => "空きわずか",
            Availability::Full => "空きなし",
            Availability::Unknown => "不明",
        }
    }

    /// The status class of `app.css` (the word is the meaning; the class adds a symbol and
    /// colour).
    pub fn css_class(self) -> &'static str {
        match self {
            Availability::Available => "status-ok",
            Availability::Limited => "status-warn",
            Availability::Full => "status-bad",
            Availability::Unknown => "status-muted",
        }
    }

    /// Search order: places that may take a child first, full ones last.
    pub fn rank(self) -> i64 {
        match self {
            Availability::Available => 0,
            Availability::Limited => 1,
            Availability::Unknown => 2,
            Availability::Full => 3,
        }
    }
}

/// Who is looking: the public directory, or a signed-in user with or without the internal
/// fields and the right to manage. Repositories turn this into WHERE clauses and blank fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// Not signed in (or the public directory): public, current entries and public fields only.
    Public,
    Staff {
        internals: bool,
        manage: bool,
    },
}

impl Viewer {
    /// The viewer a signed-in actor is, as the policy says; anybody else is the public.
    pub fn of(actor: Option<&Actor>) -> Viewer {
        if actor.is_some() && can(actor, Action::ViewResources, Target::Any) {
            Viewer::Staff {
                internals: can(actor, Action::ViewResourceInternals, Target::Any),
                manage: can(actor, Action::ManageResources, Target::Any),
            }
        } else {
            Viewer::Public
        }
    }

    pub fn is_public(self) -> bool {
        self == Viewer::Public
    }

    pub fn sees_internals(self) -> bool {
        matches!(
            self,
            Viewer::Staff {
                internals: true,
                ..
            }
        )
    }

    pub fn manages(self) -> bool {
        matches!(self, Viewer::Staff { manage: true, .. })
    }
}

// ---------------------------------------------------------------------------------------------
// Categories

/// A category of the administrator-editable taxonomy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    pub code: Option<String>,
    pub name: String,
    pub sort_order: i64,
    pub retired: bool,
    /// Current (not retired) resources in this category.
    pub resource_count: i64,
}

const CATEGORY_SELECT: &str = "SELECT c.id, c.code, c.name, c.sort_order, c.retired_at,
    (SELECT COUNT(*) FROM resources r WHERE r.category_id = c.id AND r.retired_at IS NULL) AS resource_count
    FROM resource_categories c";

fn category_from_row(r: &sqlx::any::AnyRow) -> Result<Category> {
    let retired: Option<String> = r.try_get("retired_at")?;
    Ok(Category {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        sort_order: r.try_get("sort_order")?,
        retired: retired.is_some(),
        resource_count: r.try_get("resource_count")?,
    })
}

const DUPLICATE_CATEGORY: &str = "同じ名前の種別がすでにあります";

/// Loads the seeded categories when there are none.
pub async fn seed_categories_if_empty(db: &Db) -> Result<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resource_categories")
        .fetch_one(db.pool())
        .await?;
    if n > 0 {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (i, (code, name)) in SEED_CATEGORIES.iter().enumerate() {
        sqlx::query(
            "INSERT INTO resource_categories (id, code, name, sort_order) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(*code)
        .bind(*name)
        .bind((i as i64 + 1) * 10)
        .execute(tx.conn())
        .await?;
    }
    audit::append(
        &mut tx,
        &AuditCtx::system("setup"),
        Event::new("resource_category.seed", "resource_category", "").detail(format!(
            "{} resource categories loaded",
            SEED_CATEGORIES.len()
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The categories in display order; retired ones only when asked.
pub async fn categories(db: &Db, include_retired: bool) -> Result<Vec<Category>> {
    let sql = format!(
        "{CATEGORY_SELECT} {} ORDER BY c.sort_order, c.name",
        if include_retired {
            ""
        } else {
            "WHERE c.retired_at IS NULL"
        }
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(category_from_row).collect()
}

pub async fn category(db: &Db, id: &str) -> Result<Category> {
    let row = sqlx::query(&format!("{CATEGORY_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    category_from_row(&row)
}

/// A seeded category by its stable code (e.g. [`WINDOW_CATEGORY`]).
pub async fn category_by_code(db: &Db, code: &str) -> Result<Option<Category>> {
    let row = sqlx::query(&format!("{CATEGORY_SELECT} WHERE c.code = $1"))
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(category_from_row).transpose()
}

/// A category by its exact name (for importers).
pub async fn category_by_name(db: &Db, name: &str) -> Result<Option<Category>> {
    let row = sqlx::query(&format!("{CATEGORY_SELECT} WHERE c.name = $1"))
        .bind(name.trim())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(category_from_row).transpose()
}

async fn category_in_tx(tx: &mut Tx, id: &str) -> Result<Category> {
    let row = sqlx::query(&format!("{CATEGORY_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    category_from_row(&row)
}

fn check_category_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("種別の名前を入力してください".into()));
    }
    if name.chars().count() > 50 {
        return Err(StoreError::Invalid(
            "種別の名前は50文字以内で入力してください".into(),
        ));
    }
    if let Some(m) = tsunagu_domain::validation::control_characters("種別の名前", name, false)
    {
        return Err(StoreError::Invalid(m));
    }
    Ok(name.to_string())
}

/// Adds a category at the end of the list; returns its id.
pub async fn add_category(tx: &mut Tx, ctx: &AuditCtx, name: &str) -> Result<String> {
    let name = check_category_name(name)?;
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(sort_order) FROM resource_categories")
        .fetch_one(tx.conn())
        .await?;
    let id = new_id();
    let sort_order = max.unwrap_or(0) + 10;
    sqlx::query(
        "INSERT INTO resource_categories (id, code, name, sort_order) VALUES ($1, NULL, $2, $3)",
    )
    .bind(&id)
    .bind(&name)
    .bind(sort_order)
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_CATEGORY))?;
    audit::append(
        tx,
        ctx,
        Event::new("resource_category.create", "resource_category", &id)
            .new_values(&serde_json::json!({ "name": name, "sort_order": sort_order })),
    )
    .await?;
    Ok(id)
}

/// Renames a category; the search text of its resources follows.
pub async fn rename_category(tx: &mut Tx, ctx: &AuditCtx, id: &str, name: &str) -> Result<()> {
    let name = check_category_name(name)?;
    let old = category_in_tx(tx, id).await?;
    if old.name == name {
        return Ok(());
    }
    sqlx::query("UPDATE resource_categories SET name = $1 WHERE id = $2")
        .bind(&name)
        .bind(id)
        .execute(tx.conn())
        .await
        .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_CATEGORY))?;
    refresh_search_texts(tx, "category_id", id).await?;
    audit::append(
        tx,
        ctx,
        Event::new("resource_category.update", "resource_category", id)
            .old(&serde_json::json!({ "name": old.name }))
            .new_values(&serde_json::json!({ "name": name })),
    )
    .await?;
    Ok(())
}

/// Moves a category one place up or down in the list (retired ones keep their place).
pub async fn move_category(tx: &mut Tx, ctx: &AuditCtx, id: &str, up: bool) -> Result<()> {
    let rows =
        sqlx::query("SELECT id, sort_order FROM resource_categories ORDER BY sort_order, name")
            .fetch_all(tx.conn())
            .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<String, _>("id")?);
    }
    let Some(pos) = ids.iter().position(|c| c == id) else {
        return Err(StoreError::NotFound);
    };
    let other = if up {
        pos.checked_sub(1)
    } else {
        Some(pos + 1).filter(|p| *p < ids.len())
    };
    let Some(other) = other else {
        return Ok(());
    };
    let old_position = pos as i64 + 1;
    ids.swap(pos, other);
    for (i, cid) in ids.iter().enumerate() {
        sqlx::query("UPDATE resource_categories SET sort_order = $1 WHERE id = $2")
            .bind((i as i64 + 1) * 10)
            .bind(cid)
            .execute(tx.conn())
            .await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new("resource_category.reorder", "resource_category", id)
            .old(&serde_json::json!({ "position": old_position }))
            .new_values(&serde_json::json!({ "position": other as i64 + 1 })),
    )
    .await?;
    Ok(())
}

/// Retires (or reinstates) a category: its resources keep it, new ones cannot pick it.
pub async fn set_category_retired(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    retired: bool,
) -> Result<()> {
    let old = category_in_tx(tx, id).await?;
    if old.retired == retired {
        return Ok(());
    }
    sqlx::query("UPDATE resource_categories SET retired_at = $1 WHERE id = $2")
        .bind(retired.then(clock::now_text))
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::append(
        tx,
        ctx,
        Event::new(
            if retired {
                "resource_category.retire"
            } else {
                "resource_category.reinstate"
            },
            "resource_category",
            id,
        )
        .detail(old.name),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Input, validation

/// A kind of medical care a resource can take, with a free note (e.g. 「夜間は要相談」).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct CareTypeNote {
    pub code: String,
    pub note: String,
}

/// Everything a person (or an import file) enters for a resource. Availability is set on its
/// own with [`set_availability`], since each change records when and by whom it was confirmed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ResourceInput {
    /// Stable id from an imported file (re-importing updates instead of duplicating).
    pub external_id: Option<String>,
    pub category_id: String,
    /// The organisation that offers the service (HSDS organization).
    pub provider_name: String,
    /// The service or place (HSDS service / location).
    pub name: String,
    pub description: String,
    /// Where it is.
    pub municipality_code6: Option<String>,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub website: String,
    /// Opening or reception hours, as text.
    pub hours: String,
    pub age_min: Option<i64>,
    pub age_max: Option<i64>,
    pub eligibility_note: String,
    pub fees_note: String,
    pub capacity_note: String,
    /// The municipalities it serves (6-digit codes; an area is stored as its municipalities).
    pub service_area: Vec<String>,
    pub care_types: Vec<CareTypeNote>,
    /// Never shown publicly.
    pub internal_note: String,
    /// Never shown publicly.
    pub direct_line: String,
    pub is_public: bool,
    /// `YYYY-MM-DD`, the day the entry was last checked with the provider.
    pub last_verified_on: Option<String>,
}

impl ResourceInput {
    /// The same input in the canonical form it is stored in: text trimmed, an empty external
    /// id as none, service areas and care types sorted and without repeats.
    pub fn normalised(&self) -> ResourceInput {
        let t = |s: &str| s.trim().to_string();
        let mut service_area: Vec<String> = self.service_area.iter().map(|c| t(c)).collect();
        service_area.retain(|c| !c.is_empty());
        service_area.sort();
        service_area.dedup();
        let mut care_types: Vec<CareTypeNote> = Vec::new();
        for c in &self.care_types {
            let code = t(&c.code);
            if !code.is_empty() && !care_types.iter().any(|x| x.code == code) {
                care_types.push(CareTypeNote {
                    code,
                    note: t(&c.note),
                });
            }
        }
        care_types.sort_by(|a, b| a.code.cmp(&b.code));
        ResourceInput {
            external_id: self
                .external_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            category_id: t(&self.category_id),
            provider_name: t(&self.provider_name),
            name: t(&self.name),
            description: t(&self.description),
            municipality_code6: self
                .municipality_code6
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            postal_code: t(&self.postal_code),
            address: t(&self.address),
            phone: t(&self.phone),
            fax: t(&self.fax),
            email: t(&self.email),
            website: t(&self.website),
            hours: t(&self.hours),
            age_min: self.age_min,
            age_max: self.age_max,
            eligibility_note: t(&self.eligibility_note),
            fees_note: t(&self.fees_note),
            capacity_note: t(&self.capacity_note),
            service_area,
            care_types,
            internal_note: t(&self.internal_note),
            direct_line: t(&self.direct_line),
            is_public: self.is_public,
            last_verified_on: self
                .last_verified_on
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }
    }
}

/// Parses a stored `YYYY-MM-DD` date.
pub fn parse_iso_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()
}

/// A date as stored: `YYYY-MM-DD`.
pub fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Today in Japan, as stored.
pub fn today() -> String {
    iso_date(today_jst(clock::now()))
}

/// A stored date in 和暦 (令和8年4月1日), or the text itself when it is not a date.
pub fn wareki(stored: &str) -> String {
    parse_iso_date(stored)
        .map(format_wareki_date)
        .unwrap_or_else(|| stored.to_string())
}

/// Checks an input without IO. The keys of the messages are the form's field names:
/// category, provider_name, name, description, postal_code, address, phone, fax, email,
/// website, hours, age_min, age_max, eligibility_note, fees_note, capacity_note, care,
/// internal_note, direct_line, external_id, last_verified_on.
pub fn validate(input: &ResourceInput) -> FieldErrors {
    let mut e = FieldErrors::new();
    if input.category_id.trim().is_empty() {
        e.add("category", "種別を選んでください");
    }
    required_text(
        &mut e,
        "provider_name",
        "運営法人・団体名",
        &input.provider_name,
        100,
    );
    required_text(&mut e, "name", "事業所・サービスの名称", &input.name, 100);
    optional_text(&mut e, "description", "説明", &input.description, 2000);
    let postal = fold_width_str(input.postal_code.trim());
    if !postal.is_empty() {
        let digits: String = postal.chars().filter(|c| *c != '-').collect();
        let shape_ok = postal.len() == 7 || (postal.len() == 8 && postal.as_bytes()[3] == b'-');
        if digits.len() != 7 || !digits.chars().all(|c| c.is_ascii_digit()) || !shape_ok {
            e.add(
                "postal_code",
                "郵便番号は 020-0023 のように7桁の数字で入力してください",
            );
        }
    }
    optional_text(&mut e, "address", "住所", &input.address, 200);
    optional_phone(&mut e, "phone", &input.phone);
    optional_phone(&mut e, "fax", &input.fax);
    optional_email(&mut e, "email", &input.email);
    let web = input.website.trim();
    if !web.is_empty()
        && (!(web.starts_with("https://") || web.starts_with("http://"))
            || web.len() > 300
            || web.chars().any(char::is_whitespace))
    {
        e.add(
            "website",
            "ウェブサイトは https:// で始まるアドレスを入力してください",
        );
    }
    optional_text(&mut e, "hours", "開所・受付時間", &input.hours, 200);
    for (field, v) in [("age_min", input.age_min), ("age_max", input.age_max)] {
        if let Some(v) = v
            && !(0..=99).contains(&v)
        {
            e.add(field, "対象年齢は0から99までの数字で入力してください");
        }
    }
    if let (Some(min), Some(max)) = (input.age_min, input.age_max)
        && min > max
    {
        e.add(
            "age_max",
            "対象年齢の上限は下限と同じか、それより大きくしてください",
        );
    }
    optional_text(
        &mut e,
        "eligibility_note",
        "利用の条件",
        &input.eligibility_note,
        1000,
    );
    optional_text(&mut e, "fees_note", "費用", &input.fees_note, 1000);
    optional_text(
        &mut e,
        "capacity_note",
        "定員・受け入れ",
        &input.capacity_note,
        1000,
    );
    if input
        .care_types
        .iter()
        .any(|c| c.note.chars().count() > 200)
    {
        e.add(
            "care",
            "医療的ケアごとの補足は200文字以内で入力してください",
        );
    }
    optional_text(
        &mut e,
        "internal_note",
        "内部メモ",
        &input.internal_note,
        2000,
    );
    optional_phone(&mut e, "direct_line", &input.direct_line);
    if let Some(x) = &input.external_id
        && x.chars().count() > 100
    {
        e.add("external_id", "外部IDは100文字以内で入力してください");
    }
    if let Some(d) = &input.last_verified_on
        && parse_iso_date(d).is_none()
    {
        e.add(
            "last_verified_on",
            "最終確認日は 2026-04-01 の形の日付にしてください",
        );
    }
    e
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A kind of care a resource takes, with its name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResourceCare {
    pub code: String,
    pub name: String,
    pub note: String,
}

/// One resource as its page shows it. Internal fields are empty for viewers who may not see
/// them.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub id: String,
    pub external_id: Option<String>,
    pub category_id: String,
    pub category_code: Option<String>,
    pub category_name: String,
    pub provider_name: String,
    pub name: String,
    pub description: String,
    pub municipality_code6: Option<String>,
    pub municipality_name: Option<String>,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub website: String,
    pub hours: String,
    pub age_min: Option<i64>,
    pub age_max: Option<i64>,
    pub eligibility_note: String,
    pub fees_note: String,
    pub capacity_note: String,
    pub availability: Availability,
    pub availability_confirmed_on: Option<String>,
    pub availability_confirmed_by_name: Option<String>,
    pub internal_note: String,
    pub direct_line: String,
    pub is_public: bool,
    pub last_verified_on: Option<String>,
    pub retired_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// (code6, name) of the municipalities served.
    pub service_area: Vec<(String, String)>,
    pub care_types: Vec<ResourceCare>,
}

impl Resource {
    pub fn age_label(&self) -> String {
        age_label(self.age_min, self.age_max)
    }

    pub fn is_retired(&self) -> bool {
        self.retired_at.is_some()
    }

    /// What the edit form starts from. Only meaningful when read by a viewer who sees the
    /// internal fields.
    pub fn to_input(&self) -> ResourceInput {
        ResourceInput {
            external_id: self.external_id.clone(),
            category_id: self.category_id.clone(),
            provider_name: self.provider_name.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            municipality_code6: self.municipality_code6.clone(),
            postal_code: self.postal_code.clone(),
            address: self.address.clone(),
            phone: self.phone.clone(),
            fax: self.fax.clone(),
            email: self.email.clone(),
            website: self.website.clone(),
            hours: self.hours.clone(),
            age_min: self.age_min,
            age_max: self.age_max,
            eligibility_note: self.eligibility_note.clone(),
            fees_note: self.fees_note.clone(),
            capacity_note: self.capacity_note.clone(),
            service_area: self.service_area.iter().map(|(c, _)| c.clone()).collect(),
            care_types: self
                .care_types
                .iter()
                .map(|c| CareTypeNote {
                    code: c.code.clone(),
                    note: c.note.clone(),
                })
                .collect(),
            internal_note: self.internal_note.clone(),
            direct_line: self.direct_line.clone(),
            is_public: self.is_public,
            last_verified_on: self.last_verified_on.clone(),
        }
    }
}

/// The age range as people read it: 「0〜18歳」, 「3歳から」, 「18歳まで」, 「指定なし」.
pub fn age_label(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (None, None) => "指定なし".into(),
        (Some(a), None) => format!("{a}歳から"),
        (None, Some(b)) => format!("{b}歳まで"),
        (Some(a), Some(b)) if a == b => format!("{a}歳"),
        (Some(a), Some(b)) => format!("{a}〜{b}歳"),
    }
}

const DETAIL_SELECT: &str = "SELECT r.id, r.external_id, r.category_id, c.code AS category_code, c.name AS category_name,
    r.provider_name, r.name, r.description, r.municipality_code6, m.name AS municipality_name, r.postal_code, r.address,
    r.phone, r.fax, r.email, r.website, r.hours, r.age_min, r.age_max, r.eligibility_note, r.fees_note, r.capacity_note,
    r.availability, r.availability_confirmed_on, u.display_name AS confirmed_by_name, r.internal_note, r.direct_line,
    r.is_public, r.last_verified_on, r.retired_at, r.created_at, r.updated_at
    FROM resources r
    JOIN resource_categories c ON c.id = r.category_id
    LEFT JOIN municipalities m ON m.code6 = r.municipality_code6
    LEFT JOIN users u ON u.id = r.availability_confirmed_by";

fn availability_of(r: &sqlx::any::AnyRow) -> Result<Availability> {
    let code: String = r.try_get("availability")?;
    Ok(Availability::from_code(&code).unwrap_or_default())
}

/// One resource as `viewer` may see it: the public sees only public, current entries, and
/// nobody without the right sees the internal fields. Others are "not found".
pub async fn get(db: &Db, viewer: Viewer, id: &str) -> Result<Resource> {
    let mut conn = db.pool().acquire().await?;
    let sql = if viewer.is_public() {
        format!("{DETAIL_SELECT} WHERE r.id = $1 AND r.is_public = 1 AND r.retired_at IS NULL")
    } else {
        format!("{DETAIL_SELECT} WHERE r.id = $1")
    };
    let r = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let internals = viewer.sees_internals();
    let is_public: i64 = r.try_get("is_public")?;
    let service_area = sqlx::query(
        "SELECT sa.municipality_code6, m.name FROM resource_service_areas sa JOIN municipalities m ON m.code6 = sa.municipality_code6 WHERE sa.resource_id = $1 ORDER BY sa.municipality_code6",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("municipality_code6")?, row.try_get("name")?)))
    .collect::<Result<Vec<(String, String)>>>()?;
    let care_types = sqlx::query(
        "SELECT rc.care_type_code, ct.name, rc.note FROM resource_care_types rc JOIN care_types ct ON ct.code = rc.care_type_code WHERE rc.resource_id = $1 ORDER BY ct.sort_order, ct.code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(ResourceCare {
            code: row.try_get("care_type_code")?,
            name: row.try_get("name")?,
            note: row.try_get("note")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let blank_unless = |v: String| if internals { v } else { String::new() };
    Ok(Resource {
        id: r.try_get("id")?,
        external_id: r.try_get("external_id")?,
        category_id: r.try_get("category_id")?,
        category_code: r.try_get("category_code")?,
        category_name: r.try_get("category_name")?,
        provider_name: r.try_get("provider_name")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        municipality_code6: r.try_get("municipality_code6")?,
        municipality_name: r.try_get("municipality_name")?,
        postal_code: r.try_get("postal_code")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        fax: r.try_get("fax")?,
        email: r.try_get("email")?,
        website: r.try_get("website")?,
        hours: r.try_get("hours")?,
        age_min: r.try_get("age_min")?,
        age_max: r.try_get("age_max")?,
        eligibility_note: r.try_get("eligibility_note")?,
        fees_note: r.try_get("fees_note")?,
        capacity_note: r.try_get("capacity_note")?,
        availability: availability_of(&r)?,
        availability_confirmed_on: r.try_get("availability_confirmed_on")?,
        availability_confirmed_by_name: if viewer.is_public() {
            None
        } else {
            r.try_get("confirmed_by_name")?
        },
        internal_note: blank_unless(r.try_get("internal_note")?),
        direct_line: blank_unless(r.try_get("direct_line")?),
        is_public: is_public != 0,
        last_verified_on: r.try_get("last_verified_on")?,
        retired_at: r.try_get("retired_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        service_area,
        care_types,
    })
}

/// The id of the resource an import row stands for.
pub async fn find_by_external_id(db: &Db, external_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM resources WHERE external_id = $1")
            .bind(external_id.trim())
            .fetch_optional(db.pool())
            .await?,
    )
}

/// [`find_by_external_id`] inside an import's transaction.
pub async fn id_by_external_id(tx: &mut Tx, external_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM resources WHERE external_id = $1")
            .bind(external_id.trim())
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// The stored input of a resource, in canonical form (for updates and their audit entries).
pub async fn load_input(tx: &mut Tx, id: &str) -> Result<ResourceInput> {
    let r = sqlx::query(
        "SELECT external_id, category_id, provider_name, name, description, municipality_code6, postal_code, address, phone, fax, email, website, hours, age_min, age_max, eligibility_note, fees_note, capacity_note, internal_note, direct_line, is_public, last_verified_on FROM resources WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    let service_area: Vec<String> = sqlx::query_scalar(
        "SELECT municipality_code6 FROM resource_service_areas WHERE resource_id = $1 ORDER BY municipality_code6",
    )
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    let care_rows = sqlx::query(
        "SELECT care_type_code, note FROM resource_care_types WHERE resource_id = $1 ORDER BY care_type_code",
    )
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    let mut care_types = Vec::with_capacity(care_rows.len());
    for c in &care_rows {
        care_types.push(CareTypeNote {
            code: c.try_get("care_type_code")?,
            note: c.try_get("note")?,
        });
    }
    let is_public: i64 = r.try_get("is_public")?;
    Ok(ResourceInput {
        external_id: r.try_get("external_id")?,
        category_id: r.try_get("category_id")?,
        provider_name: r.try_get("provider_name")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        municipality_code6: r.try_get("municipality_code6")?,
        postal_code: r.try_get("postal_code")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        fax: r.try_get("fax")?,
        email: r.try_get("email")?,
        website: r.try_get("website")?,
        hours: r.try_get("hours")?,
        age_min: r.try_get("age_min")?,
        age_max: r.try_get("age_max")?,
        eligibility_note: r.try_get("eligibility_note")?,
        fees_note: r.try_get("fees_note")?,
        capacity_note: r.try_get("capacity_note")?,
        service_area,
        care_types,
        internal_note: r.try_get("internal_note")?,
        direct_line: r.try_get("direct_line")?,
        is_public: is_public != 0,
        last_verified_on: r.try_get("last_verified_on")?,
    }
    .normalised())
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The search key of a resource: its names, description and address, its category and its
/// municipality, normalised (widths, kana, case). The service name comes first, so that
/// ordering by the key orders by name regardless of kana and width.
pub fn search_text_of(input: &ResourceInput, category: &str, municipality: &str) -> String {
    normalize_for_search(
        &[
            input.name.as_str(),
            &input.provider_name,
            &input.description,
            &input.address,
            category,
            municipality,
        ]
        .join(" "),
    )
}

async fn compute_search_text(tx: &mut Tx, input: &ResourceInput) -> Result<String> {
    let category: Option<String> =
        sqlx::query_scalar("SELECT name FROM resource_categories WHERE id = $1")
            .bind(&input.category_id)
            .fetch_optional(tx.conn())
            .await?;
    let municipality: Option<String> = match &input.municipality_code6 {
        Some(code) => {
            sqlx::query_scalar("SELECT name FROM municipalities WHERE code6 = $1")
                .bind(code)
                .fetch_optional(tx.conn())
                .await?
        }
        None => None,
    };
    Ok(search_text_of(
        input,
        category.as_deref().unwrap_or(""),
        municipality.as_deref().unwrap_or(""),
    ))
}

/// Recomputes the search text of every resource in a municipality, whose name is part of it
/// (after the municipality is renamed).
pub async fn refresh_search_texts_in_municipality(tx: &mut Tx, code6: &str) -> Result<()> {
    refresh_search_texts(tx, "municipality_code6", code6).await
}

/// Recomputes the search text of every resource whose `column` is `value`.
async fn refresh_search_texts(tx: &mut Tx, column: &str, value: &str) -> Result<()> {
    let members: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM resources WHERE {column} = $1 ORDER BY id"
    ))
    .bind(value)
    .fetch_all(tx.conn())
    .await?;
    for rid in &members {
        refresh_search_text(tx, rid).await?;
    }
    Ok(())
}

async fn refresh_search_text(tx: &mut Tx, id: &str) -> Result<()> {
    let input = load_input(tx, id).await?;
    let text = compute_search_text(tx, &input).await?;
    sqlx::query("UPDATE resources SET search_text = $1 WHERE id = $2")
        .bind(&text)
        .bind(id)
        .execute(tx.conn())
        .await?;
    search_index::store(tx, Indexed::Resources, id, &text).await
}

/// Refuses references to categories, municipalities and care types that do not exist, or that
/// were retired (unless the resource already had them).
async fn check_references(
    tx: &mut Tx,
    input: &ResourceInput,
    old: Option<&ResourceInput>,
) -> Result<()> {
    let retired: Option<Option<String>> =
        sqlx::query_scalar("SELECT retired_at FROM resource_categories WHERE id = $1")
            .bind(&input.category_id)
            .fetch_optional(tx.conn())
            .await?;
    match retired {
        None => return Err(StoreError::Invalid("種別を一覧から選んでください".into())),
        Some(Some(_)) if old.is_none_or(|o| o.category_id != input.category_id) => {
            return Err(StoreError::Invalid("使用を終了した種別は選べません".into()));
        }
        _ => {}
    }
    let mut codes: Vec<&String> = input.service_area.iter().collect();
    if let Some(c) = &input.municipality_code6 {
        codes.push(c);
    }
    for code in codes {
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
    for c in &input.care_types {
        let retired: Option<Option<String>> =
            sqlx::query_scalar("SELECT retired_at FROM care_types WHERE code = $1")
                .bind(&c.code)
                .fetch_optional(tx.conn())
                .await?;
        let had = old.is_some_and(|o| o.care_types.iter().any(|x| x.code == c.code));
        match retired {
            None => {
                return Err(StoreError::Invalid(format!(
                    "医療的ケアの種別「{}」はありません",
                    c.code
                )));
            }
            Some(Some(_)) if !had => {
                return Err(StoreError::Invalid(format!(
                    "医療的ケアの種別「{}」は使用を終了しています",
                    c.code
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn write_children(tx: &mut Tx, id: &str, input: &ResourceInput) -> Result<()> {
    sqlx::query("DELETE FROM resource_service_areas WHERE resource_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM resource_care_types WHERE resource_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    for code in &input.service_area {
        sqlx::query(
            "INSERT INTO resource_service_areas (resource_id, municipality_code6) VALUES ($1, $2)",
        )
        .bind(id)
        .bind(code)
        .execute(tx.conn())
        .await?;
    }
    for c in &input.care_types {
        sqlx::query(
            "INSERT INTO resource_care_types (resource_id, care_type_code, note) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(&c.code)
        .bind(&c.note)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

const DUPLICATE_EXTERNAL_ID: &str = "この外部IDはすでに別の社会資源で使われています";

/// Creates (`id` None) or updates a resource; returns its id. The input is checked
/// ([`validate`], then references) and stored in canonical form; the audit entry
/// (`resource.create` / `resource.update`) holds the old and new values. An update that
/// changes nothing writes nothing.
pub async fn save(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: Option<&str>,
    input: &ResourceInput,
) -> Result<String> {
    let input = input.normalised();
    if let Some((_, msg)) = validate(&input).iter().next() {
        return Err(StoreError::Invalid(msg.to_string()));
    }
    let old = match id {
        Some(id) => Some(load_input(tx, id).await?),
        None => None,
    };
    check_references(tx, &input, old.as_ref()).await?;
    let search_text = compute_search_text(tx, &input).await?;
    let now = clock::now_text();
    match (id, old) {
        (Some(id), Some(old)) => {
            if old == input {
                return Ok(id.to_string());
            }
            sqlx::query(
                "UPDATE resources SET external_id = $1, category_id = $2, provider_name = $3, name = $4, description = $5,
                 municipality_code6 = $6, postal_code = $7, address = $8, phone = $9, fax = $10, email = $11, website = $12,
                 hours = $13, age_min = $14, age_max = $15, eligibility_note = $16, fees_note = $17, capacity_note = $18,
                 internal_note = $19, direct_line = $20, is_public = $21, last_verified_on = $22, search_text = $23,
                 updated_at = $24 WHERE id = $25",
            )
            .bind(input.external_id.clone())
            .bind(&input.category_id)
            .bind(&input.provider_name)
            .bind(&input.name)
            .bind(&input.description)
            .bind(input.municipality_code6.clone())
            .bind(&input.postal_code)
            .bind(&input.address)
            .bind(&input.phone)
            .bind(&input.fax)
            .bind(&input.email)
            .bind(&input.website)
            .bind(&input.hours)
            .bind(input.age_min)
            .bind(input.age_max)
            .bind(&input.eligibility_note)
            .bind(&input.fees_note)
            .bind(&input.capacity_note)
            .bind(&input.internal_note)
            .bind(&input.direct_line)
            .bind(i64::from(input.is_public))
            .bind(input.last_verified_on.clone())
            .bind(&search_text)
            .bind(&now)
            .bind(id)
            .execute(tx.conn())
            .await
            .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_EXTERNAL_ID))?;
            search_index::store(tx, Indexed::Resources, id, &search_text).await?;
            write_children(tx, id, &input).await?;
            audit::append(
                tx,
                ctx,
                Event::new("resource.update", "resource", id)
                    .old(&old)
                    .new_values(&input),
            )
            .await?;
            Ok(id.to_string())
        }
        _ => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO resources (id, external_id, category_id, provider_name, name, description, municipality_code6,
                 postal_code, address, phone, fax, email, website, hours, age_min, age_max, eligibility_note, fees_note,
                 capacity_note, availability, internal_note, direct_line, is_public, last_verified_on, search_text,
                 created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 'unknown',
                 $20, $21, $22, $23, $24, $25, $25)",
            )
            .bind(&id)
            .bind(input.external_id.clone())
            .bind(&input.category_id)
            .bind(&input.provider_name)
            .bind(&input.name)
            .bind(&input.description)
            .bind(input.municipality_code6.clone())
            .bind(&input.postal_code)
            .bind(&input.address)
            .bind(&input.phone)
            .bind(&input.fax)
            .bind(&input.email)
            .bind(&input.website)
            .bind(&input.hours)
            .bind(input.age_min)
            .bind(input.age_max)
            .bind(&input.eligibility_note)
            .bind(&input.fees_note)
            .bind(&input.capacity_note)
            .bind(&input.internal_note)
            .bind(&input.direct_line)
            .bind(i64::from(input.is_public))
            .bind(input.last_verified_on.clone())
            .bind(&search_text)
            .bind(&now)
            .execute(tx.conn())
            .await
            .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_EXTERNAL_ID))?;
            search_index::store(tx, Indexed::Resources, &id, &search_text).await?;
            write_children(tx, &id, &input).await?;
            audit::append(
                tx,
                ctx,
                Event::new("resource.create", "resource", &id).new_values(&input),
            )
            .await?;
            Ok(id)
        }
    }
}

async fn set_retired(tx: &mut Tx, ctx: &AuditCtx, id: &str, retired: bool) -> Result<bool> {
    let current: Option<Option<String>> =
        sqlx::query_scalar("SELECT retired_at FROM resources WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let Some(current) = current else {
        return Err(StoreError::NotFound);
    };
    if current.is_some() == retired {
        return Ok(false);
    }
    let now = clock::now_text();
    sqlx::query("UPDATE resources SET retired_at = $1, updated_at = $2 WHERE id = $3")
        .bind(retired.then(|| now.clone()))
        .bind(&now)
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::append(
        tx,
        ctx,
        Event::new(
            if retired {
                "resource.retire"
            } else {
                "resource.reinstate"
            },
            "resource",
            id,
        ),
    )
    .await?;
    Ok(true)
}

/// Retires a resource (掲載終了): it leaves searches and the public directory; its record and
/// history stay. Returns false when it already was.
pub async fn retire(tx: &mut Tx, ctx: &AuditCtx, id: &str) -> Result<bool> {
    set_retired(tx, ctx, id, true).await
}

/// Brings a retired resource back. Returns false when it was not retired.
pub async fn reinstate(tx: &mut Tx, ctx: &AuditCtx, id: &str) -> Result<bool> {
    set_retired(tx, ctx, id, false).await
}

/// Records the availability confirmed today (JST) by the acting user.
pub async fn set_availability(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    availability: Availability,
) -> Result<()> {
    let by = ctx.actor_user_id.clone();
    set_availability_on(tx, ctx, id, availability, &today(), by.as_deref()).await
}

/// Records the availability as confirmed on `confirmed_on` (`YYYY-MM-DD`) by `confirmed_by`
/// (a user id), e.g. from an import file.
pub async fn set_availability_on(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    availability: Availability,
    confirmed_on: &str,
    confirmed_by: Option<&str>,
) -> Result<()> {
    if parse_iso_date(confirmed_on).is_none() {
        return Err(StoreError::Invalid(
            "確認日は 2026-04-01 の形の日付にしてください".into(),
        ));
    }
    let row =
        sqlx::query("SELECT availability, availability_confirmed_on FROM resources WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
    let old = serde_json::json!({
        "availability": availability_of(&row)?,
        "availability_confirmed_on": row.try_get::<Option<String>, _>("availability_confirmed_on")?,
    });
    sqlx::query(
        "UPDATE resources SET availability = $1, availability_confirmed_on = $2, availability_confirmed_by = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(availability.code())
    .bind(confirmed_on)
    .bind(confirmed_by.map(str::to_string))
    .bind(clock::now_text())
    .bind(id)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("resource.availability", "resource", id)
            .old(&old)
            .new_values(&serde_json::json!({
                "availability": availability,
                "availability_confirmed_on": confirmed_on,
            })),
    )
    .await?;
    Ok(())
}

/// Records that the entry was checked with the provider today (JST).
pub async fn mark_verified(tx: &mut Tx, ctx: &AuditCtx, id: &str) -> Result<()> {
    mark_verified_on(tx, ctx, id, &today()).await
}

/// Records that the entry was checked on `on` (`YYYY-MM-DD`).
pub async fn mark_verified_on(tx: &mut Tx, ctx: &AuditCtx, id: &str, on: &str) -> Result<()> {
    if parse_iso_date(on).is_none() {
        return Err(StoreError::Invalid(
            "確認日は 2026-04-01 の形の日付にしてください".into(),
        ));
    }
    let old: Option<Option<String>> =
        sqlx::query_scalar("SELECT last_verified_on FROM resources WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let Some(old) = old else {
        return Err(StoreError::NotFound);
    };
    sqlx::query("UPDATE resources SET last_verified_on = $1, updated_at = $2 WHERE id = $3")
        .bind(on)
        .bind(clock::now_text())
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::append(
        tx,
        ctx,
        Event::new("resource.verify", "resource", id)
            .old(&serde_json::json!({ "last_verified_on": old }))
            .new_values(&serde_json::json!({ "last_verified_on": on })),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Search

/// The filters of a search; empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words typed; every word must appear (kana, width and case do not matter).
    pub keyword: String,
    /// Located in or serving this municipality.
    pub municipality_code6: Option<String>,
    /// Located in or serving any municipality of this area.
    pub area_id: Option<String>,
    pub category_id: Option<String>,
    /// Takes every one of these kinds of care.
    pub care_types: Vec<String>,
    /// Takes a child of this age (years).
    pub age: Option<i64>,
    /// Any of these availabilities.
    pub availability: Vec<Availability>,
    /// Retired entries too (only for viewers who manage the directory).
    pub include_retired: bool,
}

/// A resource in a list of results.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceRow {
    pub id: String,
    pub provider_name: String,
    pub name: String,
    pub category_name: String,
    pub municipality_name: Option<String>,
    pub phone: String,
    pub hours: String,
    pub availability: Availability,
    pub availability_confirmed_on: Option<String>,
    pub age_min: Option<i64>,
    pub age_max: Option<i64>,
    pub is_public: bool,
    pub retired: bool,
    pub last_verified_on: Option<String>,
    /// (code, name) of the kinds of care it takes, in the code list's order.
    pub care_types: Vec<(String, String)>,
}

impl ResourceRow {
    pub fn age_label(&self) -> String {
        age_label(self.age_min, self.age_max)
    }
}

const ROW_SELECT: &str = "SELECT r.id, r.provider_name, r.name, c.name AS category_name, m.name AS municipality_name,
    r.phone, r.hours, r.availability, r.availability_confirmed_on, r.age_min, r.age_max, r.is_public, r.retired_at,
    r.last_verified_on, r.search_text
    FROM resources r
    JOIN resource_categories c ON c.id = r.category_id
    LEFT JOIN municipalities m ON m.code6 = r.municipality_code6";

/// Places that may take a child first, full ones last; then by name (kana-insensitive).
const ORDER: &str = " ORDER BY CASE r.availability WHEN 'available' THEN 0 WHEN 'limited' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END, r.search_text, r.id";

/// [`ORDER`] as the index `resources_listing` (migration 0006) gives it: the first 64
/// characters of the search key come before the whole key. In code-point order (SQLite,
/// PostgreSQL with a C or C.UTF-8 collation) ordering by a prefix and then by the whole text is
/// the same as ordering by the text.
const ORDER_INDEXED: &str = " ORDER BY CASE r.availability WHEN 'available' THEN 0 WHEN 'limited' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END, substr(r.search_text, 1, 64), r.search_text, r.id";

/// A page is read in index order when there are at least this many matches per row up to its
/// end (see [`search_range`]).
const INDEX_ORDER_DENSITY: i64 = 10;

/// The most ids a page is read by (each a bound value; SQLite takes 32,766).
const MAX_IDS: i64 = 10_000;

/// The clause `where_clause` gives, as it follows a table: ` WHERE 1 = 1 AND …`.
fn where_sql(w: &Where) -> String {
    format!(" WHERE 1 = 1{}", w.sql())
}

/// The condition that the text in `column` contains `term`, with `param` standing for the
/// value to bind, and that value. SQLite: `LIKE '%term%'`. PostgreSQL: `strpos`, which reads
/// the text about twice as fast as its `LIKE`. Both compare exactly (search keys and terms are
/// normalised, so SQLite's ASCII case folding in `LIKE` changes nothing).
pub(crate) fn contains(
    backend: Backend,
    column: &str,
    param: &str,
    term: &str,
) -> (String, String) {
    match backend {
        Backend::Sqlite => (
            format!("{column} LIKE {param} ESCAPE '\\'"),
            format!("%{}%", audit::escape_like(term)),
        ),
        Backend::Postgres => (format!("strpos({column}, {param}) > 0"), term.to_string()),
    }
}

/// The words of a keyword, normalised for search (at most 8).
pub fn keyword_terms(keyword: &str) -> Vec<String> {
    normalize_for_search(keyword)
        .split(' ')
        .filter(|t| !t.is_empty())
        .take(8)
        .map(str::to_string)
        .collect()
}

fn where_clause(backend: Backend, viewer: Viewer, q: &SearchQuery) -> Where {
    // The directory is public data: what a viewer sees is decided by `viewer`, not by an
    // owner's scope.
    let mut w = Where::default();
    match viewer {
        Viewer::Public => w.raw("r.is_public = 1 AND r.retired_at IS NULL"),
        Viewer::Staff { manage, .. } => {
            if !(manage && q.include_retired) {
                w.raw("r.retired_at IS NULL");
            }
        }
    }
    for term in keyword_terms(&q.keyword) {
        let p = format!("${}", w.bind_count() + 1);
        let (cond, value) = contains(backend, "r.search_text", &p, &term);
        w.param(Bind::Text(value));
        w.raw(&cond);
    }
    if let Some(code) = &q.municipality_code6 {
        let p = w.param(Bind::Text(code.clone()));
        w.raw(&format!(
            "(r.municipality_code6 = {p} OR EXISTS (SELECT 1 FROM resource_service_areas sa WHERE sa.resource_id = r.id AND sa.municipality_code6 = {p}))"
        ));
    }
    if let Some(area) = &q.area_id {
        let p = w.param(Bind::Text(area.clone()));
        w.raw(&format!(
            "(r.municipality_code6 IN (SELECT am.municipality_code6 FROM area_municipalities am WHERE am.area_id = {p}) OR EXISTS (SELECT 1 FROM resource_service_areas sa JOIN area_municipalities am ON am.municipality_code6 = sa.municipality_code6 WHERE sa.resource_id = r.id AND am.area_id = {p}))"
        ));
    }
    if let Some(cat) = &q.category_id {
        let p = w.param(Bind::Text(cat.clone()));
        w.raw(&format!("r.category_id = {p}"));
    }
    let mut care = q.care_types.clone();
    care.sort();
    care.dedup();
    for code in care {
        let p = w.param(Bind::Text(code));
        w.raw(&format!(
            "EXISTS (SELECT 1 FROM resource_care_types rc WHERE rc.resource_id = r.id AND rc.care_type_code = {p})"
        ));
    }
    if let Some(age) = q.age {
        let p = w.param(Bind::Int(age));
        w.raw(&format!(
            "(r.age_min IS NULL OR r.age_min <= {p}) AND (r.age_max IS NULL OR r.age_max >= {p})"
        ));
    }
    if !q.availability.is_empty() {
        let mut ps = Vec::new();
        for a in &q.availability {
            ps.push(w.param(Bind::Text(a.code().to_string())));
        }
        w.raw(&format!("r.availability IN ({})", ps.join(", ")));
    }
    w
}

async fn rows_with_care(db: &Db, rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<ResourceRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let is_public: i64 = r.try_get("is_public")?;
        let retired: Option<String> = r.try_get("retired_at")?;
        out.push(ResourceRow {
            id: r.try_get("id")?,
            provider_name: r.try_get("provider_name")?,
            name: r.try_get("name")?,
            category_name: r.try_get("category_name")?,
            municipality_name: r.try_get("municipality_name")?,
            phone: r.try_get("phone")?,
            hours: r.try_get("hours")?,
            availability: availability_of(r)?,
            availability_confirmed_on: r.try_get("availability_confirmed_on")?,
            age_min: r.try_get("age_min")?,
            age_max: r.try_get("age_max")?,
            is_public: is_public != 0,
            retired: retired.is_some(),
            last_verified_on: r.try_get("last_verified_on")?,
            care_types: Vec::new(),
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let placeholders: Vec<String> = (1..=out.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT rc.resource_id, ct.code, ct.name FROM resource_care_types rc JOIN care_types ct ON ct.code = rc.care_type_code WHERE rc.resource_id IN ({}) ORDER BY ct.sort_order, ct.code",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for row in &out {
        q = q.bind(row.id.as_str());
    }
    let care = q.fetch_all(db.pool()).await?;
    let mut by_id: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for c in &care {
        by_id
            .entry(c.try_get("resource_id")?)
            .or_default()
            .push((c.try_get("code")?, c.try_get("name")?));
    }
    for row in &mut out {
        if let Some(list) = by_id.remove(&row.id) {
            row.care_types = list;
        }
    }
    Ok(out)
}

/// One page of a directory search and the number of all matches.
#[derive(Debug, Clone)]
pub struct Found {
    pub rows: Vec<ResourceRow>,
    pub total: i64,
    /// `total` is only a lower bound: a keyword found in too many entries to count
    /// ([`search_index::COUNT_UP_TO`]).
    pub more: bool,
}

/// Searches the directory as `viewer` may see it; `page` counts from 1, [`PAGE_SIZE`] rows a
/// page.
pub async fn search(db: &Db, viewer: Viewer, q: &SearchQuery, page: i64) -> Result<Found> {
    let offset = (page.max(1) - 1).saturating_mul(PAGE_SIZE);
    search_range(db, viewer, q, offset, PAGE_SIZE).await
}

/// Like [`search`] with an explicit offset and limit (a printable list uses [`PRINT_LIMIT`]).
pub async fn search_range(
    db: &Db,
    viewer: Viewer,
    q: &SearchQuery,
    offset: i64,
    limit: i64,
) -> Result<Found> {
    let w = where_clause(db.backend(), viewer, q);
    let limit = limit.clamp(1, PRINT_LIMIT);
    let offset = offset.clamp(0, i64::MAX / 2);
    // From this many matches on, the page is read in index order (below).
    let enough = offset
        .saturating_add(limit)
        .saturating_mul(INDEX_ORDER_DENSITY);
    let lookup = search_index::lookup(db.backend(), Indexed::Resources, &keyword_terms(&q.keyword));
    let exact = |rows: Vec<ResourceRow>, total: i64| Found {
        rows,
        total,
        more: false,
    };
    let (total, more) = if let Some(lookup) = &lookup {
        // The keyword index gives the entries that may contain the words. Fewer than `probe`
        // are all there are: the count and the page are read among them, by id.
        let probe = enough.min(MAX_IDS);
        let candidates = search_index::candidates(db, lookup, probe).await?;
        if i64::try_from(candidates.len()).unwrap_or(i64::MAX) < probe {
            if candidates.is_empty() {
                return Ok(exact(Vec::new(), 0));
            }
            let first = w.bind_count() + 1;
            let sql = format!(
                "SELECT r.id FROM resources r{} AND r.id IN ({})",
                where_sql(&w),
                (first..first + candidates.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut matching = w.query(&sql);
            for id in &candidates {
                matching = matching.bind(id.as_str());
            }
            let ids = matching
                .fetch_all(db.pool())
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let found = i64::try_from(ids.len()).unwrap_or(i64::MAX);
            if offset >= found {
                return Ok(exact(Vec::new(), found));
            }
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "{ROW_SELECT} WHERE r.id IN ({}){ORDER} LIMIT {limit} OFFSET {offset}",
                marks.join(", ")
            );
            let mut page = sqlx::query(&sql);
            for id in &ids {
                page = page.bind(id.as_str());
            }
            let rows = page.fetch_all(db.pool()).await?;
            return Ok(exact(rows_with_care(db, rows).await?, found));
        }
        // Counting every entry with a common word would read them all: the count stops at
        // `COUNT_UP_TO`, read from the index.
        let count_sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {}{} AND {} LIMIT {}) capped",
            lookup.from,
            where_sql(&w),
            lookup.condition_at(w.bind_count() + 1),
            search_index::COUNT_UP_TO + 1
        );
        let n: i64 = w
            .query(&count_sql)
            .bind(lookup.query.clone())
            .fetch_one(db.pool())
            .await?
            .try_get(0)?;
        (
            n.min(search_index::COUNT_UP_TO),
            n > search_index::COUNT_UP_TO,
        )
    } else {
        let count_sql = format!("SELECT COUNT(*) FROM resources r{}", where_sql(&w));
        let n: i64 = w.query(&count_sql).fetch_one(db.pool()).await?.try_get(0)?;
        (n, false)
    };
    if offset >= total && !more {
        return Ok(exact(Vec::new(), total));
    }
    // Read in index order, a page walks `resources_listing` until it has its rows: quick when
    // the matches are many, but a walk over the whole directory, with a lookup per entry, when
    // they are few. Few matches are collected first and then sorted; the materialised set
    // keeps SQLite, which has no statistics, from walking an index for the order anyway.
    let sql = if more || total >= enough {
        format!(
            "{ROW_SELECT}{}{ORDER_INDEXED} LIMIT {limit} OFFSET {offset}",
            where_sql(&w)
        )
    } else {
        format!(
            "WITH matches AS MATERIALIZED ({ROW_SELECT}{}) SELECT * FROM matches r{ORDER} LIMIT {limit} OFFSET {offset}",
            where_sql(&w)
        )
    };
    let rows = w.query(&sql).fetch_all(db.pool()).await?;
    Ok(Found {
        rows: rows_with_care(db, rows).await?,
        total,
        more,
    })
}

/// The first day that still counts as recently verified: `today` less `months` months (the
/// day is clamped to the end of a shorter month).
pub fn review_cutoff(today: Date, months: i64) -> Date {
    let months = months.clamp(0, 1200) as i32;
    let total = today.year() * 12 + (u8::from(today.month()) as i32 - 1) - months;
    let year = total.div_euclid(12);
    let month =
        time::Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(time::Month::January);
    let day = today.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(today)
}

/// Current resources not verified in the last `months` months (or never), the longest
/// unverified first.
pub async fn due_for_review(db: &Db, months: i64) -> Result<Vec<ResourceRow>> {
    let cutoff = iso_date(review_cutoff(today_jst(clock::now()), months));
    let sql = format!(
        "{ROW_SELECT} WHERE r.retired_at IS NULL AND (r.last_verified_on IS NULL OR r.last_verified_on < $1) ORDER BY COALESCE(r.last_verified_on, ''), r.search_text, r.id"
    );
    let rows = sqlx::query(&sql).bind(cutoff).fetch_all(db.pool()).await?;
    rows_with_care(db, rows).await
}

// ---------------------------------------------------------------------------------------------
// Municipal consultation windows

/// A municipal consultation window (市町村相談窓口).
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub id: String,
    pub municipality_code6: Option<String>,
    pub municipality_name: Option<String>,
    /// The municipality or body that runs it.
    pub provider_name: String,
    /// The department (部署).
    pub name: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub hours: String,
    pub address: String,
    /// Empty for viewers who may not see internal fields.
    pub direct_line: String,
}

/// An area and the windows of its municipalities.
#[derive(Debug, Clone, Serialize)]
pub struct WindowGroup {
    pub area_name: String,
    pub windows: Vec<Window>,
    /// Names of the area's municipalities with no window registered.
    pub missing: Vec<String>,
}

/// The windows of a prefecture grouped by area (in the areas' order), as `viewer` may see
/// them. Windows of municipalities in no area come last.
pub async fn windows(db: &Db, viewer: Viewer, prefecture_code: &str) -> Result<Vec<WindowGroup>> {
    let public = if viewer.is_public() {
        " AND r.is_public = 1"
    } else {
        ""
    };
    let sql = format!(
        "SELECT r.id, r.municipality_code6, m.name AS municipality_name, r.provider_name, r.name, r.phone, r.fax, r.email, r.hours, r.address, r.direct_line
         FROM resources r
         JOIN resource_categories c ON c.id = r.category_id
         LEFT JOIN municipalities m ON m.code6 = r.municipality_code6
         WHERE c.code = $1 AND r.retired_at IS NULL{public} AND (m.prefecture_code = $2 OR r.municipality_code6 IS NULL)
         ORDER BY r.municipality_code6, r.search_text, r.id"
    );
    let rows = sqlx::query(&sql)
        .bind(WINDOW_CATEGORY)
        .bind(prefecture_code)
        .fetch_all(db.pool())
        .await?;
    let internals = viewer.sees_internals();
    let mut all = Vec::with_capacity(rows.len());
    for r in &rows {
        let direct: String = r.try_get("direct_line")?;
        all.push(Window {
            id: r.try_get("id")?,
            municipality_code6: r.try_get("municipality_code6")?,
            municipality_name: r.try_get("municipality_name")?,
            provider_name: r.try_get("provider_name")?,
            name: r.try_get("name")?,
            phone: r.try_get("phone")?,
            fax: r.try_get("fax")?,
            email: r.try_get("email")?,
            hours: r.try_get("hours")?,
            address: r.try_get("address")?,
            direct_line: if internals { direct } else { String::new() },
        });
    }
    let areas = crate::geo::areas(db, prefecture_code).await?;
    let mut groups = Vec::new();
    let mut placed = vec![false; all.len()];
    for a in &areas {
        let mut windows = Vec::new();
        for (i, w) in all.iter().enumerate() {
            if w.municipality_code6.as_deref().is_some_and(|c| a.has(c)) {
                windows.push(w.clone());
                placed[i] = true;
            }
        }
        let missing = a
            .municipalities
            .iter()
            .filter(|(code, _)| {
                !windows
                    .iter()
                    .any(|w| w.municipality_code6.as_deref() == Some(code.as_str()))
            })
            .map(|(_, name)| name.clone())
            .collect();
        groups.push(WindowGroup {
            area_name: a.name.clone(),
            windows,
            missing,
        });
    }
    let rest: Vec<Window> = all
        .iter()
        .zip(&placed)
        .filter(|(_, p)| !**p)
        .map(|(w, _)| w.clone())
        .collect();
    if !rest.is_empty() {
        groups.push(WindowGroup {
            area_name: "圏域に属さない市町村・その他".into(),
            windows: rest,
            missing: Vec::new(),
        });
    }
    Ok(groups)
}

// ---------------------------------------------------------------------------------------------
// History

/// One changed field: label, old value and new value as people read them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub label: String,
    pub old: String,
    pub new: String,
}

/// One entry of a resource's change history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub seq: i64,
    pub at: String,
    /// `2026-11-24 13:20` in JST.
    pub at_jst: String,
    pub actor_login: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub action_label: String,
    pub changes: Vec<Change>,
}

/// The fields of a resource in the order the history lists them, with their labels.
pub const FIELD_LABELS: [(&str, &str); 26] = [
    ("category_id", "種別"),
    ("provider_name", "運営法人・団体名"),
    ("name", "事業所・サービスの名称"),
    ("description", "説明"),
    ("municipality_code6", "所在市町村"),
    ("postal_code", "郵便番号"),
    ("address", "住所"),
    ("phone", "電話番号"),
    ("fax", "FAX"),
    ("email", "メールアドレス"),
    ("website", "ウェブサイト"),
    ("hours", "開所・受付時間"),
    ("age_min", "対象年齢（下限）"),
    ("age_max", "対象年齢（上限）"),
    ("eligibility_note", "利用の条件"),
    ("fees_note", "費用"),
    ("capacity_note", "定員・受け入れ"),
    ("service_area", "サービス提供地域"),
    ("care_types", "対応できる医療的ケア"),
    ("availability", "空き状況"),
    ("availability_confirmed_on", "空き状況の確認日"),
    ("internal_note", "内部メモ"),
    ("direct_line", "直通電話"),
    ("is_public", "一般公開"),
    ("last_verified_on", "最終確認日"),
    ("external_id", "外部ID"),
];

pub fn action_label(action: &str) -> &'static str {
    match action {
        "resource.create" => "登録",
        "resource.update" => "編集",
        "resource.retire" => "掲載終了",
        "resource.reinstate" => "掲載再開",
        "resource.availability" => "空き状況の更新",
        "resource.verify" => "確認済み",
        _ => "変更",
    }
}

/// Names to show instead of codes and ids.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub categories: HashMap<String, String>,
    pub municipalities: HashMap<String, String>,
    pub care_types: HashMap<String, String>,
}

impl Names {
    fn of<'a>(map: &'a HashMap<String, String>, key: &'a str) -> &'a str {
        map.get(key).map(String::as_str).unwrap_or(key)
    }
}

const NONE_SHOWN: &str = "（なし）";

/// A value of an audit entry as people read it.
pub fn display_value(field: &str, v: Option<&serde_json::Value>, names: &Names) -> String {
    use serde_json::Value;
    let Some(v) = v else {
        return NONE_SHOWN.into();
    };
    match (field, v) {
        (_, Value::Null) => NONE_SHOWN.into(),
        ("category_id", Value::String(s)) => Names::of(&names.categories, s).to_string(),
        ("municipality_code6", Value::String(s)) => Names::of(&names.municipalities, s).to_string(),
        ("availability", Value::String(s)) => Availability::from_code(s)
            .map(|a| a.label().to_string())
            .unwrap_or_else(|| s.clone()),
        ("service_area", Value::Array(items)) => {
            if items.is_empty() {
                return NONE_SHOWN.into();
            }
            items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Names::of(&names.municipalities, s).to_string(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("、")
        }
        ("care_types", Value::Array(items)) => {
            if items.is_empty() {
                return NONE_SHOWN.into();
            }
            items
                .iter()
                .map(|i| {
                    let code = i.get("code").and_then(Value::as_str).unwrap_or("");
                    let note = i.get("note").and_then(Value::as_str).unwrap_or("");
                    let name = Names::of(&names.care_types, code);
                    if note.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}（{note}）")
                    }
                })
                .collect::<Vec<_>>()
                .join("、")
        }
        (f, Value::String(s)) if f.ends_with("_on") => wareki(s),
        (_, Value::String(s)) if s.is_empty() => "（空欄）".into(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Bool(b)) => if *b { "はい" } else { "いいえ" }.into(),
        (_, other) => other.to_string(),
    }
}

/// The fields that differ between two audit values, in [`FIELD_LABELS`] order, then any other
/// keys alphabetically. A creation (no old values) lists nothing.
pub fn diff(
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
    names: &Names,
) -> Vec<Change> {
    let (Some(old), Some(new)) = (old, new) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = FIELD_LABELS.iter().map(|(k, _)| k.to_string()).collect();
    let mut extra: Vec<String> = Vec::new();
    for obj in [old, new] {
        if let Some(map) = obj.as_object() {
            for k in map.keys() {
                if !keys.contains(k) && !extra.contains(k) {
                    extra.push(k.clone());
                }
            }
        }
    }
    extra.sort();
    keys.extend(extra);
    let mut out = Vec::new();
    for k in keys {
        let (o, n) = (old.get(&k), new.get(&k));
        if o.is_none() && n.is_none() {
            continue;
        }
        let missing_as_null = |v: Option<&serde_json::Value>| v.cloned().unwrap_or_default();
        if missing_as_null(o) == missing_as_null(n) {
            continue;
        }
        let label = FIELD_LABELS
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, l)| l.to_string())
            .unwrap_or_else(|| k.clone());
        out.push(Change {
            old: display_value(&k, o, names),
            new: display_value(&k, n, names),
            label,
            field: k,
        });
    }
    out
}

/// Names of every category and care type (municipalities are added as needed).
async fn names_for(db: &Db) -> Result<Names> {
    let mut names = Names::default();
    for r in sqlx::query("SELECT id, name FROM resource_categories")
        .fetch_all(db.pool())
        .await?
    {
        names
            .categories
            .insert(r.try_get("id")?, r.try_get("name")?);
    }
    for r in sqlx::query("SELECT code, name FROM care_types")
        .fetch_all(db.pool())
        .await?
    {
        names
            .care_types
            .insert(r.try_get("code")?, r.try_get("name")?);
    }
    Ok(names)
}

/// The change history of a resource, newest first: a view of the audit log (who, when, which
/// field from what to what).
pub async fn history(db: &Db, id: &str) -> Result<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT a.seq, a.at, a.actor_login, u.display_name, a.action, a.old_values, a.new_values
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
         WHERE a.record_type = 'resource' AND a.record_id = $1 ORDER BY a.seq DESC",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let mut names = names_for(db).await?;
    let parse =
        |s: Option<String>| s.and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let mut parsed = Vec::with_capacity(rows.len());
    let mut codes: Vec<String> = Vec::new();
    for r in &rows {
        let old = parse(r.try_get("old_values")?);
        let new = parse(r.try_get("new_values")?);
        for v in [&old, &new].into_iter().flatten() {
            if let Some(c) = v.get("municipality_code6").and_then(|c| c.as_str()) {
                codes.push(c.to_string());
            }
            if let Some(list) = v.get("service_area").and_then(|c| c.as_array()) {
                codes.extend(list.iter().filter_map(|c| c.as_str().map(str::to_string)));
            }
        }
        parsed.push((old, new));
    }
    codes.sort();
    codes.dedup();
    for chunk in codes.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT code6, name FROM municipalities WHERE code6 IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q.bind(c.as_str());
        }
        for r in q.fetch_all(db.pool()).await? {
            names
                .municipalities
                .insert(r.try_get("code6")?, r.try_get("name")?);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (r, (old, new)) in rows.iter().zip(parsed) {
        let at: String = r.try_get("at")?;
        let action: String = r.try_get("action")?;
        out.push(HistoryEntry {
            seq: r.try_get("seq")?,
            at_jst: clock::parse(&at)
                .map(format_jst_datetime)
                .unwrap_or_else(|| at.clone()),
            at,
            actor_login: r.try_get("actor_login")?,
            actor_name: r.try_get("display_name")?,
            action_label: action_label(&action).to_string(),
            action,
            changes: diff(old.as_ref(), new.as_ref(), &names),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn input() -> ResourceInput {
        ResourceInput {
            category_id: "c1".into(),
            provider_name: "医療法人（デモ）".into(),
            name: "訪問看護ステーション".into(),
            is_public: true,
            ..ResourceInput::default()
        }
    }

    #[test]
    fn availability_codes_round_trip_and_order_open_places_first() {
        for a in Availability::ALL {
            assert_eq!(Availability::from_code(a.code()), Some(a));
        }
        assert_eq!(Availability::from_code("maybe"), None);
        let mut all = Availability::ALL.to_vec();
        all.sort_by_key(|a| a.rank());
        assert_eq!(
            all,
            [
                Availability::Available,
                Availability::Limited,
                Availability::Unknown,
                Availability::Full
            ]
        );
        assert_eq!(
            serde_json::to_value(Availability::Limited).ok(),
            Some(serde_json::json!("limited"))
        );
    }

    #[test]
    fn normalised_input_is_sorted_trimmed_and_without_repeats() {
        let mut i = input();
        i.service_area = vec![
            "034614".into(),
            " 032115".into(),
            "034614".into(),
            "".into(),
        ];
        i.care_types = vec![
            CareTypeNote {
                code: "ventilator".into(),
                note: " 夜間は要相談 ".into(),
            },
            CareTypeNote {
                code: "suction".into(),
                note: String::new(),
            },
            CareTypeNote {
                code: "ventilator".into(),
                note: "重複".into(),
            },
        ];
        i.external_id = Some("  ".into());
        let n = i.normalised();
        assert_eq!(n.service_area, ["032115", "034614"]);
        assert_eq!(n.care_types.len(), 2);
        assert_eq!(n.care_types[0].code, "suction");
        assert_eq!(n.care_types[1].note, "夜間は要相談");
        assert_eq!(n.external_id, None);
        assert_eq!(n.normalised(), n);
    }

    #[test]
    fn validation_names_each_field_to_fix() {
        assert!(validate(&input()).is_empty());
        let mut bad = input();
        bad.category_id = String::new();
        bad.name = "  ".into();
        bad.phone = "12-34".into();
        bad.age_min = Some(10);
        bad.age_max = Some(3);
        bad.postal_code = "0200-023".into();
        bad.website = "javascript:alert(1)".into();
        bad.last_verified_on = Some("2026/13/01".into());
        let e = validate(&bad);
        for f in [
            "category",
            "name",
            "phone",
            "age_max",
            "postal_code",
            "website",
            "last_verified_on",
        ] {
            assert!(e.get(f).is_some(), "{f}: {e:?}");
        }
        let mut ok = input();
        ok.postal_code = "020-0023".into();
        ok.phone = "019-000-0123".into();
        ok.website = "https://example.jp/".into();
        ok.age_min = Some(0);
        ok.age_max = Some(0);
        assert!(validate(&ok).is_empty(), "{:?}", validate(&ok));
    }

    #[test]
    fn search_text_folds_kana_and_width() {
        let mut i = input();
        i.name = "ﾋﾏﾜﾘ訪問看護".into();
        let t = search_text_of(&i, "訪問看護", "釜石市");
        assert!(t.contains("ひまわり訪問看護"), "{t}");
        assert!(t.contains("釜石市"));
        assert_eq!(keyword_terms("　ヒマワリ  ＡＢＣ "), ["ひまわり", "abc"]);
        assert!(keyword_terms("   ").is_empty());
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age_label(None, None), "指定なし");
        assert_eq!(age_label(Some(0), Some(18)), "0〜18歳");
        assert_eq!(age_label(Some(3), None), "3歳から");
        assert_eq!(age_label(None, Some(6)), "6歳まで");
        assert_eq!(age_label(Some(5), Some(5)), "5歳");
    }

    #[test]
    fn review_cutoff_counts_back_whole_months() {
        assert_eq!(
            review_cutoff(date!(2026 - 11 - 24), 12),
            date!(2025 - 11 - 24)
        );
        assert_eq!(
            review_cutoff(date!(2026 - 03 - 31), 1),
            date!(2026 - 02 - 28)
        );
        assert_eq!(
            review_cutoff(date!(2026 - 01 - 15), 1),
            date!(2025 - 12 - 15)
        );
        assert_eq!(
            review_cutoff(date!(2024 - 02 - 29), 12),
            date!(2023 - 02 - 28)
        );
        assert_eq!(
            review_cutoff(date!(2026 - 05 - 01), 0),
            date!(2026 - 05 - 01)
        );
    }

    #[test]
    fn history_shows_names_and_only_changed_fields() {
        let mut names = Names::default();
        names.categories.insert("c1".into(), "訪問看護".into());
        names.categories.insert("c2".into(), "レスパイト".into());
        names
            .municipalities
            .insert("032115".into(), "釜石市".into());
        names
            .care_types
            .insert("ventilator".into(), "人工呼吸器の管理".into());
        let old = serde_json::json!({
            "category_id": "c1", "name": "旧名", "phone": "", "service_area": [],
            "care_types": [], "is_public": true, "last_verified_on": "2026-04-01",
        });
        let new = serde_json::json!({
            "category_id": "c2", "name": "新名", "phone": "", "service_area": ["032115"],
            "care_types": [{"code": "ventilator", "note": "夜間可"}], "is_public": false,
            "last_verified_on": "2026-04-01",
        });
        let changes = diff(Some(&old), Some(&new), &names);
        let labels: Vec<&str> = changes.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "種別",
                "事業所・サービスの名称",
                "サービス提供地域",
                "対応できる医療的ケア",
                "一般公開"
            ]
        );
        assert_eq!(changes[0].old, "訪問看護");
        assert_eq!(changes[0].new, "レスパイト");
        assert_eq!(changes[2].old, "（なし）");
        assert_eq!(changes[2].new, "釜石市");
        assert_eq!(changes[3].new, "人工呼吸器の管理（夜間可）");
        assert_eq!(changes[4].new, "いいえ");
        assert!(diff(None, Some(&new), &names).is_empty());
        let a = serde_json::json!({"availability": "unknown", "availability_confirmed_on": null});
        let b =
            serde_json::json!({"availability": "full", "availability_confirmed_on": "2026-04-01"});
        let c = diff(Some(&a), Some(&b), &names);
        assert_eq!(c[0].old, "不明");
        assert_eq!(c[0].new, "空きなし");
        assert_eq!(c[1].new, "令和8年4月1日");
    }

    #[test]
    fn viewers_follow_the_policy() {
        use tsunagu_domain::roles::Role;
        let actor = |role| Actor {
            user_id: "u".into(),
            organisation_id: "o".into(),
            municipality_code6: None,
            roles: vec![role],
        };
        assert_eq!(Viewer::of(None), Viewer::Public);
        let v = Viewer::of(Some(&actor(Role::Viewer)));
        assert!(!v.is_public() && !v.sees_internals() && !v.manages());
        let m = Viewer::of(Some(&actor(Role::MunicipalOfficer)));
        assert!(m.sees_internals() && !m.manages());
        let c = Viewer::of(Some(&actor(Role::CenterCoordinator)));
        assert!(c.sees_internals() && c.manages());
    }
}
