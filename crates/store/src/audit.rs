//! The audit log (監査ログ): append-only, hash-chained, written in the same transaction as the
//! change it records. Nothing here updates or deletes an entry, and the database refuses it too.

use serde::Serialize;
use sqlx::Row;
use tsunagu_domain::audit::{EntryContent, GENESIS_HASH, entry_hash};
use tsunagu_domain::policy::{Action, Actor, Scope, scope};

use crate::{Backend, Db, Result, StoreError, Tx, clock};

/// Who did it, from where, in which request.
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub actor_user_id: Option<String>,
    pub actor_login: String,
    pub actor_org_id: Option<String>,
    pub client_ip: String,
    pub request_id: String,
}

impl AuditCtx {
    /// The context for changes made from the command line.
    pub fn system(what: &str) -> AuditCtx {
        AuditCtx {
            actor_user_id: None,
            actor_login: format!("system:{what}"),
            actor_org_id: None,
            client_ip: "local".into(),
            request_id: crate::new_id(),
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// e.g. `user.create`, `auth.login_failed`, `organisation.update`
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
    pub detail: String,
}

impl Event {
    pub fn new(action: &str, record_type: &str, record_id: &str) -> Event {
        Event {
            action: action.into(),
            record_type: record_type.into(),
            record_id: record_id.into(),
            ..Event::default()
        }
    }

    pub fn old<T: Serialize>(mut self, v: &T) -> Event {
        self.old_values = serde_json::to_value(v).ok();
        self
    }

    pub fn new_values<T: Serialize>(mut self, v: &T) -> Event {
        self.new_values = serde_json::to_value(v).ok();
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Event {
        self.detail = d.into();
        self
    }
}

/// Appends `event` to the chain inside `tx`.
pub async fn append(tx: &mut Tx, ctx: &AuditCtx, event: Event) -> Result<i64> {
    let head_sql = match tx.backend() {
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    };
    let head = sqlx::query(head_sql).fetch_one(tx.conn()).await?;
    let prev_seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;
    let seq = prev_seq + 1;
    let at = clock::now_text();
    let old_values = event.old_values.as_ref().map(|v| v.to_string());
    let new_values = event.new_values.as_ref().map(|v| v.to_string());
    let content = EntryContent {
        seq,
        at: &at,
        actor_user_id: ctx.actor_user_id.as_deref(),
        actor_login: &ctx.actor_login,
        actor_org_id: ctx.actor_org_id.as_deref(),
        client_ip: &ctx.client_ip,
        request_id: &ctx.request_id,
        action: &event.action,
        record_type: &event.record_type,
        record_id: &event.record_id,
        old_values: old_values.as_deref(),
        new_values: new_values.as_deref(),
        detail: &event.detail,
    };
    let hash = entry_hash(&prev_hash, &content);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_user_id, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(seq)
    .bind(&at)
    .bind(ctx.actor_user_id.clone())
    .bind(&ctx.actor_login)
    .bind(ctx.actor_org_id.clone())
    .bind(&ctx.client_ip)
    .bind(&ctx.request_id)
    .bind(&event.action)
    .bind(&event.record_type)
    .bind(&event.record_id)
    .bind(old_values)
    .bind(new_values)
    .bind(&event.detail)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(tx.conn())
        .await?;
    Ok(seq)
}

/// Appends one event in a transaction of its own (sign-in failures and the like, which change
/// nothing else).
pub async fn record(db: &Db, ctx: &AuditCtx, event: Event) -> Result<i64> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, ctx, event).await?;
    tx.commit().await?;
    Ok(seq)
}

/// An entry as shown to administrators.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor_login: String,
    pub actor_org_id: Option<String>,
    pub client_ip: String,
    pub request_id: String,
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub old_values: Option<String>,
    pub new_values: Option<String>,
    pub detail: String,
}

/// Filters for browsing the log. Empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_login: String,
    pub action_prefix: String,
    pub record_type: String,
    pub record_id: String,
    /// Inclusive lower bound, UTC text.
    pub from: Option<String>,
    /// Exclusive upper bound, UTC text.
    pub until: Option<String>,
    /// Show entries with seq lower than this (paging backwards from the newest).
    pub before_seq: Option<i64>,
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<Entry> {
    Ok(Entry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor_login: r.try_get("actor_login")?,
        actor_org_id: r.try_get("actor_org_id")?,
        client_ip: r.try_get("client_ip")?,
        request_id: r.try_get("request_id")?,
        action: r.try_get("action")?,
        record_type: r.try_get("record_type")?,
        record_id: r.try_get("record_id")?,
        old_values: r.try_get("old_values")?,
        new_values: r.try_get("new_values")?,
        detail: r.try_get("detail")?,
    })
}

/// Entries matching `filter`, newest first, at most `limit`. Only for actors the policy lets
/// read the log.
pub async fn list(db: &Db, actor: &Actor, filter: &Filter, limit: i64) -> Result<Vec<Entry>> {
    if scope(Some(actor), Action::ViewAuditLog) != Scope::All {
        return Ok(Vec::new());
    }
    let mut sql = String::from(
        "SELECT seq, at, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail FROM audit_log WHERE 1 = 1",
    );
    let mut binds: Vec<String> = Vec::new();
    let mut push = |sql: &mut String, cond: &str, v: String| {
        binds.push(v);
        sql.push_str(&cond.replace('?', &format!("${}", binds.len())));
    };
    if !filter.actor_login.is_empty() {
        push(&mut sql, " AND actor_login = ?", filter.actor_login.clone());
    }
    if !filter.action_prefix.is_empty() {
        push(
            &mut sql,
            " AND action LIKE ?",
            format!("{}%", escape_like(&filter.action_prefix)),
        );
        sql.push_str(" ESCAPE '\\'");
    }
    if !filter.record_type.is_empty() {
        push(&mut sql, " AND record_type = ?", filter.record_type.clone());
    }
    if !filter.record_id.is_empty() {
        push(&mut sql, " AND record_id = ?", filter.record_id.clone());
    }
    if let Some(from) = &filter.from {
        push(&mut sql, " AND at >= ?", from.clone());
    }
    if let Some(until) = &filter.until {
        push(&mut sql, " AND at < ?", until.clone());
    }
    let n = binds.len();
    if filter.before_seq.is_some() {
        sql.push_str(&format!(" AND seq < ${}", n + 1));
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ");
    sql.push_str(&limit.clamp(1, 100_000).to_string());
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(b);
    }
    if let Some(before) = filter.before_seq {
        q = q.bind(before);
    }
    let rows = q.fetch_all(db.pool()).await?;
    rows.iter().map(entry_from_row).collect()
}

/// Escapes `%`, `_` and `\` for a LIKE pattern used with `ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every entry matches; `entries` were checked.
    Intact { entries: i64 },
    /// The first entry that does not match, and why.
    Broken { seq: i64, reason: String },
}

/// Recomputes every hash from the first entry and compares links, sequence numbers and the
/// head. Reads in pages so memory stays flat on a long log.
pub async fn verify(db: &Db) -> Result<Verification> {
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut last_seq = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_user_id, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail, prev_hash, hash
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(last_seq)
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = r.try_get("seq")?;
            if seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!("entry {expected_seq} is missing (next found: {seq})"),
                });
            }
            let prev_hash: String = r.try_get("prev_hash")?;
            let hash: String = r.try_get("hash")?;
            let e = entry_from_row(r)?;
            let actor_user_id: Option<String> = r.try_get("actor_user_id")?;
            let content = EntryContent {
                seq,
                at: &e.at,
                actor_user_id: actor_user_id.as_deref(),
                actor_login: &e.actor_login,
                actor_org_id: e.actor_org_id.as_deref(),
                client_ip: &e.client_ip,
                request_id: &e.request_id,
                action: &e.action,
                record_type: &e.record_type,
                record_id: &e.record_id,
                old_values: e.old_values.as_deref(),
                new_values: e.new_values.as_deref(),
                detail: &e.detail,
            };
            if prev_hash != expected_prev {
                return Ok(Verification::Broken {
                    seq,
                    reason: "its link to the previous entry does not match".into(),
                });
            }
            if entry_hash(&prev_hash, &content) != hash {
                return Ok(Verification::Broken {
                    seq,
                    reason: "its content does not match its hash (altered)".into(),
                });
            }
            expected_prev = hash;
            expected_seq += 1;
            last_seq = seq;
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    if head_seq != last_seq || head_hash != expected_prev {
        return Ok(Verification::Broken {
            seq: last_seq + 1,
            reason: format!(
                "the log ends at entry {last_seq} but the chain head records entry {head_seq}: entries were removed from the end"
            ),
        });
    }
    Ok(Verification::Intact { entries: last_seq })
}

/// The number of entries (for the administrator's overview).
pub async fn count(db: &Db) -> Result<i64> {
    let n: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await
        .map_err(StoreError::from)?;
    Ok(n)
}
