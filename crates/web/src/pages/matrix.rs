//! The role matrix (役割分担, 別表1): read by everyone signed in, edited by the prefecture.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::matrix::Mark;
use tsunagu_domain::policy::Action;
use tsunagu_store::matrix::{self, Cell, Matrix};
use tsunagu_store::orgs;

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, FormData};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/matrix", Action::ViewMatrix, view)
        .get("/matrix/edit", Action::EditMatrix, edit_page)
        .post("/matrix/edit", Action::EditMatrix, edit_submit)
        .post("/matrix/participants", Action::EditMatrix, participant_add)
        .post(
            "/matrix/participants/{id}",
            Action::EditMatrix,
            participant_update,
        )
        .post(
            "/matrix/participants/{id}/delete",
            Action::EditMatrix,
            participant_delete,
        )
}

pub struct MatrixCell {
    pub symbol: &'static str,
    pub label: &'static str,
    pub class: &'static str,
    pub note: String,
}

pub struct MatrixRow {
    pub number: usize,
    pub title: String,
    pub detail: String,
    pub cells: Vec<MatrixCell>,
}

/// The matrix laid out for `templates/matrix/_table.html`.
pub struct MatrixTable {
    pub participants: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

impl MatrixTable {
    pub fn from(m: &Matrix) -> MatrixTable {
        let rows = m
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| MatrixRow {
                number: i + 1,
                title: f.title.clone(),
                detail: f.detail.clone(),
                cells: m
                    .participants
                    .iter()
                    .map(|p| {
                        let c = m.cell(&f.id, &p.id);
                        let mark = c.map(|c| c.mark).unwrap_or(Mark::None);
                        MatrixCell {
                            symbol: mark.symbol(),
                            label: mark.label(),
                            class: match mark {
                                Mark::Lead => "mark-lead",
                                Mark::Support => "mark-support",
                                Mark::None => "",
                            },
                            note: c.map(|c| c.note.clone()).unwrap_or_default(),
                        }
                    })
                    .collect(),
            })
            .collect();
        MatrixTable {
            participants: m.participants.iter().map(|p| p.label.clone()).collect(),
            rows,
        }
    }

    pub async fn load(st: &AppState) -> Result<MatrixTable, AppError> {
        Ok(MatrixTable::from(&*st.matrix().await?))
    }
}

#[derive(Template)]
#[template(path = "matrix/view.html")]
struct ViewPage {
    layout: Layout,
    matrix: MatrixTable,
    can_edit: bool,
}

async fn view(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    render(&ViewPage {
        layout: Layout::new(&st, &ctx, "支援センターの役割分担"),
        matrix: MatrixTable::load(&st).await?,
        can_edit: tsunagu_domain::policy::can(
            Some(&actor),
            Action::EditMatrix,
            tsunagu_domain::policy::Target::Any,
        ),
    })
}

struct EditCell {
    field: String,
    note_field: String,
    label: String,
    choices: Vec<Choice>,
    note: String,
}

struct EditRow {
    number: usize,
    title: String,
    cells: Vec<EditCell>,
}

struct ParticipantRow {
    id: String,
    label: String,
    org_choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "matrix/edit.html")]
struct EditPage {
    layout: Layout,
    participants: Vec<ParticipantRow>,
    rows: Vec<EditRow>,
    new_org_choices: Vec<Choice>,
    error: Option<String>,
}

fn mark_choices(selected: Mark) -> Vec<Choice> {
    [Mark::Lead, Mark::Support, Mark::None]
        .into_iter()
        .map(|m| {
            Choice::new(
                m.code(),
                if m == Mark::None {
                    "—（なし）".to_string()
                } else {
                    format!("{}（{}）", m.symbol(), m.label())
                },
                m == selected,
            )
        })
        .collect()
}

async fn org_choices(
    st: &AppState,
    ctx: &Ctx,
    selected: Option<&str>,
) -> Result<Vec<Choice>, AppError> {
    let actor = ctx.require_actor()?;
    let list = orgs::list(&st.db, &actor, &orgs::Filter::default()).await?;
    let mut out = vec![Choice::new("", "（機関を指定しない）", selected.is_none())];
    out.extend(
        list.into_iter()
            .filter(|o| o.kind != "municipal_office")
            .map(|o| {
                let sel = selected == Some(o.id.as_str());
                Choice::new(o.id, o.name, sel)
            }),
    );
    Ok(out)
}

async fn edit_view(
    st: &AppState,
    ctx: &Ctx,
    m: &Matrix,
    typed: Option<&FormData>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let rows = m
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| EditRow {
            number: i + 1,
            title: f.title.clone(),
            cells: m
                .participants
                .iter()
                .map(|p| {
                    let field = format!("mark__{}__{}", f.id, p.id);
                    let note_field = format!("note__{}__{}", f.id, p.id);
                    let stored = m.cell(&f.id, &p.id);
                    let mark = match typed {
                        Some(form) => Mark::from_code(form.get(&field)).unwrap_or(Mark::None),
                        None => stored.map(|c| c.mark).unwrap_or(Mark::None),
                    };
                    let note = match typed {
                        Some(form) => form.get(&note_field).to_string(),
                        None => stored.map(|c| c.note.clone()).unwrap_or_default(),
                    };
                    EditCell {
                        field,
                        note_field,
                        label: format!("{}：{}", f.title, p.label),
                        choices: mark_choices(mark),
                        note,
                    }
                })
                .collect(),
        })
        .collect();
    let mut participants = Vec::new();
    for p in &m.participants {
        participants.push(ParticipantRow {
            id: p.id.clone(),
            label: p.label.clone(),
            org_choices: org_choices(st, ctx, p.organisation_id.as_deref()).await?,
        });
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(
        status,
        &EditPage {
            layout: Layout::new(st, ctx, "役割分担の編集"),
            participants,
            rows,
            new_org_choices: org_choices(st, ctx, None).await?,
            error,
        },
    )
}

async fn edit_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let m = matrix::load(&st.db).await?;
    edit_view(&st, &ctx, &m, None, None).await
}

const NOTE_MAX: usize = 200;

async fn edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let m = matrix::load(&st.db).await?;
    let mut cells = Vec::new();
    let mut problem = None;
    for f in &m.functions {
        for p in &m.participants {
            let field = format!("mark__{}__{}", f.id, p.id);
            let note_field = format!("note__{}__{}", f.id, p.id);
            if !form.has(&field) {
                continue;
            }
            let Some(mark) = Mark::from_code(form.get(&field)) else {
                problem = Some("担当の欄は ◎・○・なし から選んでください。".to_string());
                continue;
            };
            let note = form.get(&note_field).trim().to_string();
            if note.chars().count() > NOTE_MAX {
                problem = Some(format!(
                    "「{}：{}」の備考は{NOTE_MAX}文字以内にしてください。",
                    f.title, p.label
                ));
            }
            cells.push(Cell {
                function_id: f.id.clone(),
                participant_id: p.id.clone(),
                mark,
                note,
            });
        }
    }
    if let Some(msg) = problem {
        return edit_view(&st, &ctx, &m, Some(&form), Some(msg)).await;
    }
    let mut tx = st.db.begin().await?;
    let changed = matrix::save_cells(&mut tx, &ctx.audit(), &m, &cells).await?;
    tx.commit().await?;
    st.matrix_changed().await;
    let msg = if changed == 0 {
        "変更はありませんでした。".to_string()
    } else {
        format!("役割分担を保存しました（{changed}か所を変更）。")
    };
    Ok(redirect_with_flash(&st, "/matrix", "success", &msg))
}

fn participant_input(form: &FormData) -> Result<(String, Option<String>), String> {
    let label = form.get("label").trim().to_string();
    if label.is_empty() {
        return Err("参加機関の表示名を入力してください。".into());
    }
    if label.chars().count() > 40 {
        return Err("参加機関の表示名は40文字以内にしてください。".into());
    }
    let org = form.get("organisation_id").trim();
    Ok((label, (!org.is_empty()).then(|| org.to_string())))
}

async fn check_org(st: &AppState, org: Option<&str>) -> Result<(), AppError> {
    if let Some(id) = org {
        orgs::get(&st.db, id)
            .await
            .map_err(|_| AppError::BadRequest("指定された機関が見つかりません。".into()))?;
    }
    Ok(())
}

async fn participant_add(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let m = matrix::load(&st.db).await?;
    let (label, org) = match participant_input(&form) {
        Ok(v) => v,
        Err(msg) => return edit_view(&st, &ctx, &m, None, Some(msg)).await,
    };
    check_org(&st, org.as_deref()).await?;
    let mut tx = st.db.begin().await?;
    match matrix::add_participant(&mut tx, &ctx.audit(), &label, org.as_deref()).await {
        Ok(_) => {}
        Err(tsunagu_store::StoreError::Conflict(msg)) => {
            return edit_view(&st, &ctx, &m, None, Some(msg)).await;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    st.matrix_changed().await;
    Ok(redirect_with_flash(
        &st,
        "/matrix/edit",
        "success",
        &format!("参加機関「{label}」を追加しました。"),
    ))
}

async fn participant_update(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let m = matrix::load(&st.db).await?;
    if !m.participants.iter().any(|p| p.id == id) {
        return Err(AppError::NotFound);
    }
    let (label, org) = match participant_input(&form) {
        Ok(v) => v,
        Err(msg) => return edit_view(&st, &ctx, &m, None, Some(msg)).await,
    };
    check_org(&st, org.as_deref()).await?;
    let mut tx = st.db.begin().await?;
    match matrix::update_participant(&mut tx, &ctx.audit(), &id, &label, org.as_deref()).await {
        Ok(()) => {}
        Err(tsunagu_store::StoreError::Conflict(msg)) => {
            return edit_view(&st, &ctx, &m, None, Some(msg)).await;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    st.matrix_changed().await;
    Ok(redirect_with_flash(
        &st,
        "/matrix/edit",
        "success",
        "参加機関を更新しました。",
    ))
}

async fn participant_delete(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let mut tx = st.db.begin().await?;
    matrix::remove_participant(&mut tx, &ctx.audit(), &id).await?;
    tx.commit().await?;
    st.matrix_changed().await;
    Ok(redirect_with_flash(
        &st,
        "/matrix/edit",
        "success",
        "参加機関を削除しました。",
    ))
}
