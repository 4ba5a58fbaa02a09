//! The signed-in user's own account (アカウント設定): password, two-factor sign-in and recovery
//! codes. Security changes need a recent re-authentication.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Duration;
use tsunagu_domain::password::{PasswordPolicy, check_password};
use tsunagu_domain::policy::{Action, Target};
use tsunagu_domain::totp;
use tsunagu_domain::validation::FieldErrors;
use tsunagu_store::accounts::{self, password};
use tsunagu_store::audit::{self, Event};
use tsunagu_store::clock;

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/account", Action::ManageOwnAccount, overview)
        .get("/account/password", Action::ManageOwnAccount, password_page)
        .post(
            "/account/password",
            Action::ManageOwnAccount,
            password_submit,
        )
        .get("/account/reauth", Action::ManageOwnAccount, reauth_page)
        .post("/account/reauth", Action::ManageOwnAccount, reauth_submit)
        .get("/account/totp", Action::ManageOwnAccount, totp_page)
        .post(
            "/account/totp/enable",
            Action::ManageOwnAccount,
            totp_enable,
        )
        .post(
            "/account/totp/disable",
            Action::ManageOwnAccount,
            totp_disable,
        )
        .post(
            "/account/totp/recovery-codes",
            Action::ManageOwnAccount,
            recovery_codes_regenerate,
        )
}

/// Security changes within this many minutes of a password entry need no new one.
const REAUTH_MINUTES: i64 = 10;

fn own(ctx: &Ctx) -> Result<(), AppError> {
    let s = ctx.session()?;
    ctx.authorize(
        Action::ManageOwnAccount,
        Target::User {
            id: &s.user.id,
            organisation_id: &s.user.organisation_id,
        },
    )
}

fn recently_authenticated(ctx: &Ctx) -> bool {
    ctx.session
        .as_ref()
        .and_then(|s| s.reauth_at.as_deref())
        .and_then(clock::parse)
        .is_some_and(|t| clock::now() - t < Duration::minutes(REAUTH_MINUTES))
}

fn reauth_redirect(next: &str) -> Response {
    let q: String =
        percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC).to_string();
    Redirect::to(&format!("/account/reauth?next={q}")).into_response()
}

#[derive(Template)]
#[template(path = "account/overview.html")]
struct OverviewPage {
    layout: Layout,
    display_name: String,
    login_id: String,
    organisation: String,
    roles: String,
    totp_enabled: bool,
    totp_required: bool,
    recovery_codes_left: i64,
    last_login: String,
    sessions: i64,
}

async fn overview(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    let u = &s.user;
    let left = accounts::unused_recovery_codes(&st.db, &u.id).await?;
    let sessions = accounts::session_count(&st.db, &u.id).await?;
    render(&OverviewPage {
        layout: Layout::new(&st, &ctx, "アカウント設定"),
        display_name: u.display_name.clone(),
        login_id: u.login_id.clone(),
        organisation: u.organisation_name.clone(),
        roles: u.role_labels(),
        totp_enabled: u.totp_enabled,
        totp_required: st.cfg.requires_2fa(&u.roles),
        recovery_codes_left: left,
        last_login: u
            .last_login_at
            .as_deref()
            .and_then(clock::parse)
            .map(tsunagu_domain::wareki::format_jst_datetime)
            .unwrap_or_else(|| "—".into()),
        sessions,
    })
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    forced: bool,
    errors: Vec<(String, String)>,
    fields: Vec<Field>,
}

fn password_fields(errors: &FieldErrors, min_len: usize) -> Vec<Field> {
    vec![
        Field::new("current_password", "現在のパスワード", "password")
            .required()
            .autocomplete("current-password")
            .errors(errors),
        Field::new("new_password", "新しいパスワード", "password")
            .required()
            .autocomplete("new-password")
            .hint(format!(
                "{min_len}文字以上。よく使われるパスワードやログインIDを含むものは使えません。日本語の文も使えます。"
            ))
            .errors(errors),
        Field::new("new_password_confirm", "新しいパスワード（確認）", "password")
            .required()
            .autocomplete("new-password")
            .errors(errors),
    ]
}

fn min_len_for(totp_enabled: bool) -> usize {
    let p = PasswordPolicy::default();
    if totp_enabled {
        p.min_len_with_2fa
    } else {
        p.min_len_without_2fa
    }
}

async fn password_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    let min_len = min_len_for(s.user.totp_enabled);
    render(&PasswordPage {
        layout: Layout::new(&st, &ctx, "パスワードの変更"),
        forced: s.user.must_change_password,
        errors: Vec::new(),
        fields: password_fields(&FieldErrors::new(), min_len),
    })
}

async fn password_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    let u = &s.user;
    let current = form.get("current_password").to_string();
    let new = form.get("new_password").to_string();
    let confirm = form.get("new_password_confirm");
    let mut errors = FieldErrors::new();
    let creds = accounts::credentials_by_id(&st.db, &u.id)
        .await?
        .ok_or(AppError::Forbidden)?;
    if current.is_empty() {
        errors.add("current_password", "現在のパスワードを入力してください");
    } else if !password::verify(creds.password_hash.clone(), current.clone()).await {
        errors.add("current_password", "現在のパスワードが正しくありません");
    }
    if let Err(problems) = check_password(
        &PasswordPolicy::default(),
        &new,
        u.totp_enabled,
        &u.login_id,
        &u.display_name,
    ) {
        let text = problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        errors.add("new_password", text);
    } else if new == current {
        errors.add(
            "new_password",
            "新しいパスワードは現在のパスワードと違うものにしてください",
        );
    }
    if confirm != new {
        errors.add(
            "new_password_confirm",
            "確認のため、新しいパスワードをもう一度同じように入力してください",
        );
    }
    let min_len = min_len_for(u.totp_enabled);
    if !errors.is_empty() {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                layout: Layout::new(&st, &ctx, "パスワードの変更"),
                forced: u.must_change_password,
                errors: summary(&errors),
                fields: password_fields(&errors, min_len),
            },
        );
    }
    let hash = password::hash(new).await?;
    let mut tx = st.db.begin().await?;
    accounts::set_password(&mut tx, &ctx.audit(), &u.id, &hash, false, Some(&s.id_hash)).await?;
    accounts::set_reauth(&mut tx, &s.id_hash).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        "/account",
        "success",
        "パスワードを変更しました。ほかの端末でのログインは終了しました。",
    ))
}

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

fn safe_account_next(next: &str) -> String {
    if next.starts_with("/account") && !next.contains("//") {
        next.to_string()
    } else {
        "/account".to_string()
    }
}

#[derive(Template)]
#[template(path = "account/reauth.html")]
struct ReauthPage {
    layout: Layout,
    next: String,
    totp_enabled: bool,
    message: Option<String>,
}

async fn reauth_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    render(&ReauthPage {
        layout: Layout::new(&st, &ctx, "本人確認"),
        next: safe_account_next(&q.next),
        totp_enabled: s.user.totp_enabled,
        message: None,
    })
}

async fn reauth_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    let next = safe_account_next(form.get("next"));
    let creds = accounts::credentials_by_id(&st.db, &s.user.id)
        .await?
        .ok_or(AppError::Forbidden)?;
    let mut ok = password::verify(
        creds.password_hash.clone(),
        form.get("password").to_string(),
    )
    .await;
    let mut step = None;
    if ok && creds.totp_enabled {
        let secret = creds.totp_secret.as_deref().and_then(totp::base32_decode);
        step = secret.and_then(|secret| {
            totp::verify_totp(
                &secret,
                form.get("code"),
                clock::now().unix_timestamp(),
                creds.totp_last_step,
            )
        });
        ok = step.is_some();
    }
    let mut tx = st.db.begin().await?;
    if !ok {
        audit::append(
            &mut tx,
            &ctx.audit(),
            Event::new("auth.reauth_failed", "user", &s.user.id),
        )
        .await?;
        tx.commit().await?;
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ReauthPage {
                layout: Layout::new(&st, &ctx, "本人確認"),
                next,
                totp_enabled: s.user.totp_enabled,
                message: Some(if creds.totp_enabled {
                    "パスワードまたは確認コードが正しくありません。".into()
                } else {
                    "パスワードが正しくありません。".into()
                }),
            },
        );
    }
    if let Some(step) = step {
        accounts::set_totp_step(&mut tx, &s.user.id, step).await?;
    }
    accounts::set_reauth(&mut tx, &s.id_hash).await?;
    audit::append(
        &mut tx,
        &ctx.audit(),
        Event::new("auth.reauth", "user", &s.user.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&next).into_response())
}

#[derive(Template)]
#[template(path = "account/totp.html")]
struct TotpPage {
    layout: Layout,
    enabled: bool,
    required: bool,
    recovery_codes_left: i64,
    qr_svg: String,
    secret_grouped: String,
    message: Option<String>,
    /// Enrolling a new phone while two-factor sign-in stays on.
    replacing: bool,
}

/// Draws a QR code as an SVG path (no image file, nothing inline that the CSP forbids).
fn qr_svg(text: &str) -> Result<String, AppError> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|e| AppError::Internal(format!("qr: {e:?}")))?;
    let border = 4;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"認証アプリで読み取るQRコード\" shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

fn group_secret(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn totp_view(
    st: &AppState,
    ctx: &Ctx,
    message: Option<String>,
    status: StatusCode,
    replacing: bool,
) -> Result<Response, AppError> {
    let s = ctx.session()?;
    let u = &s.user;
    let required = st.cfg.requires_2fa(&u.roles);
    if u.totp_enabled && !replacing {
        let left = accounts::unused_recovery_codes(&st.db, &u.id).await?;
        return render_status(
            status,
            &TotpPage {
                layout: Layout::new(st, ctx, "二要素認証"),
                enabled: true,
                required,
                recovery_codes_left: left,
                qr_svg: String::new(),
                secret_grouped: String::new(),
                message,
                replacing: false,
            },
        );
    }
    // A pending secret lives in the session until confirmed with a code from it.
    let secret = match &s.pending_totp_secret {
        Some(sec) => sec.clone(),
        None => {
            let sec = totp::base32_encode(&tsunagu_store::random_bytes::<20>()?);
            let mut tx = st.db.begin().await?;
            accounts::set_pending_totp_secret(&mut tx, &s.id_hash, Some(&sec)).await?;
            // Enrolment is audited when it is confirmed; the secret until then is the
            // session's.
            tx.commit_bookkeeping("second-factor secret awaiting confirmation")
                .await?;
            sec
        }
    };
    let uri = totp::otpauth_uri(&st.cfg.center_name, &u.login_id, &secret);
    render_status(
        status,
        &TotpPage {
            layout: Layout::new(st, ctx, "二要素認証"),
            enabled: u.totp_enabled,
            required,
            recovery_codes_left: 0,
            qr_svg: qr_svg(&uri)?,
            secret_grouped: group_secret(&secret),
            message,
            replacing,
        },
    )
}

#[derive(Deserialize, Default)]
struct TotpQuery {
    #[serde(default)]
    replace: String,
}

async fn totp_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<TotpQuery>,
) -> Result<Response, AppError> {
    own(&ctx)?;
    let replacing = q.replace == "1" && ctx.session()?.user.totp_enabled;
    if replacing && !recently_authenticated(&ctx) {
        return Ok(reauth_redirect("/account/totp?replace=1"));
    }
    totp_view(&st, &ctx, None, StatusCode::OK, replacing).await
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage {
    layout: Layout,
    codes: Vec<String>,
}

/// Ten one-time recovery codes, `xxxxx-xxxxx`, from an alphabet without look-alikes.
fn new_recovery_codes() -> Result<Vec<String>, AppError> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789x";
    let mut codes = Vec::with_capacity(10);
    for _ in 0..10 {
        let bytes = tsunagu_store::random_bytes::<10>()?;
        let mut c = String::with_capacity(11);
        for (i, b) in bytes.iter().enumerate() {
            if i == 5 {
                c.push('-');
            }
            c.push(ALPHABET[(*b & 31) as usize] as char);
        }
        codes.push(c);
    }
    Ok(codes)
}

fn hash_codes(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|c| tsunagu_domain::audit::sha256_hex(&super::auth::normalise_recovery_code(c)))
        .collect()
}

async fn totp_enable(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    // With two-factor sign-in already on, this confirms a new phone (after re-authentication).
    let replacing = s.user.totp_enabled;
    if !recently_authenticated(&ctx) {
        return Ok(reauth_redirect(if replacing {
            "/account/totp?replace=1"
        } else {
            "/account/totp"
        }));
    }
    let Some(secret_b32) = s.pending_totp_secret.clone() else {
        return Ok(Redirect::to("/account/totp").into_response());
    };
    let secret = totp::base32_decode(&secret_b32)
        .ok_or_else(|| AppError::Internal("bad pending secret".into()))?;
    let Some(step) = totp::verify_totp(
        &secret,
        form.get("code"),
        clock::now().unix_timestamp(),
        None,
    ) else {
        return totp_view(
            &st,
            &ctx,
            Some("確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。時刻がずれていると一致しません。".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            replacing,
        )
        .await;
    };
    let codes = new_recovery_codes()?;
    let mut tx = st.db.begin().await?;
    accounts::enable_totp(
        &mut tx,
        &ctx.audit(),
        &s.user.id,
        &secret_b32,
        step,
        &hash_codes(&codes),
    )
    .await?;
    accounts::set_pending_totp_secret(&mut tx, &s.id_hash, None).await?;
    tx.commit().await?;
    render(&RecoveryCodesPage {
        layout: Layout::new(&st, &ctx, "リカバリーコード"),
        codes,
    })
}

async fn recovery_codes_regenerate(
    State(st): State<AppState>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    if !s.user.totp_enabled {
        return Ok(Redirect::to("/account/totp").into_response());
    }
    if !recently_authenticated(&ctx) {
        return Ok(reauth_redirect("/account/totp"));
    }
    let codes = new_recovery_codes()?;
    let mut tx = st.db.begin().await?;
    accounts::replace_recovery_codes(&mut tx, &s.user.id, &hash_codes(&codes)).await?;
    audit::append(
        &mut tx,
        &ctx.audit(),
        Event::new("auth.recovery_codes_regenerate", "user", &s.user.id),
    )
    .await?;
    tx.commit().await?;
    render(&RecoveryCodesPage {
        layout: Layout::new(&st, &ctx, "リカバリーコード"),
        codes,
    })
}

async fn totp_disable(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    own(&ctx)?;
    let s = ctx.session()?;
    if st.cfg.requires_2fa(&s.user.roles) {
        return Err(AppError::BadRequest(
            "あなたの役割では二要素認証が必須のため、解除できません。スマートフォンを替える場合は「新しいスマートフォンに設定し直す」を使ってください。スマートフォンをなくした場合は、リカバリーコードでログインしてから設定し直すか、システム管理者に二要素認証のリセットを依頼してください。".into(),
        ));
    }
    if !recently_authenticated(&ctx) {
        return Ok(reauth_redirect("/account/totp"));
    }
    let mut tx = st.db.begin().await?;
    accounts::disable_totp(&mut tx, &ctx.audit(), &s.user.id).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        "/account",
        "success",
        "二要素認証を解除しました。",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_and_readable() {
        let codes = new_recovery_codes().expect("codes");
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(!c.contains(['0', 'o', '1', 'l', 'i']));
        }
    }

    #[test]
    fn qr_is_an_svg_path_without_script() {
        let svg = qr_svg("otpauth://totp/x:y?secret=ABC").expect("qr");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path d=\"M"));
        assert!(!svg.contains("script"));
    }

    #[test]
    fn secrets_are_grouped_by_four() {
        assert_eq!(group_secret("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
