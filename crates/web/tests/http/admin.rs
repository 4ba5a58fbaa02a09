//! Organisations, accounts, areas, municipalities and the audit log as administrators and
//! officers use them.

use crate::both;
use crate::support::*;

async fn org_id(app: &TestApp, name: &str) -> String {
    tsunagu_store::orgs::find_by_name(&app.db, name)
        .await
        .expect("find")
        .expect("exists")
        .id
}

both!(a_municipal_officer_edits_only_their_own_office, |app| {
    let own = org_id(&app, "盛岡市役所").await;
    let other = org_id(&app, "花巻市役所").await;
    let mut c = app.signed_in("municipal").await;
    let form = c.get(&format!("/orgs/{own}/edit")).await;
    assert_eq!(form.status, 200);
    let bad = c
        .post(
            &format!("/orgs/{own}/edit"),
            &[
                ("phone", "019-12"),
                ("address", "盛岡市内丸12-2"),
                ("email", ""),
                ("municipality", "032018"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("電話番号は");
    // What was typed stays in the form.
    bad.assert_contains("盛岡市内丸12-2");
    let ok = c
        .post(
            &format!("/orgs/{own}/edit"),
            &[
                ("phone", "019-651-4111"),
                ("address", "盛岡市内丸12-2"),
                ("email", ""),
                ("municipality", "032018"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    c.get(&format!("/orgs/{own}"))
        .await
        .assert_contains("019-651-4111");
    // Another municipality's office: as if it did not exist.
    assert_eq!(c.get(&format!("/orgs/{other}/edit")).await.status, 404);
    let post = c
        .post(&format!("/orgs/{other}/edit"), &[("phone", "0198-00-0000")])
        .await;
    assert_eq!(post.status, 404);
    let stored = tsunagu_store::orgs::get(&app.db, &other)
        .await
        .expect("get");
    assert_eq!(stored.phone, "");
});

both!(
    an_admin_issues_an_account_that_must_change_its_password,
    |app| {
        let org = org_id(&app, "花巻市役所").await;
        let mut admin = app.signed_in("admin").await;
        admin.get("/admin/users/new").await;
        let missing = admin
            .post(
                "/admin/users/new",
                &[
                    ("login_id", "hanamaki1"),
                    ("display_name", "花巻 一子"),
                    ("organisation", &org),
                ],
            )
            .await;
        assert_eq!(missing.status, 422);
        missing.assert_contains("役割を1つ以上選んでください");
        missing.assert_contains("value=\"hanamaki1\"");
        let created = admin
            .post(
                "/admin/users/new",
                &[
                    ("login_id", "hanamaki1"),
                    ("display_name", "花巻 一子"),
                    ("organisation", &org),
                    ("roles", "municipal_officer"),
                ],
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.body);
        // The issued password is shown once; take it from the page.
        let start = created
            .body
            .find("id=\"issued-password\"")
            .expect("issued password shown");
        let rest = &created.body[start..];
        let open = rest.find('>').expect(">") + 1;
        let close = rest[open..].find('<').expect("<") + open;
        let issued = rest[open..close].trim().to_string();
        assert!(issued.len() >= 16, "{issued}");
        let duplicate = admin
            .post(
                "/admin/users/new",
                &[
                    ("login_id", "hanamaki1"),
                    ("display_name", "別人"),
                    ("organisation", &org),
                    ("roles", "viewer"),
                ],
            )
            .await;
        assert_eq!(duplicate.status, 422);
        duplicate.assert_contains("このログインIDはすでに使われています");

        let mut user = app.client();
        assert_eq!(user.login("hanamaki1", &issued).await.status, 303);
        assert_eq!(user.get("/").await.location, "/account/password");
        let list = admin.get("/admin/users?q=hanamaki").await;
        list.assert_contains("花巻 一子");
        assert!(!list.body.contains("支援 さくら"));
    }
);

both!(areas_and_municipalities_are_configuration, |app| {
    let mut pref = app.signed_in("pref").await;
    let overview = pref.get("/areas").await;
    overview.assert_contains("盛岡圏域");
    overview.assert_contains("釜石圏域");
    pref.get("/areas/new").await;
    let bad = pref
        .post(
            "/areas/new",
            &[
                ("name", ""),
                ("kind", "障がい保健福祉圏域"),
                ("sort_order", "10"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    let ok = pref
        .post(
            "/areas/new",
            &[
                ("name", "沿岸広域"),
                ("kind", "広域振興圏"),
                ("sort_order", "10"),
                ("municipalities", "032115"),
                ("municipalities", "034614"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let after = pref.get("/areas").await;
    after.assert_contains("沿岸広域");

    // A merger: a new municipality with a valid code, refused with a wrong check digit.
    pref.get("/municipalities/new").await;
    let wrong = pref
        .post(
            "/municipalities/new",
            &[("code", "039999"), ("name", "新市"), ("kana", "しんし")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("検査数字");
    let other_pref = pref
        .post(
            "/municipalities/new",
            &[("code", "01100"), ("name", "札幌"), ("kana", "さっぽろ")],
        )
        .await;
    assert_eq!(other_pref.status, 422);
    let check = tsunagu_domain::geo::check_digit("03999").expect("digit");
    let code = format!("03999{check}");
    let added = pref
        .post(
            "/municipalities/new",
            &[
                ("code", &code),
                ("name", "いわて新市"),
                ("kana", "いわてしんし"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let retired = pref
        .post(
            "/municipalities/034614/edit",
            &[
                ("name", "大槌町"),
                ("kana", "おおつちちょう"),
                ("retired_on", "令和8年4月1日"),
                ("note", "合併"),
            ],
        )
        .await;
    assert_eq!(retired.status, 303, "{}", retired.body);
    let m = tsunagu_store::geo::municipality(&app.db, "034614")
        .await
        .expect("get");
    assert_eq!(m.retired_on.as_deref(), Some("2026-04-01"));
    // Municipal officers read, but may not change, the configuration.
    let mut muni = app.signed_in("municipal").await;
    assert_eq!(muni.get("/areas").await.status, 200);
    assert_eq!(muni.get("/areas/new").await.status, 403);
});

both!(the_audit_log_is_filtered_and_exported, |app| {
    let mut admin = app.signed_in("admin").await;
    let page = admin.get("/admin/audit?action=auth.login").await;
    assert_eq!(page.status, 200);
    page.assert_contains("ログイン");
    page.assert_contains("admin");
    let bad = admin.get("/admin/audit?from=2026-13-40").await;
    assert_eq!(bad.status, 422);
    let csv = admin
        .http
        .get(format!("{}/admin/audit.csv?enc=sjis", admin.base))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status().as_u16(), 200);
    let disposition = csv
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(disposition.contains("audit-"), "{disposition}");
    let bytes = csv.bytes().await.expect("bytes");
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!had_errors);
    assert!(text.contains("auth.login"));
    assert!(!text.contains("&#"));
    let utf8 = admin
        .http
        .get(format!("{}/admin/audit.csv", admin.base))
        .send()
        .await
        .expect("csv")
        .bytes()
        .await
        .expect("bytes");
    assert!(utf8.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 with BOM");
    let exports: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.export'")
            .fetch_one(app.db.pool())
            .await
            .expect("count");
    assert_eq!(exports, 2);
    // Viewing an account's details is itself recorded.
    let target = tsunagu_store::accounts::find_by_login(&app.db, "viewer")
        .await
        .expect("find")
        .expect("exists");
    admin.get(&format!("/admin/users/{}", target.id)).await;
    let views: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'user.view' AND record_id = $1",
    )
    .bind(&target.id)
    .fetch_one(app.db.pool())
    .await
    .expect("count");
    assert_eq!(views, 1);
});

both!(a_renamed_municipality_is_found_by_its_new_name, |app| {
    let mut pref = app.signed_in("pref").await;
    let search = format!("/resources?q={}", enc("釜石ベイ市"));
    pref.get(&search)
        .await
        .assert_contains("条件に合う社会資源はありません");
    let renamed = pref
        .post(
            "/municipalities/032115/edit",
            &[
                ("name", "釜石ベイ市"),
                ("kana", "かまいしべいし"),
                ("retired_on", ""),
                ("note", "名称変更"),
            ],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    // The municipality's consultation window, at least, is found by the new name.
    let found = pref.get(&search).await;
    found.assert_contains("社会資源（");
    found.assert_contains("釜石ベイ市");
});
