//! The care-type code list (医療的ケアの種別): everyone reads it; the prefecture and the system
//! administrator correct names and scores, add and retire kinds.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::care::parse_supervision_scores;
use tsunagu_domain::policy::{Action, Target, can};
use tsunagu_domain::validation::{FieldErrors, required_text};
use tsunagu_store::care_types::{self, CareType, CareTypeInput};

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/care-types", Action::ViewCareTypes, list)
        .get("/care-types/new", Action::ManageCareTypes, new_page)
        .post("/care-types/new", Action::ManageCareTypes, new_submit)
        .get(
            "/care-types/{code}/edit",
            Action::ManageCareTypes,
            edit_page,
        )
        .post(
            "/care-types/{code}/edit",
            Action::ManageCareTypes,
            edit_submit,
        )
        .post("/care-types/{code}/retire", Action::ManageCareTypes, retire)
        .post(
            "/care-types/{code}/reinstate",
            Action::ManageCareTypes,
            reinstate,
        )
}

#[derive(Template)]
#[template(path = "care_types/list.html")]
struct ListPage {
    layout: Layout,
    items: Vec<CareType>,
    can_manage: bool,
}

async fn list(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let can_manage = can(Some(&actor), Action::ManageCareTypes, Target::Any);
    render(&ListPage {
        layout: Layout::new(&st, &ctx, "医療的ケアの種別"),
        items: care_types::list(&st.db, can_manage).await?,
        can_manage,
    })
}

#[derive(Template)]
#[template(path = "care_types/form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    heading: String,
    errors: Vec<(String, String)>,
    fields: Vec<Field>,
}

/// The form as typed: every value kept as text so that bad input comes back unchanged.
struct Typed {
    code: String,
    number: String,
    name: String,
    base_score: String,
    supervision_scores: String,
    power_dependent: bool,
    unconfirmed: bool,
    sort_order: String,
}

impl Typed {
    fn from_form(f: &FormData) -> Typed {
        Typed {
            code: f.get("code").trim().to_string(),
            number: f.get("number").trim().to_string(),
            name: f.get("name").trim().to_string(),
            base_score: f.get("base_score").trim().to_string(),
            supervision_scores: f.get("supervision_scores").trim().to_string(),
            power_dependent: f.get("power_dependent") == "1",
            unconfirmed: f.get("unconfirmed") == "1",
            sort_order: f.get("sort_order").trim().to_string(),
        }
    }

    fn from_stored(c: &CareType) -> Typed {
        Typed {
            code: c.code.clone(),
            number: c.number.clone(),
            name: c.name.clone(),
            base_score: c.base_score.to_string(),
            supervision_scores: c.supervision_scores.clone(),
            power_dependent: c.power_dependent,
            unconfirmed: c.unconfirmed,
            sort_order: c.sort_order.to_string(),
        }
    }

    fn validate(&self, with_code: bool) -> Result<CareTypeInput, FieldErrors> {
        let mut e = FieldErrors::new();
        if with_code
            && (self.code.is_empty()
                || self.code.len() > 40
                || !self
                    .code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        {
            e.add(
                "code",
                "コードは英小文字・数字・_ で40文字以内にしてください（例: home_oxygen）",
            );
        }
        let number = required_text(&mut e, "number", "項目番号", &self.number, 10);
        let name = required_text(&mut e, "name", "名称", &self.name, 200);
        let base_score = parse_number(&mut e, "base_score", "基本スコア", &self.base_score, 0, 50);
        if let Err(msg) = parse_supervision_scores(&self.supervision_scores) {
            e.add("supervision_scores", msg);
        }
        let sort_order = parse_number(&mut e, "sort_order", "表示順", &self.sort_order, 0, 100_000);
        e.into_result()?;
        Ok(CareTypeInput {
            number,
            name,
            base_score,
            supervision_scores: self.supervision_scores.clone(),
            power_dependent: self.power_dependent,
            unconfirmed: self.unconfirmed,
            sort_order,
        })
    }

    fn fields(&self, errors: &FieldErrors, with_code: bool) -> Vec<Field> {
        let mut out = Vec::new();
        if with_code {
            out.push(
                Field::new("code", "コード", "text")
                    .value(&self.code)
                    .required()
                    .hint("ほかの記録から参照される識別子です。後から変えられません。")
                    .errors(errors),
            );
        }
        out.extend([
            Field::new("number", "項目番号", "text")
                .value(&self.number)
                .required()
                .hint("判定スコア表の番号（例: 7(2)）")
                .errors(errors),
            Field::new("name", "名称", "text")
                .value(&self.name)
                .required()
                .errors(errors),
            Field::new("base_score", "基本スコア", "text")
                .value(&self.base_score)
                .required()
                .inputmode("numeric")
                .errors(errors),
            Field::new("supervision_scores", "見守りスコア", "text")
                .value(&self.supervision_scores)
                .hint("加算できる点数を / で区切って入力（例: 2/1/0）。ない場合は空欄")
                .errors(errors),
            Field::new("sort_order", "表示順", "text")
                .value(&self.sort_order)
                .required()
                .inputmode("numeric")
                .errors(errors),
            Field::new("flags", "区分", "checkboxes")
                .choices(vec![
                    Choice::new(
                        "power",
                        "電源を必要とする機器を使う（災害時に重要）",
                        self.power_dependent,
                    ),
                    Choice::new(
                        "unconfirmed",
                        "点数は国の判定スコア表で未確認",
                        self.unconfirmed,
                    ),
                ])
                .errors(errors),
        ]);
        out
    }
}

fn parse_number(e: &mut FieldErrors, field: &str, label: &str, v: &str, min: i64, max: i64) -> i64 {
    match tsunagu_domain::text::fold_width_str(v).parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            e.add(
                field,
                format!("{label}は{min}から{max}までの数字で入力してください"),
            );
            0
        }
    }
}

fn typed_with_flags(form: &FormData) -> Typed {
    let flags = form.all("flags");
    Typed {
        power_dependent: flags.contains(&"power"),
        unconfirmed: flags.contains(&"unconfirmed"),
        ..Typed::from_form(form)
    }
}

fn form_page(
    st: &AppState,
    ctx: &Ctx,
    heading: &str,
    action: String,
    typed: &Typed,
    errors: &FieldErrors,
    with_code: bool,
) -> Result<Response, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &FormPage {
            layout: Layout::new(st, ctx, heading),
            action,
            heading: heading.to_string(),
            errors: summary(errors),
            fields: typed.fields(errors, with_code),
        },
    )
}

async fn new_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let typed = Typed {
        code: String::new(),
        number: String::new(),
        name: String::new(),
        base_score: "0".into(),
        supervision_scores: String::new(),
        power_dependent: false,
        unconfirmed: true,
        sort_order: "1000".into(),
    };
    form_page(
        &st,
        &ctx,
        "医療的ケアの種別を追加",
        "/care-types/new".into(),
        &typed,
        &FieldErrors::new(),
        true,
    )
}

async fn new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let typed = typed_with_flags(&form);
    let input = match typed.validate(true) {
        Ok(i) => i,
        Err(e) => {
            return form_page(
                &st,
                &ctx,
                "医療的ケアの種別を追加",
                "/care-types/new".into(),
                &typed,
                &e,
                true,
            );
        }
    };
    let mut tx = st.db.begin().await?;
    if let Err(err) = care_types::add(&mut tx, &ctx.audit(), &typed.code, &input).await {
        return match err {
            tsunagu_store::StoreError::Conflict(msg) => {
                let mut e = FieldErrors::new();
                e.add("code", msg);
                form_page(
                    &st,
                    &ctx,
                    "医療的ケアの種別を追加",
                    "/care-types/new".into(),
                    &typed,
                    &e,
                    true,
                )
            }
            other => Err(other.into()),
        };
    }
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        "/care-types",
        "success",
        &format!("「{}」を追加しました。", input.name),
    ))
}

async fn edit_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let c = care_types::get(&st.db, &code).await?;
    form_page(
        &st,
        &ctx,
        "医療的ケアの種別を編集",
        format!("/care-types/{}/edit", c.code),
        &Typed::from_stored(&c),
        &FieldErrors::new(),
        false,
    )
}

async fn edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let c = care_types::get(&st.db, &code).await?;
    let typed = Typed {
        code: c.code.clone(),
        ..typed_with_flags(&form)
    };
    let input = match typed.validate(false) {
        Ok(i) => i,
        Err(e) => {
            return form_page(
                &st,
                &ctx,
                "医療的ケアの種別を編集",
                format!("/care-types/{}/edit", c.code),
                &typed,
                &e,
                false,
            );
        }
    };
    let mut tx = st.db.begin().await?;
    care_types::update(&mut tx, &ctx.audit(), &c.code, &input).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        "/care-types",
        "success",
        &format!("「{}」を保存しました。", input.name),
    ))
}

async fn set_retired(
    st: AppState,
    ctx: Ctx,
    code: String,
    retired: bool,
) -> Result<Response, AppError> {
    let c = care_types::get(&st.db, &code).await?;
    let mut tx = st.db.begin().await?;
    care_types::set_retired(&mut tx, &ctx.audit(), &c.code, retired).await?;
    tx.commit().await?;
    let msg = if retired {
        format!(
            "「{}」を使用終了にしました。これまでの記録には残ります。",
            c.name
        )
    } else {
        format!("「{}」を再び使えるようにしました。", c.name)
    };
    Ok(redirect_with_flash(&st, "/care-types", "success", &msg))
}

async fn retire(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    set_retired(st, ctx, code, true).await
}

async fn reinstate(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    set_retired(st, ctx, code, false).await
}
