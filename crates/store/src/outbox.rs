//! The e-mail outbox (メール送信待ち): messages are written here in the same transaction as the
//! change they tell of and its audit entry, and the worker sends them, tries again after a
//! failure ([`tsunagu_domain::outbox::retry_after_minutes`]) and records the result, audited.
//! A relay that is down, a crash or a kill loses nothing: an unsent message stays here.

use sqlx::Row;
use time::Duration;
use tsunagu_domain::outbox::{MailStatus, retry_after_minutes};
use tsunagu_domain::policy::{Action, Actor};

use crate::audit::{self, AuditCtx, Event};
use crate::sql::{Owners, Where};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

/// While the worker sends a message it holds it this long (`leased_until`), so that another
/// server sharing the database does not send it too; a worker that dies lets it go when the
/// time is up.
const LEASE_MINUTES: i64 = 5;

/// A message to be sent.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// What the message is, e.g. `survey_reminder`.
    pub kind: &'static str,
    /// What it is about (the record it tells of), for the list and the audit log.
    pub record_type: String,
    pub record_id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// A message in the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub id: String,
    pub created_at: String,
    pub kind: String,
    pub record_type: String,
    pub record_id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub status: MailStatus,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: String,
    pub sent_at: Option<String>,
}

const COLUMNS: &str = "id, created_at, kind, record_type, record_id, recipients, subject, body, status, attempts, next_attempt_at, last_error, sent_at";

fn mail_from_row(r: &sqlx::any::AnyRow) -> Result<Mail> {
    let recipients: String = r.try_get("recipients")?;
    let status: String = r.try_get("status")?;
    Ok(Mail {
        id: r.try_get("id")?,
        created_at: r.try_get("created_at")?,
        kind: r.try_get("kind")?,
        record_type: r.try_get("record_type")?,
        record_id: r.try_get("record_id")?,
        to: recipients.lines().map(str::to_string).collect(),
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        status: MailStatus::from_code(&status)
            .ok_or_else(|| StoreError::Other(format!("unknown mail status {status}")))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get("sent_at")?,
    })
}

/// Puts a message in the outbox inside `tx`, with its audit entry; the worker sends it once
/// the transaction commits. Returns its id.
pub async fn enqueue(tx: &mut Tx, ctx: &AuditCtx, mail: &NewMail) -> Result<String> {
    let id = new_id();
    let now = clock::now_text();
    sqlx::query(
        "INSERT INTO mail_outbox (id, created_at, kind, record_type, record_id, recipients, subject, body, status, attempts, next_attempt_at, last_error, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $2, '', NULL)",
    )
    .bind(&id)
    .bind(&now)
    .bind(mail.kind)
    .bind(&mail.record_type)
    .bind(&mail.record_id)
    .bind(mail.to.join("\n"))
    .bind(&mail.subject)
    .bind(&mail.body)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("mail.queued", "mail", &id).new_values(&serde_json::json!({
            "kind": mail.kind,
            "about": format!("{}:{}", mail.record_type, mail.record_id),
            "recipients": mail.to.len(),
            "subject": mail.subject,
        })),
    )
    .await?;
    Ok(id)
}

/// Takes the message due first, if any, holding it for [`LEASE_MINUTES`].
pub async fn take_due(db: &Db) -> Result<Option<Mail>> {
    let now = clock::now();
    let now_text = clock::format(now);
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= $1
         AND (leased_until IS NULL OR leased_until <= $1) ORDER BY next_attempt_at LIMIT 1",
    )
    .bind(&now_text)
    .fetch_optional(db.pool())
    .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    let mut tx = db.begin().await?;
    let taken = sqlx::query(
        "UPDATE mail_outbox SET leased_until = $1 WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3
         AND (leased_until IS NULL OR leased_until <= $3)",
    )
    .bind(clock::format(now + Duration::minutes(LEASE_MINUTES)))
    .bind(&id)
    .bind(&now_text)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if taken != 1 {
        // Another worker took it first.
        return Ok(None);
    }
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM mail_outbox WHERE id = $1"))
        .bind(&id)
        .fetch_one(tx.conn())
        .await?;
    tx.commit_bookkeeping("mail lease").await?;
    mail_from_row(&row).map(Some)
}

/// Records that `id` went out.
pub async fn mark_sent(db: &Db, ctx: &AuditCtx, id: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE mail_outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = '', leased_until = NULL WHERE id = $2",
    )
    .bind(clock::now_text())
    .bind(id)
    .execute(tx.conn())
    .await?;
    audit::append(&mut tx, ctx, Event::new("mail.sent", "mail", id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Records that sending `id` failed with `error`: it is tried again later, or, tried often
/// enough, marked failed. Returns the new status.
pub async fn mark_failed(db: &Db, ctx: &AuditCtx, id: &str, error: &str) -> Result<MailStatus> {
    let mut tx = db.begin().await?;
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM mail_outbox WHERE id = $1")
        .bind(id)
        .fetch_one(tx.conn())
        .await?;
    let attempts = attempts + 1;
    let error: String = error.chars().take(500).collect();
    let retry = retry_after_minutes(u32::try_from(attempts).unwrap_or(u32::MAX));
    let (status, next) = match retry {
        Some(m) => (
            MailStatus::Pending,
            clock::format(clock::now() + Duration::minutes(m)),
        ),
        None => (MailStatus::Failed, clock::now_text()),
    };
    sqlx::query(
        "UPDATE mail_outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, leased_until = NULL WHERE id = $5",
    )
    .bind(status.code())
    .bind(attempts)
    .bind(&next)
    .bind(&error)
    .bind(id)
    .execute(tx.conn())
    .await?;
    let (action, detail) = match status {
        MailStatus::Failed => (
            "mail.failed",
            format!("{attempts}回送信できず、再送を止めました: {error}"),
        ),
        _ => (
            "mail.retry",
            format!("{attempts}回目の送信に失敗、{next} に再送: {error}"),
        ),
    };
    audit::append(&mut tx, ctx, Event::new(action, "mail", id).detail(detail)).await?;
    tx.commit().await?;
    Ok(status)
}

/// Sends a pending or failed message again now, with a fresh round of attempts.
pub async fn resend(tx: &mut Tx, ctx: &AuditCtx, actor: &Actor, id: &str) -> Result<()> {
    let mut w = Where::scoped(actor, Action::ManageMail, Owners::CENTER_ONLY);
    if w.allows_nothing() {
        return Err(StoreError::NotFound);
    }
    let now = clock::now_text();
    w.and_text("id = ?", id);
    w.raw("status <> 'sent'");
    // Not while a worker is sending it: it would go out twice.
    w.and_text("(leased_until IS NULL OR leased_until <= ?)", now.clone());
    let sql = format!(
        "UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = ${} WHERE 1 = 1{}",
        w.bind_count() + 1,
        w.sql()
    );
    let changed = w
        .query(&sql)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if changed != 1 {
        // Say why, for a message that is there: sent already, or being sent this moment.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM mail_outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(tx.conn())
                .await?;
        return Err(match status.as_deref() {
            None => StoreError::NotFound,
            Some("sent") => StoreError::Conflict("このメールは送信済みです。".into()),
            Some(_) => StoreError::Conflict(
                "このメールは今送信しているところです。少し待ってから、この画面を開き直してください。"
                    .into(),
            ),
        });
    }
    audit::append(tx, ctx, Event::new("mail.resend", "mail", id)).await?;
    Ok(())
}

/// The messages an administrator looks after: not yet sent or failed first (oldest first),
/// then the newest sent, at most `limit` of each. Nothing for an actor who may not.
pub async fn list(db: &Db, actor: &Actor, limit: i64) -> Result<(Vec<Mail>, Vec<Mail>)> {
    let w = Where::scoped(actor, Action::ManageMail, Owners::CENTER_ONLY);
    if w.allows_nothing() {
        return Ok((Vec::new(), Vec::new()));
    }
    let limit = limit.clamp(1, 1000);
    let open_sql = format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE status <> 'sent'{} ORDER BY created_at LIMIT {limit}",
        w.sql()
    );
    let open = w.query(&open_sql).fetch_all(db.pool()).await?;
    let sent_sql = format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE status = 'sent'{} ORDER BY created_at DESC LIMIT {limit}",
        w.sql()
    );
    let sent = w.query(&sent_sql).fetch_all(db.pool()).await?;
    Ok((
        open.iter().map(mail_from_row).collect::<Result<_>>()?,
        sent.iter().map(mail_from_row).collect::<Result<_>>()?,
    ))
}
