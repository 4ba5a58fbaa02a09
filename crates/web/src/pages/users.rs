//! Account administration (利用者管理): the list of accounts, registering an account with an
//! issued first password, editing, disabling, password resets and lifting sign-in locks.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::Duration;
use tsunagu_domain::policy::{Action, Target};
use tsunagu_domain::roles::Role;
use tsunagu_domain::validation::{FieldErrors, optional_email, required_text};
use tsunagu_domain::wareki::format_jst_datetime;
use tsunagu_store::accounts::{self, User, UserInput, password};
use tsunagu_store::orgs::{self, Organisation};
use tsunagu_store::{StoreError, clock};

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/admin/users", Action::ManageUsers, list)
        .get("/admin/users/new", Action::ManageUsers, new_page)
        .post("/admin/users/new", Action::ManageUsers, new_submit)
        .get("/admin/users/{id}", Action::ManageUsers, detail)
        .post("/admin/users/{id}", Action::ManageUsers, update)
        .post("/admin/users/{id}/disable", Action::ManageUsers, disable)
        .post("/admin/users/{id}/enable", Action::ManageUsers, enable)
        .post(
            "/admin/users/{id}/reset-2fa",
            Action::ManageUsers,
            reset_totp,
        )
        .post(
            "/admin/users/{id}/reset-password",
            Action::ManageUsers,
            reset_password,
        )
        .post("/admin/users/{id}/unlock", Action::ManageUsers, unlock)
}

/// The window in which sign-in failures count towards a lock (as in sign-in).
const FAILURE_WINDOW_MINUTES: i64 = 15;

const ISSUED_NOTE: &str = "この画面を閉じると再表示できません。初回ログイン時に変更が必要です。";

fn target(u: &User) -> Target<'_> {
    Target::User {
        id: &u.id,
        organisation_id: &u.organisation_id,
    }
}

/// Loads an account and asks the policy about it; 404 when either says no.
async fn load(st: &AppState, ctx: &Ctx, id: &str) -> Result<User, AppError> {
    let user = accounts::get(&st.db, id).await?;
    ctx.authorize(Action::ManageUsers, target(&user))?;
    Ok(user)
}

fn is_locked(u: &User, now: &str) -> bool {
    u.locked_until.as_deref().is_some_and(|t| t > now)
}

/// 有効 / 無効 / ロック中, with the status class that goes with it.
fn status_of(u: &User, now: &str) -> (&'static str, &'static str) {
    if u.disabled {
        ("無効", "status-muted")
    } else if is_locked(u, now) {
        ("ロック中", "status-bad")
    } else {
        ("有効", "status-ok")
    }
}

fn jst(instant: Option<&str>) -> String {
    instant
        .and_then(clock::parse)
        .map(format_jst_datetime)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// List

struct UserRow {
    user: User,
    status: &'static str,
    status_class: &'static str,
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<UserRow>,
    organisations: Vec<Choice>,
    roles: Vec<Choice>,
    q: String,
    filtered: bool,
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let params = FormData::parse_str(query.as_deref().unwrap_or(""));
    let all_orgs = orgs::list(
        &st.db,
        &actor,
        &orgs::Filter {
            include_retired: true,
            ..orgs::Filter::default()
        },
    )
    .await?;
    let organisation = params.get("organisation").trim().to_string();
    let organisation = if all_orgs.iter().any(|o| o.id == organisation) {
        organisation
    } else {
        String::new()
    };
    let role = Role::from_code(params.get("role"))
        .map(|r| r.code().to_string())
        .unwrap_or_default();
    let q: String = params.get("q").trim().chars().take(100).collect();
    let filter = accounts::Filter {
        organisation_id: organisation.clone(),
        role: role.clone(),
        query: q.clone(),
    };
    let users = accounts::list(&st.db, &actor, &filter).await?;
    let now = clock::now_text();
    let rows = users
        .into_iter()
        .map(|u| {
            let (status, status_class) = status_of(&u, &now);
            UserRow {
                user: u,
                status,
                status_class,
            }
        })
        .collect();
    let mut organisations = vec![Choice::new("", "すべて", organisation.is_empty())];
    organisations.extend(all_orgs.iter().map(|o| {
        let label = if o.retired_at.is_some() {
            format!("{}（廃止）", o.name)
        } else {
            o.name.clone()
        };
        Choice::new(&o.id, label, o.id == organisation)
    }));
    let mut roles = vec![Choice::new("", "すべて", role.is_empty())];
    roles.extend(
        Role::ALL
            .into_iter()
            .map(|r| Choice::new(r.code(), r.label(), r.code() == role)),
    );
    render(&ListPage {
        layout: Layout::new(&st, &ctx, "利用者管理"),
        rows,
        organisations,
        roles,
        filtered: !organisation.is_empty() || !role.is_empty() || !q.is_empty(),
        q,
    })
}

// ---------------------------------------------------------------------------------------------
// The account form (new, and the edit part of the detail page)

/// What the form shows: a stored account or what was typed.
struct FormValues {
    login_id: String,
    display_name: String,
    email: String,
    organisation_id: String,
    roles: Vec<String>,
}

impl FormValues {
    fn empty() -> FormValues {
        FormValues {
            login_id: String::new(),
            display_name: String::new(),
            email: String::new(),
            organisation_id: String::new(),
            roles: Vec::new(),
        }
    }

    fn from_user(u: &User) -> FormValues {
        FormValues {
            login_id: u.login_id.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            organisation_id: u.organisation_id.clone(),
            roles: u.roles.iter().map(|r| r.code().to_string()).collect(),
        }
    }

    fn from_form(form: &FormData) -> FormValues {
        FormValues {
            login_id: form.get("login_id").trim().to_string(),
            display_name: form.get("display_name").trim().to_string(),
            email: form.get("email").trim().to_string(),
            organisation_id: form.get("organisation").trim().to_string(),
            roles: form.all("roles").into_iter().map(str::to_string).collect(),
        }
    }
}

/// Checks a login id: 3 to 64 characters of letters, digits and `. _ @ -`.
fn login_id_problem(login_id: &str) -> Option<&'static str> {
    if login_id.is_empty() {
        return Some("ログインIDを入力してください");
    }
    let n = login_id.chars().count();
    let ok_chars = login_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if !ok_chars || !(3..=64).contains(&n) {
        return Some("ログインIDは3〜64文字の半角英数字と記号（. _ @ -）で入力してください");
    }
    None
}

/// The organisations an account may belong to: those in use, plus its current one.
fn organisation_choices(orgs: &[Organisation], current: &str, selected: &str) -> Vec<Choice> {
    let mut out = vec![Choice::new("", "選択してください", selected.is_empty())];
    out.extend(
        orgs.iter()
            .filter(|o| o.retired_at.is_none() || o.id == current)
            .map(|o| {
                let label = if o.retired_at.is_some() {
                    format!("{}（廃止）", o.name)
                } else {
                    o.name.clone()
                };
                Choice::new(&o.id, label, o.id == selected)
            }),
    );
    out
}

/// Reads and checks the form. `current_org` is the account's organisation when editing (it may
/// stay even if that organisation was retired since).
fn read_form(
    form: &FormData,
    orgs: &[Organisation],
    current_org: &str,
) -> (FormValues, Option<UserInput>, FieldErrors) {
    let values = FormValues::from_form(form);
    let mut e = FieldErrors::new();
    if let Some(problem) = login_id_problem(&values.login_id) {
        e.add("login_id", problem);
    }
    let display_name = required_text(
        &mut e,
        "display_name",
        "氏名",
        form.get("display_name"),
        100,
    );
    let email = optional_email(&mut e, "email", form.get("email"));
    let org_ok = orgs
        .iter()
        .any(|o| o.id == values.organisation_id && (o.retired_at.is_none() || o.id == current_org));
    if values.organisation_id.is_empty() {
        e.add("organisation", "所属機関を選んでください");
    } else if !org_ok {
        e.add("organisation", "所属機関を一覧から選んでください");
    }
    let mut roles = Vec::new();
    for code in &values.roles {
        match Role::from_code(code) {
            Some(r) if !roles.contains(&r) => roles.push(r),
            Some(_) => {}
            None => e.add("roles", "役割を一覧から選んでください"),
        }
    }
    if values.roles.is_empty() {
        e.add("roles", "役割を1つ以上選んでください");
    }
    roles.sort();
    if !e.is_empty() {
        return (values, None, e);
    }
    let input = UserInput {
        login_id: values.login_id.clone(),
        display_name,
        email,
        organisation_id: values.organisation_id.clone(),
        roles,
    };
    (values, Some(input), e)
}

fn build_fields(
    v: &FormValues,
    orgs: &[Organisation],
    current_org: &str,
    errors: &FieldErrors,
) -> Vec<Field> {
    let roles = Role::ALL
        .into_iter()
        .map(|r| Choice::new(r.code(), r.label(), v.roles.iter().any(|c| c == r.code())))
        .collect();
    vec![
        Field::new("login_id", "ログインID", "text")
            .required()
            .value(&v.login_id)
            .hint("3〜64文字の半角英数字と記号（. _ @ -）。例：iwate.hanako")
            .autocomplete("off")
            .errors(errors),
        Field::new("display_name", "氏名", "text")
            .required()
            .value(&v.display_name)
            .autocomplete("off")
            .errors(errors),
        Field::new("email", "メールアドレス", "email")
            .value(&v.email)
            .hint("連絡用です。例：hanako@example.jp")
            .autocomplete("off")
            .errors(errors),
        Field::new("organisation", "所属機関", "select")
            .required()
            .choices(organisation_choices(orgs, current_org, &v.organisation_id))
            .errors(errors),
        Field::new("roles", "役割", "checkboxes")
            .required()
            .hint("1つ以上選んでください。役割によって使える機能が決まります。")
            .choices(roles)
            .errors(errors),
    ]
}

async fn all_orgs(st: &AppState, ctx: &Ctx) -> Result<Vec<Organisation>, AppError> {
    let actor = ctx.require_actor()?;
    Ok(orgs::list(
        &st.db,
        &actor,
        &orgs::Filter {
            include_retired: true,
            ..orgs::Filter::default()
        },
    )
    .await?)
}

// ---------------------------------------------------------------------------------------------
// New account

#[derive(Template)]
#[template(path = "users/new.html")]
struct NewPage {
    layout: Layout,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

async fn new_form(
    st: &AppState,
    ctx: &Ctx,
    values: &FormValues,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let orgs = all_orgs(st, ctx).await?;
    render_status(
        status,
        &NewPage {
            layout: Layout::new(st, ctx, "利用者の登録"),
            fields: build_fields(values, &orgs, "", errors),
            errors: summary(errors),
        },
    )
}

async fn new_page(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    // `?organisation=…` preselects the organisation (from an organisation's page).
    let params = FormData::parse_str(query.as_deref().unwrap_or(""));
    let mut values = FormValues::empty();
    values.organisation_id = params.get("organisation").to_string();
    new_form(&st, &ctx, &values, &FieldErrors::new(), StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "users/issued.html")]
struct IssuedPage {
    layout: Layout,
    heading: String,
    intro: String,
    user_id: String,
    login_id: String,
    display_name: String,
    password: String,
    note: &'static str,
}

async fn new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let orgs = all_orgs(&st, &ctx).await?;
    let (values, input, mut errors) = read_form(&form, &orgs, "");
    let Some(input) = input else {
        return new_form(
            &st,
            &ctx,
            &values,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // Hash before the transaction: it is slow, and the transaction holds the write lock.
    let issued = password::issue()?;
    let hash = password::hash(issued.clone()).await?;
    let mut tx = st.db.begin().await?;
    let id = match accounts::create(&mut tx, &ctx.audit(), &input, &hash, true).await {
        Ok(id) => id,
        Err(StoreError::Conflict(m)) => {
            drop(tx);
            errors.add("login_id", m);
            return new_form(
                &st,
                &ctx,
                &values,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    render(&IssuedPage {
        layout: Layout::new(&st, &ctx, "利用者を登録しました"),
        heading: "利用者を登録しました".into(),
        intro: format!(
            "「{}」さんのアカウントを登録しました。次の初回パスワードを、本人に安全な方法で伝えてください。",
            input.display_name
        ),
        user_id: id,
        login_id: input.login_id,
        display_name: input.display_name,
        password: issued,
        note: ISSUED_NOTE,
    })
}

// ---------------------------------------------------------------------------------------------
// Detail and edit

#[derive(Template)]
#[template(path = "users/detail.html")]
struct DetailPage {
    layout: Layout,
    user: User,
    status: &'static str,
    status_class: &'static str,
    locked_until: String,
    last_login: String,
    recent_failures: i64,
    sessions: i64,
    is_self: bool,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

async fn detail_page(
    st: &AppState,
    ctx: &Ctx,
    user: User,
    values: &FormValues,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let orgs = all_orgs(st, ctx).await?;
    let now = clock::now();
    let now_text = clock::format(now);
    let since = clock::format(now - Duration::minutes(FAILURE_WINDOW_MINUTES));
    let recent_failures = accounts::failures_for_login(&st.db, &user.login_id, &since).await?;
    let sessions = accounts::session_count(&st.db, &user.id).await?;
    accounts::audit_view(&st.db, &ctx.audit(), &user.id).await?;
    let (label, class) = status_of(&user, &now_text);
    let page = DetailPage {
        layout: Layout::new(st, ctx, format!("{}（利用者）", user.display_name)),
        status: label,
        status_class: class,
        locked_until: if is_locked(&user, &now_text) {
            jst(user.locked_until.as_deref())
        } else {
            String::new()
        },
        last_login: jst(user.last_login_at.as_deref()),
        recent_failures,
        sessions,
        is_self: actor.user_id == user.id,
        fields: build_fields(values, &orgs, &user.organisation_id, errors),
        errors: summary(errors),
        user,
    };
    render_status(status, &page)
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = load(&st, &ctx, &id).await?;
    let values = FormValues::from_user(&user);
    detail_page(
        &st,
        &ctx,
        user,
        &values,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn update(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let user = load(&st, &ctx, &id).await?;
    let orgs = all_orgs(&st, &ctx).await?;
    let (values, input, mut errors) = read_form(&form, &orgs, &user.organisation_id);
    if let Some(input) = &input
        && actor.user_id == user.id
        && user.roles.contains(&Role::SystemAdmin)
        && !input.roles.contains(&Role::SystemAdmin)
    {
        errors.add(
            "roles",
            "ご自身のシステム管理者の役割は外せません。別のシステム管理者に依頼してください",
        );
    }
    if let Some(input) = input.filter(|_| errors.is_empty()) {
        let mut tx = st.db.begin().await?;
        match accounts::update(&mut tx, &ctx.audit(), &user.id, &input).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    &format!("/admin/users/{}", user.id),
                    "success",
                    "利用者の情報を保存しました。",
                ));
            }
            Err(StoreError::Conflict(m)) => {
                drop(tx);
                errors.add("login_id", m);
            }
            Err(e) => return Err(e.into()),
        }
    }
    detail_page(
        &st,
        &ctx,
        user,
        &values,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Actions on an account

async fn set_disabled(
    st: AppState,
    ctx: Ctx,
    id: String,
    disabled: bool,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let user = load(&st, &ctx, &id).await?;
    let back = format!("/admin/users/{}", user.id);
    if disabled && actor.user_id == user.id {
        return Ok(redirect_with_flash(
            &st,
            &back,
            "error",
            "ご自身のアカウントは無効にできません。別のシステム管理者に依頼してください。",
        ));
    }
    if user.disabled == disabled {
        let msg = if disabled {
            "このアカウントはすでに無効です。"
        } else {
            "このアカウントはすでに有効です。"
        };
        return Ok(redirect_with_flash(&st, &back, "info", msg));
    }
    let mut tx = st.db.begin().await?;
    accounts::set_disabled(&mut tx, &ctx.audit(), &user.id, disabled).await?;
    tx.commit().await?;
    let msg = if disabled {
        format!(
            "「{}」さんのアカウントを無効にしました。ログイン中の場合はログアウトされました。",
            user.display_name
        )
    } else {
        format!(
            "「{}」さんのアカウントを有効にしました。",
            user.display_name
        )
    };
    Ok(redirect_with_flash(&st, &back, "success", &msg))
}

async fn disable(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_disabled(st, ctx, id, true).await
}

async fn enable(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_disabled(st, ctx, id, false).await
}

async fn reset_password(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let user = load(&st, &ctx, &id).await?;
    if actor.user_id == user.id {
        return Ok(redirect_with_flash(
            &st,
            &format!("/admin/users/{}", user.id),
            "error",
            "ご自身のパスワードは「アカウント設定」から変更してください。",
        ));
    }
    let issued = password::issue()?;
    let hash = password::hash(issued.clone()).await?;
    let mut tx = st.db.begin().await?;
    // Sets must_change_password, ends every session of the account and clears its lock.
    accounts::set_password(&mut tx, &ctx.audit(), &user.id, &hash, true, None).await?;
    tx.commit().await?;
    render(&IssuedPage {
        layout: Layout::new(&st, &ctx, "パスワードを再発行しました"),
        heading: "パスワードを再発行しました".into(),
        intro: format!(
            "「{}」さんの新しいパスワードです。本人に安全な方法で伝えてください。ログイン中だった場合はログアウトされました。",
            user.display_name
        ),
        user_id: user.id,
        login_id: user.login_id,
        display_name: user.display_name,
        password: issued,
        note: ISSUED_NOTE,
    })
}

async fn reset_totp(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let user = load(&st, &ctx, &id).await?;
    let back = format!("/admin/users/{}", user.id);
    if actor.user_id == user.id {
        return Ok(redirect_with_flash(
            &st,
            &back,
            "error",
            "ご自身の二要素認証は「アカウント設定」から設定し直してください。",
        ));
    }
    if !user.totp_enabled {
        return Ok(redirect_with_flash(
            &st,
            &back,
            "info",
            "この利用者は二要素認証を設定していません。",
        ));
    }
    let mut tx = st.db.begin().await?;
    accounts::reset_totp(&mut tx, &ctx.audit(), &user.id).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        &back,
        "success",
        &format!(
            "「{}」さんの二要素認証をリセットしました。次のログインで設定し直すよう伝えてください。",
            user.display_name
        ),
    ))
}

async fn unlock(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = load(&st, &ctx, &id).await?;
    let mut tx = st.db.begin().await?;
    accounts::unlock(&mut tx, &ctx.audit(), &user.id).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        &format!("/admin/users/{}", user.id),
        "success",
        &format!(
            "「{}」さんのロックを解除しました。すぐにログインできます。",
            user.display_name
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, retired: bool) -> Organisation {
        Organisation {
            id: id.into(),
            kind: "hospital".into(),
            name: format!("機関{id}"),
            municipality_code6: None,
            municipality_name: None,
            address: String::new(),
            phone: String::new(),
            email: String::new(),
            retired_at: retired.then(|| "2026-01-01T00:00:00.000000Z".to_string()),
        }
    }

    #[test]
    fn login_ids_are_checked() {
        for ok in ["abc", "iwate.hanako", "a_b-c@d", &"x".repeat(64)] {
            assert_eq!(login_id_problem(ok), None, "{ok}");
        }
        assert_eq!(login_id_problem(""), Some("ログインIDを入力してください"));
        for bad in ["ab", "岩手", "a b c", "abc!", &"x".repeat(65), "ａｂｃ"] {
            assert!(login_id_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn the_form_needs_an_organisation_in_use_and_at_least_one_role() {
        let orgs = [org("o1", false), org("o2", true)];
        let form =
            FormData::parse_str("login_id=hanako&display_name=%E8%8A%B1%E5%AD%90&organisation=o2");
        let (values, input, errors) = read_form(&form, &orgs, "");
        assert!(input.is_none());
        assert!(errors.get("organisation").is_some());
        assert_eq!(errors.get("roles"), Some("役割を1つ以上選んでください"));
        // What was typed is kept.
        assert_eq!(values.login_id, "hanako");
        assert_eq!(values.display_name, "花子");
        // The account's own (now retired) organisation may stay.
        let form = FormData::parse_str(
            "login_id=hanako&display_name=x&organisation=o2&roles=viewer&roles=hospital_staff",
        );
        let (_, input, errors) = read_form(&form, &orgs, "o2");
        assert!(errors.is_empty(), "{errors:?}");
        let input = input.unwrap_or_else(|| panic!("input expected"));
        assert_eq!(input.roles, vec![Role::HospitalStaff, Role::Viewer]);
    }

    #[test]
    fn unknown_roles_are_refused() {
        let orgs = [org("o1", false)];
        let form = FormData::parse_str("login_id=hanako&display_name=x&organisation=o1&roles=root");
        let (_, input, errors) = read_form(&form, &orgs, "");
        assert!(input.is_none());
        assert!(errors.get("roles").is_some());
    }

    #[test]
    fn status_words() {
        let mut u = User {
            id: "u".into(),
            login_id: "u".into(),
            display_name: "u".into(),
            email: String::new(),
            organisation_id: "o".into(),
            organisation_name: "o".into(),
            roles: vec![Role::Viewer],
            must_change_password: false,
            totp_enabled: false,
            disabled: false,
            locked_until: Some("2026-01-01T00:10:00.000000Z".into()),
            last_login_at: None,
        };
        let now = "2026-01-01T00:00:00.000000Z";
        assert_eq!(status_of(&u, now).0, "ロック中");
        assert_eq!(status_of(&u, "2026-01-01T00:20:00.000000Z").0, "有効");
        u.disabled = true;
        assert_eq!(status_of(&u, now).0, "無効");
    }
}
