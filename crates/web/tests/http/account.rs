//! Forced password change, password rules and two-factor sign-in.

use crate::both;
use crate::support::*;

async fn issue_user(app: &TestApp, login: &str, must_change: bool) -> String {
    let org = tsunagu_store::orgs::find_by_name(&app.db, "盛岡市役所")
        .await
        .expect("org")
        .expect("exists");
    let hash = tsunagu_store::accounts::password::hash("issued-Pass-8x2k".into())
        .await
        .expect("hash");
    let mut tx = app.db.begin().await.expect("tx");
    let id = tsunagu_store::accounts::create(
        &mut tx,
        &tsunagu_store::audit::AuditCtx::system("test"),
        &tsunagu_store::accounts::UserInput {
            login_id: login.into(),
            display_name: "試験 利用者".into(),
            email: String::new(),
            organisation_id: org.id,
            roles: vec![tsunagu_domain::roles::Role::MunicipalOfficer],
        },
        &hash,
        must_change,
    )
    .await
    .expect("create");
    tx.commit().await.expect("commit");
    id
}

both!(an_issued_password_must_be_changed_first, |app| {
    issue_user(&app, "newcomer", true).await;
    let mut c = app.client();
    assert_eq!(c.login("newcomer", "issued-Pass-8x2k").await.status, 303);
    let home = c.get("/").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location, "/account/password");
    let form = c.get("/account/password").await;
    form.assert_contains("管理者が発行したパスワードでログインしました");

    // Too short and common: refused with the reason, and the form comes back.
    let bad = c
        .post(
            "/account/password",
            &[
                ("current_password", "issued-Pass-8x2k"),
                ("new_password", "password"),
                ("new_password_confirm", "password"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("13文字以上");
    bad.assert_contains("入力内容を確認してください");

    let good = c
        .post(
            "/account/password",
            &[
                ("current_password", "issued-Pass-8x2k"),
                ("new_password", "盛岡の春は桜と岩手山がきれい"),
                ("new_password_confirm", "盛岡の春は桜と岩手山がきれい"),
            ],
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    home.assert_contains("試験 利用者さん");

    let mut again = app.client();
    assert_eq!(
        again
            .login("newcomer", "盛岡の春は桜と岩手山がきれい")
            .await
            .status,
        303
    );
});

both!(totp_enrolment_then_sign_in_with_a_code, |app| {
    let mut c = app.signed_in("hospital").await;
    let page = c.get("/account/totp").await;
    page.assert_contains("<svg");
    let secret = secret_from(&page.body);
    let wrong = c.post("/account/totp/enable", &[("code", "000000")]).await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("確認コードが正しくありません");
    let enabled = c
        .post("/account/totp/enable", &[("code", &code_at(&secret, 0))])
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.body.matches("<li><code>").count(), 10);
    let first_code = {
        let start = enabled.body.find("<li><code>").expect("code") + "<li><code>".len();
        enabled.body[start..start + 11].to_string()
    };

    c.post("/logout", &[]).await;
    let step1 = c.login("hospital", PASSWORD).await;
    assert_eq!(step1.status, 303);
    assert!(step1.location.starts_with("/login/totp"));
    // Nothing else is reachable before the second factor.
    assert_eq!(c.get("/matrix").await.location, "/login/totp");
    c.get("/login/totp").await;
    let bad = c
        .post("/login/totp", &[("code", "123456"), ("next", "/")])
        .await;
    assert_eq!(bad.status, 422);
    // The step used at enrolment cannot be replayed; the next one works.
    let ok = c
        .post(
            "/login/totp",
            &[("code", &code_at(&secret, 1)), ("next", "/")],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    c.refresh_csrf().await;
    assert_eq!(c.get("/").await.status, 200);

    // A recovery code works once.
    c.post("/logout", &[]).await;
    c.login("hospital", PASSWORD).await;
    c.get("/login/totp").await;
    let rec = c
        .post("/login/totp", &[("code", &first_code), ("next", "/")])
        .await;
    assert_eq!(rec.status, 303);
    c.refresh_csrf().await;
    c.post("/logout", &[]).await;
    c.login("hospital", PASSWORD).await;
    c.get("/login/totp").await;
    let reused = c
        .post("/login/totp", &[("code", &first_code), ("next", "/")])
        .await;
    assert_eq!(reused.status, 422);
});

both!(
    roles_that_require_2fa_must_enrol_before_anything_else,
    |app| {
        let cfg = tsunagu_web::WebConfig {
            require_2fa_roles: vec![tsunagu_domain::roles::Role::CenterCoordinator],
            ..test_config()
        };
        let app2 = spawn_with(app.backend, cfg).await;
        let mut c = app2.client();
        assert_eq!(c.login("coordinator", PASSWORD).await.status, 303);
        let p = c.get("/matrix").await;
        assert_eq!(p.status, 303);
        assert_eq!(p.location, "/account/totp");
        let enrol = c.get("/account/totp").await;
        enrol.assert_contains("二要素認証が必須です");
        // A viewer is not required to.
        let mut v = app2.client();
        v.login("viewer", PASSWORD).await;
        assert_eq!(v.get("/matrix").await.status, 200);
    }
);

both!(
    a_new_phone_replaces_the_old_one_and_an_admin_can_reset_2fa,
    |app| {
        let mut c = app.signed_in("trainer").await;
        let page = c.get("/account/totp").await;
        let old_secret = secret_from(&page.body);
        let on = c
            .post(
                "/account/totp/enable",
                &[("code", &code_at(&old_secret, 0))],
            )
            .await;
        assert_eq!(on.status, 200);
        let replace = c.get("/account/totp?replace=1").await;
        assert_eq!(replace.status, 200, "{}", replace.body);
        replace.assert_contains("新しいスマートフォンに設定し直します");
        let new_secret = secret_from(&replace.body);
        assert_ne!(old_secret, new_secret);
        let done = c
            .post(
                "/account/totp/enable",
                &[("code", &code_at(&new_secret, 0))],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert_eq!(done.body.matches("<li><code>").count(), 10);
        let stored = tsunagu_store::accounts::credentials(&app.db, "trainer")
            .await
            .expect("creds")
            .expect("exists");
        assert_eq!(
            stored
                .totp_secret
                .as_deref()
                .and_then(tsunagu_domain::totp::base32_decode),
            Some(new_secret)
        );

        let user = tsunagu_store::accounts::find_by_login(&app.db, "trainer")
            .await
            .expect("find")
            .expect("exists");
        let mut admin = app.signed_in("admin").await;
        admin.get(&format!("/admin/users/{}", user.id)).await;
        let reset = admin
            .post(&format!("/admin/users/{}/reset-2fa", user.id), &[])
            .await;
        assert_eq!(reset.status, 303);
        // The trainer was signed out, and signs in again with the password alone.
        let gone = c.get("/").await;
        assert_eq!(gone.status, 303);
        assert!(gone.location.contains("ended=1"), "{}", gone.location);
        c.get(&gone.location)
            .await
            .assert_contains("別の画面や端末でログアウトしたか");
        assert_eq!(c.login("trainer", PASSWORD).await.location, "/");
    }
);
