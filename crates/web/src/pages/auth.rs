//! Sign-in (ログイン) with password and, where enrolled, a second factor; sign-out.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Duration;
use tsunagu_domain::policy::Action;
use tsunagu_domain::totp;
use tsunagu_store::accounts::{self, Stage, password};
use tsunagu_store::audit::{self, AuditCtx, Event};
use tsunagu_store::clock;

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, clear_session_cookie, redirect_with_flash, set_session_cookie};
use crate::error::AppError;
use crate::forms::FormData;
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/login", Action::Public, login_page)
        .post("/login", Action::Public, login)
        .get("/login/totp", Action::Public, totp_page)
        .post("/login/totp", Action::Public, totp_submit)
        .post("/logout", Action::Public, logout)
}

/// Failures of one login id within this window lock it.
const LOCK_WINDOW_MINUTES: i64 = 15;
const LOCK_AFTER_FAILURES: i64 = 10;

const MSG_WRONG: &str = "ログインIDまたはパスワードが正しくありません。";
const MSG_LOCKED: &str = "ログインに続けて失敗したため、このログインIDでは一時的にログインできません。15分ほど待ってから、もう一度お試しください。";
const MSG_IP_LIMIT: &str = "この端末のネットワークからのログインの失敗が多すぎます。二要素認証を設定していないアカウントは、15分ほど待ってから、もう一度お試しください。";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    login_id: String,
    next: String,
    message: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    expired: String,
    #[serde(default)]
    ended: String,
}

/// Only same-site paths may be returned to after sign-in: one leading `/`, not followed by
/// `/` or `\`, and no control characters or backslashes anywhere (browsers drop tabs and line
/// breaks from a URL, so `/\t/evil.example` would become `//evil.example`).
pub(crate) fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !next.starts_with("/login");
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

async fn login_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    if ctx.fully_signed_in() {
        return Ok(Redirect::to("/").into_response());
    }
    let notice = if q.expired == "1" {
        Some("一定時間操作がなかったか、ログインの有効期限が過ぎたため、ログアウトしました。もう一度ログインしてください。".to_string())
    } else if q.ended == "1" {
        Some("別の画面や端末でログアウトしたか、管理者の操作により、ログアウトしました。もう一度ログインしてください。".to_string())
    } else {
        None
    };
    render(&LoginPage {
        layout: Layout::new(&st, &ctx, "ログイン"),
        login_id: String::new(),
        next: safe_next(&q.next),
        message: None,
        notice,
    })
}

fn window_start() -> String {
    clock::format(clock::now() - Duration::minutes(LOCK_WINDOW_MINUTES))
}

fn login_again(
    st: &AppState,
    ctx: &Ctx,
    login_id: &str,
    next: &str,
    message: &str,
    status: axum::http::StatusCode,
) -> Result<Response, AppError> {
    render_status(
        status,
        &LoginPage {
            layout: Layout::new(st, ctx, "ログイン"),
            login_id: login_id.to_string(),
            next: next.to_string(),
            message: Some(message.to_string()),
            notice: None,
        },
    )
}

async fn login(State(st): State<AppState>, ctx: Ctx, form: FormData) -> Result<Response, AppError> {
    use axum::http::StatusCode;
    let login_id = form.get("login_id").trim().to_string();
    let pw = form.get("password").to_string();
    let next = safe_next(form.get("next"));
    let audit_ctx = AuditCtx {
        actor_login: login_id.chars().take(100).collect(),
        ..ctx.audit()
    };
    if login_id.is_empty() || pw.is_empty() {
        return login_again(
            &st,
            &ctx,
            &login_id,
            &next,
            "ログインIDとパスワードを入力してください。",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let since = window_start();
    // Many failures from one address (a municipality's whole office shares one) do not lock
    // its staff out: past the limit a password is still checked, but only an account with a
    // second factor may go on, to the code page. Guessing passwords from there gains nothing
    // without the code, and each login id keeps its own lockout.
    let address_limited = accounts::failures_from_ip(&st.db, &ctx.client_ip, &since).await?
        >= st.cfg.login_failures_per_ip;
    let creds = accounts::credentials(&st.db, &login_id).await?;
    let now = clock::now();
    let locked_by_count =
        accounts::failures_for_login(&st.db, &login_id, &since).await? >= LOCK_AFTER_FAILURES;
    let locked_by_flag = creds
        .as_ref()
        .and_then(|c| c.locked_until.as_deref())
        .and_then(clock::parse)
        .is_some_and(|until| until > now);
    if locked_by_count || locked_by_flag {
        // Checked without looking at the password, for real and made-up ids alike.
        audit::record(
            &st.db,
            &audit_ctx,
            Event::new(
                "auth.login_locked",
                "user",
                creds.as_ref().map(|c| c.user_id.as_str()).unwrap_or(""),
            ),
        )
        .await?;
        return login_again(
            &st,
            &ctx,
            &login_id,
            &next,
            MSG_LOCKED,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let hash = creds
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let password_ok = password::verify(hash, pw).await;
    let usable = creds
        .as_ref()
        .is_some_and(|c| !c.disabled && !c.organisation_retired);
    let Some(creds) = creds.filter(|_| password_ok && usable) else {
        let user_id = accounts::credentials(&st.db, &login_id)
            .await?
            .map(|c| c.user_id);
        let mut tx = st.db.begin().await?;
        let failures = accounts::record_failure(
            &mut tx,
            user_id.as_deref(),
            &login_id,
            &ctx.client_ip,
            &since,
        )
        .await?;
        audit::append(
            &mut tx,
            &audit_ctx,
            Event::new(
                "auth.login_failed",
                "user",
                user_id.as_deref().unwrap_or(""),
            )
            .detail(format!(
                "{failures}回目の失敗（{LOCK_WINDOW_MINUTES}分以内）"
            )),
        )
        .await?;
        let now_locked = failures >= LOCK_AFTER_FAILURES;
        if address_limited {
            audit::append(
                &mut tx,
                &audit_ctx,
                Event::new("auth.ip_limited", "client", &ctx.client_ip),
            )
            .await?;
        }
        if now_locked {
            if let Some(uid) = &user_id {
                let until = clock::format(now + Duration::minutes(LOCK_WINDOW_MINUTES));
                accounts::lock_until(&mut tx, uid, &until).await?;
            }
            audit::append(
                &mut tx,
                &audit_ctx,
                Event::new("auth.lockout", "user", user_id.as_deref().unwrap_or("")),
            )
            .await?;
        }
        tx.commit().await?;
        let (msg, status) = if now_locked {
            (MSG_LOCKED, StatusCode::TOO_MANY_REQUESTS)
        } else if address_limited {
            (MSG_IP_LIMIT, StatusCode::TOO_MANY_REQUESTS)
        } else {
            (MSG_WRONG, StatusCode::UNPROCESSABLE_ENTITY)
        };
        return login_again(&st, &ctx, &login_id, &next, msg, status);
    };

    if address_limited && !creds.totp_enabled {
        // Answered as a wrong password is under the limit, so it tells nothing.
        audit::record(
            &st.db,
            &audit_ctx,
            Event::new("auth.ip_limited", "client", &ctx.client_ip)
                .detail("二要素認証を設定していないアカウント"),
        )
        .await?;
        return login_again(
            &st,
            &ctx,
            &login_id,
            &next,
            MSG_IP_LIMIT,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }

    // A new session id at every sign-in; the old session (if any) ends.
    let mut tx = st.db.begin().await?;
    if let Some(old) = &ctx.session {
        accounts::end_session(&mut tx, &old.id_hash).await?;
    }
    let user_ctx = AuditCtx {
        actor_user_id: Some(creds.user_id.clone()),
        actor_login: login_id.clone(),
        ..ctx.audit()
    };
    let (token, to) = if creds.totp_enabled {
        let expiry = clock::format(now + Duration::minutes(5));
        let token = accounts::create_session(
            &mut tx,
            &creds.user_id,
            Stage::SecondFactor,
            &expiry,
            &ctx.client_ip,
            &ctx.user_agent,
        )
        .await?;
        audit::append(
            &mut tx,
            &user_ctx,
            Event::new("auth.password_ok", "user", &creds.user_id).detail("二要素認証の確認待ち"),
        )
        .await?;
        (
            token,
            format!(
                "/login/totp?next={}",
                percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
            ),
        )
    } else {
        let expiry = clock::format(now + Duration::hours(st.cfg.session_absolute_hours));
        accounts::record_success(&mut tx, &creds.user_id).await?;
        let token = accounts::create_session(
            &mut tx,
            &creds.user_id,
            Stage::Active,
            &expiry,
            &ctx.client_ip,
            &ctx.user_agent,
        )
        .await?;
        audit::append(
            &mut tx,
            &user_ctx,
            Event::new("auth.login", "user", &creds.user_id).detail("パスワード"),
        )
        .await?;
        (token, next)
    };
    tx.commit().await?;
    let mut resp = Redirect::to(&to).into_response();
    set_session_cookie(&st, &mut resp, &token);
    Ok(resp)
}

#[derive(Template)]
#[template(path = "auth/totp.html")]
struct TotpPage {
    layout: Layout,
    next: String,
    message: Option<String>,
}

async fn totp_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    match &ctx.session {
        Some(s) if s.stage == Stage::SecondFactor => {}
        Some(_) => return Ok(Redirect::to("/").into_response()),
        None => return Ok(Redirect::to("/login").into_response()),
    }
    render(&TotpPage {
        layout: Layout::new(&st, &ctx, "確認コードの入力"),
        next: safe_next(&q.next),
        message: None,
    })
}

/// Recovery codes are typed with or without the hyphen, in either case.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

async fn totp_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    use axum::http::StatusCode;
    let Some(session) = ctx
        .session
        .clone()
        .filter(|s| s.stage == Stage::SecondFactor)
    else {
        return Ok(Redirect::to("/login").into_response());
    };
    let next = safe_next(form.get("next"));
    let code = form.get("code").trim().to_string();
    let user_id = session.user.id.clone();
    let creds = accounts::credentials_by_id(&st.db, &user_id)
        .await?
        .ok_or(AppError::Forbidden)?;
    let now = clock::now();
    let mut tx = st.db.begin().await?;
    let secret = creds.totp_secret.as_deref().and_then(totp::base32_decode);
    let mut method = None;
    if let Some(secret) = &secret
        && let Some(step) =
            totp::verify_totp(secret, &code, now.unix_timestamp(), creds.totp_last_step)
    {
        accounts::set_totp_step(&mut tx, &user_id, step).await?;
        method = Some("二要素認証（確認コード）");
    }
    if method.is_none() {
        let normalised = normalise_recovery_code(&code);
        if normalised.len() == 10
            && accounts::use_recovery_code(
                &mut tx,
                &user_id,
                &tsunagu_domain::audit::sha256_hex(&normalised),
            )
            .await?
        {
            method = Some("二要素認証（リカバリーコード）");
        }
    }
    let audit_ctx = ctx.audit();
    let Some(method) = method else {
        let since = window_start();
        let failures = accounts::record_failure(
            &mut tx,
            Some(&user_id),
            &session.user.login_id,
            &ctx.client_ip,
            &since,
        )
        .await?;
        audit::append(
            &mut tx,
            &audit_ctx,
            Event::new("auth.totp_failed", "user", &user_id)
                .detail(format!("{failures}回目の失敗")),
        )
        .await?;
        if failures >= LOCK_AFTER_FAILURES {
            let until = clock::format(now + Duration::minutes(LOCK_WINDOW_MINUTES));
            accounts::lock_until(&mut tx, &user_id, &until).await?;
            accounts::end_session(&mut tx, &session.id_hash).await?;
            audit::append(
                &mut tx,
                &audit_ctx,
                Event::new("auth.lockout", "user", &user_id),
            )
            .await?;
            tx.commit().await?;
            let mut resp = login_again(
                &st,
                &ctx,
                &session.user.login_id,
                &next,
                MSG_LOCKED,
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            clear_session_cookie(&st, &mut resp);
            return Ok(resp);
        }
        tx.commit().await?;
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &TotpPage {
                layout: Layout::new(&st, &ctx, "確認コードの入力"),
                next,
                message: Some("確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。".into()),
            },
        );
    };
    accounts::end_session(&mut tx, &session.id_hash).await?;
    accounts::record_success(&mut tx, &user_id).await?;
    let expiry = clock::format(now + Duration::hours(st.cfg.session_absolute_hours));
    let token = accounts::create_session(
        &mut tx,
        &user_id,
        Stage::Active,
        &expiry,
        &ctx.client_ip,
        &ctx.user_agent,
    )
    .await?;
    audit::append(
        &mut tx,
        &audit_ctx,
        Event::new("auth.login", "user", &user_id).detail(method),
    )
    .await?;
    tx.commit().await?;
    let mut resp = Redirect::to(&next).into_response();
    set_session_cookie(&st, &mut resp, &token);
    Ok(resp)
}

async fn logout(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    if let Some(s) = &ctx.session {
        // Signing out ends the user's sessions on every device, not only this one.
        let mut tx = st.db.begin().await?;
        let ended = accounts::end_all_sessions(&mut tx, &s.user.id).await?;
        audit::append(
            &mut tx,
            &ctx.audit(),
            Event::new("auth.logout", "user", &s.user.id)
                .detail(format!("{ended}件のセッションを終了")),
        )
        .await?;
        tx.commit().await?;
    }
    let mut resp = redirect_with_flash(&st, "/login", "success", "ログアウトしました。");
    clear_session_cookie(&st, &mut resp);
    Ok(resp)
}
