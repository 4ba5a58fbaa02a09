//! Referrals (つなぎ先への依頼) as the receiving organisation handles them: the inbox of
//! referrals sent to one's organisation (all of them for the center), the summary of a referral,
//! acknowledging it (受領) and recording the outcome (対応結果).
//!
//! The requester's name and contact are on the page only when the referral was sent with the
//! requester's consent and the policy lets the actor see them; otherwise the page says so.
//! Every opening of a referral is audited (`referral.view`).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::consultation::{Code, ReferralStatus};
use tsunagu_domain::policy::{self, Action, Target, can};
use tsunagu_domain::validation::{FieldErrors, required_text};
use tsunagu_store::consultations::{self as store, InboxFilter, InboxRow, ReferralDetail};

use super::consultations::{date_label, instant_label};
use super::render_status;
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/referrals", Action::HandleReferrals, inbox)
        .get("/referrals/{id}", Action::HandleReferrals, detail)
        .post(
            "/referrals/{id}/acknowledge",
            Action::HandleReferrals,
            acknowledge,
        )
        .post("/referrals/{id}/outcome", Action::HandleReferrals, outcome)
}

fn target(d: &ReferralDetail) -> Target<'_> {
    Target::Referral {
        to_organisation_id: &d.referral.to_organisation_id,
        consent: d.referral.with_personal_details,
    }
}

/// Loads a referral and asks the policy about it; 404 for another organisation's referral.
async fn load(st: &AppState, ctx: &Ctx, id: &str) -> Result<ReferralDetail, AppError> {
    let d = store::referral_for(&st.db, &ctx.require_actor()?, id).await?;
    ctx.authorize(Action::HandleReferrals, target(&d))?;
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Inbox

struct InboxView {
    id: String,
    receipt_no: String,
    sent_label: String,
    to: String,
    municipality: String,
    age_band: String,
    question: String,
    status_label: String,
    status_css: &'static str,
    with_personal_details: bool,
}

impl InboxView {
    fn of(r: &InboxRow) -> InboxView {
        InboxView {
            id: r.id.clone(),
            receipt_no: r.receipt_no.clone(),
            sent_label: instant_label(&r.sent_at),
            to: r.to_organisation_name.clone(),
            municipality: r.municipality_name.clone().unwrap_or_default(),
            age_band: r.age_band_label(),
            question: r.question_excerpt(),
            status_label: r.status_label(),
            status_css: r.status_css(),
            with_personal_details: r.with_personal_details,
        }
    }
}

#[derive(Template)]
#[template(path = "referrals/inbox.html")]
struct InboxPage {
    layout: Layout,
    center_wide: bool,
    rows: Vec<InboxView>,
    statuses: Vec<Choice>,
    filtered: bool,
}

async fn inbox(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let status = match q.get("status").trim() {
        "open" => "open".to_string(),
        s if ReferralStatus::from_code(s).is_some() => s.to_string(),
        _ => String::new(),
    };
    let rows = store::inbox(
        &st.db,
        &actor,
        &InboxFilter {
            status: status.clone(),
        },
    )
    .await?;
    let mut statuses = vec![
        Choice::new("", "すべて", status.is_empty()),
        Choice::new("open", "対応結果が未記録のもの", status == "open"),
    ];
    statuses.extend(
        ReferralStatus::ALL
            .iter()
            .map(|s| Choice::new(s.code(), s.label(), s.code() == status)),
    );
    let center_wide = policy::is_center_wide(&actor, Action::HandleReferrals);
    render_status(
        StatusCode::OK,
        &InboxPage {
            layout: Layout::new(&st, &ctx, "受け付けた依頼"),
            center_wide,
            rows: rows.iter().map(InboxView::of).collect(),
            statuses,
            filtered: !status.is_empty(),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// One referral

#[derive(Template)]
#[template(path = "referrals/detail.html")]
struct DetailPage {
    layout: Layout,
    d: ReferralDetail,
    received_label: String,
    sent_label: String,
    acknowledged_label: String,
    outcome_label: String,
    topic_labels: Vec<String>,
    outcome_text: String,
    outcome_error: Option<String>,
    errors: Vec<(String, String)>,
    can_view_consultation: bool,
}

impl DetailPage {
    fn is_sent(&self) -> bool {
        self.d.referral.status == ReferralStatus::Sent.code()
    }
    fn is_closed(&self) -> bool {
        self.d.referral.status == ReferralStatus::Closed.code()
    }
}

/// Renders a referral and audits the view, noting whether the personal details were shown.
async fn detail_page(
    st: &AppState,
    ctx: &Ctx,
    mut d: ReferralDetail,
    outcome_text: String,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let show_personal = d.personal.is_some()
        && can(
            Some(&actor),
            Action::ViewReferralPersonalDetails,
            target(&d),
        );
    if !show_personal {
        d.personal = None;
    }
    let mut tx = st.db.begin().await?;
    store::record_referral_view(&mut tx, &ctx.audit(), &d.referral.id, show_personal).await?;
    tx.commit().await?;
    let r = &d.referral;
    let page = DetailPage {
        layout: Layout::new(st, ctx, format!("依頼（{}）", d.receipt_no)),
        received_label: date_label(&d.received_on),
        sent_label: instant_label(&r.sent_at),
        acknowledged_label: r
            .acknowledged_at
            .as_deref()
            .map(instant_label)
            .unwrap_or_default(),
        outcome_label: r
            .outcome_at
            .as_deref()
            .map(instant_label)
            .unwrap_or_default(),
        topic_labels: d.topic_labels(),
        outcome_text,
        outcome_error: errors.get("outcome").map(str::to_string),
        errors: summary(errors),
        can_view_consultation: can(Some(&actor), Action::ViewConsultations, Target::Any),
        d,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(status, &page)
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let d = load(&st, &ctx, &id).await?;
    let text = d.referral.outcome.clone();
    detail_page(&st, &ctx, d, text, &FieldErrors::new()).await
}

async fn acknowledge(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let d = load(&st, &ctx, &id).await?;
    let mut tx = st.db.begin().await?;
    let done =
        store::acknowledge(&mut tx, &ctx.audit(), &d.referral.id, Some(&actor.user_id)).await?;
    tx.commit().await?;
    let (kind, msg) = if done {
        (
            "success",
            "受領を記録しました。依頼元の支援センターに「受領済み」と表示されます。",
        )
    } else {
        ("info", "この依頼はすでに受領済みです。")
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/referrals/{}", d.referral.id),
        kind,
        msg,
    ))
}

async fn outcome(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let d = load(&st, &ctx, &id).await?;
    let mut errors = FieldErrors::new();
    let text = required_text(
        &mut errors,
        "outcome",
        "対応結果",
        form.get("outcome"),
        4000,
    );
    if !errors.is_empty() {
        return detail_page(&st, &ctx, d, form.get("outcome").to_string(), &errors).await;
    }
    let mut tx = st.db.begin().await?;
    store::record_outcome(
        &mut tx,
        &ctx.audit(),
        &d.referral.id,
        &text,
        Some(&actor.user_id),
    )
    .await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        &format!("/referrals/{}", d.referral.id),
        "success",
        "対応結果を記録しました。依頼元の支援センターで確認できます。",
    ))
}
