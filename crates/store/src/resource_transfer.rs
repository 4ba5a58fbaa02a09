//! Importing and exporting the resource directory (社会資源の取り込み・書き出し).
//!
//! - One column layout ([`COLUMNS`]) for CSV and Excel, in both directions: an export holds
//!   every column, so exporting and importing the file again changes nothing.
//! - [`plan`] turns the rows of a file into checked [`ResourceInput`]s: what each row would
//!   create or update, or why it cannot be imported. It is pure, given the reference lists
//!   ([`Refs`]) and the stored resources ([`Stored`]), so the preview and the commit run the
//!   same checks; [`commit`] re-reads both inside the write transaction and applies a plan only
//!   when no row has an error (all or nothing).
//! - Rows are matched to resources by 外部ID. A resource without an external id is exported
//!   with its own id in that column, and matched by it on the way back.
//! - A cell whose text equals the exported image of the stored value
//!   ([`csv_import::exported_image`]) keeps the stored value: `〜` written as Shift_JIS 0x8160
//!   reads back as `～`, and the record keeps its `〜`.
//! - Uploaded files wait in `resource_imports` between preview and commit; the browser only
//!   ever sends back the upload's id.

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use tsunagu_domain::csv_import::{
    self, Source, cell_value, exported_image, header_key, is_blank_row, split_list,
};
use tsunagu_domain::text::fold_width_str;

use crate::audit::{self, AuditCtx, Event};
use crate::resources::{self, Availability, CareTypeNote, ResourceInput, Viewer};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

// ---------------------------------------------------------------------------------------------
// Columns

/// A column of the import/export layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    ExternalId,
    Category,
    Provider,
    Name,
    Description,
    Municipality,
    PostalCode,
    Address,
    Phone,
    Fax,
    Email,
    Website,
    Hours,
    AgeMin,
    AgeMax,
    Eligibility,
    Fees,
    Capacity,
    Availability,
    CareTypes,
    ServiceArea,
    Public,
    LastVerified,
    InternalNote,
    DirectLine,
}

/// The columns in file order.
pub const COLUMNS: [Column; 25] = [
    Column::ExternalId,
    Column::Category,
    Column::Provider,
    Column::Name,
    Column::Description,
    Column::Municipality,
    Column::PostalCode,
    Column::Address,
    Column::Phone,
    Column::Fax,
    Column::Email,
    Column::Website,
    Column::Hours,
    Column::AgeMin,
    Column::AgeMax,
    Column::Eligibility,
    Column::Fees,
    Column::Capacity,
    Column::Availability,
    Column::CareTypes,
    Column::ServiceArea,
    Column::Public,
    Column::LastVerified,
    Column::InternalNote,
    Column::DirectLine,
];

impl Column {
    /// The names a header may have; the first is the one written.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Column::ExternalId => &["外部ID", "外部識別子"],
            Column::Category => &["種別", "種類"],
            Column::Provider => &["事業者名", "運営法人・団体名", "運営法人", "法人名"],
            Column::Name => &["サービス名", "事業所・サービスの名称", "事業所名", "名称"],
            Column::Description => &["説明"],
            Column::Municipality => &["市町村コード", "所在市町村コード", "団体コード"],
            Column::PostalCode => &["郵便番号"],
            Column::Address => &["住所", "所在地"],
            Column::Phone => &["電話番号", "電話"],
            Column::Fax => &["FAX", "FAX番号", "ファクス"],
            Column::Email => &["メール", "メールアドレス"],
            Column::Website => &["ウェブサイト", "ホームページ", "URL"],
            Column::Hours => &["受付時間", "開所・受付時間", "開所時間"],
            Column::AgeMin => &["対象年齢（下限）", "対象年齢（下限・歳）"],
            Column::AgeMax => &["対象年齢（上限）", "対象年齢（上限・歳）"],
            Column::Eligibility => &["利用条件", "利用の条件"],
            Column::Fees => &["費用"],
            Column::Capacity => &["定員・受入れ", "定員・受け入れ", "定員"],
            Column::Availability => &["空き状況"],
            Column::CareTypes => &["対応できる医療的ケア", "医療的ケア"],
            Column::ServiceArea => &["サービス提供地域", "提供地域"],
            Column::Public => &["公開", "一般公開"],
            Column::LastVerified => &["最終確認日"],
            Column::InternalNote => &["内部メモ"],
            Column::DirectLine => &["直通電話"],
        }
    }

    pub fn header(self) -> &'static str {
        self.names()[0]
    }

    /// What goes in the column, for the import page.
    pub fn description(self) -> &'static str {
        match self {
            Column::ExternalId => {
                "同じ外部IDの行は、登録済みの社会資源を更新します。空欄の行は新しく登録し、外部IDを割り当てます"
            }
            Column::Category => "「種別の管理」にある名前",
            Column::Provider => "運営法人・団体の名前（必須）",
            Column::Name => "事業所・サービスの名前（必須）",
            Column::Description => "一般向けにも表示されます（2000文字まで）",
            Column::Municipality => "所在する市町村の団体コード（6桁、または検査数字のない5桁）",
            Column::PostalCode => "例：020-0023",
            Column::Address => "番地まで",
            Column::Phone => "例：019-629-5446",
            Column::Fax => "例：019-629-5447",
            Column::Email => "例：info@example.jp",
            Column::Website => "https:// で始まるアドレス",
            Column::Hours => "例：平日 8:30〜17:15",
            Column::AgeMin => "0〜99の数字（歳）",
            Column::AgeMax => "0〜99の数字（歳）。下限以上",
            Column::Eligibility => "例：受給者証が必要",
            Column::Fees => "自由記述",
            Column::Capacity => "例：医療型 4床",
            Column::Availability => {
                "空きあり・空きわずか・空きなし・不明（「わずか」「満床」も可）。空欄なら変えません"
            }
            Column::CareTypes => {
                "医療的ケアの名称またはコードを「、」か「;」で区切ります。補足は「名称:補足」"
            }
            Column::ServiceArea => "市町村コード（または市町村名）を「、」か「;」で区切ります",
            Column::Public => "公開 または 非公開（空欄は非公開）",
            Column::LastVerified => "事業所に確認した日。例：2026-04-01",
            Column::InternalNote => "関係機関の職員だけが見るメモ。一般には表示されません",
            Column::DirectLine => "関係機関向けの直通番号。一般には表示されません",
        }
    }

    /// The key [`resources::validate`] reports this column's problems under.
    fn field(self) -> &'static str {
        match self {
            Column::ExternalId => "external_id",
            Column::Category => "category",
            Column::Provider => "provider_name",
            Column::Name => "name",
            Column::Description => "description",
            Column::Municipality => "municipality",
            Column::PostalCode => "postal_code",
            Column::Address => "address",
            Column::Phone => "phone",
            Column::Fax => "fax",
            Column::Email => "email",
            Column::Website => "website",
            Column::Hours => "hours",
            Column::AgeMin => "age_min",
            Column::AgeMax => "age_max",
            Column::Eligibility => "eligibility_note",
            Column::Fees => "fees_note",
            Column::Capacity => "capacity_note",
            Column::Availability => "availability",
            Column::CareTypes => "care",
            Column::ServiceArea => "served",
            Column::Public => "is_public",
            Column::LastVerified => "last_verified_on",
            Column::InternalNote => "internal_note",
            Column::DirectLine => "direct_line",
        }
    }

    fn index(self) -> usize {
        COLUMNS.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// The header row of an export.
pub fn headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.header()).collect()
}

// ---------------------------------------------------------------------------------------------
// Reference lists

#[derive(Debug, Clone, Serialize)]
pub struct CategoryRef {
    pub id: String,
    pub code: Option<String>,
    pub name: String,
    pub retired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MunicipalityRef {
    pub code6: String,
    pub code5: String,
    pub name: String,
    pub retired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CareRef {
    pub code: String,
    pub name: String,
    pub sort_order: i64,
    pub retired: bool,
}

/// Every category, municipality and care type, retired ones included.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    pub categories: Vec<CategoryRef>,
    pub municipalities: Vec<MunicipalityRef>,
    pub care_types: Vec<CareRef>,
    by_code6: HashMap<String, usize>,
    by_code5: HashMap<String, usize>,
}

impl Refs {
    pub fn new(
        categories: Vec<CategoryRef>,
        municipalities: Vec<MunicipalityRef>,
        care_types: Vec<CareRef>,
    ) -> Refs {
        let by_code6 = municipalities
            .iter()
            .enumerate()
            .map(|(i, m)| (m.code6.clone(), i))
            .collect();
        let by_code5 = municipalities
            .iter()
            .enumerate()
            .map(|(i, m)| (m.code5.clone(), i))
            .collect();
        Refs {
            categories,
            municipalities,
            care_types,
            by_code6,
            by_code5,
        }
    }

    pub fn category(&self, id: &str) -> Option<&CategoryRef> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn municipality(&self, code6: &str) -> Option<&MunicipalityRef> {
        self.by_code6.get(code6).map(|i| &self.municipalities[*i])
    }

    pub fn care_type(&self, code: &str) -> Option<&CareRef> {
        self.care_types.iter().find(|c| c.code == code)
    }

    /// A municipality by a code as typed: 6 digits, 5 digits (no check digit), or either with
    /// the leading zero a spreadsheet dropped.
    fn municipality_by_code(&self, digits: &str) -> Option<&MunicipalityRef> {
        let i = match digits.len() {
            6 => self.by_code6.get(digits),
            5 => self
                .by_code5
                .get(digits)
                .or_else(|| self.by_code6.get(&format!("0{digits}"))),
            4 => self.by_code5.get(&format!("0{digits}")),
            _ => None,
        };
        i.map(|i| &self.municipalities[*i])
    }

    /// A category by its name (however wide or spaced) or stable code.
    fn category_named(&self, text: &str) -> Option<&CategoryRef> {
        let t = text.trim();
        let key = header_key(t);
        self.categories
            .iter()
            .find(|c| c.name == t)
            .or_else(|| self.categories.iter().find(|c| header_key(&c.name) == key))
            .or_else(|| {
                self.categories
                    .iter()
                    .find(|c| c.code.as_deref() == Some(t))
            })
    }

    /// A care type by code, full name, or the name before its parenthesis when that is unique
    /// (人工呼吸器の管理).
    fn care_named(&self, text: &str) -> Option<&CareRef> {
        let key = header_key(text);
        if key.is_empty() {
            return None;
        }
        let prefix = |n: &str| header_key(n.split('（').next().unwrap_or(n));
        self.care_types
            .iter()
            .find(|c| c.code == text.trim() || header_key(&c.name) == key)
            .or_else(|| {
                let mut hits = self.care_types.iter().filter(|c| prefix(&c.name) == key);
                match (hits.next(), hits.next()) {
                    (Some(one), None) => Some(one),
                    _ => None,
                }
            })
    }
}

/// Loads the reference lists.
pub async fn refs(db: &Db) -> Result<Refs> {
    let mut conn = db.pool().acquire().await?;
    load_refs(&mut conn).await
}

/// Loads the reference lists (inside a transaction or not).
pub async fn load_refs(conn: &mut AnyConnection) -> Result<Refs> {
    let mut categories = Vec::new();
    for r in sqlx::query(
        "SELECT id, code, name, retired_at FROM resource_categories ORDER BY sort_order, name",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let retired: Option<String> = r.try_get("retired_at")?;
        categories.push(CategoryRef {
            id: r.try_get("id")?,
            code: r.try_get("code")?,
            name: r.try_get("name")?,
            retired: retired.is_some(),
        });
    }
    let mut municipalities = Vec::new();
    for r in sqlx::query("SELECT code6, code5, name, retired_on FROM municipalities ORDER BY code6")
        .fetch_all(&mut *conn)
        .await?
    {
        let retired: Option<String> = r.try_get("retired_on")?;
        municipalities.push(MunicipalityRef {
            code6: r.try_get("code6")?,
            code5: r.try_get("code5")?,
            name: r.try_get("name")?,
            retired: retired.is_some(),
        });
    }
    let mut care_types = Vec::new();
    for r in sqlx::query(
        "SELECT code, name, sort_order, retired_at FROM care_types ORDER BY sort_order, code",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let retired: Option<String> = r.try_get("retired_at")?;
        care_types.push(CareRef {
            code: r.try_get("code")?,
            name: r.try_get("name")?,
            sort_order: r.try_get("sort_order")?,
            retired: retired.is_some(),
        });
    }
    Ok(Refs::new(categories, municipalities, care_types))
}

// ---------------------------------------------------------------------------------------------
// Stored resources, read all at once

/// A resource as stored: its input in canonical form and what is kept beside it.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub id: String,
    pub input: ResourceInput,
    pub availability: Availability,
    pub availability_confirmed_on: Option<String>,
    pub retired: bool,
    pub updated_at: String,
}

impl Stored {
    /// The key of its rows in files: the external id, or the resource's own id without one.
    pub fn file_key(&self) -> &str {
        self.input.external_id.as_deref().unwrap_or(&self.id)
    }
}

async fn fetch(conn: &mut AnyConnection, condition: &str) -> Result<Vec<Stored>> {
    let sql = format!(
        "SELECT r.id, r.external_id, r.category_id, r.provider_name, r.name, r.description, r.municipality_code6,
         r.postal_code, r.address, r.phone, r.fax, r.email, r.website, r.hours, r.age_min, r.age_max,
         r.eligibility_note, r.fees_note, r.capacity_note, r.internal_note, r.direct_line, r.is_public,
         r.last_verified_on, r.availability, r.availability_confirmed_on, r.retired_at, r.updated_at
         FROM resources r JOIN resource_categories c ON c.id = r.category_id
         WHERE {condition}
         ORDER BY c.sort_order, c.name, r.search_text, r.id"
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    let mut areas: HashMap<String, Vec<String>> = HashMap::new();
    for r in sqlx::query(
        "SELECT resource_id, municipality_code6 FROM resource_service_areas ORDER BY resource_id, municipality_code6",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        areas
            .entry(r.try_get("resource_id")?)
            .or_default()
            .push(r.try_get("municipality_code6")?);
    }
    let mut care: HashMap<String, Vec<CareTypeNote>> = HashMap::new();
    for r in sqlx::query(
        "SELECT resource_id, care_type_code, note FROM resource_care_types ORDER BY resource_id, care_type_code",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        care.entry(r.try_get("resource_id")?)
            .or_default()
            .push(CareTypeNote {
                code: r.try_get("care_type_code")?,
                note: r.try_get("note")?,
            });
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let is_public: i64 = r.try_get("is_public")?;
        let availability: String = r.try_get("availability")?;
        let retired: Option<String> = r.try_get("retired_at")?;
        let input = ResourceInput {
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
            service_area: areas.remove(&id).unwrap_or_default(),
            care_types: care.remove(&id).unwrap_or_default(),
            internal_note: r.try_get("internal_note")?,
            direct_line: r.try_get("direct_line")?,
            is_public: is_public != 0,
            last_verified_on: r.try_get("last_verified_on")?,
        }
        .normalised();
        out.push(Stored {
            id,
            input,
            availability: Availability::from_code(&availability).unwrap_or_default(),
            availability_confirmed_on: r.try_get("availability_confirmed_on")?,
            retired: retired.is_some(),
            updated_at: r.try_get("updated_at")?,
        });
    }
    Ok(out)
}

/// Every resource, retired ones included.
pub async fn stored(db: &Db) -> Result<Vec<Stored>> {
    let mut conn = db.pool().acquire().await?;
    load_stored(&mut conn).await
}

/// Every resource, retired ones included (what an import is matched against).
pub async fn load_stored(conn: &mut AnyConnection) -> Result<Vec<Stored>> {
    fetch(conn, "1 = 1").await
}

/// The current (not retired) resources `viewer` may see, for an export: the public gets public
/// entries only, and nobody without the right gets the internal fields (they are blank).
pub async fn export_list(db: &Db, viewer: Viewer) -> Result<Vec<Stored>> {
    let mut conn = db.pool().acquire().await?;
    let condition = if viewer.is_public() {
        "r.retired_at IS NULL AND r.is_public = 1"
    } else {
        "r.retired_at IS NULL"
    };
    let mut list = fetch(&mut conn, condition).await?;
    if !viewer.sees_internals() {
        for s in &mut list {
            s.input.internal_note.clear();
            s.input.direct_line.clear();
        }
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Cells

/// The cells of a resource in [`COLUMNS`] order, as an export writes them.
pub fn to_cells(s: &Stored, refs: &Refs) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|c| cell_of(*c, &s.id, &s.input, s.availability, refs))
        .collect()
}

fn cell_of(
    col: Column,
    id: &str,
    i: &ResourceInput,
    availability: Availability,
    refs: &Refs,
) -> String {
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    match col {
        Column::ExternalId => i.external_id.clone().unwrap_or_else(|| id.to_string()),
        Column::Category => refs
            .category(&i.category_id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| i.category_id.clone()),
        Column::Provider => i.provider_name.clone(),
        Column::Name => i.name.clone(),
        Column::Description => i.description.clone(),
        Column::Municipality => i.municipality_code6.clone().unwrap_or_default(),
        Column::PostalCode => i.postal_code.clone(),
        Column::Address => i.address.clone(),
        Column::Phone => i.phone.clone(),
        Column::Fax => i.fax.clone(),
        Column::Email => i.email.clone(),
        Column::Website => i.website.clone(),
        Column::Hours => i.hours.clone(),
        Column::AgeMin => num(i.age_min),
        Column::AgeMax => num(i.age_max),
        Column::Eligibility => i.eligibility_note.clone(),
        Column::Fees => i.fees_note.clone(),
        Column::Capacity => i.capacity_note.clone(),
        Column::Availability => availability.label().to_string(),
        Column::CareTypes => {
            let mut care: Vec<&CareTypeNote> = i.care_types.iter().collect();
            care.sort_by_key(|c| {
                (
                    refs.care_type(&c.code)
                        .map(|r| r.sort_order)
                        .unwrap_or(i64::MAX),
                    c.code.clone(),
                )
            });
            care.iter()
                .map(|c| {
                    let name = refs
                        .care_type(&c.code)
                        .map(|r| r.name.as_str())
                        .unwrap_or(&c.code);
                    if c.note.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}:{}", c.note)
                    }
                })
                .collect::<Vec<_>>()
                .join("、")
        }
        Column::ServiceArea => i.service_area.join("、"),
        Column::Public => if i.is_public { "公開" } else { "非公開" }.to_string(),
        Column::LastVerified => i.last_verified_on.clone().unwrap_or_default(),
        Column::InternalNote => i.internal_note.clone(),
        Column::DirectLine => i.direct_line.clone(),
    }
}

/// 空き状況 as people write it.
fn parse_availability(s: &str) -> Option<Availability> {
    let key = header_key(s);
    match key.as_str() {
        "空きあり" | "あり" | "空あり" | "available" => Some(Availability::Available),
        "空きわずか" | "わずか" | "空わずか" | "残りわずか" | "limited" => {
            Some(Availability::Limited)
        }
        "空きなし" | "なし" | "満床" | "満員" | "full" => Some(Availability::Full),
        "不明" | "unknown" => Some(Availability::Unknown),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Planning an import

/// What a row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
}

impl RowAction {
    pub fn label(self) -> &'static str {
        match self {
            RowAction::Create => "新規",
            RowAction::Update => "更新",
            RowAction::Unchanged => "変更なし",
        }
    }
}

/// One row of a file and what importing it would do.
#[derive(Debug, Clone)]
pub struct RowPlan {
    /// The row in the file (the header row is 1).
    pub number: usize,
    /// 外部ID as written.
    pub external_id: String,
    pub name: String,
    pub action: RowAction,
    /// A new resource without 外部ID: one is assigned.
    pub assigns_external_id: bool,
    /// Headers of the columns an update changes.
    pub changed: Vec<&'static str>,
    /// Updates a resource that is retired (it stays retired).
    pub retired: bool,
    /// What to fix, each starting with the column's header.
    pub errors: Vec<String>,
    existing_id: Option<String>,
    input: ResourceInput,
    /// A new availability to record.
    availability: Option<Availability>,
}

/// The rows of a file and what importing them would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub rows: Vec<RowPlan>,
    /// Problems with the file as a whole (no header row, a column twice).
    pub file_errors: Vec<String>,
    /// Things to know that do not stop the import (columns ignored or missing).
    pub notices: Vec<String>,
}

impl Plan {
    pub fn has_errors(&self) -> bool {
        !self.file_errors.is_empty() || self.rows.iter().any(|r| !r.errors.is_empty())
    }

    pub fn error_rows(&self) -> usize {
        self.rows.iter().filter(|r| !r.errors.is_empty()).count()
    }

    /// Rows without errors that do `action`.
    pub fn count(&self, action: RowAction) -> usize {
        self.rows
            .iter()
            .filter(|r| r.errors.is_empty() && r.action == action)
            .count()
    }

    /// Whether committing would change anything.
    pub fn has_work(&self) -> bool {
        self.count(RowAction::Create) + self.count(RowAction::Update) > 0
    }
}

/// A cell of a row: its column is missing from the file, it holds the stored value as an
/// export writes it, or it holds something else (the text, formula quote removed).
enum Cell<'a> {
    Absent,
    Same,
    New(&'a str),
}

/// Works out what importing `rows` (the header row first) would do. Pure: the checks use only
/// `refs` and `stored`, so the preview and the commit agree.
pub fn plan(rows: &[Vec<String>], source: Source, refs: &Refs, stored: &[Stored]) -> Plan {
    let mut p = Plan::default();
    let Some(header_at) = rows.iter().position(|r| !is_blank_row(r)) else {
        p.file_errors
            .push("ファイルに行がありません。見出し行と社会資源の行を入れてください".into());
        return p;
    };
    let names: Vec<&[&str]> = COLUMNS.iter().map(|c| c.names()).collect();
    let m = csv_import::match_headers(&rows[header_at], &names);
    if !m.found_any() {
        p.file_errors.push(format!(
            "{}行目に列の見出し（{}など）がありません。書き出したファイルと同じ見出し行を先頭に置いてください",
            header_at + 1,
            ["外部ID", "種別", "事業者名", "サービス名"].join("・")
        ));
        return p;
    }
    for d in &m.duplicates {
        p.file_errors
            .push(format!("列「{d}」が2つ以上あります。1つにしてください"));
    }
    if !m.unknown.is_empty() {
        p.notices
            .push(format!("次の列は使いません：{}", m.unknown.join("、")));
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .zip(&m.positions)
        .filter(|(_, pos)| pos.is_none())
        .map(|(c, _)| c.header())
        .collect();
    if !missing.is_empty() {
        p.notices.push(format!(
            "ファイルにない列（{}）は、登録済みの社会資源では今の内容のまま、新しく登録する社会資源では空欄（公開は「非公開」、空き状況は「不明」）になります",
            missing.join("、")
        ));
    }
    if !p.file_errors.is_empty() {
        return p;
    }

    // Resources by the text their key has in a file of this kind, and as typed.
    let mut by_key: HashMap<String, &Stored> = HashMap::new();
    for s in stored {
        by_key.insert(s.file_key().to_string(), s);
        by_key.insert(exported_image(s.file_key(), source), s);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, row) in rows.iter().enumerate().skip(header_at + 1) {
        if is_blank_row(row) {
            continue;
        }
        let number = index + 1;
        let raw = |c: Column| -> Option<&str> {
            m.positions[c.index()].map(|pos| row.get(pos).map(String::as_str).unwrap_or(""))
        };
        let ext_raw = raw(Column::ExternalId).unwrap_or("");
        let ext_text = cell_value(ext_raw, source).trim().to_string();
        let existing = if ext_text.is_empty() {
            None
        } else {
            by_key
                .get(ext_raw)
                .or_else(|| by_key.get(ext_raw.trim()))
                .or_else(|| by_key.get(ext_text.as_str()))
                .copied()
        };
        p.rows.push(plan_row(
            number, &raw, source, refs, existing, &ext_text, &mut seen,
        ));
    }
    if p.rows.is_empty() {
        p.file_errors
            .push("取り込む行がありません。見出し行の下に社会資源を1行ずつ入れてください".into());
    }
    p
}

fn plan_row<'a>(
    number: usize,
    raw: &dyn Fn(Column) -> Option<&'a str>,
    source: Source,
    refs: &Refs,
    existing: Option<&Stored>,
    ext_text: &str,
    seen: &mut HashMap<String, usize>,
) -> RowPlan {
    let stored_cells = existing.map(|s| to_cells(s, refs));
    let cell = |c: Column| -> Cell<'a> {
        match raw(c) {
            None => Cell::Absent,
            Some(r) => match &stored_cells {
                Some(sc) if exported_image(&sc[c.index()], source) == r => Cell::Same,
                _ => Cell::New(cell_value(r, source)),
            },
        }
    };
    let mut errors: Vec<(Column, String)> = Vec::new();
    let mut err = |c: Column, m: String| errors.push((c, m));

    if !ext_text.is_empty() {
        let key = existing
            .map(|s| s.id.clone())
            .unwrap_or_else(|| format!("ext:{ext_text}"));
        if let Some(first) = seen.get(&key) {
            err(
                Column::ExternalId,
                format!("外部ID「{ext_text}」が{first}行目と重複しています"),
            );
        } else {
            seen.insert(key, number);
        }
    }

    let old = existing.map(|s| &s.input);
    let mut input = match existing {
        Some(s) => s.input.clone(),
        None => ResourceInput::default(),
    };
    let mut availability = existing.map(|s| s.availability);

    for col in COLUMNS {
        let Cell::New(v) = cell(col) else {
            continue;
        };
        let text = v.trim().to_string();
        match col {
            Column::ExternalId => {
                input.external_id = Some(text).filter(|t| !t.is_empty());
            }
            Column::Category => {
                if text.is_empty() {
                    err(col, "種別を入力してください".into());
                    input.category_id.clear();
                } else {
                    match refs.category_named(&text) {
                        None => err(
                            col,
                            format!(
                                "「{text}」という種別はありません。「種別の管理」にある名前を入力してください"
                            ),
                        ),
                        Some(c) if c.retired && old.is_none_or(|o| o.category_id != c.id) => {
                            err(col, format!("種別「{}」は使用を終了しています", c.name))
                        }
                        Some(c) => input.category_id = c.id.clone(),
                    }
                }
            }
            Column::Provider => input.provider_name = text,
            Column::Name => input.name = text,
            Column::Description => input.description = text,
            Column::Municipality => {
                if text.is_empty() {
                    input.municipality_code6 = None;
                } else {
                    match municipality_of(&text, refs, old) {
                        Ok(code) => input.municipality_code6 = Some(code),
                        Err(m) => err(col, m),
                    }
                }
            }
            Column::PostalCode => input.postal_code = fold_width_str(&text),
            Column::Address => input.address = text,
            Column::Phone => input.phone = fold_width_str(&text),
            Column::Fax => input.fax = fold_width_str(&text),
            Column::Email => input.email = fold_width_str(&text),
            Column::Website => input.website = text,
            Column::Hours => input.hours = text,
            Column::AgeMin | Column::AgeMax => match csv_import::parse_age(&text) {
                Ok(age) if col == Column::AgeMin => input.age_min = age,
                Ok(age) => input.age_max = age,
                Err(m) => err(col, m.to_string()),
            },
            Column::Eligibility => input.eligibility_note = text,
            Column::Fees => input.fees_note = text,
            Column::Capacity => input.capacity_note = text,
            Column::Availability => {
                if !text.is_empty() {
                    match parse_availability(&text) {
                        Some(a) => availability = Some(a),
                        None => err(
                            col,
                            format!(
                                "「{text}」は使えません。空きあり・空きわずか・空きなし・不明のどれかを入力してください"
                            ),
                        ),
                    }
                }
            }
            Column::CareTypes => match care_of(v, refs, old) {
                Ok(list) => input.care_types = list,
                Err(ms) => ms.into_iter().for_each(|m| err(col, m)),
            },
            Column::ServiceArea => match service_area_of(v, refs, old) {
                Ok(list) => input.service_area = list,
                Err(ms) => ms.into_iter().for_each(|m| err(col, m)),
            },
            Column::Public => match csv_import::parse_public(&text) {
                Some(b) => input.is_public = b,
                None => err(
                    col,
                    format!("「{text}」は使えません。「公開」か「非公開」を入力してください"),
                ),
            },
            Column::LastVerified => {
                if text.is_empty() {
                    input.last_verified_on = None;
                } else {
                    match csv_import::parse_date(&text) {
                        Some(d) => input.last_verified_on = Some(d),
                        None => err(
                            col,
                            format!(
                                "「{text}」は日付として読めません。2026-04-01 の形で入力してください"
                            ),
                        ),
                    }
                }
            }
            Column::InternalNote => input.internal_note = text,
            Column::DirectLine => input.direct_line = fold_width_str(&text),
        }
    }
    let input = input.normalised();
    for (field, message) in resources::validate(&input).iter() {
        let col = COLUMNS
            .iter()
            .copied()
            .find(|c| c.field() == field)
            .unwrap_or(Column::Name);
        if errors.iter().any(|(c, _)| *c == col) {
            continue;
        }
        let message = if col == Column::Category {
            "種別を入力してください".to_string()
        } else {
            message.to_string()
        };
        errors.push((col, message));
    }
    errors.sort_by_key(|(c, _)| c.index());

    let (action, changed, new_availability) = match existing {
        Some(s) => {
            let availability = availability.unwrap_or(s.availability);
            let after = Stored {
                input: input.clone(),
                availability,
                ..s.clone()
            };
            let (before, now) = (to_cells(s, refs), to_cells(&after, refs));
            let changed: Vec<&'static str> = COLUMNS
                .iter()
                .zip(before.iter().zip(&now))
                .filter(|(_, (b, n))| b != n)
                .map(|(c, _)| c.header())
                .collect();
            let availability_changed = availability != s.availability;
            if input == s.input && !availability_changed {
                (RowAction::Unchanged, Vec::new(), None)
            } else {
                (
                    RowAction::Update,
                    changed,
                    availability_changed.then_some(availability),
                )
            }
        }
        None => (
            RowAction::Create,
            Vec::new(),
            availability.filter(|a| *a != Availability::Unknown),
        ),
    };
    RowPlan {
        number,
        external_id: ext_text.to_string(),
        name: if input.name.is_empty() {
            raw(Column::Name).unwrap_or("").trim().to_string()
        } else {
            input.name.clone()
        },
        action,
        assigns_external_id: existing.is_none() && input.external_id.is_none(),
        changed,
        retired: existing.is_some_and(|s| s.retired),
        errors: errors
            .into_iter()
            .map(|(c, m)| format!("{}：{m}", c.header()))
            .collect(),
        existing_id: existing.map(|s| s.id.clone()),
        input,
        availability: new_availability,
    }
}

/// Whether the resource already refers to this municipality (a retired one stays choosable).
fn already_refers(old: Option<&ResourceInput>, code6: &str) -> bool {
    old.is_some_and(|o| {
        o.municipality_code6.as_deref() == Some(code6) || o.service_area.iter().any(|c| c == code6)
    })
}

/// A municipality by code (6 or 5 digits) or, when unambiguous, by name.
fn municipality_of(text: &str, refs: &Refs, old: Option<&ResourceInput>) -> Result<String, String> {
    let folded = fold_width_str(text.trim());
    let found = if !folded.is_empty() && folded.chars().all(|c| c.is_ascii_digit()) {
        refs.municipality_by_code(&folded)
            .ok_or_else(|| format!("市町村コード「{folded}」は登録されていません"))?
    } else {
        let mut hits = refs.municipalities.iter().filter(|m| m.name == folded);
        match (hits.next(), hits.next()) {
            (Some(one), None) => one,
            (Some(_), Some(_)) => {
                return Err(format!(
                    "「{folded}」という市町村は複数あります。市町村コードで入力してください"
                ));
            }
            _ => {
                return Err(format!(
                    "「{folded}」は市町村コードではありません。6桁（または5桁）の数字で入力してください"
                ));
            }
        }
    };
    if found.retired && !already_refers(old, &found.code6) {
        return Err(format!(
            "{}（{}）は廃止された市町村です",
            found.name, found.code6
        ));
    }
    Ok(found.code6.clone())
}

fn service_area_of(
    cell: &str,
    refs: &Refs,
    old: Option<&ResourceInput>,
) -> Result<Vec<String>, Vec<String>> {
    let mut codes = Vec::new();
    let mut errors = Vec::new();
    for (_, item) in split_list(cell) {
        match municipality_of(&item, refs, old) {
            Ok(code) => codes.push(code),
            Err(m) => errors.push(m),
        }
    }
    if errors.is_empty() {
        Ok(codes)
    } else {
        Err(errors)
    }
}

/// A care item: `名称` or `名称:補足` (`：` too). Names that contain `：` themselves are found by
/// trying each colon in turn.
fn care_item<'r>(item: &str, refs: &'r Refs) -> Option<(&'r CareRef, Option<String>)> {
    let t = item.trim();
    if let Some(c) = refs.care_named(t) {
        return Some((c, None));
    }
    for (pos, ch) in t.char_indices().filter(|(_, c)| matches!(c, ':' | '：')) {
        if let Some(c) = refs.care_named(&t[..pos]) {
            return Some((c, Some(t[pos + ch.len_utf8()..].trim().to_string())));
        }
    }
    None
}

fn care_of(
    cell: &str,
    refs: &Refs,
    old: Option<&ResourceInput>,
) -> Result<Vec<CareTypeNote>, Vec<String>> {
    let mut list: Vec<CareTypeNote> = Vec::new();
    let mut errors = Vec::new();
    // A piece after a note that names no care type belongs to the note (「夜間は要相談、週末不可」).
    let mut in_note = false;
    for (sep, item) in split_list(cell) {
        match care_item(&item, refs) {
            Some((c, note)) => {
                let had = old.is_some_and(|o| o.care_types.iter().any(|x| x.code == c.code));
                if c.retired && !had {
                    errors.push(format!(
                        "「{}」は使用を終了した医療的ケアの種別です",
                        c.name
                    ));
                }
                in_note = note.is_some();
                list.push(CareTypeNote {
                    code: c.code.clone(),
                    note: note.unwrap_or_default(),
                });
            }
            None if in_note => {
                if let Some(last) = list.last_mut() {
                    last.note.push_str(&sep);
                    last.note.push_str(item.trim_end());
                }
            }
            None => errors.push(format!(
                "「{}」という医療的ケアの種別はありません。名称かコードを入力してください",
                item.trim()
            )),
        }
    }
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------------------------------------
// Committing

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Imports the upload `upload_id` of `user_id` in one transaction: the file is read again by
/// `read` (bytes → rows), checked again against the database as it is inside the transaction,
/// and applied only when no row has an error. Each created or updated resource gets its own
/// audit entry (`resource.create` / `resource.update` / `resource.availability`) and the whole
/// import one more (`resource.import`). Returns the plan when it has errors (nothing written).
pub async fn commit(
    db: &Db,
    ctx: &AuditCtx,
    upload_id: &str,
    user_id: &str,
    read: impl Fn(&[u8]) -> std::result::Result<(Vec<Vec<String>>, Source), String>,
) -> Result<std::result::Result<Counts, Plan>> {
    let mut tx = db.begin().await?;
    delete_stale_uploads(&mut tx).await?;
    let claimed = sqlx::query(
        "UPDATE resource_imports SET committed_at = $1 WHERE id = $2 AND created_by = $3 AND committed_at IS NULL",
    )
    .bind(clock::now_text())
    .bind(upload_id)
    .bind(user_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if claimed != 1 {
        return Err(match upload_in(tx.conn(), upload_id, user_id).await {
            Ok(_) => StoreError::Conflict("このファイルはすでに取り込みました".into()),
            Err(e) => e,
        });
    }
    let upload = upload_in(tx.conn(), upload_id, user_id).await?;
    let (rows, source) = read(&upload.content).map_err(StoreError::Invalid)?;
    let refs = load_refs(tx.conn()).await?;
    let stored = load_stored(tx.conn()).await?;
    let plan = plan(&rows, source, &refs, &stored);
    if plan.has_errors() {
        return Ok(Err(plan));
    }
    let counts = apply(&mut tx, ctx, &plan).await?;
    audit::append(
        &mut tx,
        ctx,
        Event::new("resource.import", "resource_import", upload_id)
            .new_values(&counts)
            .detail(format!(
                "{}（{}）：新規{}件、更新{}件、変更なし{}件",
                upload.filename,
                source.label(),
                counts.created,
                counts.updated,
                counts.unchanged
            )),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(counts))
}

async fn apply(tx: &mut Tx, ctx: &AuditCtx, plan: &Plan) -> Result<Counts> {
    let mut counts = Counts::default();
    let today = resources::today();
    let by = ctx.actor_user_id.clone();
    let at_row = |number: usize, e: StoreError| match e {
        StoreError::Invalid(m) | StoreError::Conflict(m) => {
            StoreError::Invalid(format!("{number}行目：{m}"))
        }
        other => other,
    };
    for row in &plan.rows {
        let id = match (row.action, &row.existing_id) {
            (RowAction::Unchanged, _) => {
                counts.unchanged += 1;
                continue;
            }
            (RowAction::Update, Some(id)) => {
                resources::save(tx, ctx, Some(id), &row.input)
                    .await
                    .map_err(|e| at_row(row.number, e))?;
                counts.updated += 1;
                id.clone()
            }
            _ => {
                let mut input = row.input.clone();
                if input.external_id.is_none() {
                    input.external_id = Some(new_id());
                }
                let id = resources::save(tx, ctx, None, &input)
                    .await
                    .map_err(|e| at_row(row.number, e))?;
                counts.created += 1;
                id
            }
        };
        if let Some(a) = row.availability {
            resources::set_availability_on(tx, ctx, &id, a, &today, by.as_deref()).await?;
        }
    }
    Ok(counts)
}

// ---------------------------------------------------------------------------------------------
// Uploads kept between preview and commit

/// How long an upload waits for its commit.
pub const UPLOAD_HOURS: i64 = 24;

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub created_at: String,
    pub filename: String,
    pub content: Vec<u8>,
    pub sha256: String,
    pub committed_at: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Removes uploads older than [`UPLOAD_HOURS`] (they may hold internal notes).
async fn delete_stale_uploads(tx: &mut Tx) -> Result<()> {
    let cutoff = clock::format(clock::now() - time::Duration::hours(UPLOAD_HOURS));
    sqlx::query("DELETE FROM resource_imports WHERE created_at < $1")
        .bind(cutoff)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Keeps an uploaded file for its preview and commit (and removes uploads older than
/// [`UPLOAD_HOURS`]); returns its id.
pub async fn save_upload(
    tx: &mut Tx,
    ctx: &AuditCtx,
    user_id: &str,
    filename: &str,
    content: &[u8],
) -> Result<String> {
    delete_stale_uploads(tx).await?;
    let id = new_id();
    let sha = sha256_hex(content);
    let filename: String = filename
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    sqlx::query(
        "INSERT INTO resource_imports (id, created_by, created_at, filename, content, sha256) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(clock::now_text())
    .bind(&filename)
    .bind(base64_encode(content))
    .bind(&sha)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("resource.import_upload", "resource_import", &id)
            .new_values(&serde_json::json!({
                "filename": filename,
                "bytes": content.len(),
                "sha256": sha,
            }))
            .detail(filename.clone()),
    )
    .await?;
    Ok(id)
}

async fn upload_in(conn: &mut AnyConnection, id: &str, user_id: &str) -> Result<Upload> {
    let cutoff = clock::format(clock::now() - time::Duration::hours(UPLOAD_HOURS));
    let r = sqlx::query(
        "SELECT id, created_at, filename, content, sha256, committed_at FROM resource_imports WHERE id = $1 AND created_by = $2 AND created_at >= $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(cutoff)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let encoded: String = r.try_get("content")?;
    let content = base64_decode(&encoded)
        .ok_or_else(|| StoreError::Other("stored upload is not base64".into()))?;
    let sha256: String = r.try_get("sha256")?;
    if sha256_hex(&content) != sha256 {
        return Err(StoreError::Other(
            "stored upload does not match its hash".into(),
        ));
    }
    Ok(Upload {
        id: r.try_get("id")?,
        created_at: r.try_get("created_at")?,
        filename: r.try_get("filename")?,
        content,
        sha256,
        committed_at: r.try_get("committed_at")?,
    })
}

/// An upload of `user_id` (others' uploads, and expired ones, are "not found"). The content is
/// checked against its SHA-256.
pub async fn upload(db: &Db, id: &str, user_id: &str) -> Result<Upload> {
    let mut conn = db.pool().acquire().await?;
    upload_in(&mut conn, id, user_id).await
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in s {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> Refs {
        Refs::new(
            vec![
                CategoryRef {
                    id: "cat-nurse".into(),
                    code: Some("home_nursing".into()),
                    name: "訪問看護".into(),
                    retired: false,
                },
                CategoryRef {
                    id: "cat-old".into(),
                    code: None,
                    name: "旧分類".into(),
                    retired: true,
                },
            ],
            vec![
                MunicipalityRef {
                    code6: "032018".into(),
                    code5: "03201".into(),
                    name: "盛岡市".into(),
                    retired: false,
                },
                MunicipalityRef {
                    code6: "032115".into(),
                    code5: "03211".into(),
                    name: "釜石市".into(),
                    retired: false,
                },
                MunicipalityRef {
                    code6: "039999".into(),
                    code5: "03999".into(),
                    name: "廃止村".into(),
                    retired: true,
                },
            ],
            vec![
                CareRef {
                    code: "ventilator".into(),
                    name: "人工呼吸器の管理".into(),
                    sort_order: 10,
                    retired: false,
                },
                CareRef {
                    code: "suction".into(),
                    name: "吸引（口鼻腔・気管内吸引）".into(),
                    sort_order: 20,
                    retired: false,
                },
                CareRef {
                    code: "continuous_catheterisation".into(),
                    name: "導尿（持続的導尿：留置カテーテル）".into(),
                    sort_order: 30,
                    retired: false,
                },
                CareRef {
                    code: "old_care".into(),
                    name: "旧ケア".into(),
                    sort_order: 40,
                    retired: true,
                },
            ],
        )
    }

    fn stored() -> Stored {
        Stored {
            id: "0190-id".into(),
            input: ResourceInput {
                external_id: Some("x1".into()),
                category_id: "cat-nurse".into(),
                provider_name: "法人（デモ）".into(),
                name: "ひまわり〜訪問看護".into(),
                description: "=注意\r\n二行目".into(),
                municipality_code6: Some("032018".into()),
                service_area: vec!["032018".into(), "032115".into()],
                care_types: vec![
                    CareTypeNote {
                        code: "suction".into(),
                        note: String::new(),
                    },
                    CareTypeNote {
                        code: "ventilator".into(),
                        note: "夜間は要相談、週末不可".into(),
                    },
                ],
                is_public: true,
                age_min: Some(0),
                age_max: Some(18),
                last_verified_on: Some("2026-04-01".into()),
                internal_note: "内部".into(),
                ..ResourceInput::default()
            }
            .normalised(),
            availability: Availability::Limited,
            availability_confirmed_on: None,
            retired: false,
            updated_at: String::new(),
        }
    }

    fn file(rows: &[Vec<String>]) -> Vec<Vec<String>> {
        let mut all = vec![headers().iter().map(|h| h.to_string()).collect()];
        all.extend(rows.iter().cloned());
        all
    }

    #[test]
    fn an_exported_row_imports_as_unchanged_in_every_format() {
        let refs = refs();
        let s = stored();
        let cells = to_cells(&s, &refs);
        assert_eq!(
            cells[Column::CareTypes.index()],
            "人工呼吸器の管理:夜間は要相談、週末不可、吸引（口鼻腔・気管内吸引）"
        );
        assert_eq!(cells[Column::Availability.index()], "空きわずか");
        for source in [Source::Utf8Bom, Source::ShiftJis, Source::Xlsx] {
            let row: Vec<String> = cells.iter().map(|c| exported_image(c, source)).collect();
            let p = plan(&file(&[row]), source, &refs, std::slice::from_ref(&s));
            assert!(!p.has_errors(), "{source:?}: {:?}", p.rows[0].errors);
            assert_eq!(
                p.rows[0].action,
                RowAction::Unchanged,
                "{source:?}: {:?}",
                p.rows[0].changed
            );
        }
    }

    #[test]
    fn edited_cells_are_parsed_and_reported_as_changes() {
        let refs = refs();
        let s = stored();
        let mut cells = to_cells(&s, &refs);
        cells[Column::Phone.index()] = "０１９－０００－１２３４".into();
        cells[Column::Availability.index()] = "満床".into();
        cells[Column::CareTypes.index()] = "人工呼吸器の管理：夜間可、3；suction".into();
        cells[Column::ServiceArea.index()] = "03211;盛岡市".into();
        cells[Column::Municipality.index()] = "32018".into();
        let p = plan(
            &file(&[cells]),
            Source::Utf8,
            &refs,
            std::slice::from_ref(&s),
        );
        let r = &p.rows[0];
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.action, RowAction::Update);
        assert_eq!(r.changed, ["電話番号", "空き状況", "対応できる医療的ケア"]);
        assert_eq!(r.input.phone, "019-000-1234");
        assert_eq!(r.availability, Some(Availability::Full));
        assert_eq!(r.input.care_types[1].note, "夜間可、3");
        assert_eq!(r.input.service_area, ["032018", "032115"]);
        assert_eq!(r.input.municipality_code6.as_deref(), Some("032018"));
    }

    #[test]
    fn each_bad_cell_is_named_in_japanese() {
        let refs = refs();
        let row = |pairs: &[(Column, &str)]| -> Vec<String> {
            let mut r = vec![String::new(); COLUMNS.len()];
            for (c, v) in pairs {
                r[c.index()] = v.to_string();
            }
            r
        };
        let rows = vec![
            row(&[
                (Column::Category, "存在しない種別"),
                (Column::Provider, "法人"),
                (Column::Name, "A"),
                (Column::Municipality, "999999"),
                (Column::AgeMin, "百"),
                (Column::CareTypes, "空を飛ぶ"),
                (Column::Public, "たぶん"),
                (Column::LastVerified, "いつか"),
                (Column::Availability, "少し"),
            ]),
            row(&[
                (Column::Category, "旧分類"),
                (Column::Name, "B"),
                (Column::ServiceArea, "039999"),
                (Column::CareTypes, "旧ケア"),
            ]),
            row(&[
                (Column::ExternalId, "dup"),
                (Column::Category, "訪問看護"),
                (Column::Provider, "P"),
                (Column::Name, "C"),
                (Column::Phone, "12"),
            ]),
            row(&[
                (Column::ExternalId, "dup"),
                (Column::Category, "home_nursing"),
                (Column::Provider, "P"),
                (Column::Name, "D"),
            ]),
        ];
        let p = plan(&file(&rows), Source::Utf8, &refs, &[]);
        assert!(p.has_errors());
        assert_eq!(p.error_rows(), 4);
        let e0 = p.rows[0].errors.join("\n");
        for part in [
            "種別：「存在しない種別」という種別はありません",
            "市町村コード：市町村コード「999999」は登録されていません",
            "対象年齢（下限）：0から99までの数字",
            "空き状況：「少し」は使えません",
            "対応できる医療的ケア：「空を飛ぶ」という医療的ケアの種別はありません",
            "公開：「たぶん」は使えません",
            "最終確認日：「いつか」は日付として読めません",
        ] {
            assert!(e0.contains(part), "{part}\n{e0}");
        }
        let e1 = p.rows[1].errors.join("\n");
        assert!(
            e1.contains("種別：種別「旧分類」は使用を終了しています"),
            "{e1}"
        );
        assert!(
            e1.contains("事業者名：運営法人・団体名を入力してください"),
            "{e1}"
        );
        assert!(e1.contains("廃止された市町村"), "{e1}");
        assert!(e1.contains("「旧ケア」は使用を終了した"), "{e1}");
        assert_eq!(p.rows[2].errors.len(), 1, "{:?}", p.rows[2].errors);
        assert!(p.rows[2].errors[0].starts_with("電話番号："));
        assert_eq!(
            p.rows[3].errors,
            ["外部ID：外部ID「dup」が4行目と重複しています"]
        );
        assert_eq!(p.rows[0].number, 2);
    }

    #[test]
    fn new_rows_without_an_id_are_created_with_one_assigned() {
        let refs = refs();
        let mut r = vec![String::new(); COLUMNS.len()];
        r[Column::Category.index()] = "訪問看護".into();
        r[Column::Provider.index()] = "法人".into();
        r[Column::Name.index()] = "新しい事業所".into();
        r[Column::Public.index()] = "公開".into();
        let p = plan(
            &file(&[r, vec![String::new(); 3]]),
            Source::Utf8,
            &refs,
            &[],
        );
        assert!(!p.has_errors(), "{:?}", p.rows[0].errors);
        assert_eq!(p.rows.len(), 1, "blank rows are skipped");
        assert_eq!(p.rows[0].action, RowAction::Create);
        assert!(p.rows[0].assigns_external_id);
        assert!(p.rows[0].input.is_public);
        assert_eq!(p.rows[0].availability, None);
    }

    #[test]
    fn missing_columns_keep_stored_values_and_unknown_ones_are_ignored() {
        let refs = refs();
        let s = stored();
        let rows = vec![
            vec!["外部ID".to_string(), "電話番号".into(), "備考".into()],
            vec!["x1".into(), "019-000-0000".into(), "無視".into()],
        ];
        let p = plan(&rows, Source::Utf8, &refs, std::slice::from_ref(&s));
        assert!(!p.has_errors(), "{:?}", p.rows[0].errors);
        assert_eq!(p.rows[0].action, RowAction::Update);
        assert_eq!(p.rows[0].changed, ["電話番号"]);
        assert_eq!(p.rows[0].input.internal_note, "内部");
        assert!(p.notices.iter().any(|n| n.contains("備考")));
        assert!(p.notices.iter().any(|n| n.contains("ファイルにない列")));
        let none = plan(&[vec!["a".into(), "b".into()]], Source::Utf8, &refs, &[]);
        assert!(none.file_errors[0].contains("見出し"));
        let twice = plan(
            &[vec!["外部ID".into(), "外部ＩＤ".into()]],
            Source::Utf8,
            &refs,
            &[],
        );
        assert!(twice.file_errors[0].contains("外部ID"));
        assert!(plan(&[], Source::Utf8, &refs, &[]).has_errors());
    }

    #[test]
    fn a_resource_without_external_id_is_matched_by_its_id() {
        let refs = refs();
        let mut s = stored();
        s.input.external_id = None;
        let cells = to_cells(&s, &refs);
        assert_eq!(cells[0], "0190-id");
        let p = plan(
            &file(&[cells]),
            Source::Utf8,
            &refs,
            std::slice::from_ref(&s),
        );
        assert_eq!(p.rows[0].action, RowAction::Unchanged);
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"a", b"ab", b"abc", b"\x00\xff\x10\x80 hello"] {
            assert_eq!(base64_decode(&base64_encode(data)).as_deref(), Some(data));
        }
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert!(base64_decode("*").is_none());
    }
}
