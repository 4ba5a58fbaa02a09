//! The e-mail outbox for the system administrator (メール送信): what is waiting to be sent or
//! could not be sent, with the relay's answer, and a button to send a message again.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use tsunagu_domain::outbox::MailStatus;
use tsunagu_domain::policy::Action;
use tsunagu_store::outbox::{self, Mail};

use super::consultations::instant_label;
use super::render;
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/admin/mail", Action::ManageMail, list).post(
        "/admin/mail/{id}/resend",
        Action::ManageMail,
        resend,
    )
}

/// How many messages of each list are shown.
const SHOWN: i64 = 200;

/// A message as the list shows it.
struct MailRow {
    id: String,
    created: String,
    kind: String,
    to: String,
    subject: String,
    status: &'static str,
    failed: bool,
    attempts: i64,
    next_attempt: String,
    last_error: String,
    sent: String,
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "survey_reminder" => "調査の督促",
        other => other,
    }
}

impl From<&Mail> for MailRow {
    fn from(m: &Mail) -> MailRow {
        let to = match m.to.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} ほか{}件", rest.len()),
        };
        MailRow {
            id: m.id.clone(),
            created: instant_label(&m.created_at),
            kind: kind_label(&m.kind).to_string(),
            to,
            subject: m.subject.clone(),
            status: m.status.label(),
            failed: m.status == MailStatus::Failed,
            attempts: m.attempts,
            next_attempt: instant_label(&m.next_attempt_at),
            last_error: m.last_error.clone(),
            sent: m.sent_at.as_deref().map(instant_label).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "mail_outbox/list.html")]
struct ListPage {
    layout: Layout,
    relay_configured: bool,
    open: Vec<MailRow>,
    sent: Vec<MailRow>,
}

async fn list(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let (open, sent) = outbox::list(&st.db, &actor, SHOWN).await?;
    render(&ListPage {
        layout: Layout::new(&st, &ctx, "メール送信"),
        relay_configured: !st.cfg.smtp_url.is_empty(),
        open: open.iter().map(MailRow::from).collect(),
        sent: sent.iter().map(MailRow::from).collect(),
    })
}

async fn resend(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let mut tx = st.db.begin().await?;
    outbox::resend(&mut tx, &ctx.audit(), &actor, &id).await?;
    tx.commit().await?;
    st.mail_wake.notify_one();
    Ok(redirect_with_flash(
        &st,
        "/admin/mail",
        "success",
        "メールを送り直します。結果はこの画面に表示されます。",
    ))
}
