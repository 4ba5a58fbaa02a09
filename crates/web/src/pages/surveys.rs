//! The regional situation survey (状況把握調査) as people use it: the center issues a round and
//! follows every municipality's response on one board; a municipal officer finds the round in
//! their inbox, fills it in beside last year's answers, saves drafts and submits; the center
//! approves or returns it with a comment, reopens after the deadline and unlocks with a reason.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::Date;
use tsunagu_domain::policy::{self, Action, ResponseWindow, Target, can};
use tsunagu_domain::survey::{
    Answers, Check, CheckMode, Definition, FieldKind, ItemKind, ResponseStatus, check, grid_key,
    parse_count,
};
use tsunagu_domain::validation::{FieldErrors, optional_text, required_text};
use tsunagu_domain::wareki::{fiscal_year, format_fiscal_year, parse_date_ja, today_jst};
use tsunagu_store::geo;
use tsunagu_store::outbox::{self, NewMail};
use tsunagu_store::surveys::{
    self as store, Decision, Response as StoredResponse, ResponseEvent, ResponseLine, Round,
    RoundInput, RoundSummary, Saving,
};
use tsunagu_store::{StoreError, clock};

use super::consultations::{date_label, instant_label};
use super::render_status;
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/surveys", Action::ViewSurveys, index)
        .get("/surveys/rounds/new", Action::ManageSurveys, new_round)
        .post("/surveys/rounds", Action::ManageSurveys, create_round)
        .get("/surveys/rounds/{id}", Action::ManageSurveys, board)
        .post("/surveys/rounds/{id}/remind", Action::ManageSurveys, remind)
        .get("/surveys/responses/{id}", Action::ViewSurveys, response)
        .post("/surveys/responses/{id}", Action::RespondToSurvey, save)
        .post(
            "/surveys/responses/{id}/review",
            Action::ReviewSurveyResponses,
            review,
        )
}

pub(super) fn today() -> Date {
    today_jst(clock::now())
}

/// How a response's state reads to the people who follow it.
pub(super) fn status_css(s: ResponseStatus) -> &'static str {
    match s {
        ResponseStatus::NotStarted => "status-muted",
        ResponseStatus::Draft => "status-warn",
        ResponseStatus::Submitted => "status-warn",
        ResponseStatus::Returned => "status-bad",
        ResponseStatus::Approved => "status-ok",
    }
}

struct LineView {
    id: String,
    round_title: String,
    fiscal_year: String,
    municipality: String,
    code6: String,
    area: String,
    status_label: &'static str,
    status_css: &'static str,
    due_label: String,
    due_on: String,
    late: bool,
    reopened: bool,
    submitted_label: String,
    updated_label: String,
    /// What the municipality is to do next, in words.
    next_step: String,
}

impl LineView {
    fn of(l: &ResponseLine, today: Date) -> LineView {
        let due = store::parse_date(&l.due_on);
        let opens = store::parse_date(&l.opens_on);
        let next_step = match (l.status, opens, due) {
            (ResponseStatus::Approved, _, _) => "承認されました。対応は不要です".to_string(),
            (ResponseStatus::Submitted, _, _) => "支援センターが確認しています".to_string(),
            (_, Some(o), _) if today < o => {
                format!("{}から入力できます", date_label(&l.opens_on))
            }
            (_, _, Some(d)) if today > d && !l.reopened => {
                "提出期限を過ぎました。入力には支援センターへの連絡が必要です".to_string()
            }
            (ResponseStatus::Returned, _, _) => {
                "差し戻されました。コメントを確認して修正し、再提出してください".to_string()
            }
            (_, _, Some(d)) => {
                let days = (d - today).whole_days();
                format!(
                    "{}までに提出してください（あと{}日）",
                    date_label(&l.due_on),
                    days
                )
            }
            _ => String::new(),
        };
        LineView {
            id: l.id.clone(),
            round_title: l.round_title.clone(),
            fiscal_year: format_fiscal_year(l.fiscal_year as i32),
            municipality: l.municipality_name.clone(),
            code6: l.municipality_code6.clone(),
            area: l.area_name.clone().unwrap_or_default(),
            status_label: l.status.label(),
            status_css: status_css(l.status),
            due_label: date_label(&l.due_on),
            due_on: l.due_on.clone(),
            late: l.is_late(today),
            reopened: l.reopened,
            submitted_label: l
                .submitted_at
                .as_deref()
                .map(instant_label)
                .unwrap_or_default(),
            updated_label: instant_label(&l.updated_at),
            next_step,
        }
    }
}

struct RoundView {
    id: String,
    title: String,
    fiscal_year: String,
    due_label: String,
    total: i64,
    submitted: i64,
    approved: i64,
    returned: i64,
    open: i64,
    past_due: bool,
}

impl RoundView {
    fn of(s: &RoundSummary, today: Date) -> RoundView {
        RoundView {
            id: s.round.id.clone(),
            title: s.round.title.clone(),
            fiscal_year: format_fiscal_year(s.round.fiscal_year as i32),
            due_label: date_label(&s.round.due_on),
            total: s.total,
            submitted: s.submitted,
            approved: s.approved,
            returned: s.returned,
            open: s.open,
            past_due: s.round.due().is_some_and(|d| today > d),
        }
    }
}

#[derive(Template)]
#[template(path = "surveys/index.html")]
struct IndexPage {
    layout: Layout,
    center: bool,
    rounds: Vec<RoundView>,
    inbox: Vec<LineView>,
    can_results: bool,
}

async fn index(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let center = can(Some(&actor), Action::ManageSurveys, Target::Any);
    let today = today();
    let rounds = if center {
        store::rounds(&st.db, &st.cfg.prefecture_code)
            .await?
            .iter()
            .map(|s| RoundView::of(s, today))
            .collect()
    } else {
        Vec::new()
    };
    let inbox = store::inbox(&st.db, &actor)
        .await?
        .iter()
        .map(|l| LineView::of(l, today))
        .collect();
    render_status(
        StatusCode::OK,
        &IndexPage {
            layout: Layout::new(&st, &ctx, "状況把握調査"),
            center,
            rounds,
            inbox,
            can_results: can(Some(&actor), Action::ViewSurveyResults, Target::Any),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Issuing a round

#[derive(Template)]
#[template(path = "surveys/round_new.html")]
struct NewRoundPage {
    layout: Layout,
    fields: Vec<Field>,
    municipalities: Vec<Choice>,
    municipalities_error: Option<String>,
    errors: Vec<(String, String)>,
}

async fn round_form(
    st: &AppState,
    ctx: &Ctx,
    form: &FormData,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let defs = store::definitions(&st.db, &st.cfg.prefecture_code).await?;
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    let fy = fiscal_year(today());
    let fresh = form.0.is_empty();
    let value = |name: &str, default: String| {
        if fresh {
            default
        } else {
            form.get(name).to_string()
        }
    };
    let chosen_def = value(
        "definition_id",
        defs.first().map(|d| d.id.clone()).unwrap_or_default(),
    );
    let fields = vec![
        Field::new("definition_id", "調査票", "select")
            .required()
            .choices(
                defs.iter()
                    .map(|d| {
                        Choice::new(
                            d.id.clone(),
                            format!("{}（第{}版）", d.title, d.version),
                            d.id == chosen_def,
                        )
                    })
                    .collect(),
            )
            .errors(errors),
        Field::new("fiscal_year", "年度（西暦）", "text")
            .required()
            .inputmode("numeric")
            .hint(format!("例：{fy}（{}）", format_fiscal_year(fy)))
            .value(value("fiscal_year", fy.to_string()))
            .errors(errors),
        Field::new("title", "調査の名前", "text")
            .required()
            .value(value(
                "title",
                format!("{} 医療的ケア児等の実態調査", format_fiscal_year(fy)),
            ))
            .errors(errors),
        Field::new("as_of", "調査基準日", "text")
            .required()
            .hint("例：2026-04-01 または 令和8年4月1日")
            .value(value("as_of", format!("{fy}-04-01")))
            .errors(errors),
        Field::new("opens_on", "受付開始日", "text")
            .required()
            .value(value("opens_on", today().to_string()))
            .errors(errors),
        Field::new("due_on", "提出期限", "text")
            .required()
            .value(value("due_on", String::new()))
            .errors(errors),
        Field::new("note", "市町村へのお知らせ", "textarea")
            .hint("回答画面の先頭に表示されます")
            .value(value("note", String::new()))
            .errors(errors),
    ];
    let picked = form.all("municipalities");
    let municipalities = munis
        .iter()
        .filter(|m| m.kind == "municipality")
        .map(|m| {
            Choice::new(
                m.code6.clone(),
                format!("{}（{}）", m.name, m.code6),
                fresh || picked.contains(&m.code6.as_str()),
            )
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &NewRoundPage {
            layout: Layout::new(st, ctx, "調査を発出する"),
            fields,
            municipalities,
            municipalities_error: errors.get("municipalities").map(str::to_string),
            errors: summary(errors),
        },
    )
}

async fn new_round(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    round_form(&st, &ctx, &FormData(Vec::new()), &FieldErrors::new()).await
}

fn date_field(errors: &mut FieldErrors, form: &FormData, name: &str, label: &str) -> Option<Date> {
    let v = form.get(name).trim();
    if v.is_empty() {
        errors.add(name, format!("{label}を入力してください"));
        return None;
    }
    match parse_date_ja(v) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(
                name,
                format!("{label}は 2026-06-30 や 令和8年6月30日 の形で入力してください"),
            );
            None
        }
    }
}

async fn create_round(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let title = required_text(&mut errors, "title", "調査の名前", form.get("title"), 100);
    let note = optional_text(&mut errors, "note", "お知らせ", form.get("note"), 2000);
    let fy = match form.get("fiscal_year").trim().parse::<i32>() {
        Ok(y) if (2000..=2100).contains(&y) => Some(y),
        _ => {
            errors.add(
                "fiscal_year",
                "年度は 2026 のように西暦4桁で入力してください",
            );
            None
        }
    };
    let as_of = date_field(&mut errors, &form, "as_of", "調査基準日");
    let opens = date_field(&mut errors, &form, "opens_on", "受付開始日");
    let due = date_field(&mut errors, &form, "due_on", "提出期限");
    if let (Some(o), Some(d)) = (opens, due)
        && d < o
    {
        errors.add("due_on", "提出期限は受付開始日より後の日にしてください");
    }
    let municipalities: Vec<String> = form
        .all("municipalities")
        .into_iter()
        .map(str::to_string)
        .collect();
    if municipalities.is_empty() {
        errors.add(
            "municipalities",
            "回答を求める市町村を一つ以上選んでください",
        );
    }
    if form.get("definition_id").is_empty() {
        errors.add("definition_id", "調査票を選んでください");
    }
    let (Some(fy), Some(as_of), Some(opens), Some(due), true) =
        (fy, as_of, opens, due, errors.is_empty())
    else {
        return round_form(&st, &ctx, &form, &errors).await;
    };
    let input = RoundInput {
        definition_id: form.get("definition_id").to_string(),
        fiscal_year: i64::from(fy),
        title,
        as_of: as_of.to_string(),
        opens_on: opens.to_string(),
        due_on: due.to_string(),
        note,
        municipalities,
    };
    let mut tx = st.db.begin().await?;
    let id = match store::create_round(&mut tx, &ctx.audit(), &st.cfg.prefecture_code, &input).await
    {
        Ok(id) => id,
        Err(StoreError::Invalid(m)) => {
            drop(tx);
            let field = if m.starts_with("調査票") {
                "definition_id"
            } else if m.starts_with("市町村コード") {
                "municipalities"
            } else {
                "fiscal_year"
            };
            errors.add(field, m);
            return round_form(&st, &ctx, &form, &errors).await;
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        &format!("/surveys/rounds/{id}"),
        "success",
        &format!(
            "{}を{}市町村に発出しました。市町村の受信箱に表示されます。",
            input.title,
            input.municipalities.len()
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// The status board of a round

#[derive(Template)]
#[template(path = "surveys/board.html")]
struct BoardPage {
    layout: Layout,
    round: Round,
    fiscal_year: String,
    as_of_label: String,
    opens_label: String,
    due_label: String,
    lines: Vec<LineView>,
    counts: Vec<(&'static str, &'static str, usize)>,
    open_count: usize,
    late_count: usize,
}

async fn board(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let round = store::round(&st.db, &st.cfg.prefecture_code, &id).await?;
    let today = today();
    let lines: Vec<LineView> = store::board(&st.db, &round.id)
        .await?
        .iter()
        .map(|l| LineView::of(l, today))
        .collect();
    let counts = ResponseStatus::ALL
        .iter()
        .map(|s| {
            (
                s.label(),
                status_css(*s),
                lines.iter().filter(|l| l.status_label == s.label()).count(),
            )
        })
        .collect();
    let open_count = lines
        .iter()
        .filter(|l| {
            [
                ResponseStatus::NotStarted,
                ResponseStatus::Draft,
                ResponseStatus::Returned,
            ]
            .iter()
            .any(|s| s.label() == l.status_label)
        })
        .count();
    let late_count = lines.iter().filter(|l| l.late).count();
    render_status(
        StatusCode::OK,
        &BoardPage {
            layout: Layout::new(&st, &ctx, round.title.clone()),
            fiscal_year: format_fiscal_year(round.fiscal_year as i32),
            as_of_label: date_label(&round.as_of),
            opens_label: date_label(&round.opens_on),
            due_label: date_label(&round.due_on),
            round,
            lines,
            counts,
            open_count,
            late_count,
        },
    )
}

async fn remind(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let round = store::round(&st.db, &st.cfg.prefecture_code, &id).await?;
    let message = form.get("message").trim();
    let message = if message.is_empty() {
        format!(
            "{}の提出期限は{}です。回答画面から入力・提出をお願いします。",
            round.title,
            date_label(&round.due_on)
        )
    } else {
        message.chars().take(1000).collect()
    };
    // With a relay, the e-mail goes to the outbox with the notices: both or neither.
    let mails = if st.cfg.smtp_url.is_empty() {
        Vec::new()
    } else {
        reminder_mails(&st, &round, &message).await?
    };
    let mut tx = st.db.begin().await?;
    let n = store::remind(&mut tx, &ctx.audit(), &round, &message).await?;
    for mail in &mails {
        outbox::enqueue(&mut tx, &ctx.audit(), mail).await?;
    }
    tx.commit().await?;
    st.mail_wake.notify_one();
    if n == 0 {
        return Ok(redirect_with_flash(
            &st,
            &format!("/surveys/rounds/{}", round.id),
            "success",
            "未提出の市町村はありません。督促は送っていません。",
        ));
    }
    let mut text = format!(
        "未提出の{n}市町村に督促のお知らせを送りました。各市町村のホーム画面に表示されます。"
    );
    if !st.cfg.smtp_url.is_empty() {
        if !mails.is_empty() {
            text.push_str(&format!(
                "あわせて{}市町村に督促メールを送ります（市町村ごとに1通。送信の状況はシステム管理者が「メール送信」の画面で確認できます）。",
                mails.len()
            ));
        }
        let unreachable = n.saturating_sub(mails.len());
        if unreachable > 0 {
            text.push_str(&format!(
                "{unreachable}市町村はメールアドレスが登録されていないため、メールは送りません。"
            ));
        }
    }
    Ok(redirect_with_flash(
        &st,
        &format!("/surveys/rounds/{}", round.id),
        "success",
        &text,
    ))
}

/// The reminder e-mails: one per municipality whose response is open, to its office's and
/// active users' addresses, with an absolute link to the response.
async fn reminder_mails(
    st: &AppState,
    round: &Round,
    message: &str,
) -> Result<Vec<NewMail>, AppError> {
    let recipients = store::reminder_recipients(&st.db, &round.id).await?;
    // One message per response, in municipality order, to all of its addresses.
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for r in recipients {
        match groups.last_mut() {
            Some((id, _, to)) if *id == r.response_id => to.push(r.email),
            _ => groups.push((r.response_id, r.municipality_name, vec![r.email])),
        }
    }
    let due = date_label(&round.due_on);
    let center = &st.cfg.center_name;
    Ok(groups
        .into_iter()
        .map(|(id, municipality, to)| NewMail {
            kind: "survey_reminder",
            record_type: "survey_response".into(),
            to,
            subject: format!("【督促】{}（{due}まで）", round.title),
            body: format!(
                "{municipality} ご担当者様\n\n{message}\n\n調査：{title}\n提出期限：{due}\n\n\
                 回答画面：{link}\n（Tsunagu にログインしてから開いてください）\n\n\
                 このメールは送信専用です。ご不明な点は{center}にお問い合わせください。\n{center}\n",
                title = round.title,
                link = st.cfg.public_url(&format!("/surveys/responses/{id}")),
            ),
            record_id: id,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// One response: the form, its review and its history

/// One input as the template shows it.
struct InputView {
    key: String,
    id: String,
    label: String,
    value: String,
    last_year: String,
    error: Option<String>,
    warning: Option<String>,
    note_key: String,
    note_value: String,
}

struct GridRowView {
    label: String,
    cells: Vec<InputView>,
    total: String,
}

struct ChoiceView {
    name: String,
    id: String,
    value: String,
    label: String,
    checked: bool,
}

struct ItemView {
    key: String,
    label: String,
    help: String,
    unit: String,
    required: bool,
    /// count | grid | care_types | yes_no | single | multiple | short_text | long_text | date
    kind: &'static str,
    inputs: Vec<InputView>,
    columns: Vec<String>,
    rows: Vec<GridRowView>,
    column_totals: Vec<String>,
    grand_total: String,
    choices: Vec<ChoiceView>,
    last_year_text: String,
    publishable: Option<ChoiceView>,
}

struct SectionView {
    title: String,
    items: Vec<ItemView>,
}

fn field_id(key: &str) -> String {
    format!("f-{}", key.replace('.', "-"))
}

fn sum_label(values: impl Iterator<Item = Option<u64>>) -> String {
    let mut total = 0u64;
    let mut any = false;
    for v in values.flatten() {
        total += v;
        any = true;
    }
    if any {
        total.to_string()
    } else {
        String::new()
    }
}

/// Builds the form's sections from the definition, the answers (as typed), last year's
/// answers and the findings of the check.
fn sections(
    def: &Definition,
    answers: &Answers,
    last: Option<&Answers>,
    found: &Check,
) -> Vec<SectionView> {
    let get = |k: &str| answers.get(k).cloned().unwrap_or_default();
    let last_of = |k: &str| last.and_then(|l| l.get(k)).cloned().unwrap_or_default();
    let input = |key: String, label: String| {
        let warning = found.warning_for(&key);
        InputView {
            id: field_id(&key),
            value: get(&key),
            last_year: last_of(&key),
            error: found.error_for(&key).map(str::to_string),
            warning: warning.map(|w| w.message.clone()),
            note_key: warning.and_then(|w| w.note_key.clone()).unwrap_or_default(),
            note_value: warning
                .and_then(|w| w.note_key.as_deref())
                .map(get)
                .unwrap_or_default(),
            label,
            key,
        }
    };
    let choice_label = |choices: &[tsunagu_domain::survey::Choice], key: &str| {
        choices
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.label.clone())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for s in &def.sections {
        let mut items = Vec::new();
        for i in &s.items {
            let mut v = ItemView {
                key: i.key.clone(),
                label: i.label.clone(),
                help: i.help.clone(),
                unit: i.unit.clone(),
                required: i.required,
                kind: i.kind.code(),
                inputs: Vec::new(),
                columns: Vec::new(),
                rows: Vec::new(),
                column_totals: Vec::new(),
                grand_total: String::new(),
                choices: Vec::new(),
                last_year_text: String::new(),
                publishable: None,
            };
            match &i.kind {
                ItemKind::Count | ItemKind::ShortText | ItemKind::Date => {
                    v.inputs.push(input(i.key.clone(), i.label.clone()))
                }
                ItemKind::LongText { publishable } => {
                    v.inputs.push(input(i.key.clone(), i.label.clone()));
                    v.last_year_text = last_of(&i.key);
                    if *publishable {
                        let key = format!("{}.publishable", i.key);
                        v.publishable = Some(ChoiceView {
                            id: field_id(&key),
                            checked: get(&key) == "1",
                            name: key,
                            value: "1".into(),
                            label: "好事例集に公開してよい".into(),
                        });
                    }
                }
                ItemKind::CareTypes { types } => {
                    for t in types {
                        v.inputs
                            .push(input(format!("{}.{}", i.key, t.key), t.label.clone()));
                    }
                }
                ItemKind::Grid { rows, columns } => {
                    v.columns = columns.iter().map(|c| c.label.clone()).collect();
                    let count = |k: &str| parse_count(&get(k)).ok().flatten();
                    for r in rows {
                        let cells = columns
                            .iter()
                            .map(|c| {
                                input(
                                    grid_key(&i.key, &r.key, &c.key),
                                    format!("{} {}", r.label, c.label),
                                )
                            })
                            .collect();
                        v.rows.push(GridRowView {
                            label: r.label.clone(),
                            cells,
                            total: sum_label(
                                columns
                                    .iter()
                                    .map(|c| count(&grid_key(&i.key, &r.key, &c.key))),
                            ),
                        });
                    }
                    v.column_totals = columns
                        .iter()
                        .map(|c| {
                            sum_label(
                                rows.iter()
                                    .map(|r| count(&grid_key(&i.key, &r.key, &c.key))),
                            )
                        })
                        .collect();
                    v.grand_total = sum_label(
                        rows.iter()
                            .flat_map(|r| {
                                columns
                                    .iter()
                                    .map(move |c| grid_key(&i.key, &r.key, &c.key))
                            })
                            .map(|k| count(&k)),
                    );
                }
                ItemKind::YesNo => {
                    for (value, label) in [("yes", "はい"), ("no", "いいえ")] {
                        v.choices.push(ChoiceView {
                            name: i.key.clone(),
                            id: field_id(&format!("{}.{value}", i.key)),
                            value: value.into(),
                            label: label.into(),
                            checked: get(&i.key) == value,
                        });
                    }
                    v.inputs.push(input(i.key.clone(), i.label.clone()));
                    v.last_year_text = match last_of(&i.key).as_str() {
                        "yes" => "はい".into(),
                        "no" => "いいえ".into(),
                        _ => String::new(),
                    };
                }
                ItemKind::Single { choices } => {
                    for c in choices {
                        v.choices.push(ChoiceView {
                            name: i.key.clone(),
                            id: field_id(&format!("{}.{}", i.key, c.key)),
                            value: c.key.clone(),
                            label: c.label.clone(),
                            checked: get(&i.key) == c.key,
                        });
                    }
                    v.inputs.push(input(i.key.clone(), i.label.clone()));
                    v.last_year_text = choice_label(choices, &last_of(&i.key));
                }
                ItemKind::Multiple { choices } => {
                    for c in choices {
                        let key = format!("{}.{}", i.key, c.key);
                        v.choices.push(ChoiceView {
                            id: field_id(&key),
                            checked: get(&key) == "1",
                            name: key,
                            value: "1".into(),
                            label: c.label.clone(),
                        });
                    }
                    v.inputs.push(input(
                        choices
                            .first()
                            .map(|c| format!("{}.{}", i.key, c.key))
                            .unwrap_or_else(|| i.key.clone()),
                        i.label.clone(),
                    ));
                    v.last_year_text = choices
                        .iter()
                        .filter(|c| last_of(&format!("{}.{}", i.key, c.key)) == "1")
                        .map(|c| c.label.clone())
                        .collect::<Vec<_>>()
                        .join("、");
                }
            }
            items.push(v);
        }
        out.push(SectionView {
            title: s.title.clone(),
            items,
        });
    }
    out
}

#[derive(Template)]
#[template(path = "surveys/response.html")]
struct ResponsePage {
    layout: Layout,
    line: LineView,
    round_title: String,
    round_id: String,
    description: String,
    round_note: String,
    as_of_label: String,
    due_label: String,
    status_code: &'static str,
    editable: bool,
    center: bool,
    can_review: bool,
    late_reopen_possible: bool,
    revision: i64,
    sections: Vec<SectionView>,
    last_year_label: String,
    errors: Vec<(String, String)>,
    warnings: Vec<(String, String)>,
    conflict: Option<String>,
    events: Vec<EventView>,
    return_comment: String,
    comment_value: String,
    comment_error: Option<String>,
}

struct EventView {
    at: String,
    who: String,
    kind: &'static str,
    comment: String,
}

impl EventView {
    fn of(e: &ResponseEvent) -> EventView {
        EventView {
            at: instant_label(&e.at),
            who: e.user_name.clone().unwrap_or_else(|| "システム".into()),
            kind: e.kind_label(),
            comment: e.comment.clone(),
        }
    }
}

/// Whether the signed-in actor may change the answers now (the policy's editing window).
pub(super) fn may_edit(ctx: &Ctx, r: &StoredResponse) -> Result<bool, AppError> {
    let actor = ctx.require_actor()?;
    Ok(policy::may_edit_survey_response(
        &actor,
        &r.line.municipality_code6,
        &ResponseWindow {
            open: r.line.status.is_open(),
            today: today(),
            opens_on: r.round.opens(),
            due_on: r.round.due(),
            reopened: r.line.reopened,
        },
    ))
}

/// Everything the response page shows besides the answers, which the caller chooses (stored,
/// or as just posted).
pub(super) struct Shown<'a> {
    pub answers: &'a Answers,
    pub found: Check,
    pub conflict: Option<String>,
    pub comment_value: String,
    pub comment_error: Option<String>,
    pub status: StatusCode,
}

pub(super) async fn response_page(
    st: &AppState,
    ctx: &Ctx,
    r: &StoredResponse,
    shown: Shown<'_>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let center = policy::is_center_wide(&actor, Action::ViewSurveys);
    let can_review = can(Some(&actor), Action::ReviewSurveyResponses, Target::Any);
    let editable = may_edit(ctx, r)?;
    let last = store::last_year(&st.db, &r.round, &r.line.municipality_code6).await?;
    let events = store::events(&st.db, &r.line.id).await?;
    let return_comment = events
        .iter()
        .find(|e| matches!(e.kind.as_str(), "returned" | "unlocked"))
        .filter(|_| r.line.status == ResponseStatus::Returned)
        .map(|e| e.comment.clone())
        .unwrap_or_default();
    let today = today();
    let late_reopen_possible = can_review
        && r.line.status.is_open()
        && !r.line.reopened
        && r.round.due().is_some_and(|d| today > d);
    let errors = shown
        .found
        .errors
        .iter()
        .map(|e| (field_id(&e.field), e.message.clone()))
        .collect();
    let warnings = shown
        .found
        .warnings
        .iter()
        .map(|w| (field_id(&w.field), w.message.clone()))
        .collect();
    let page = ResponsePage {
        layout: Layout::new(
            st,
            ctx,
            format!("{}（{}）", r.round.title, r.line.municipality_name),
        ),
        line: LineView::of(&r.line, today),
        round_title: r.round.title.clone(),
        round_id: r.round.id.clone(),
        description: r.definition.description.clone(),
        round_note: r.round.note.clone(),
        as_of_label: date_label(&r.round.as_of),
        due_label: date_label(&r.round.due_on),
        status_code: r.line.status.code(),
        editable,
        center,
        can_review,
        late_reopen_possible,
        revision: r.revision,
        sections: sections(
            &r.definition,
            shown.answers,
            last.as_ref().map(|(_, a)| a),
            &shown.found,
        ),
        last_year_label: last
            .as_ref()
            .map(|(y, _)| format_fiscal_year(*y as i32))
            .unwrap_or_default(),
        errors,
        warnings,
        conflict: shown.conflict,
        events: events.iter().map(EventView::of).collect(),
        return_comment,
        comment_value: shown.comment_value,
        comment_error: shown.comment_error,
    };
    render_status(shown.status, &page)
}

async fn response(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let r = store::response(&st.db, &actor, &id).await?;
    // Show the findings of the stored answers so a returned or half-done response says what
    // is still wrong; a fresh one shows none.
    let last = store::last_year(&st.db, &r.round, &r.line.municipality_code6).await?;
    let found = if r.answers.is_empty() {
        Check::default()
    } else {
        let mode = if r.line.status == ResponseStatus::Draft {
            CheckMode::Draft
        } else {
            CheckMode::Submit
        };
        check(
            &r.definition,
            &r.answers,
            last.as_ref().map(|(_, a)| a),
            mode,
        )
    };
    response_page(
        &st,
        &ctx,
        &r,
        Shown {
            answers: &r.answers,
            found,
            conflict: None,
            comment_value: String::new(),
            comment_error: None,
            status: StatusCode::OK,
        },
    )
    .await
}

/// The answers as posted: every field of the definition, and the notes explaining warnings.
fn posted_answers(def: &Definition, form: &FormData) -> Answers {
    let mut a = Answers::new();
    for f in def.fields() {
        let v = match f.kind {
            FieldKind::Flag => {
                if form.get(&f.key) == "1" {
                    "1".to_string()
                } else {
                    String::new()
                }
            }
            _ => form.get(&f.key).to_string(),
        };
        if !v.trim().is_empty() {
            a.insert(f.key, v);
        }
    }
    for (k, v) in &form.0 {
        if k.starts_with("note.") && k.len() <= 120 && !v.trim().is_empty() {
            a.insert(k.clone(), v.chars().take(2000).collect());
        }
    }
    a
}

async fn save(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let r = store::response(&st.db, &actor, &id).await?;
    ctx.authorize(
        Action::RespondToSurvey,
        Target::Municipality {
            code6: &r.line.municipality_code6,
        },
    )?;
    let answers = posted_answers(&r.definition, &form);
    let submit = form.get("intent") == "submit";
    let shown = |found: Check, conflict: Option<String>, status: StatusCode| Shown {
        answers: &answers,
        found,
        conflict,
        comment_value: String::new(),
        comment_error: None,
        status,
    };
    if !may_edit(&ctx, &r)? {
        let msg = if r.line.status.is_open() {
            "提出期限を過ぎているため保存できません。入力が必要な場合は支援センターに連絡してください。入力した内容はこの画面に残っています。"
        } else {
            "この回答は提出済みまたは承認済みのため変更できません。入力した内容はこの画面に残っています。"
        };
        return response_page(
            &st,
            &ctx,
            &r,
            shown(Check::default(), Some(msg.into()), StatusCode::CONFLICT),
        )
        .await;
    }
    let revision = form.get("revision").parse::<i64>().unwrap_or(-1);
    let last = store::last_year(&st.db, &r.round, &r.line.municipality_code6).await?;
    let mode = if submit {
        CheckMode::Submit
    } else {
        CheckMode::Draft
    };
    let found = check(&r.definition, &answers, last.as_ref().map(|(_, a)| a), mode);
    let unexplained = found.unexplained(&answers).count();
    if !found.errors.is_empty() || (submit && unexplained > 0) {
        return response_page(
            &st,
            &ctx,
            &r,
            shown(found, None, StatusCode::UNPROCESSABLE_ENTITY),
        )
        .await;
    }
    let saving = if submit {
        Saving::Submit
    } else {
        Saving::Draft
    };
    let mut tx = st.db.begin().await?;
    match store::save_answers(
        &mut tx,
        &ctx.audit(),
        &r.line.id,
        revision,
        &answers,
        saving,
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
        }
        Err(StoreError::Conflict(m)) => {
            drop(tx);
            return response_page(&st, &ctx, &r, shown(found, Some(m), StatusCode::CONFLICT)).await;
        }
        Err(e) => return Err(e.into()),
    }
    let msg = if submit {
        "提出しました。支援センターが確認します。差し戻しがあった場合は受信箱とお知らせでお伝えします。"
    } else {
        "一時保存しました。提出するまでは何度でも修正できます。"
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/surveys/responses/{}", r.line.id),
        "success",
        msg,
    ))
}

async fn review(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let r = store::response(&st.db, &actor, &id).await?;
    let decision = match form.get("decision") {
        "approve" => Decision::Approve,
        "return" => Decision::Return,
        "unlock" => Decision::Unlock,
        "reopen" => Decision::Reopen,
        _ => return Err(AppError::BadRequest("操作を選んでください".into())),
    };
    let comment = form.get("comment");
    let mut tx = st.db.begin().await?;
    match store::decide(&mut tx, &ctx.audit(), &r.line.id, decision, comment).await {
        Ok(()) => {
            tx.commit().await?;
        }
        Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => {
            drop(tx);
            let found = check(&r.definition, &r.answers, None, CheckMode::Draft);
            return response_page(
                &st,
                &ctx,
                &r,
                Shown {
                    answers: &r.answers,
                    found,
                    conflict: None,
                    comment_value: comment.to_string(),
                    comment_error: Some(m),
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                },
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    let msg = match decision {
        Decision::Approve => "承認しました。集計と地図に反映されています。回答はロックされました。",
        Decision::Return => "差し戻しました。市町村の受信箱にコメントとともに表示されます。",
        Decision::Unlock => "承認を解除しました。回答は差し戻しの状態に戻り、集計から外れました。",
        Decision::Reopen => "期限後の入力を許可しました。市町村が入力・提出できます。",
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/surveys/responses/{}", r.line.id),
        "success",
        msg,
    ))
}
