//! Areas and municipalities (圏域・市町村): the deployment's prefecture, its areas and the
//! municipalities they group; officers keep them current after mergers and reorganisations.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::Date;
use tsunagu_domain::geo::parse_municipality_code;
use tsunagu_domain::policy::{Action, Target, can};
use tsunagu_domain::text::fold_width_str;
use tsunagu_domain::validation::{FieldErrors, optional_text, required_text};
use tsunagu_domain::wareki::{format_wareki_date, parse_date_ja};
use tsunagu_store::StoreError;
use tsunagu_store::geo::{self, Area, AreaInput, Municipality, MunicipalityInput};

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/areas", Action::ViewGeography, overview)
        .get("/areas/new", Action::ManageGeography, area_new_page)
        .post("/areas/new", Action::ManageGeography, area_new_submit)
        .get("/areas/{id}/edit", Action::ManageGeography, area_edit_page)
        .post(
            "/areas/{id}/edit",
            Action::ManageGeography,
            area_edit_submit,
        )
        .post("/areas/{id}/delete", Action::ManageGeography, area_delete)
        .get(
            "/municipalities/new",
            Action::ManageGeography,
            municipality_new_page,
        )
        .post(
            "/municipalities/new",
            Action::ManageGeography,
            municipality_new_submit,
        )
        .get(
            "/municipalities/{code6}/edit",
            Action::ManageGeography,
            municipality_edit_page,
        )
        .post(
            "/municipalities/{code6}/edit",
            Action::ManageGeography,
            municipality_edit_submit,
        )
}

/// The default kind of a new area.
const DEFAULT_AREA_KIND: &str = "障がい保健福祉圏域";

/// A stored `YYYY-MM-DD` date in 和暦 (`令和8年4月1日`), or the text itself if it is not one.
fn wareki_of(stored: &str) -> String {
    parse_date_ja(stored)
        .map(format_wareki_date)
        .unwrap_or_else(|_| stored.to_string())
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

// ---------------------------------------------------------------------------------------------
// Overview

struct MunicipalityRow {
    m: Municipality,
    retired_label: String,
}

#[derive(Template)]
#[template(path = "geo/overview.html")]
struct OverviewPage {
    layout: Layout,
    prefecture_name: String,
    areas: Vec<Area>,
    municipalities: Vec<MunicipalityRow>,
    without_area: Vec<String>,
    can_manage: bool,
}

async fn overview(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let areas = geo::areas(&st.db, &st.cfg.prefecture_code).await?;
    let all = geo::municipalities(&st.db, &st.cfg.prefecture_code, true).await?;
    let without_area = all
        .iter()
        .filter(|m| m.retired_on.is_none() && !areas.iter().any(|a| a.has(&m.code6)))
        .map(|m| m.name.clone())
        .collect();
    let municipalities = all
        .into_iter()
        .map(|m| MunicipalityRow {
            retired_label: m.retired_on.as_deref().map(wareki_of).unwrap_or_default(),
            m,
        })
        .collect();
    render(&OverviewPage {
        layout: Layout::new(&st, &ctx, "圏域・市町村"),
        prefecture_name: st.cfg.prefecture_name.clone(),
        areas,
        municipalities,
        without_area,
        can_manage: can(Some(&actor), Action::ManageGeography, Target::Any),
    })
}

// ---------------------------------------------------------------------------------------------
// Areas

#[derive(Template)]
#[template(path = "geo/area_form.html")]
struct AreaFormPage {
    layout: Layout,
    heading: String,
    action: String,
    /// The area being edited (for its delete button).
    area_id: Option<String>,
    area_name: String,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

struct AreaValues {
    name: String,
    kind: String,
    sort_order: String,
    municipalities: Vec<String>,
}

impl AreaValues {
    fn from_area(a: &Area) -> AreaValues {
        AreaValues {
            name: a.name.clone(),
            kind: a.kind.clone(),
            sort_order: a.sort_order.to_string(),
            municipalities: a.municipalities.iter().map(|(c, _)| c.clone()).collect(),
        }
    }

    fn from_form(form: &FormData) -> AreaValues {
        AreaValues {
            name: form.get("name").trim().to_string(),
            kind: form.get("kind").trim().to_string(),
            sort_order: form.get("sort_order").trim().to_string(),
            municipalities: form
                .all("municipalities")
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }
}

/// Parses a sort order: a whole number 0–9999, full-width digits accepted.
fn parse_sort_order(value: &str) -> Option<i64> {
    let v = fold_width_str(value.trim());
    if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn read_area_form(
    form: &FormData,
    munis: &[Municipality],
    current: Option<&Area>,
) -> (AreaValues, Option<AreaInput>, FieldErrors) {
    let values = AreaValues::from_form(form);
    let mut e = FieldErrors::new();
    let name = required_text(&mut e, "name", "圏域の名前", &values.name, 50);
    let kind = required_text(&mut e, "kind", "種類", &values.kind, 50);
    let sort_order = parse_sort_order(&values.sort_order);
    if sort_order.is_none() {
        e.add(
            "sort_order",
            "表示順は0から9999までの整数で入力してください",
        );
    }
    let mut codes: Vec<String> = Vec::new();
    for code in &values.municipalities {
        let known = munis
            .iter()
            .any(|m| &m.code6 == code && m.retired_on.is_none())
            || current.is_some_and(|a| a.has(code));
        if !known {
            e.add("municipalities", "市町村を一覧から選んでください");
        } else if !codes.contains(code) {
            codes.push(code.clone());
        }
    }
    codes.sort();
    match sort_order {
        Some(sort_order) if e.is_empty() => (
            values,
            Some(AreaInput {
                name,
                kind,
                sort_order,
                municipality_codes: codes,
            }),
            e,
        ),
        _ => (values, None, e),
    }
}

fn area_fields(
    v: &AreaValues,
    munis: &[Municipality],
    current: Option<&Area>,
    errors: &FieldErrors,
) -> Vec<Field> {
    let choices = munis
        .iter()
        .filter(|m| m.retired_on.is_none() || current.is_some_and(|a| a.has(&m.code6)))
        .map(|m| {
            let mut label = m.name.clone();
            if m.retired_on.is_some() {
                label.push_str("（廃止）");
            }
            if let Some(area) = &m.area_name
                && current.is_none_or(|a| !a.has(&m.code6))
            {
                label.push_str(&format!("（いまは{area}）"));
            }
            Choice::new(&m.code6, label, v.municipalities.contains(&m.code6))
        })
        .collect();
    vec![
        Field::new("name", "圏域の名前", "text")
            .required()
            .value(&v.name)
            .hint("例：盛岡圏域")
            .errors(errors),
        Field::new("kind", "種類", "text")
            .required()
            .value(&v.kind)
            .hint(format!("例：{DEFAULT_AREA_KIND}、二次保健医療圏"))
            .errors(errors),
        Field::new("sort_order", "表示順", "text")
            .required()
            .value(&v.sort_order)
            .hint("小さい数字ほど上に表示します（0〜9999）")
            .inputmode("numeric")
            .errors(errors),
        Field::new("municipalities", "含まれる市町村", "checkboxes")
            .choices(choices)
            .hint("1つの市町村を複数の圏域に含めることもできます。")
            .errors(errors),
    ]
}

#[allow(clippy::too_many_arguments)]
async fn area_form(
    st: &AppState,
    ctx: &Ctx,
    heading: String,
    action: String,
    current: Option<&Area>,
    values: &AreaValues,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, true).await?;
    render_status(
        status,
        &AreaFormPage {
            layout: Layout::new(st, ctx, heading.clone()),
            heading,
            action,
            area_id: current.map(|a| a.id.clone()),
            area_name: current.map(|a| a.name.clone()).unwrap_or_default(),
            fields: area_fields(values, &munis, current, errors),
            errors: summary(errors),
        },
    )
}

fn area_store_error(e: StoreError, errors: &mut FieldErrors) -> Result<(), AppError> {
    match e {
        StoreError::Conflict(m) => errors.add("name", m),
        StoreError::Invalid(m) => errors.add("municipalities", m),
        other => return Err(other.into()),
    }
    Ok(())
}

async fn area_new_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let areas = geo::areas(&st.db, &st.cfg.prefecture_code).await?;
    let next = areas
        .iter()
        .map(|a| a.sort_order)
        .max()
        .map_or(1, |m| m + 1);
    let values = AreaValues {
        name: String::new(),
        kind: DEFAULT_AREA_KIND.to_string(),
        sort_order: next.clamp(0, 9999).to_string(),
        municipalities: Vec::new(),
    };
    area_form(
        &st,
        &ctx,
        "圏域の追加".into(),
        "/areas/new".into(),
        None,
        &values,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn area_new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, true).await?;
    let (values, input, mut errors) = read_area_form(&form, &munis, None);
    if let Some(input) = input {
        let mut tx = st.db.begin().await?;
        match geo::save_area(&mut tx, &ctx.audit(), &st.cfg.prefecture_code, None, &input).await {
            Ok(_) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    "/areas",
                    "success",
                    &format!("「{}」を追加しました。", input.name),
                ));
            }
            Err(e) => {
                drop(tx);
                area_store_error(e, &mut errors)?;
            }
        }
    }
    area_form(
        &st,
        &ctx,
        "圏域の追加".into(),
        "/areas/new".into(),
        None,
        &values,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn area_edit_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let area = geo::area(&st.db, &st.cfg.prefecture_code, &id).await?;
    area_form(
        &st,
        &ctx,
        format!("{}の編集", area.name),
        format!("/areas/{}/edit", area.id),
        Some(&area),
        &AreaValues::from_area(&area),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn area_edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let area = geo::area(&st.db, &st.cfg.prefecture_code, &id).await?;
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, true).await?;
    let (values, input, mut errors) = read_area_form(&form, &munis, Some(&area));
    if let Some(input) = input {
        let mut tx = st.db.begin().await?;
        match geo::save_area(
            &mut tx,
            &ctx.audit(),
            &st.cfg.prefecture_code,
            Some(&area.id),
            &input,
        )
        .await
        {
            Ok(_) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    "/areas",
                    "success",
                    &format!("「{}」を保存しました。", input.name),
                ));
            }
            Err(e) => {
                drop(tx);
                area_store_error(e, &mut errors)?;
            }
        }
    }
    area_form(
        &st,
        &ctx,
        format!("{}の編集", area.name),
        format!("/areas/{}/edit", area.id),
        Some(&area),
        &values,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn area_delete(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let area = geo::area(&st.db, &st.cfg.prefecture_code, &id).await?;
    let mut tx = st.db.begin().await?;
    geo::delete_area(&mut tx, &ctx.audit(), &st.cfg.prefecture_code, &area.id).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        "/areas",
        "success",
        &format!(
            "「{}」を削除しました。含まれていた市町村はそのまま残っています。",
            area.name
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Municipalities

#[derive(Template)]
#[template(path = "geo/municipality_form.html")]
struct MunicipalityFormPage {
    layout: Layout,
    heading: String,
    action: String,
    /// (label, value) shown but not editable: the code when editing.
    fixed: Vec<(String, String)>,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

struct MunicipalityValues {
    code: String,
    name: String,
    kana: String,
    retired_on: String,
    note: String,
}

impl MunicipalityValues {
    fn from_form(form: &FormData) -> MunicipalityValues {
        MunicipalityValues {
            code: form.get("code").trim().to_string(),
            name: form.get("name").trim().to_string(),
            kana: form.get("kana").trim().to_string(),
            retired_on: form.get("retired_on").trim().to_string(),
            note: form.get("note").trim().to_string(),
        }
    }
}

/// Checks name, kana, note and (when editing) the retirement date.
fn read_municipality_input(
    v: &MunicipalityValues,
    with_retired_on: bool,
    e: &mut FieldErrors,
) -> MunicipalityInput {
    let name = required_text(e, "name", "市町村名", &v.name, 50);
    let kana = optional_text(e, "kana", "よみがな", &v.kana, 100);
    let note = optional_text(e, "note", "備考", &v.note, 500);
    let retired_on = if with_retired_on && !v.retired_on.is_empty() {
        match parse_date_ja(&v.retired_on) {
            Ok(d) => Some(iso(d)),
            Err(err) => {
                e.add("retired_on", format!("廃止日：{err}"));
                None
            }
        }
    } else {
        None
    };
    MunicipalityInput {
        name,
        kana,
        retired_on,
        note,
    }
}

fn municipality_fields(v: &MunicipalityValues, new: bool, errors: &FieldErrors) -> Vec<Field> {
    let mut fields = Vec::new();
    if new {
        fields.push(
            Field::new("code", "市町村コード", "text")
                .required()
                .value(&v.code)
                .hint("全国地方公共団体コード（5桁または6桁）。例：03201 または 032018")
                .inputmode("numeric")
                .errors(errors),
        );
    }
    fields.push(
        Field::new("name", "市町村名", "text")
            .required()
            .value(&v.name)
            .hint("例：盛岡市")
            .errors(errors),
    );
    fields.push(
        Field::new("kana", "よみがな", "text")
            .value(&v.kana)
            .hint("例：もりおかし")
            .errors(errors),
    );
    if !new {
        fields.push(
            Field::new("retired_on", "廃止日", "text")
                .value(&v.retired_on)
                .hint("合併などで廃止された場合に入力します。例：2026-04-01 または 令和8年4月1日。空欄にすると、廃止を取り消して有効に戻します。")
                .errors(errors),
        );
    }
    fields.push(
        Field::new("note", "備考", "textarea")
            .value(&v.note)
            .hint("合併の経緯など（500文字以内）")
            .errors(errors),
    );
    fields
}

async fn municipality_form(
    st: &AppState,
    ctx: &Ctx,
    current: Option<&Municipality>,
    values: &MunicipalityValues,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (heading, action, fixed) = match current {
        Some(m) => (
            format!("{}の編集", m.name),
            format!("/municipalities/{}/edit", m.code6),
            vec![("市町村コード".to_string(), m.code6.clone())],
        ),
        None => (
            "市町村の追加".to_string(),
            "/municipalities/new".to_string(),
            Vec::new(),
        ),
    };
    render_status(
        status,
        &MunicipalityFormPage {
            layout: Layout::new(st, ctx, heading.clone()),
            heading,
            action,
            fixed,
            fields: municipality_fields(values, current.is_none(), errors),
            errors: summary(errors),
        },
    )
}

async fn municipality_new_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let values = MunicipalityValues {
        code: String::new(),
        name: String::new(),
        kana: String::new(),
        retired_on: String::new(),
        note: String::new(),
    };
    municipality_form(
        &st,
        &ctx,
        None,
        &values,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn municipality_new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let values = MunicipalityValues::from_form(&form);
    let mut errors = FieldErrors::new();
    let code = if values.code.is_empty() {
        errors.add("code", "市町村コードを入力してください");
        None
    } else {
        match parse_municipality_code(&values.code) {
            Ok(c) if c.is_prefecture() => {
                errors.add(
                    "code",
                    "都道府県のコードではなく、市町村のコードを入力してください",
                );
                None
            }
            Ok(c) if c.prefecture_code() != st.cfg.prefecture_code => {
                errors.add(
                    "code",
                    format!(
                        "{}の市町村コード（先頭2桁が{}）を入力してください",
                        st.cfg.prefecture_name, st.cfg.prefecture_code
                    ),
                );
                None
            }
            Ok(c) => Some(c),
            Err(err) => {
                errors.add("code", err.to_string());
                None
            }
        }
    };
    let input = read_municipality_input(&values, false, &mut errors);
    if let Some(code) = code.filter(|_| errors.is_empty()) {
        let mut tx = st.db.begin().await?;
        match geo::add_municipality(&mut tx, &ctx.audit(), &code, &input).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    "/areas",
                    "success",
                    &format!("{}（{}）を追加しました。", input.name, code.code6()),
                ));
            }
            Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => {
                drop(tx);
                errors.add("code", m);
            }
            Err(e) => return Err(e.into()),
        }
    }
    municipality_form(
        &st,
        &ctx,
        None,
        &values,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A municipality of this deployment's prefecture; others are not found.
async fn own_municipality(st: &AppState, code6: &str) -> Result<Municipality, AppError> {
    let m = geo::municipality(&st.db, code6).await?;
    if m.prefecture_code != st.cfg.prefecture_code {
        return Err(AppError::NotFound);
    }
    Ok(m)
}

async fn municipality_edit_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code6): Path<String>,
) -> Result<Response, AppError> {
    let m = own_municipality(&st, &code6).await?;
    let values = MunicipalityValues {
        code: m.code6.clone(),
        name: m.name.clone(),
        kana: m.kana.clone(),
        retired_on: m.retired_on.clone().unwrap_or_default(),
        note: m.note.clone(),
    };
    municipality_form(
        &st,
        &ctx,
        Some(&m),
        &values,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn municipality_edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code6): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let m = own_municipality(&st, &code6).await?;
    let values = MunicipalityValues::from_form(&form);
    let mut errors = FieldErrors::new();
    let input = read_municipality_input(&values, true, &mut errors);
    if errors.is_empty() {
        let mut tx = st.db.begin().await?;
        geo::update_municipality(&mut tx, &ctx.audit(), &m.code6, &input).await?;
        tx.commit().await?;
        let msg = match (&m.retired_on, &input.retired_on) {
            (None, Some(d)) => format!(
                "{}を{}付けで廃止として記録しました。",
                input.name,
                wareki_of(d)
            ),
            (Some(_), None) => format!("{}の廃止を取り消し、有効に戻しました。", input.name),
            _ => format!("{}を保存しました。", input.name),
        };
        return Ok(redirect_with_flash(&st, "/areas", "success", &msg));
    }
    municipality_form(
        &st,
        &ctx,
        Some(&m),
        &values,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn muni(code6: &str, retired: bool) -> Municipality {
        Municipality {
            code6: code6.into(),
            code5: code6.get(..5).unwrap_or_default().into(),
            prefecture_code: "03".into(),
            kind: "municipality".into(),
            name: format!("市{code6}"),
            kana: String::new(),
            parent_code6: None,
            retired_on: retired.then(|| "2006-01-10".to_string()),
            note: String::new(),
            area_name: None,
        }
    }

    #[test]
    fn sort_order_is_a_small_whole_number() {
        assert_eq!(parse_sort_order("3"), Some(3));
        assert_eq!(parse_sort_order("１２"), Some(12));
        assert_eq!(parse_sort_order("0"), Some(0));
        for bad in ["", "-1", "1.5", "10000", "abc"] {
            assert_eq!(parse_sort_order(bad), None, "{bad}");
        }
    }

    #[test]
    fn retired_municipalities_can_only_stay_in_an_area() {
        let munis = [muni("032018", false), muni("032000", true)];
        let form = FormData::parse_str(
            "name=A&kind=K&sort_order=1&municipalities=032018&municipalities=032000",
        );
        let (_, input, errors) = read_area_form(&form, &munis, None);
        assert!(input.is_none());
        assert!(errors.get("municipalities").is_some());
        let area = Area {
            id: "a".into(),
            name: "A".into(),
            kind: "K".into(),
            sort_order: 1,
            municipalities: vec![("032000".into(), "旧市".into())],
        };
        let (_, input, errors) = read_area_form(&form, &munis, Some(&area));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            input.map(|i| i.municipality_codes),
            Some(vec!["032000".to_string(), "032018".to_string()])
        );
    }

    #[test]
    fn retirement_dates_are_stored_as_iso_and_shown_in_wareki() {
        let mut e = FieldErrors::new();
        let v = MunicipalityValues {
            code: String::new(),
            name: "盛岡市".into(),
            kana: String::new(),
            retired_on: "令和8年4月1日".into(),
            note: String::new(),
        };
        let input = read_municipality_input(&v, true, &mut e);
        assert!(e.is_empty());
        assert_eq!(input.retired_on.as_deref(), Some("2026-04-01"));
        assert_eq!(wareki_of("2026-04-01"), "令和8年4月1日");

        let v = MunicipalityValues {
            retired_on: "2026-02-30".into(),
            ..v
        };
        let mut e = FieldErrors::new();
        read_municipality_input(&v, true, &mut e);
        assert!(e.get("retired_on").is_some());
    }
}
