//! Sign-in, lockout, sign-out and sessions.

use crate::both;
use crate::support::*;

both!(sign_in_shows_the_home_page_for_the_user, |app| {
    let mut c = app.client();
    let wrong = c.login("coordinator", "not-the-password").await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("ログインIDまたはパスワードが正しくありません");
    // What was typed in the login id stays; the password does not.
    wrong.assert_contains("value=\"coordinator\"");
    assert!(!wrong.body.contains("not-the-password"));

    let ok = c.login("coordinator", PASSWORD).await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location, "/");
    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    home.assert_contains("支援 さくらさん");
    home.assert_contains("みちのく療育園メディカルセンター");
    home.assert_contains("県コーディネーター");
});

both!(anonymous_visitors_are_sent_to_sign_in, |app| {
    let mut c = app.client();
    let p = c.get("/admin/users").await;
    assert_eq!(p.status, 303);
    assert!(
        p.location.starts_with("/login?next=%2Fadmin%2Fusers"),
        "{}",
        p.location
    );
});

both!(ten_failures_lock_real_and_made_up_ids_alike, |app| {
    let mut c = app.client();
    let mut last = None;
    for _ in 0..10 {
        last = Some(c.login("viewer", "wrong-password-here").await);
    }
    let locked = last.expect("attempts");
    locked.assert_contains("一時的にログインできません");
    // Even the right password is refused while locked.
    let refused = c.login("viewer", PASSWORD).await;
    assert_ne!(refused.status, 303);
    refused.assert_contains("一時的にログインできません");

    let mut other = app.client();
    let mut last = None;
    for _ in 0..10 {
        last = Some(
            other
                .login("nobody-by-this-name", "wrong-password-here")
                .await,
        );
    }
    let fake = last.expect("attempts");
    fake.assert_contains("一時的にログインできません");
    assert_eq!(fake.status, locked.status);

    // Another account is not affected.
    let mut third = app.client();
    assert_eq!(third.login("pref", PASSWORD).await.status, 303);
});

both!(sign_out_ends_the_users_sessions_everywhere, |app| {
    let mut elsewhere = app.signed_in("pref").await;
    let mut c = app.signed_in("pref").await;
    let out = c.post("/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location, "/login");
    let login = c.get("/login").await;
    login.assert_contains("ログアウトしました");
    let home = c.get("/").await;
    assert_eq!(home.status, 303);
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.db.pool())
        .await
        .expect("count");
    assert_eq!(sessions, 0);
    assert_eq!(
        elsewhere.get("/").await.status,
        303,
        "the other device is signed out too"
    );
});

both!(an_idle_session_ends_and_says_why, |app| {
    let mut c = app.signed_in("coordinator").await;
    let long_ago =
        tsunagu_store::clock::format(tsunagu_store::clock::now() - time::Duration::minutes(31));
    let mut tx = app.db.begin().await.expect("tx");
    sqlx::query("UPDATE sessions SET last_seen_at = $1")
        .bind(long_ago)
        .execute(tx.conn())
        .await
        .expect("age session");
    tx.commit_bookkeeping("written straight to the database by the test")
        .await
        .expect("commit");
    let p = c.get("/matrix").await;
    assert_eq!(p.status, 303);
    assert!(p.location.contains("expired=1"), "{}", p.location);
    let login = c.get(&p.location).await;
    login.assert_contains("一定時間操作がなかったか");
});

both!(session_id_changes_at_sign_in, |app| {
    let mut c = app.client();
    c.login("pref", PASSWORD).await;
    let first: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(app.db.pool())
        .await
        .expect("sessions");
    c.refresh_csrf().await;
    c.login("pref", PASSWORD).await;
    let second: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(app.db.pool())
        .await
        .expect("sessions");
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1, "the old session must end at a new sign-in");
    assert_ne!(first, second);
});

both!(forged_posts_are_refused, |app| {
    let mut c = app.signed_in("pref").await;
    let forged = c.post_raw("/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status, 403);
    forged.assert_contains("不正な送信の可能性");
    // Still signed in.
    assert_eq!(c.get("/").await.status, 200);

    let cross = c
        .http
        .post(format!("{}/logout", c.base))
        .header("Origin", "http://evil.example")
        .form(&[("csrf_token", c.csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(cross.status().as_u16(), 403);
    let fetch_site = c
        .http
        .post(format!("{}/logout", c.base))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", c.csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(fetch_site.status().as_u16(), 403);
    assert_eq!(c.get("/").await.status, 200);
});

both!(disabled_accounts_lose_their_sessions, |app| {
    let mut c = app.signed_in("trainer").await;
    assert_eq!(c.get("/").await.status, 200);
    let user = tsunagu_store::accounts::find_by_login(&app.db, "trainer")
        .await
        .expect("find")
        .expect("exists");
    let mut tx = app.db.begin().await.expect("tx");
    tsunagu_store::accounts::set_disabled(
        &mut tx,
        &tsunagu_store::audit::AuditCtx::system("test"),
        &user.id,
        true,
    )
    .await
    .expect("disable");
    tx.commit().await.expect("commit");
    assert_eq!(c.get("/").await.status, 303);
    let again = c.login("trainer", PASSWORD).await;
    again.assert_contains("ログインIDまたはパスワードが正しくありません");
});

both!(sign_in_returns_only_to_paths_of_this_site, |app| {
    for (next, expected) in [
        ("/consultations", "/consultations"),
        ("/\t/evil.example/x", "/"),
        ("/%09/evil.example/x", "/%09/evil.example/x"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("https://evil.example/", "/"),
        ("/login?next=/", "/"),
    ] {
        let mut c = app.client();
        c.get("/login").await;
        let p = c
            .post(
                "/login",
                &[
                    ("login_id", "viewer"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{next:?}: {}", p.body);
        assert_eq!(p.location, expected, "{next:?}");
        // The sign-in page itself never offers such a target either.
        let page = c.get(&format!("/login?next={}", enc(next))).await;
        if expected == "/" && next != "/login?next=/" {
            assert!(!page.body.contains("evil.example"), "{next:?}");
        }
    }
});

both!(
    many_failures_from_one_address_still_let_a_second_factor_through,
    |app| {
        let app = spawn_with(
            app.backend,
            tsunagu_web::WebConfig {
                login_failures_per_ip: 3,
                ..test_config()
            },
        )
        .await;
        let mut hospital = app.signed_in("hospital").await;
        let secret = enrol_totp(&mut hospital).await;
        hospital.post("/logout", &[]).await;

        // Three wrong passwords from this address, for three different ids.
        let mut guesser = app.client();
        for id in ["coordinator", "pref", "someone"] {
            guesser.login(id, "wrong-password-here").await;
        }
        let limited = guesser.login("coordinator", "wrong-password-here").await;
        assert_eq!(limited.status, 429);
        limited.assert_contains("失敗が多すぎます");

        // An account without a second factor is refused even with its password, in the same
        // words as a wrong one.
        let mut viewer = app.client();
        let refused = viewer.login("viewer", PASSWORD).await;
        assert_eq!(refused.status, 429);
        assert_eq!(
            refused.body.contains("失敗が多すぎます"),
            limited.body.contains("失敗が多すぎます")
        );
        assert_eq!(viewer.get("/").await.status, 303);

        // The staff member with a second factor signs in from the same address.
        let mut c = app.client();
        let step1 = c.login("hospital", PASSWORD).await;
        assert_eq!(step1.status, 303, "{}", step1.body);
        assert!(
            step1.location.starts_with("/login/totp"),
            "{}",
            step1.location
        );
        c.get("/login/totp").await;
        let ok = c
            .post(
                "/login/totp",
                &[("code", &code_at(&secret, 1)), ("next", "/")],
            )
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let home = c.get("/").await;
        assert_eq!(home.status, 200);
    }
);

both!(a_session_in_use_stays_alive_past_the_idle_limit, |app| {
    let mut c = app.signed_in("coordinator").await;
    let shift = async |minutes: i64| {
        let seen: String = sqlx::query_scalar("SELECT last_seen_at FROM sessions")
            .fetch_one(app.db.pool())
            .await
            .expect("session");
        let at =
            tsunagu_store::clock::parse(&seen).expect("instant") - time::Duration::minutes(minutes);
        let mut tx = app.db.begin().await.expect("tx");
        sqlx::query("UPDATE sessions SET last_seen_at = $1")
            .bind(tsunagu_store::clock::format(at))
            .execute(tx.conn())
            .await
            .expect("age session");
        tx.commit_bookkeeping("written straight to the database by the test")
            .await
            .expect("commit");
    };
    // Last seen 25 minutes ago: still inside the 30-minute limit, and this request is activity.
    shift(25).await;
    assert_eq!(c.get("/matrix").await.status, 200);
    // Ten minutes later, 35 after the first: alive, because the request above counted.
    shift(10).await;
    let p = c.get("/matrix").await;
    assert_eq!(p.status, 200, "{}", p.location);
});
