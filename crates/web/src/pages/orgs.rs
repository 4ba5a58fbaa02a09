//! Organisations (関係機関): the directory every signed-in user may read, the contact details
//! an organisation's own staff may correct, and registering and retiring organisations
//! (system administrators).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::policy::{Action, Target, can};
use tsunagu_domain::roles::OrgKind;
use tsunagu_domain::validation::{
    FieldErrors, optional_email, optional_phone, optional_text, required_text,
};
use tsunagu_store::StoreError;
use tsunagu_store::geo::{self, Municipality};
use tsunagu_store::orgs::{self, OrgInput, Organisation};

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/orgs", Action::ViewOrganisations, list)
        .get("/orgs/{id}", Action::ViewOrganisations, detail)
        .get("/orgs/{id}/edit", Action::EditOrganisation, edit_page)
        .post("/orgs/{id}/edit", Action::EditOrganisation, edit_submit)
        .post("/orgs/{id}/retire", Action::ManageOrganisations, retire)
        .post(
            "/orgs/{id}/reinstate",
            Action::ManageOrganisations,
            reinstate,
        )
        .get("/admin/orgs/new", Action::ManageOrganisations, new_page)
        .post("/admin/orgs/new", Action::ManageOrganisations, new_submit)
}

fn target(o: &Organisation) -> Target<'_> {
    Target::Organisation {
        id: &o.id,
        municipality_code6: o.municipality_code6.as_deref(),
    }
}

// ---------------------------------------------------------------------------------------------
// List

#[derive(Template)]
#[template(path = "orgs/list.html")]
struct ListPage {
    layout: Layout,
    orgs: Vec<Organisation>,
    kinds: Vec<Choice>,
    name: String,
    include_retired: bool,
    filtered: bool,
    can_create: bool,
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let kind = OrgKind::from_code(q.get("kind"))
        .map(|k| k.code().to_string())
        .unwrap_or_default();
    let name: String = q.get("name").trim().chars().take(100).collect();
    let include_retired = q.get("retired") == "1";
    let filter = orgs::Filter {
        kind: kind.clone(),
        name_contains: name.clone(),
        include_retired,
    };
    let found = orgs::list(&st.db, &actor, &filter).await?;
    let mut kinds = vec![Choice::new("", "すべて", kind.is_empty())];
    kinds.extend(
        OrgKind::ALL
            .into_iter()
            .map(|k| Choice::new(k.code(), k.label(), k.code() == kind)),
    );
    render(&ListPage {
        layout: Layout::new(&st, &ctx, "関係機関"),
        orgs: found,
        kinds,
        filtered: !kind.is_empty() || !name.is_empty() || include_retired,
        name,
        include_retired,
        can_create: can(Some(&actor), Action::ManageOrganisations, Target::Any),
    })
}

// ---------------------------------------------------------------------------------------------
// Detail

#[derive(Template)]
#[template(path = "orgs/detail.html")]
struct DetailPage {
    layout: Layout,
    org: Organisation,
    can_edit: bool,
    can_manage: bool,
    can_manage_users: bool,
    own_org: bool,
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let org = orgs::get(&st.db, &id).await?;
    ctx.authorize(Action::ViewOrganisations, target(&org))?;
    let page = DetailPage {
        layout: Layout::new(&st, &ctx, org.name.clone()),
        can_edit: can(Some(&actor), Action::EditOrganisation, target(&org)),
        can_manage: can(Some(&actor), Action::ManageOrganisations, target(&org)),
        can_manage_users: can(Some(&actor), Action::ManageUsers, Target::Any),
        own_org: actor.organisation_id == org.id,
        org,
    };
    render(&page)
}

// ---------------------------------------------------------------------------------------------
// Form (new and edit)

#[derive(Template)]
#[template(path = "orgs/form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    action: String,
    cancel_href: String,
    submit_label: String,
    /// Values shown but not editable by this user (kind and name for non-administrators).
    fixed: Vec<(String, String)>,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

/// What the form shows: either a stored organisation or what was typed.
struct FormValues {
    kind: String,
    name: String,
    municipality: String,
    address: String,
    phone: String,
    email: String,
}

impl FormValues {
    fn from_org(o: &Organisation) -> FormValues {
        FormValues {
            kind: o.kind.clone(),
            name: o.name.clone(),
            municipality: o.municipality_code6.clone().unwrap_or_default(),
            address: o.address.clone(),
            phone: o.phone.clone(),
            email: o.email.clone(),
        }
    }

    fn from_input(i: &OrgInput) -> FormValues {
        FormValues {
            kind: i.kind.clone(),
            name: i.name.clone(),
            municipality: i.municipality_code6.clone().unwrap_or_default(),
            address: i.address.clone(),
            phone: i.phone.clone(),
            email: i.email.clone(),
        }
    }
}

/// The municipalities one may choose: the prefecture's current ones, plus the one already set
/// (which may since have been merged away).
fn municipality_choices(munis: &[Municipality], current: &str, selected: &str) -> Vec<Choice> {
    let mut out = vec![Choice::new("", "指定なし", selected.is_empty())];
    out.extend(
        munis
            .iter()
            .map(|m| Choice::new(&m.code6, &m.name, m.code6 == selected)),
    );
    if !current.is_empty() && !munis.iter().any(|m| m.code6 == current) {
        out.push(Choice::new(
            current,
            format!("{current}（廃止された市町村）"),
            current == selected,
        ));
    }
    out
}

fn build_fields(
    v: &FormValues,
    identity_editable: bool,
    munis: &[Municipality],
    current_municipality: &str,
    errors: &FieldErrors,
) -> (Vec<(String, String)>, Vec<Field>) {
    let mut fixed = Vec::new();
    let mut fields = Vec::new();
    if identity_editable {
        let mut kinds = vec![Choice::new("", "選択してください", v.kind.is_empty())];
        kinds.extend(
            OrgKind::ALL
                .into_iter()
                .map(|k| Choice::new(k.code(), k.label(), k.code() == v.kind)),
        );
        fields.push(
            Field::new("kind", "種別", "select")
                .required()
                .choices(kinds)
                .errors(errors),
        );
        fields.push(
            Field::new("name", "名称", "text")
                .required()
                .value(&v.name)
                .hint("正式な名称を入力してください（100文字以内）")
                .autocomplete("organization")
                .errors(errors),
        );
    } else {
        let kind_label = OrgKind::from_code(&v.kind)
            .map(|k| k.label())
            .unwrap_or("その他");
        fixed.push(("種別".to_string(), kind_label.to_string()));
        fixed.push(("名称".to_string(), v.name.clone()));
    }
    fields.push(
        Field::new("municipality", "所在する市町村", "select")
            .choices(municipality_choices(
                munis,
                current_municipality,
                &v.municipality,
            ))
            .errors(errors),
    );
    fields.push(
        Field::new("address", "住所", "text")
            .value(&v.address)
            .autocomplete("street-address")
            .errors(errors),
    );
    fields.push(
        Field::new("phone", "電話番号", "tel")
            .value(&v.phone)
            .hint("例：019-629-5446")
            .autocomplete("tel")
            .inputmode("tel")
            .errors(errors),
    );
    fields.push(
        Field::new("email", "メールアドレス", "email")
            .value(&v.email)
            .hint("例：center@example.jp")
            .autocomplete("email")
            .errors(errors),
    );
    (fixed, fields)
}

/// Reads and checks the form. Kind and name come from `existing` when this user may not
/// change them.
fn read_form(
    form: &FormData,
    existing: Option<&Organisation>,
    identity_editable: bool,
    munis: &[Municipality],
) -> (OrgInput, FieldErrors) {
    let mut e = FieldErrors::new();
    let (kind, name) = match existing {
        Some(o) if !identity_editable => (o.kind.clone(), o.name.clone()),
        _ => {
            let kind = form.get("kind").trim().to_string();
            if kind.is_empty() {
                e.add("kind", "種別を選んでください");
            } else if OrgKind::from_code(&kind).is_none() {
                e.add("kind", "種別を一覧から選んでください");
            }
            let name = required_text(&mut e, "name", "名称", form.get("name"), 100);
            (kind, name)
        }
    };
    let current = existing
        .and_then(|o| o.municipality_code6.clone())
        .unwrap_or_default();
    let municipality = form.get("municipality").trim().to_string();
    let municipality_code6 = if municipality.is_empty() {
        None
    } else {
        if municipality != current && !munis.iter().any(|m| m.code6 == municipality) {
            e.add("municipality", "市町村を一覧から選んでください");
        }
        Some(municipality)
    };
    let address = optional_text(&mut e, "address", "住所", form.get("address"), 200);
    let phone = optional_phone(&mut e, "phone", form.get("phone"));
    let email = optional_email(&mut e, "email", form.get("email"));
    (
        OrgInput {
            kind,
            name,
            municipality_code6,
            address,
            phone,
            email,
        },
        e,
    )
}

/// A store refusal the user can fix, as a message on the field it concerns.
fn store_error_to_field(e: StoreError, identity_editable: bool) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::new();
    match e {
        StoreError::Conflict(m) if identity_editable => errors.add("name", m),
        StoreError::Invalid(m) => errors.add("municipality", m),
        other => return Err(other.into()),
    }
    Ok(errors)
}

struct FormContext<'a> {
    heading: String,
    action: String,
    cancel_href: String,
    submit_label: &'a str,
    identity_editable: bool,
    current_municipality: String,
}

async fn form_page(
    st: &AppState,
    ctx: &Ctx,
    fc: FormContext<'_>,
    values: &FormValues,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    let (fixed, fields) = build_fields(
        values,
        fc.identity_editable,
        &munis,
        &fc.current_municipality,
        errors,
    );
    render_status(
        status,
        &FormPage {
            layout: Layout::new(st, ctx, fc.heading.clone()),
            heading: fc.heading,
            action: fc.action,
            cancel_href: fc.cancel_href,
            submit_label: fc.submit_label.to_string(),
            fixed,
            fields,
            errors: summary(errors),
        },
    )
}

fn edit_context(o: &Organisation, identity_editable: bool) -> FormContext<'static> {
    FormContext {
        heading: format!("{}の編集", o.name),
        action: format!("/orgs/{}/edit", o.id),
        cancel_href: format!("/orgs/{}", o.id),
        submit_label: "保存する",
        identity_editable,
        current_municipality: o.municipality_code6.clone().unwrap_or_default(),
    }
}

fn new_context() -> FormContext<'static> {
    FormContext {
        heading: "関係機関の登録".to_string(),
        action: "/admin/orgs/new".to_string(),
        cancel_href: "/orgs".to_string(),
        submit_label: "登録する",
        identity_editable: true,
        current_municipality: String::new(),
    }
}

async fn edit_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let org = orgs::get(&st.db, &id).await?;
    ctx.authorize(Action::EditOrganisation, target(&org))?;
    let identity_editable = can(Some(&actor), Action::ManageOrganisations, target(&org));
    form_page(
        &st,
        &ctx,
        edit_context(&org, identity_editable),
        &FormValues::from_org(&org),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let org = orgs::get(&st.db, &id).await?;
    ctx.authorize(Action::EditOrganisation, target(&org))?;
    let identity_editable = can(Some(&actor), Action::ManageOrganisations, target(&org));
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    let (input, errors) = read_form(&form, Some(&org), identity_editable, &munis);
    let errors = if errors.is_empty() {
        let mut tx = st.db.begin().await?;
        match orgs::update(&mut tx, &ctx.audit(), &org.id, &input).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    &format!("/orgs/{}", org.id),
                    "success",
                    "関係機関の情報を保存しました。",
                ));
            }
            Err(e) => store_error_to_field(e, identity_editable)?,
        }
    } else {
        errors
    };
    form_page(
        &st,
        &ctx,
        edit_context(&org, identity_editable),
        &FormValues::from_input(&input),
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn new_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let values = FormValues {
        kind: String::new(),
        name: String::new(),
        municipality: String::new(),
        address: String::new(),
        phone: String::new(),
        email: String::new(),
    };
    form_page(
        &st,
        &ctx,
        new_context(),
        &values,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    ctx.require_actor()?;
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    let (input, errors) = read_form(&form, None, true, &munis);
    let errors = if errors.is_empty() {
        let mut tx = st.db.begin().await?;
        match orgs::create(&mut tx, &ctx.audit(), &input).await {
            Ok(id) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    &format!("/orgs/{id}"),
                    "success",
                    &format!("「{}」を登録しました。", input.name),
                ));
            }
            Err(e) => store_error_to_field(e, true)?,
        }
    } else {
        errors
    };
    form_page(
        &st,
        &ctx,
        new_context(),
        &FormValues::from_input(&input),
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Retire and reinstate

async fn set_retired(
    st: AppState,
    ctx: Ctx,
    id: String,
    retired: bool,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let org = orgs::get(&st.db, &id).await?;
    ctx.authorize(Action::ManageOrganisations, target(&org))?;
    let back = format!("/orgs/{}", org.id);
    if retired && actor.organisation_id == org.id {
        return Ok(redirect_with_flash(
            &st,
            &back,
            "error",
            "ご自身が所属する機関は廃止できません。別のシステム管理者に依頼してください。",
        ));
    }
    if retired == org.retired_at.is_some() {
        let msg = if retired {
            "この機関はすでに廃止されています。"
        } else {
            "この機関はすでに利用中です。"
        };
        return Ok(redirect_with_flash(&st, &back, "info", msg));
    }
    let mut tx = st.db.begin().await?;
    orgs::set_retired(&mut tx, &ctx.audit(), &org.id, retired).await?;
    tx.commit().await?;
    let msg = if retired {
        format!(
            "「{}」を廃止しました。この機関の利用者はログインできなくなりました。",
            org.name
        )
    } else {
        format!(
            "「{}」の利用を再開しました。この機関の利用者は再びログインできます。",
            org.name
        )
    };
    Ok(redirect_with_flash(&st, &back, "success", &msg))
}

async fn retire(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_retired(st, ctx, id, true).await
}

async fn reinstate(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_retired(st, ctx, id, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn muni(code6: &str, name: &str) -> Municipality {
        Municipality {
            code6: code6.into(),
            code5: code6.get(..5).unwrap_or_default().into(),
            prefecture_code: "03".into(),
            kind: "municipality".into(),
            name: name.into(),
            kana: String::new(),
            parent_code6: None,
            retired_on: None,
            note: String::new(),
            area_name: None,
        }
    }

    fn org() -> Organisation {
        Organisation {
            id: "o1".into(),
            kind: "hospital".into(),
            name: "岩手医科大学附属病院".into(),
            municipality_code6: Some("033227".into()),
            municipality_name: Some("矢巾町".into()),
            address: String::new(),
            phone: String::new(),
            email: String::new(),
            retired_at: None,
        }
    }

    #[test]
    fn non_administrators_keep_kind_and_name() {
        let munis = [muni("032018", "盛岡市"), muni("033227", "矢巾町")];
        let form = FormData::parse_str("kind=other&name=%E5%88%A5%E5%90%8D&municipality=032018");
        let (input, errors) = read_form(&form, Some(&org()), false, &munis);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(input.kind, "hospital");
        assert_eq!(input.name, "岩手医科大学附属病院");
        assert_eq!(input.municipality_code6.as_deref(), Some("032018"));
    }

    #[test]
    fn bad_input_gets_a_message_per_field() {
        let munis = [muni("032018", "盛岡市")];
        let form = FormData::parse_str("kind=castle&name=&municipality=999999&phone=abc&email=x");
        let (_, errors) = read_form(&form, None, true, &munis);
        for f in ["kind", "name", "municipality", "phone", "email"] {
            assert!(errors.get(f).is_some(), "{f}");
        }
    }

    #[test]
    fn a_merged_away_municipality_already_set_stays_choosable() {
        let munis = [muni("032018", "盛岡市")];
        let choices = municipality_choices(&munis, "034000", "034000");
        assert!(choices.iter().any(|c| c.value == "034000" && c.selected));
        let form = FormData::parse_str("municipality=034000");
        let mut o = org();
        o.municipality_code6 = Some("034000".into());
        let (_, errors) = read_form(&form, Some(&o), false, &munis);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
