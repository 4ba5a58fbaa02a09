//! Importing and exporting the resource directory (社会資源の取り込み・書き出し), for those who
//! manage it: CSV (UTF-8, UTF-8 with BOM or Shift_JIS, found out by itself) or Excel files are
//! previewed row by row with each row's errors, then committed all or nothing; exports in the
//! same column layout (CSV in UTF-8 with BOM or Shift_JIS, Excel); and the public directory as
//! Open Referral HSDS 3.0 JSON for anybody.
//!
//! The uploaded file waits in the database between preview and commit (the commit form only
//! names it), and the commit checks every row again inside its transaction.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tsunagu_domain::csv_import::{self, Source, TableLimits, normalise_line_endings};
use tsunagu_domain::policy::Action;
use tsunagu_domain::wareki::today_jst;
use tsunagu_store::audit::{self, Event};
use tsunagu_store::resource_transfer::{self as transfer, COLUMNS, Plan, Refs, RowAction, Stored};
use tsunagu_store::resources::{Availability, Viewer};
use tsunagu_store::{StoreError, clock};

use super::render_status;
use crate::AppState;
use crate::csv_export::{Encoding, to_csv_bytes};
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::FormData;
use crate::layout::Layout;
use crate::routes::AppRouter;
use crate::xlsx::{self, Cell, Sheet};

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/resources/import", Action::ManageResources, import_page)
        .post("/resources/import", Action::ManageResources, import_upload)
        .get("/resources/import/{id}", Action::ManageResources, preview)
        .post(
            "/resources/import/{id}/commit",
            Action::ManageResources,
            commit,
        )
        .get("/resources/export.csv", Action::ManageResources, export_csv)
        .get(
            "/resources/export.xlsx",
            Action::ManageResources,
            export_xlsx,
        )
        .get("/directory/hsds.json", Action::Public, hsds)
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Reads an uploaded file as rows of cells: an Excel workbook (a zip) by its first sheet,
/// anything else as CSV in whichever encoding it is.
pub fn read_upload(bytes: &[u8]) -> Result<(Vec<Vec<String>>, Source), String> {
    if bytes.is_empty() {
        return Err("ファイルが空です".into());
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let rows = xlsx::read_first_sheet(bytes, &TableLimits::IMPORT)?
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|c| normalise_line_endings(&c).into_owned())
                    .collect()
            })
            .collect();
        return Ok((rows, Source::Xlsx));
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(
            "Excel 97-2003 形式（.xls）は読めません。Excel で「Excel ブック（.xlsx）」か「CSV」で保存し直してください"
                .into(),
        );
    }
    csv_import::read_csv(bytes, &TableLimits::IMPORT)
}

// ---------------------------------------------------------------------------------------------
// Upload form

#[derive(Template)]
#[template(path = "resources/import.html")]
struct ImportPage {
    layout: Layout,
    action: String,
    error: Option<String>,
    columns: Vec<(&'static str, &'static str)>,
    max_mb: String,
}

fn import_form(st: &AppState, ctx: &Ctx, error: Option<String>) -> Result<Response, AppError> {
    let token: String = form_urlencoded::byte_serialize(ctx.csrf_token.as_bytes()).collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mb = st.cfg.max_body_bytes as f64 / (1024.0 * 1024.0);
    render_status(
        status,
        &ImportPage {
            layout: Layout::new(st, ctx, "社会資源の取り込み・書き出し"),
            action: format!("/resources/import?csrf_token={token}"),
            error,
            columns: COLUMNS
                .iter()
                .map(|c| (c.header(), c.description()))
                .collect(),
            max_mb: if mb.fract() == 0.0 {
                format!("{mb:.0}")
            } else {
                format!("{mb:.1}")
            },
        },
    )
}

async fn import_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    import_form(&st, &ctx, None)
}

/// The plan for `rows` against the database as it is now.
async fn plan_now(st: &AppState, rows: &[Vec<String>], source: Source) -> Result<Plan, AppError> {
    let refs = transfer::refs(&st.db).await?;
    let stored = transfer::stored(&st.db).await?;
    Ok(transfer::plan(rows, source, &refs, &stored))
}

async fn import_upload(
    State(st): State<AppState>,
    ctx: Ctx,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let user_id = ctx.session()?.user.id.clone();
    let Ok(mut multipart) = multipart else {
        return import_form(&st, &ctx, Some("ファイルを選んでください".into()));
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                if field.name() != Some("file") {
                    continue;
                }
                let name = field.file_name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(b) => file = Some((name, b.to_vec())),
                    Err(_) => {
                        return import_form(
                            &st,
                            &ctx,
                            Some(
                                "ファイルを読み取れませんでした。大きすぎないか確かめて、もう一度選んでください"
                                    .into(),
                            ),
                        );
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                return import_form(
                    &st,
                    &ctx,
                    Some("ファイルを読み取れませんでした。もう一度選んでください".into()),
                );
            }
        }
    }
    let Some((filename, bytes)) = file.filter(|(n, b)| !n.is_empty() || !b.is_empty()) else {
        return import_form(&st, &ctx, Some("ファイルを選んでください".into()));
    };
    let (rows, source) = match read_upload(&bytes) {
        Ok(r) => r,
        Err(m) => return import_form(&st, &ctx, Some(m)),
    };
    let plan = plan_now(&st, &rows, source).await?;
    if !plan.file_errors.is_empty() {
        return import_form(&st, &ctx, Some(plan.file_errors.join("。")));
    }
    let mut tx = st.db.begin().await?;
    let id = transfer::save_upload(&mut tx, &ctx.audit(), &user_id, &filename, &bytes).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/resources/import/{id}")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Preview and commit

struct RowView {
    number: usize,
    external_id: String,
    name: String,
    action: String,
    note: String,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "resources/import_preview.html")]
struct PreviewPage {
    layout: Layout,
    id: String,
    sha256: String,
    filename: String,
    source: &'static str,
    rows: Vec<RowView>,
    created: usize,
    updated: usize,
    unchanged: usize,
    error_rows: usize,
    file_errors: Vec<String>,
    notices: Vec<String>,
    has_errors: bool,
    committed: bool,
    can_commit: bool,
    message: Option<String>,
}

fn preview_response(
    st: &AppState,
    ctx: &Ctx,
    upload: &transfer::Upload,
    source: Source,
    plan: &Plan,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, AppError> {
    let committed = upload.committed_at.is_some();
    let rows = plan
        .rows
        .iter()
        .map(|r| {
            let mut notes = Vec::new();
            if r.assigns_external_id {
                notes.push("外部IDを割り当てます".to_string());
            }
            if !r.changed.is_empty() {
                notes.push(format!("変わる列：{}", r.changed.join("、")));
            }
            if r.retired && r.action == RowAction::Update {
                notes.push("掲載終了中のまま更新します".to_string());
            }
            RowView {
                number: r.number,
                external_id: r.external_id.clone(),
                name: r.name.clone(),
                action: if r.errors.is_empty() {
                    r.action.label().to_string()
                } else {
                    "取り込めません".to_string()
                },
                note: notes.join("。"),
                errors: r.errors.clone(),
            }
        })
        .collect();
    render_status(
        status,
        &PreviewPage {
            layout: Layout::new(st, ctx, "取り込む内容の確認"),
            id: upload.id.clone(),
            sha256: upload.sha256.clone(),
            filename: upload.filename.clone(),
            source: source.label(),
            rows,
            created: plan.count(RowAction::Create),
            updated: plan.count(RowAction::Update),
            unchanged: plan.count(RowAction::Unchanged),
            error_rows: plan.error_rows(),
            file_errors: plan.file_errors.clone(),
            notices: plan.notices.clone(),
            has_errors: plan.has_errors(),
            committed,
            can_commit: !committed && !plan.has_errors() && plan.has_work(),
            message,
        },
    )
}

async fn preview(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user_id = ctx.session()?.user.id.clone();
    let upload = transfer::upload(&st.db, &id, &user_id).await?;
    let (rows, source) = read_upload(&upload.content).map_err(AppError::BadRequest)?;
    let plan = plan_now(&st, &rows, source).await?;
    preview_response(&st, &ctx, &upload, source, &plan, StatusCode::OK, None)
}

async fn commit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let user_id = ctx.session()?.user.id.clone();
    let upload = transfer::upload(&st.db, &id, &user_id).await?;
    let (rows, source) = read_upload(&upload.content).map_err(AppError::BadRequest)?;
    let again = |status: StatusCode, message: String| {
        let st = st.clone();
        let ctx = ctx.clone();
        let upload = upload.clone();
        let rows = rows.clone();
        async move {
            let plan = plan_now(&st, &rows, source).await?;
            preview_response(&st, &ctx, &upload, source, &plan, status, Some(message))
        }
    };
    if form.get("sha256") != upload.sha256 {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "確認したファイルと違います。内容をもう一度確認してから取り込んでください。".into(),
        )
        .await;
    }
    match transfer::commit(&st.db, &ctx.audit(), &id, &user_id, read_upload).await {
        Ok(Ok(counts)) => Ok(redirect_with_flash(
            &st,
            "/resources",
            "success",
            &format!(
                "「{}」を取り込みました（新規{}件・更新{}件・変更なし{}件）。",
                upload.filename, counts.created, counts.updated, counts.unchanged
            ),
        )),
        Ok(Err(plan)) => preview_response(
            &st,
            &ctx,
            &upload,
            source,
            &plan,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(
                "取り込めませんでした。確認のあとで登録内容が変わり、エラーのある行ができました。何も取り込んでいません。"
                    .into(),
            ),
        ),
        Err(StoreError::Conflict(m)) => again(StatusCode::CONFLICT, m).await,
        Err(StoreError::Invalid(m)) => {
            again(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("取り込めませんでした（{m}）。何も取り込んでいません。"),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Exports

fn today_compact() -> String {
    let d = today_jst(clock::now());
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

fn download(body: Vec<u8>, content_type: &str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    resp
}

/// Every current resource as export rows, for a manager (internal fields included); the
/// export is recorded first.
async fn export_rows(st: &AppState, ctx: &Ctx, format: &str) -> Result<Vec<Vec<String>>, AppError> {
    let actor = ctx.require_actor()?;
    let viewer = Viewer::of(Some(&actor));
    if !viewer.manages() {
        return Err(AppError::Forbidden);
    }
    let list = transfer::export_list(&st.db, viewer).await?;
    let refs = transfer::refs(&st.db).await?;
    audit::record(
        &st.db,
        &ctx.audit(),
        Event::new("resource.export", "resource", "").detail(format!("{format}、{}件", list.len())),
    )
    .await?;
    Ok(list.iter().map(|s| transfer::to_cells(s, &refs)).collect())
}

async fn export_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let enc = Encoding::from_param(q.get("enc"));
    let label = match enc {
        Encoding::Utf8Bom => "CSV（UTF-8）",
        Encoding::ShiftJis => "CSV（Shift_JIS）",
    };
    let rows = export_rows(&st, &ctx, label).await?;
    let body = to_csv_bytes(&transfer::headers(), &rows, enc);
    Ok(download(
        body,
        enc.content_type(),
        &format!("resources-{}.csv", today_compact()),
    ))
}

async fn export_xlsx(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let rows = export_rows(&st, &ctx, "Excel").await?;
    // Every cell is text: codes keep their leading zeros, and nothing is a formula.
    let body = xlsx::write(&[Sheet {
        name: "社会資源",
        headers: transfer::headers().iter().map(|h| h.to_string()).collect(),
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(Cell::Text).collect())
            .collect(),
    }])?;
    Ok(download(
        body,
        XLSX_TYPE,
        &format!("resources-{}.xlsx", today_compact()),
    ))
}

// ---------------------------------------------------------------------------------------------
// HSDS 3.0

/// A stable UUID (version 8, from SHA-256) for HSDS objects that have no id of their own: the
/// same input gives the same id in every export.
fn stable_uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"tsunagu-hsds");
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The taxonomy of care types in HSDS attributes.
pub const CARE_TAXONOMY: &str = "tsunagu-care-type";
/// The taxonomy of resource categories.
pub const CATEGORY_TAXONOMY: &str = "tsunagu-resource-category";
/// The taxonomy of availability (空き状況).
pub const AVAILABILITY_TAXONOMY: &str = "tsunagu-availability";

fn attribute(
    service_id: &str,
    taxonomy: &str,
    code: &str,
    name: &str,
    description: String,
    value: &str,
) -> Value {
    let term_id = stable_uuid(&["taxonomy_term", taxonomy, code]);
    let mut a = json!({
        "id": stable_uuid(&["attribute", service_id, taxonomy, code]),
        "link_id": service_id,
        "link_entity": "service",
        "link_type": taxonomy,
        "taxonomy_term_id": term_id,
        "taxonomy_term": {
            "id": term_id,
            "code": code,
            "name": name,
            "description": description,
            "taxonomy": taxonomy,
        },
    });
    if !value.is_empty() {
        a["value"] = json!(value);
    }
    a
}

/// One public resource as an HSDS 3.0 `service` with its organization, location, phones,
/// hours, service areas and attributes. Internal fields are never read here.
fn hsds_service(s: &Stored, refs: &Refs, prefecture: &str) -> Value {
    let i = &s.input;
    let id = s.id.as_str();
    let org_id = stable_uuid(&["organization", &i.provider_name]);
    let mut svc = json!({
        "id": id,
        "organization_id": org_id,
        "name": i.name,
        "description": i.description,
        "status": "active",
        "last_modified": s.updated_at,
        "organization": {
            "id": org_id,
            "name": i.provider_name,
            "description": "",
        },
    });
    let mut put = |key: &str, v: &str| {
        if !v.is_empty() {
            svc[key] = json!(v);
        }
    };
    put("url", &i.website);
    put("email", &i.email);
    put("eligibility_description", &i.eligibility_note);
    put("fees_description", &i.fees_note);
    put("assured_date", i.last_verified_on.as_deref().unwrap_or(""));
    if let Some(a) = i.age_min {
        svc["minimum_age"] = json!(a);
    }
    if let Some(a) = i.age_max {
        svc["maximum_age"] = json!(a);
    }
    let mut phones = Vec::new();
    for (number, kind) in [(&i.phone, "voice"), (&i.fax, "fax")] {
        if !number.is_empty() {
            phones.push(json!({
                "id": stable_uuid(&["phone", id, kind]),
                "service_id": id,
                "number": number,
                "type": kind,
            }));
        }
    }
    svc["phones"] = json!(phones);
    if !i.hours.is_empty() {
        svc["schedules"] = json!([{
            "id": stable_uuid(&["schedule", id]),
            "service_id": id,
            "description": i.hours,
        }]);
    }
    let city = i
        .municipality_code6
        .as_deref()
        .and_then(|c| refs.municipality(c))
        .map(|m| m.name.clone())
        .unwrap_or_default();
    if !i.address.is_empty() || !city.is_empty() {
        let location_id = stable_uuid(&["location", id]);
        let mut location = json!({
            "id": location_id,
            "location_type": "physical",
            "name": i.name,
            "organization_id": org_id,
            "addresses": [{
                "id": stable_uuid(&["address", id]),
                "location_id": location_id,
                "address_1": i.address,
                "city": city,
                "state_province": prefecture,
                "postal_code": i.postal_code,
                "country": "JP",
                "address_type": "physical",
            }],
        });
        if let Some(code) = &i.municipality_code6 {
            location["external_identifier"] = json!(code);
            location["external_identifier_type"] = json!("jp-local-government-code");
        }
        svc["service_at_locations"] = json!([{
            "id": stable_uuid(&["service_at_location", id]),
            "service_id": id,
            "location_id": location_id,
            "location": location,
        }]);
    }
    svc["service_areas"] = json!(
        i.service_area
            .iter()
            .map(|code| {
                let name = refs
                    .municipality(code)
                    .map(|m| m.name.clone())
                    .unwrap_or_else(|| code.clone());
                json!({
                    "id": stable_uuid(&["service_area", id, code]),
                    "service_id": id,
                    "name": name,
                    "description": format!("全国地方公共団体コード {code}"),
                    "extent": code,
                    "extent_type": "text",
                })
            })
            .collect::<Vec<_>>()
    );
    let mut attributes = Vec::new();
    if let Some(c) = refs.category(&i.category_id) {
        let code = c.code.clone().unwrap_or_else(|| c.id.clone());
        attributes.push(attribute(
            id,
            CATEGORY_TAXONOMY,
            &code,
            &c.name,
            format!("社会資源の種別：{}", c.name),
            "",
        ));
    }
    for care in &i.care_types {
        let name = refs
            .care_type(&care.code)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| care.code.clone());
        attributes.push(attribute(
            id,
            CARE_TAXONOMY,
            &care.code,
            &name,
            format!("対応できる医療的ケア：{name}"),
            &care.note,
        ));
    }
    if s.availability != Availability::Unknown || s.availability_confirmed_on.is_some() {
        attributes.push(attribute(
            id,
            AVAILABILITY_TAXONOMY,
            s.availability.code(),
            s.availability.label(),
            format!("空き状況：{}", s.availability.label()),
            s.availability_confirmed_on.as_deref().unwrap_or(""),
        ));
    }
    svc["attributes"] = json!(attributes);
    svc
}

/// The public directory as HSDS 3.0: an array of `service` objects.
async fn hsds(State(st): State<AppState>) -> Result<Response, AppError> {
    let list = transfer::export_list(&st.db, Viewer::Public).await?;
    let refs = transfer::refs(&st.db).await?;
    let doc: Vec<Value> = list
        .iter()
        .map(|s| hsds_service(s, &refs, &st.cfg.prefecture_name))
        .collect();
    let body = serde_json::to_vec_pretty(&doc)
        .map_err(|e| AppError::Internal(format!("hsds json: {e}")))?;
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_uuids_are_well_formed_and_repeatable() {
        let a = stable_uuid(&["organization", "法人"]);
        assert_eq!(a, stable_uuid(&["organization", "法人"]));
        assert_ne!(a, stable_uuid(&["organization", "別の法人"]));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {a}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "variant: {a}"
        );
    }

    #[test]
    fn uploads_are_read_as_csv_or_workbooks() {
        let (rows, source) = read_upload("外部ID,サービス名\r\nx,y\r\n".as_bytes()).expect("csv");
        assert_eq!(source, Source::Utf8);
        assert_eq!(rows[1], ["x", "y"]);
        let book = xlsx::write(&[Sheet {
            name: "s",
            headers: vec!["外部ID".into()],
            rows: vec![vec![Cell::Text("a\r\nb".into())]],
        }])
        .expect("xlsx");
        let (rows, source) = read_upload(&book).expect("xlsx");
        assert_eq!(source, Source::Xlsx);
        assert_eq!(rows[1], ["a\nb"]);
        assert!(read_upload(b"").is_err());
        assert!(read_upload(b"\xD0\xCF\x11\xE0rest").is_err());
    }
}
