//! Accounts (利用者): users, their roles, password hashes, two-factor secrets, recovery codes,
//! sign-in failures and sessions.

use serde::Serialize;
use sqlx::Row;
use tsunagu_domain::audit::sha256_hex;
use tsunagu_domain::policy::{Action, Actor};
use tsunagu_domain::roles::Role;

use crate::audit::{self, AuditCtx, Event};
use crate::sql::{Owners, Where};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

/// A user as shown in lists and forms.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub login_id: String,
    pub display_name: String,
    pub email: String,
    pub organisation_id: String,
    pub organisation_name: String,
    pub roles: Vec<Role>,
    pub must_change_password: bool,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub locked_until: Option<String>,
    pub last_login_at: Option<String>,
}

impl User {
    pub fn role_labels(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("・")
    }
}

/// What an administrator enters for an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserInput {
    pub login_id: String,
    pub display_name: String,
    pub email: String,
    pub organisation_id: String,
    pub roles: Vec<Role>,
}

const USER_SELECT: &str = "SELECT u.id, u.login_id, u.display_name, u.email, u.organisation_id, o.name AS organisation_name,
    u.must_change_password, u.totp_enabled_at, u.disabled_at, u.locked_until, u.last_login_at
    FROM users u JOIN organisations o ON o.id = u.organisation_id";

async fn roles_of(conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<Vec<Role>> {
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id)
            .fetch_all(conn)
            .await?;
    let mut roles: Vec<Role> = codes.iter().filter_map(|c| Role::from_code(c)).collect();
    roles.sort();
    Ok(roles)
}

/// The roles in a comma-separated list of role codes, in the same order as [`roles_of`].
fn roles_from_codes(codes: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = codes.split(',').filter_map(Role::from_code).collect();
    roles.sort();
    roles
}

fn user_from_row(r: &sqlx::any::AnyRow, roles: Vec<Role>) -> Result<User> {
    let must: i64 = r.try_get("must_change_password")?;
    let totp: Option<String> = r.try_get("totp_enabled_at")?;
    let disabled: Option<String> = r.try_get("disabled_at")?;
    Ok(User {
        id: r.try_get("id")?,
        login_id: r.try_get("login_id")?,
        display_name: r.try_get("display_name")?,
        email: r.try_get("email")?,
        organisation_id: r.try_get("organisation_id")?,
        organisation_name: r.try_get("organisation_name")?,
        roles,
        must_change_password: must != 0,
        totp_enabled: totp.is_some(),
        disabled: disabled.is_some(),
        locked_until: r.try_get("locked_until")?,
        last_login_at: r.try_get("last_login_at")?,
    })
}

/// Filters for the account list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub organisation_id: String,
    pub role: String,
    pub query: String,
}

/// Accounts the actor may manage.
pub async fn list(db: &Db, actor: &Actor, filter: &Filter) -> Result<Vec<User>> {
    let mut w = Where::scoped(
        actor,
        Action::ManageUsers,
        Owners {
            organisation: Some("u.organisation_id"),
            user: Some("u.id"),
            ..Owners::CENTER_ONLY
        },
    );
    if w.allows_nothing() {
        return Ok(Vec::new());
    }
    if !filter.organisation_id.is_empty() {
        w.and_text("u.organisation_id = ?", filter.organisation_id.clone());
    }
    if !filter.role.is_empty() {
        w.and_text(
            "u.id IN (SELECT user_id FROM user_roles WHERE role = ?)",
            filter.role.clone(),
        );
    }
    if !filter.query.is_empty() {
        w.and_text(
            "(u.login_id LIKE ? ESCAPE '\\' OR u.display_name LIKE ? ESCAPE '\\')",
            format!("%{}%", audit::escape_like(&filter.query)),
        );
    }
    let sql = format!(
        "{USER_SELECT} WHERE 1 = 1{} ORDER BY o.name, u.login_id LIMIT 2000",
        w.sql()
    );
    let rows = w.query(&sql).fetch_all(db.pool()).await?;
    let all_roles = sqlx::query("SELECT user_id, role FROM user_roles")
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let mut roles = Vec::new();
        for rr in &all_roles {
            let uid: String = rr.try_get("user_id")?;
            if uid == id {
                let code: String = rr.try_get("role")?;
                if let Some(role) = Role::from_code(&code) {
                    roles.push(role);
                }
            }
        }
        roles.sort();
        out.push(user_from_row(r, roles)?);
    }
    Ok(out)
}

pub async fn get(db: &Db, id: &str) -> Result<User> {
    let mut conn = db.pool().acquire().await?;
    let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let roles = roles_of(&mut conn, id).await?;
    user_from_row(&row, roles)
}

pub async fn find_by_login(db: &Db, login_id: &str) -> Result<Option<User>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE login_id = $1")
        .bind(login_id)
        .fetch_optional(db.pool())
        .await?;
    match id {
        Some(id) => Ok(Some(get(db, &id).await?)),
        None => Ok(None),
    }
}

const DUPLICATE_LOGIN: &str = "このログインIDはすでに使われています";

async fn set_roles(tx: &mut Tx, user_id: &str, roles: &[Role]) -> Result<()> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    for r in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(user_id)
            .bind(r.code())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Creates an account. `must_change_password` is set for passwords an administrator issues.
pub async fn create(
    tx: &mut Tx,
    ctx: &AuditCtx,
    input: &UserInput,
    password_hash: &str,
    must_change_password: bool,
) -> Result<String> {
    let id = new_id();
    let now = clock::now_text();
    sqlx::query(
        "INSERT INTO users (id, login_id, display_name, email, organisation_id, password_hash, must_change_password, password_changed_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)",
    )
    .bind(&id)
    .bind(&input.login_id)
    .bind(&input.display_name)
    .bind(&input.email)
    .bind(&input.organisation_id)
    .bind(password_hash)
    .bind(i64::from(must_change_password))
    .bind(&now)
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_LOGIN))?;
    set_roles(tx, &id, &input.roles).await?;
    audit::append(
        tx,
        ctx,
        Event::new("user.create", "user", &id).new_values(input),
    )
    .await?;
    Ok(id)
}

pub async fn update(tx: &mut Tx, ctx: &AuditCtx, id: &str, input: &UserInput) -> Result<()> {
    let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let roles = roles_of(tx.conn(), id).await?;
    let u = user_from_row(&row, roles)?;
    let old = UserInput {
        login_id: u.login_id,
        display_name: u.display_name,
        email: u.email,
        organisation_id: u.organisation_id,
        roles: u.roles,
    };
    if &old == input {
        return Ok(());
    }
    sqlx::query(
        "UPDATE users SET login_id = $1, display_name = $2, email = $3, organisation_id = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(&input.login_id)
    .bind(&input.display_name)
    .bind(&input.email)
    .bind(&input.organisation_id)
    .bind(clock::now_text())
    .bind(id)
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::from(e).unique_as(DUPLICATE_LOGIN))?;
    set_roles(tx, id, &input.roles).await?;
    if old.roles != input.roles || old.organisation_id != input.organisation_id {
        // What the person may see changed: make them sign in again.
        end_all_sessions(tx, id).await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new("user.update", "user", id)
            .old(&old)
            .new_values(input),
    )
    .await?;
    Ok(())
}

/// Disables or re-enables an account. Disabling ends every session of the user.
pub async fn set_disabled(tx: &mut Tx, ctx: &AuditCtx, id: &str, disabled: bool) -> Result<()> {
    let now = clock::now_text();
    let n = sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3")
        .bind(if disabled { Some(now.clone()) } else { None })
        .bind(&now)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    if disabled {
        end_all_sessions(tx, id).await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new(
            if disabled {
                "user.disable"
            } else {
                "user.enable"
            },
            "user",
            id,
        ),
    )
    .await?;
    Ok(())
}

/// Sets a new password hash. An administrator's reset sets `must_change` and ends every
/// session; a user's own change keeps `keep_session_hash` signed in and ends the others.
pub async fn set_password(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    password_hash: &str,
    must_change: bool,
    keep_session_hash: Option<&str>,
) -> Result<()> {
    let now = clock::now_text();
    let n = sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, password_changed_at = $3, locked_until = NULL, updated_at = $3 WHERE id = $4",
    )
    .bind(password_hash)
    .bind(i64::from(must_change))
    .bind(&now)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(id)
        .bind(keep_session_hash.unwrap_or(""))
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "DELETE FROM login_failures WHERE user_id = $1 OR login_id = (SELECT login_id FROM users WHERE id = $1)",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    let action = if must_change {
        "user.password_reset"
    } else {
        "user.password_change"
    };
    audit::append(tx, ctx, Event::new(action, "user", id)).await?;
    Ok(())
}

/// What sign-in needs to know about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: String,
    pub password_hash: String,
    pub disabled: bool,
    pub organisation_retired: bool,
    pub locked_until: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
}

pub async fn credentials(db: &Db, login_id: &str) -> Result<Option<Credentials>> {
    let row = sqlx::query(
        "SELECT u.id, u.password_hash, u.disabled_at, u.locked_until, u.totp_secret, u.totp_enabled_at, u.totp_last_step, o.retired_at
         FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.login_id = $1",
    )
    .bind(login_id)
    .fetch_optional(db.pool())
    .await?;
    credentials_from(row)
}

pub async fn credentials_by_id(db: &Db, user_id: &str) -> Result<Option<Credentials>> {
    let row = sqlx::query(
        "SELECT u.id, u.password_hash, u.disabled_at, u.locked_until, u.totp_secret, u.totp_enabled_at, u.totp_last_step, o.retired_at
         FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    credentials_from(row)
}

fn credentials_from(row: Option<sqlx::any::AnyRow>) -> Result<Option<Credentials>> {
    let Some(r) = row else { return Ok(None) };
    let disabled: Option<String> = r.try_get("disabled_at")?;
    let retired: Option<String> = r.try_get("retired_at")?;
    let enabled: Option<String> = r.try_get("totp_enabled_at")?;
    Ok(Some(Credentials {
        user_id: r.try_get("id")?,
        password_hash: r.try_get("password_hash")?,
        disabled: disabled.is_some(),
        organisation_retired: retired.is_some(),
        locked_until: r.try_get("locked_until")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled: enabled.is_some(),
        totp_last_step: r.try_get("totp_last_step")?,
    }))
}

/// Records a failed sign-in for `login_id` (whether or not such an account exists) and
/// returns the failures for that login id within the window. Counting by login id, not by
/// account, makes a made-up login id lock exactly like a real one, so the lock message reveals
/// nothing.
pub async fn record_failure(
    tx: &mut Tx,
    user_id: Option<&str>,
    login_id: &str,
    client_ip: &str,
    window_start: &str,
) -> Result<i64> {
    let login: String = login_id.chars().take(100).collect();
    sqlx::query(
        "INSERT INTO login_failures (id, user_id, login_id, client_ip, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id())
    .bind(user_id.map(str::to_string))
    .bind(&login)
    .bind(client_ip)
    .bind(clock::now_text())
    .execute(tx.conn())
    .await?;
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE login_id = $1 AND at >= $2")
            .bind(&login)
            .bind(window_start)
            .fetch_one(tx.conn())
            .await?;
    Ok(n)
}

/// Failures for one login id within the window.
pub async fn failures_for_login(db: &Db, login_id: &str, window_start: &str) -> Result<i64> {
    let login: String = login_id.chars().take(100).collect();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE login_id = $1 AND at >= $2")
            .bind(login)
            .bind(window_start)
            .fetch_one(db.pool())
            .await?;
    Ok(n)
}

/// Failures from one client address within the window.
pub async fn failures_from_ip(db: &Db, client_ip: &str, window_start: &str) -> Result<i64> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE client_ip = $1 AND at >= $2")
            .bind(client_ip)
            .bind(window_start)
            .fetch_one(db.pool())
            .await?;
    Ok(n)
}

pub async fn lock_until(tx: &mut Tx, user_id: &str, until: &str) -> Result<()> {
    sqlx::query("UPDATE users SET locked_until = $1 WHERE id = $2")
        .bind(until)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// After a successful sign-in: forget failures, clear an expired lock, note the time.
pub async fn record_success(tx: &mut Tx, user_id: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM login_failures WHERE user_id = $1 OR login_id = (SELECT login_id FROM users WHERE id = $1)",
    )
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE users SET locked_until = NULL, last_login_at = $1 WHERE id = $2")
        .bind(clock::now_text())
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Removes failure records older than `before` (housekeeping).
pub async fn prune_failures(db: &Db, before: &str) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(before)
        .execute(tx.conn())
        .await?
        .rows_affected();
    tx.commit_bookkeeping("old sign-in failures removed")
        .await?;
    Ok(n)
}

/// Turns on two-factor sign-in with a confirmed secret and stores the hashed recovery codes.
pub async fn enable_totp(
    tx: &mut Tx,
    ctx: &AuditCtx,
    user_id: &str,
    secret_b32: &str,
    confirmed_step: i64,
    recovery_code_hashes: &[String],
) -> Result<()> {
    let now = clock::now_text();
    sqlx::query(
        "UPDATE users SET totp_secret = $1, totp_enabled_at = $2, totp_last_step = $3, updated_at = $2 WHERE id = $4",
    )
    .bind(secret_b32)
    .bind(&now)
    .bind(confirmed_step)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    replace_recovery_codes(tx, user_id, recovery_code_hashes).await?;
    audit::append(tx, ctx, Event::new("auth.totp_enable", "user", user_id)).await?;
    Ok(())
}

pub async fn disable_totp(tx: &mut Tx, ctx: &AuditCtx, user_id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(clock::now_text())
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    audit::append(tx, ctx, Event::new("auth.totp_disable", "user", user_id)).await?;
    Ok(())
}

/// An administrator's reset of a user's two-factor sign-in (a lost phone and no recovery code
/// left): the secret and recovery codes go, every session ends, and the user enrols again at
/// the next sign-in where their role requires it.
pub async fn reset_totp(tx: &mut Tx, ctx: &AuditCtx, user_id: &str) -> Result<()> {
    let n = sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(clock::now_text())
    .bind(user_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    end_all_sessions(tx, user_id).await?;
    audit::append(tx, ctx, Event::new("user.totp_reset", "user", user_id)).await?;
    Ok(())
}

/// Remembers the last accepted time step so that a code cannot be used twice.
pub async fn set_totp_step(tx: &mut Tx, user_id: &str, step: i64) -> Result<()> {
    sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2")
        .bind(step)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn replace_recovery_codes(tx: &mut Tx, user_id: &str, hashes: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    for h in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(h)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Uses up a recovery code; true when it was valid and unused.
pub async fn use_recovery_code(tx: &mut Tx, user_id: &str, code_hash: &str) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(clock::now_text())
    .bind(user_id)
    .bind(code_hash)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn unused_recovery_codes(db: &Db, user_id: &str) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n)
}

/// The stage a session is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; waiting for the second factor.
    SecondFactor,
    /// Fully signed in.
    Active,
}

impl Stage {
    fn code(self) -> &'static str {
        match self {
            Stage::SecondFactor => "second_factor",
            Stage::Active => "active",
        }
    }
}

/// A signed-in session with what every request needs to know about its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub stage: Stage,
    pub csrf_token: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub reauth_at: Option<String>,
    pub pending_totp_secret: Option<String>,
    pub user: User,
    pub municipality_code6: Option<String>,
}

impl Session {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user.id.clone(),
            organisation_id: self.user.organisation_id.clone(),
            municipality_code6: self.municipality_code6.clone(),
            roles: self.user.roles.clone(),
        }
    }
}

/// Starts a session; returns the secret token for the cookie (only its hash is stored).
pub async fn create_session(
    tx: &mut Tx,
    user_id: &str,
    stage: Stage,
    absolute_expiry: &str,
    client_ip: &str,
    user_agent: &str,
) -> Result<String> {
    let token = crate::random_token()?;
    let csrf = crate::random_token()?;
    let now = clock::now_text();
    let ua: String = user_agent.chars().take(300).collect();
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, stage, csrf_token, created_at, last_seen_at, expires_at, reauth_at, client_ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9)",
    )
    .bind(sha256_hex(&token))
    .bind(user_id)
    .bind(stage.code())
    .bind(csrf)
    .bind(&now)
    .bind(absolute_expiry)
    .bind(if stage == Stage::Active { Some(now.clone()) } else { None })
    .bind(client_ip)
    .bind(ua)
    .execute(tx.conn())
    .await?;
    Ok(token)
}

/// Finds the session for a cookie token, with its user, if it exists and the user may still
/// sign in. Expiry is decided by the caller, which knows the settings.
pub async fn load_session(db: &Db, token: &str) -> Result<Option<Session>> {
    let id_hash = sha256_hex(token);
    // Every request runs this, so it is one round trip: the session, its user, organisation and
    // roles together, the roles as a comma-separated list (role codes contain no commas).
    // `string_agg` is PostgreSQL's and SQLite's (3.44 and later; sqlx bundles a newer one).
    let row = sqlx::query(
        "SELECT s.id_hash, s.stage, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.reauth_at, s.pending_totp_secret,
                u.id, u.login_id, u.display_name, u.email, u.organisation_id, o.name AS organisation_name,
                u.must_change_password, u.totp_enabled_at, u.disabled_at, u.locked_until, u.last_login_at,
                o.retired_at, o.municipality_code6,
                (SELECT string_agg(ur.role, ',') FROM user_roles ur WHERE ur.user_id = u.id) AS role_codes
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = u.organisation_id
         WHERE s.id_hash = $1",
    )
    .bind(&id_hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let disabled: Option<String> = r.try_get("disabled_at")?;
    let retired: Option<String> = r.try_get("retired_at")?;
    if disabled.is_some() || retired.is_some() {
        return Ok(None);
    }
    let role_codes: Option<String> = r.try_get("role_codes")?;
    let roles = roles_from_codes(role_codes.as_deref().unwrap_or(""));
    let user = user_from_row(&r, roles)?;
    let stage: String = r.try_get("stage")?;
    Ok(Some(Session {
        id_hash,
        stage: if stage == "active" {
            Stage::Active
        } else {
            Stage::SecondFactor
        },
        csrf_token: r.try_get("csrf_token")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
        reauth_at: r.try_get("reauth_at")?,
        pending_totp_secret: r.try_get("pending_totp_secret")?,
        user,
        municipality_code6: r.try_get("municipality_code6")?,
    }))
}

/// Notes activity on a session (for the idle timeout).
pub async fn touch_session(db: &Db, id_hash: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(clock::now_text())
        .bind(id_hash)
        .execute(tx.conn())
        .await?;
    tx.commit_bookkeeping("session activity").await?;
    Ok(())
}

pub async fn set_reauth(tx: &mut Tx, id_hash: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET reauth_at = $1 WHERE id_hash = $2")
        .bind(clock::now_text())
        .bind(id_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_pending_totp_secret(
    tx: &mut Tx,
    id_hash: &str,
    secret: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE sessions SET pending_totp_secret = $1 WHERE id_hash = $2")
        .bind(secret.map(str::to_string))
        .bind(id_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn end_session(tx: &mut Tx, id_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn end_all_sessions(tx: &mut Tx, user_id: &str) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?
        .rows_affected())
}

/// Removes sessions that expired (absolute) or idled out before `idle_cutoff`.
pub async fn prune_sessions(db: &Db, idle_cutoff: &str) -> Result<u64> {
    let now = clock::now_text();
    let mut tx = db.begin().await?;
    let n = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2")
        .bind(&now)
        .bind(idle_cutoff)
        .execute(tx.conn())
        .await?
        .rows_affected();
    tx.commit_bookkeeping("ended sessions removed").await?;
    Ok(n)
}

/// Active sessions of a user (for "signed in elsewhere" on the account page).
pub async fn session_count(db: &Db, user_id: &str) -> Result<i64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// Records that someone viewed an account's details.
pub async fn audit_view(db: &Db, ctx: &AuditCtx, user_id: &str) -> Result<()> {
    audit::record(db, ctx, Event::new("user.view", "user", user_id)).await?;
    Ok(())
}

/// Password hashing with argon2id, off the async threads (it is deliberately slow).
pub mod password {
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};

    use crate::{Result, StoreError};

    fn hasher() -> Result<Argon2<'static>> {
        // One of OWASP's equivalent argon2id settings: 7 MiB, 5 passes, 1 lane (less memory per
        // sign-in than 19 MiB × 2 for the same cost to an attacker). Stored hashes keep their
        // own parameters, so older ones still verify.
        let params = Params::new(7 * 1024, 5, 1, None)
            .map_err(|e| StoreError::Other(format!("argon2 params: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// At most this many hashes run at once: hashing is CPU-bound, so more only adds memory
    /// (each takes its 7 MiB of blocks), and a burst of sign-ins must not exhaust the server.
    fn permits() -> &'static tokio::sync::Semaphore {
        static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
        PERMITS.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::sync::Semaphore::new(cores.max(1))
        })
    }

    pub async fn hash(password: String) -> Result<String> {
        let _permit = permits()
            .acquire()
            .await
            .map_err(|e| StoreError::Other(format!("hash permits: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let salt_bytes = crate::random_bytes::<16>()?;
            let salt = SaltString::encode_b64(&salt_bytes)
                .map_err(|e| StoreError::Other(format!("salt: {e}")))?;
            hasher()?
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| StoreError::Other(format!("hash: {e}")))
        })
        .await
        .map_err(|e| StoreError::Other(format!("hash task: {e}")))?
    }

    /// True when `password` matches `hash`. A malformed hash never matches.
    pub async fn verify(hash: String, password: String) -> bool {
        let Ok(_permit) = permits().acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            let Ok(h) = hasher() else { return false };
            h.verify_password(password.as_bytes(), &parsed).is_ok()
        })
        .await
        .unwrap_or(false)
    }

    /// A password for an administrator to hand over (to be changed at first sign-in): 16
    /// characters from an alphabet without look-alikes, in groups of four.
    pub fn issue() -> Result<String> {
        const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789#";
        let bytes = crate::random_bytes::<16>()?;
        let mut out = String::with_capacity(19);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(ALPHABET[(*b & 31) as usize] as char);
        }
        Ok(out)
    }

    /// A valid hash of a random password, verified against when a login id does not exist so
    /// that the answer takes as long as for a real account.
    pub fn dummy_hash() -> &'static str {
        "$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHRzb21lc2FsdA$Pj4xDCDE0nvB4nVHGJ7s8NzAYZw1bVb2vL7zsp0iX9c"
    }
}

/// Lifts a sign-in lock (ロック解除) for an administrator: clears `locked_until` and forgets the
/// recorded failures of the account and its login id, so the next sign-in is not refused.
pub async fn unlock(tx: &mut Tx, ctx: &AuditCtx, user_id: &str) -> Result<()> {
    let row = sqlx::query("SELECT login_id, locked_until FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let login_id: String = row.try_get("login_id")?;
    let locked_until: Option<String> = row.try_get("locked_until")?;
    sqlx::query("UPDATE users SET locked_until = NULL, updated_at = $1 WHERE id = $2")
        .bind(clock::now_text())
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    let forgotten = sqlx::query("DELETE FROM login_failures WHERE user_id = $1 OR login_id = $2")
        .bind(user_id)
        .bind(&login_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    audit::append(
        tx,
        ctx,
        Event::new("user.unlock", "user", user_id)
            .old(&serde_json::json!({ "locked_until": locked_until }))
            .new_values(&serde_json::json!({ "locked_until": null }))
            .detail(format!("ログイン失敗の記録{forgotten}件を消去")),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_list_is_read_in_role_order() {
        assert_eq!(roles_from_codes(""), Vec::<Role>::new());
        assert_eq!(
            roles_from_codes("viewer,system_admin,unknown"),
            vec![Role::SystemAdmin, Role::Viewer]
        );
    }
}
