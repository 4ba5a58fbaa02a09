//! The consultation desk: a coordinator logs a phone consultation, follows it up, introduces a
//! resource and refers it to the municipality; the municipal officer sees it (with the
//! requester's name only under consent), acknowledges it and records the outcome; officers of
//! other organisations and roles outside the center see nothing; the public request form.

use tsunagu_domain::roles::Role;
use tsunagu_domain::wareki::today_jst;
use tsunagu_store::accounts::{self, UserInput};
use tsunagu_store::audit::AuditCtx;
use tsunagu_store::clock;

use crate::both;
use crate::support::*;

async fn org_id(app: &TestApp, name: &str) -> String {
    tsunagu_store::orgs::find_by_name(&app.db, name)
        .await
        .expect("find")
        .expect("exists")
        .id
}

async fn user_id(app: &TestApp, login: &str) -> String {
    accounts::find_by_login(&app.db, login)
        .await
        .expect("find")
        .expect("exists")
        .id
}

async fn audit_count(app: &TestApp, action: &str, record_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND record_id = $2")
        .bind(action)
        .bind(record_id)
        .fetch_one(app.db.pool())
        .await
        .expect("count")
}

/// The id of the consultation a `/consultations/{id}` redirect points at.
fn consultation_from(location: &str) -> String {
    location
        .strip_prefix("/consultations/")
        .expect("redirect to the record")
        .split(['#', '?', '/'])
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn receipt_of(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT receipt_no FROM consultations WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .expect("receipt number")
}

/// The value of the first `<option>` of the select with this label text.
fn option_value(body: &str, label: &str) -> String {
    let end = body
        .find(&format!("\">{label}</option>"))
        .or_else(|| body.find(&format!("\" selected>{label}</option>")))
        .unwrap_or_else(|| panic!("option {label} in the page"));
    let start = body[..end].rfind("value=\"").expect("value") + "value=\"".len();
    body[start..end].to_string()
}

/// Logs a consultation as `c` and returns its id.
async fn log_consultation(c: &mut Client, fields: &[(&str, &str)]) -> String {
    let form = c.get("/consultations/new").await;
    assert_eq!(form.status, 200);
    let page = c.post("/consultations/new", fields).await;
    assert_eq!(page.status, 303, "{}", page.body);
    consultation_from(&page.location)
}

async fn referral_of(app: &TestApp, consultation_id: &str) -> String {
    sqlx::query_scalar("SELECT id FROM referrals WHERE consultation_id = $1 ORDER BY sent_at DESC")
        .bind(consultation_id)
        .fetch_one(app.db.pool())
        .await
        .expect("referral")
}

/// A short-stay place in 盛岡市 that takes ventilators, added straight to the directory.
async fn add_short_stay(app: &TestApp) -> (String, String) {
    let category: String = sqlx::query_scalar(
        "SELECT id FROM resource_categories WHERE retired_at IS NULL ORDER BY sort_order LIMIT 1",
    )
    .fetch_optional(app.db.pool())
    .await
    .expect("category")
    .unwrap_or_default();
    let category = if category.is_empty() {
        let id = tsunagu_store::new_id();
        sqlx::query("INSERT INTO resource_categories (id, name, sort_order) VALUES ($1, $2, 1)")
            .bind(&id)
            .bind("短期入所（医療型）")
            .execute(app.db.pool())
            .await
            .expect("category");
        id
    } else {
        category
    };
    let id = tsunagu_store::new_id();
    let name = "ひだまり医療型短期入所（試験）";
    let now = clock::now_text();
    sqlx::query(
        "INSERT INTO resources (id, category_id, provider_name, name, municipality_code6, search_text, created_at, updated_at)
         VALUES ($1, $2, $3, $4, '032018', $5, $6, $6)",
    )
    .bind(&id)
    .bind(&category)
    .bind("社会福祉法人ひだまり会")
    .bind(name)
    .bind(tsunagu_domain::text::normalize_for_search(&format!(
        "{name} 社会福祉法人ひだまり会"
    )))
    .bind(&now)
    .execute(app.db.pool())
    .await
    .expect("resource");
    sqlx::query(
        "INSERT INTO resource_care_types (resource_id, care_type_code) VALUES ($1, 'ventilator')",
    )
    .bind(&id)
    .execute(app.db.pool())
    .await
    .expect("care type");
    (id, name.to_string())
}

both!(
    a_coordinator_logs_follows_up_and_refers_a_consultation,
    |app| {
        let coordinator = user_id(&app, "coordinator").await;
        let mut c = app.signed_in("coordinator").await;
        let today = today_jst(clock::now()).to_string();

        // The intake form starts with now and with me as the handler.
        let form = c.get("/consultations/new").await;
        assert_eq!(form.status, 200);
        form.assert_contains(&format!("value=\"{today} "));
        form.assert_contains(&format!("value=\"{coordinator}\" selected"));

        // A mistake comes back with a message next to the field and everything typed kept.
        let bad = c
            .post(
                "/consultations/new",
                &[
                    ("received_at", "2026-13-45 10:00"),
                    ("channel", "phone"),
                    ("requester_type", "family"),
                    ("requester_name", "試験 花子"),
                    (
                        "question",
                        "テストケース甲：人工呼吸器の子のショートステイ先を探している",
                    ),
                    ("status", "in_progress"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        bad.assert_contains("相談の分類を1つ以上選んでください");
        bad.assert_contains("received_at-error");
        bad.assert_contains("value=\"試験 花子\"");
        bad.assert_contains(
            "テストケース甲：人工呼吸器の子のショートステイ先を探している</textarea>",
        );

        let received = format!("{today} 00:00");
        let id = log_consultation(
            &mut c,
            &[
                ("received_at", &received),
                ("channel", "phone"),
                ("handled_by", &coordinator),
                ("status", "in_progress"),
                ("requester_type", "family"),
                ("requester_name", "試験 花子"),
                ("requester_contact", "019-000-9999"),
                ("child_municipality", "032018"),
                ("child_age_band", "3-5"),
                ("care_types", "ventilator"),
                ("care_types", "suction"),
                ("topics", "medical"),
                ("topics", "welfare"),
                (
                    "question",
                    "テストケース甲：人工呼吸器の子のショートステイ先を探している",
                ),
                ("advice", "医療型短期入所を紹介"),
                ("minutes_spent", "２０"),
            ],
        )
        .await;
        let receipt = receipt_of(&app, &id).await;
        assert!(
            receipt.starts_with('R') && receipt.contains('-'),
            "{receipt}"
        );
        let page = c.get(&format!("/consultations/{id}")).await;
        assert_eq!(page.status, 200);
        page.assert_contains(&format!("受付番号 {receipt} で相談を記録しました。"));
        page.assert_contains("試験 花子");
        page.assert_contains("019-000-9999");
        page.assert_contains("20分");
        assert!(
            audit_count(&app, "consultation.view", &id).await >= 1,
            "viewing the record with personal data is audited"
        );
        assert_eq!(audit_count(&app, "consultation.create", &id).await, 1);

        // It is in my open consultations and found by keyword, in any width or kana.
        let mine = c.get("/consultations?view=mine").await;
        mine.assert_contains(&receipt);
        for q in [
            "%EF%BE%83%EF%BD%BD%EF%BE%84%EF%BD%B9%EF%BD%B0%EF%BD%BD%E7%94%B2",
            "てすとけーす甲",
        ] {
            let found = c.get(&format!("/consultations?q={q}")).await;
            assert_eq!(found.status, 200);
            found.assert_contains(&receipt);
            found.assert_contains("条件に合う相談記録（1件）");
        }
        let by_receipt = c.get(&format!("/consultations?q={receipt}")).await;
        by_receipt.assert_contains(&format!(">{receipt}</a>"));
        let other = c
            .get("/consultations?q=%E5%AD%98%E5%9C%A8%E3%81%97%E3%81%AA%E3%81%84%E8%AA%9E")
            .await;
        assert!(!other.body.contains(&format!(">{receipt}</a>")));
        // Filters: care type, topic, municipality, period.
        let filtered = c
        .get(&format!(
            "/consultations?q=%E3%83%86%E3%82%B9%E3%83%88%E3%82%B1%E3%83%BC%E3%82%B9%E7%94%B2&care_type=ventilator&topic=welfare&municipality=032018&from={today}&to={today}"
        ))
        .await;
        filtered.assert_contains(&format!(">{receipt}</a>"));
        let wrong_care = c
        .get("/consultations?q=%E3%83%86%E3%82%B9%E3%83%88%E3%82%B1%E3%83%BC%E3%82%B9%E7%94%B2&care_type=dialysis")
        .await;
        assert!(!wrong_care.body.contains(&format!(">{receipt}</a>")));

        // A timeline entry that sets a follow-up for today puts it among the follow-ups due.
        let missing = c
            .post(
                &format!("/consultations/{id}/entries"),
                &[
                    ("entry_body", "家族に再度連絡した"),
                    ("entry_status", "awaiting_follow_up"),
                    ("entry_follow_up_on", ""),
                ],
            )
            .await;
        assert_eq!(missing.status, 422);
        missing.assert_contains("フォロー予定日を入力してください");
        missing.assert_contains("家族に再度連絡した</textarea>");
        let added = c
            .post(
                &format!("/consultations/{id}/entries"),
                &[
                    ("entry_body", "家族に再度連絡した"),
                    ("entry_status", "awaiting_follow_up"),
                    ("entry_follow_up_on", &today),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
        assert_eq!(audit_count(&app, "consultation.entry_add", &id).await, 1);
        c.get(&format!("/consultations/{id}"))
            .await
            .assert_contains("家族に再度連絡した");
        c.get("/consultations?view=due")
            .await
            .assert_contains(&receipt);

        // Find a short-stay place that takes ventilators in the 盛岡 area, and attach it.
        let (resource, resource_name) = add_short_stay(&app).await;
        let picker = c.get(&format!("/consultations/{id}/resources")).await;
        assert_eq!(picker.status, 200);
        let area = option_value(&picker.body, "盛岡圏域");
        let found = c
        .get(&format!(
            "/consultations/{id}/resources?q=%E3%81%B2%E3%81%A0%E3%81%BE%E3%82%8A&area={area}&care_types=ventilator"
        ))
        .await;
        found.assert_contains(&resource_name);
        let elsewhere_area = option_value(&picker.body, "二戸圏域");
        let elsewhere = c
        .get(&format!(
            "/consultations/{id}/resources?q=%E3%81%B2%E3%81%A0%E3%81%BE%E3%82%8A&area={elsewhere_area}"
        ))
        .await;
        assert!(!elsewhere.body.contains(&resource_name));
        let none = c.post(&format!("/consultations/{id}/resources"), &[]).await;
        assert_eq!(none.status, 422);
        let attached = c
            .post(
                &format!("/consultations/{id}/resources"),
                &[("resource", &resource)],
            )
            .await;
        assert_eq!(attached.status, 303, "{}", attached.body);
        assert_eq!(
            audit_count(&app, "consultation.resource_attach", &id).await,
            1
        );
        c.get(&format!("/consultations/{id}"))
            .await
            .assert_contains(&resource_name);

        // Consent: incomplete, then recorded.
        let half = c
            .post(
                &format!("/consultations/{id}/consent"),
                &[
                    ("consent_given", "yes"),
                    ("consent_on", ""),
                    ("consent_method", ""),
                ],
            )
            .await;
        assert_eq!(half.status, 422);
        half.assert_contains("同意を得た日を入力してください");
        let consent = c
            .post(
                &format!("/consultations/{id}/consent"),
                &[
                    ("consent_given", "yes"),
                    ("consent_on", &today),
                    ("consent_method", "oral_phone"),
                ],
            )
            .await;
        assert_eq!(consent.status, 303, "{}", consent.body);
        assert_eq!(audit_count(&app, "consultation.consent", &id).await, 1);

        // Refer to 盛岡市役所: the page says the details go with it.
        let morioka = org_id(&app, "盛岡市役所").await;
        let refer = c.get(&format!("/consultations/{id}/refer")).await;
        assert_eq!(refer.status, 200);
        refer.assert_contains("氏名・連絡先も伝わります");
        refer.assert_contains(&format!("value=\"{morioka}\" selected"));
        let no_note = c
            .post(
                &format!("/consultations/{id}/refer"),
                &[("to_organisation", &morioka), ("note", "")],
            )
            .await;
        assert_eq!(no_note.status, 422);
        let sent = c
            .post(
                &format!("/consultations/{id}/refer"),
                &[
                    ("to_organisation", &morioka),
                    ("note", "短期入所の支給申請について家族へ連絡をお願いします"),
                ],
            )
            .await;
        assert_eq!(sent.status, 303, "{}", sent.body);
        let referral = referral_of(&app, &id).await;
        assert_eq!(audit_count(&app, "referral.create", &referral).await, 1);

        // The 盛岡市 officer sees it in the inbox, with the requester's details.
        let mut officer = app.signed_in("municipal").await;
        let inbox = officer.get("/referrals").await;
        assert_eq!(inbox.status, 200);
        inbox.assert_contains(&receipt);
        let view = officer.get(&format!("/referrals/{referral}")).await;
        assert_eq!(view.status, 200);
        view.assert_contains("試験 花子");
        view.assert_contains("019-000-9999");
        view.assert_contains("短期入所の支給申請について家族へ連絡をお願いします");
        assert_eq!(audit_count(&app, "referral.view", &referral).await, 1);
        // The officer may not open the consultation itself.
        assert_eq!(
            officer.get(&format!("/consultations/{id}")).await.status,
            403
        );
        let ack = officer
            .post(&format!("/referrals/{referral}/acknowledge"), &[])
            .await;
        assert_eq!(ack.status, 303);
        let empty = officer
            .post(
                &format!("/referrals/{referral}/outcome"),
                &[("outcome", " ")],
            )
            .await;
        assert_eq!(empty.status, 422);
        let done = officer
            .post(
                &format!("/referrals/{referral}/outcome"),
                &[("outcome", "家族に連絡し、短期入所の申請を受け付けた")],
            )
            .await;
        assert_eq!(done.status, 303);
        assert_eq!(
            audit_count(&app, "referral.acknowledge", &referral).await,
            1
        );
        assert_eq!(audit_count(&app, "referral.outcome", &referral).await, 1);

        // The coordinator sees the status and the outcome.
        let back = c.get(&format!("/consultations/{id}")).await;
        back.assert_contains("対応結果あり");
        back.assert_contains("家族に連絡し、短期入所の申請を受け付けた");

        // An officer of another municipality: as if the referral did not exist.
        let hanamaki = org_id(&app, "花巻市役所").await;
        let hash = accounts::password::hash(PASSWORD.to_string())
            .await
            .expect("hash");
        let mut tx = app.db.begin().await.expect("tx");
        accounts::create(
            &mut tx,
            &AuditCtx::system("test"),
            &UserInput {
                login_id: "hanamaki".into(),
                display_name: "花巻 三郎".into(),
                email: String::new(),
                organisation_id: hanamaki,
                roles: vec![Role::MunicipalOfficer],
            },
            &hash,
            false,
        )
        .await
        .expect("create");
        tx.commit().await.expect("commit");
        let mut stranger = app.signed_in("hanamaki").await;
        assert_eq!(
            stranger.get(&format!("/referrals/{referral}")).await.status,
            404
        );
        assert_eq!(
            stranger
                .post(&format!("/referrals/{referral}/acknowledge"), &[])
                .await
                .status,
            404
        );
        assert_eq!(
            stranger
                .post(
                    &format!("/referrals/{referral}/outcome"),
                    &[("outcome", "x")]
                )
                .await
                .status,
            404
        );
        let their_inbox = stranger.get("/referrals").await;
        assert_eq!(their_inbox.status, 200);
        assert!(!their_inbox.body.contains(&receipt));
        assert!(!their_inbox.body.contains("試験 花子"));
    }
);

both!(without_consent_the_officer_sees_no_name_or_contact, |app| {
    let mut c = app.signed_in("coordinator").await;
    let today = today_jst(clock::now()).to_string();
    let id = log_consultation(
        &mut c,
        &[
            ("received_at", &today),
            ("channel", "visit"),
            ("status", "in_progress"),
            ("requester_type", "family"),
            ("requester_name", "同意無 次郎"),
            ("requester_contact", "019-111-2222"),
            ("child_municipality", "032018"),
            ("topics", "disaster"),
            ("question", "停電時の人工呼吸器の電源について"),
        ],
    )
    .await;
    let morioka = org_id(&app, "盛岡市役所").await;
    let refer = c.get(&format!("/consultations/{id}/refer")).await;
    refer.assert_contains("氏名・連絡先は伝わりません");
    let sent = c
        .post(
            &format!("/consultations/{id}/refer"),
            &[
                ("to_organisation", &morioka),
                ("note", "個別避難計画の作成をお願いします"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303);
    let referral = referral_of(&app, &id).await;

    let mut officer = app.signed_in("municipal").await;
    let inbox = officer.get("/referrals").await;
    assert!(!inbox.body.contains("同意無 次郎"));
    let view = officer.get(&format!("/referrals/{referral}")).await;
    assert_eq!(view.status, 200);
    view.assert_contains("ご本人の同意がないため、氏名・連絡先は表示されません");
    view.assert_contains("停電時の人工呼吸器の電源について");
    assert!(
        !view.body.contains("同意無 次郎"),
        "no name without consent"
    );
    assert!(
        !view.body.contains("019-111-2222"),
        "no contact without consent"
    );

    // Consent recorded later does not reach the referral already sent…
    let consent = c
        .post(
            &format!("/consultations/{id}/consent"),
            &[
                ("consent_given", "yes"),
                ("consent_on", &today),
                ("consent_method", "written"),
            ],
        )
        .await;
    assert_eq!(consent.status, 303);
    let still = officer.get(&format!("/referrals/{referral}")).await;
    assert!(!still.body.contains("同意無 次郎"));
    // …a new referral carries the details, and withdrawing consent takes them off again.
    let again = c
        .post(
            &format!("/consultations/{id}/refer"),
            &[
                ("to_organisation", &morioka),
                ("note", "同意を得たので改めて連絡します"),
            ],
        )
        .await;
    assert_eq!(again.status, 303);
    let second = referral_of(&app, &id).await;
    assert_ne!(second, referral);
    officer
        .get(&format!("/referrals/{second}"))
        .await
        .assert_contains("同意無 次郎");
    let withdrawn = c
        .post(
            &format!("/consultations/{id}/consent"),
            &[
                ("consent_given", "no"),
                ("consent_on", ""),
                ("consent_method", ""),
            ],
        )
        .await;
    assert_eq!(withdrawn.status, 303);
    let after = officer.get(&format!("/referrals/{second}")).await;
    assert!(!after.body.contains("同意無 次郎"));
    assert!(!after.body.contains("019-111-2222"));
    after.assert_contains("ご本人の同意がないため、氏名・連絡先は表示されません");
});

both!(consultations_are_for_the_center_only, |app| {
    for login in ["municipal", "hospital", "viewer", "trainer", "admin"] {
        let mut c = app.signed_in(login).await;
        assert_eq!(c.get("/consultations").await.status, 403, "{login}");
        assert_eq!(c.get("/consultations/new").await.status, 403, "{login}");
    }
    let mut viewer = app.signed_in("viewer").await;
    assert_eq!(viewer.get("/referrals").await.status, 403);
    // A hospital receives referrals of its own only: none here.
    let mut hospital = app.signed_in("hospital").await;
    let inbox = hospital.get("/referrals").await;
    assert_eq!(inbox.status, 200);
    inbox.assert_contains("依頼はまだありません");
    let any: String = sqlx::query_scalar("SELECT id FROM referrals ORDER BY sent_at LIMIT 1")
        .fetch_one(app.db.pool())
        .await
        .expect("a demo referral");
    assert_eq!(hospital.get(&format!("/referrals/{any}")).await.status, 404);
    // The prefecture reads consultations; the menu shows the desk to the center only.
    let mut pref = app.signed_in("pref").await;
    let list = pref.get("/consultations").await;
    assert_eq!(list.status, 200);
    list.assert_contains("href=\"/consultations\"");
    let home = viewer.get("/").await;
    assert!(!home.body.contains("href=\"/consultations\""));
    // A consultation outside anyone's reach is simply not found.
    let mut c = app.signed_in("coordinator").await;
    assert_eq!(
        c.get("/consultations/00000000-0000-7000-8000-000000000000")
            .await
            .status,
        404
    );
});

both!(the_public_form_files_a_request_in_received, |app| {
    let mut anon = app.client();
    let form = anon.get("/consult").await;
    assert_eq!(form.status, 200);
    form.assert_contains("name=\"website\"");
    form.assert_contains("tabindex=\"-1\"");
    let question = "胃ろうのある子が通える保育所を知りたい（公開フォーム試験）";
    let bad = anon
        .post(
            "/consult",
            &[
                ("name", "公開 花子"),
                ("contact", ""),
                ("municipality", "032018"),
                ("question", question),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("ご連絡先を入力してください");
    bad.assert_contains("value=\"公開 花子\"");
    bad.assert_contains(&format!("{question}</textarea>"));
    bad.assert_contains("value=\"032018\" selected");

    let ok = anon
        .post(
            "/consult",
            &[
                ("name", "公開 花子"),
                ("contact", "090-0000-0001"),
                ("municipality", "032018"),
                ("question", question),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let start =
        ok.body.find("id=\"receipt-no\">").expect("receipt shown") + "id=\"receipt-no\">".len();
    let end = ok.body[start..].find('<').expect("<") + start;
    let receipt = ok.body[start..end].trim().to_string();
    assert!(receipt.starts_with('R'), "{receipt}");
    assert!(
        !ok.body.contains(question),
        "the sender sees only the receipt number"
    );
    assert!(!ok.body.contains("公開 花子"));
    let (status, source): (String, String) =
        sqlx::query_as("SELECT status, source FROM consultations WHERE receipt_no = $1")
            .bind(&receipt)
            .fetch_one(app.db.pool())
            .await
            .expect("stored");
    assert_eq!(
        (status.as_str(), source.as_str()),
        ("received", "public_form")
    );
    let mut c = app.signed_in("coordinator").await;
    let inbox = c.get("/consultations?status=received").await;
    inbox.assert_contains(&format!(">{receipt}</a>"));
    let waiting = c.get("/consultations?view=received").await;
    waiting.assert_contains(&format!(">{receipt}</a>"));
    waiting.assert_contains("申込みフォーム");

    // The hidden field: a neutral answer, nothing stored.
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM consultations")
            .fetch_one(app.db.pool())
            .await
            .expect("count")
    };
    let before = count().await;
    let bot = anon
        .post(
            "/consult",
            &[
                ("name", "bot"),
                ("contact", "bot@example.com"),
                ("question", "buy now"),
                ("website", "http://spam.example"),
            ],
        )
        .await;
    assert_eq!(bot.status, 200);
    assert!(!bot.body.contains("id=\"receipt-no\""));
    assert_eq!(count().await, before, "the honeypot creates nothing");

    // Five requests an hour per address (two so far), then 429 with the text kept.
    for i in 0..3 {
        let q = format!("追加の相談{i}");
        let p = anon
            .post(
                "/consult",
                &[
                    ("name", "公開 花子"),
                    ("contact", "090-0000-0001"),
                    ("question", &q),
                ],
            )
            .await;
        assert_eq!(p.status, 200, "request {i}");
    }
    let limited = anon
        .post(
            "/consult",
            &[
                ("name", "公開 花子"),
                ("contact", "090-0000-0001"),
                ("question", "六回目の相談"),
            ],
        )
        .await;
    assert_eq!(limited.status, 429);
    limited.assert_contains("しばらく受け付けられません");
    limited.assert_contains("六回目の相談</textarea>");
    assert_eq!(count().await, before + 3);
});

/// Logs a consultation received today with `question`; returns its id and receipt number.
async fn log_question(app: &TestApp, c: &mut Client, question: &str) -> (String, String) {
    let received = format!("{} 00:00", today_jst(clock::now()));
    let id = log_consultation(
        c,
        &[
            ("received_at", &received),
            ("channel", "phone"),
            ("requester_type", "family"),
            ("topics", "medical"),
            ("question", question),
            ("status", "in_progress"),
        ],
    )
    .await;
    let receipt = receipt_of(app, &id).await;
    (id, receipt)
}

/// The receipt numbers linked from a list page.
fn receipts_listed(page: &Page) -> Vec<String> {
    page.body
        .split("<th scope=\"row\" class=\"nowrap\"><a href=\"/consultations/")
        .skip(1)
        .filter_map(|s| {
            s.split_once("\">")
                .and_then(|(_, rest)| rest.split_once("</a>"))
        })
        .map(|(receipt, _)| receipt.to_string())
        .collect()
}

both!(
    keyword_search_finds_exactly_the_consultations_holding_every_word,
    |app| {
        let mut c = app.signed_in("coordinator").await;
        // Topic and care type alone are looked up in their own tables: the same consultations
        // as counted straight from the database.
        for (query, topic, care) in [
            (
                "topic=disaster&care_type=ventilator",
                "disaster",
                "ventilator",
            ),
            ("topic=medical", "medical", ""),
            ("care_type=suction", "", "suction"),
        ] {
            let expected: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM consultations c
                 WHERE ($1 = '' OR EXISTS (SELECT 1 FROM consultation_topics t WHERE t.consultation_id = c.id AND t.topic = $1))
                   AND ($2 = '' OR EXISTS (SELECT 1 FROM consultation_care_types x WHERE x.consultation_id = c.id AND x.care_type_code = $2))",
            )
            .bind(topic)
            .bind(care)
            .fetch_one(app.db.pool())
            .await
            .expect("count");
            assert!(expected > 0, "{query}");
            let page = c.get(&format!("/consultations?{query}")).await;
            page.assert_contains(&format!("条件に合う相談記録（{expected}件）"));
        }
        let (a, ra) =
            log_question(&app, &mut c, "ゾウガメの飼育と吸引器の停電対策（R8-試験）").await;
        // Every pair of ゾウガメ's characters, but not the word: the index offers it, the check
        // on the text turns it away.
        let (_, rb) = log_question(&app, &mut c, "象が亀を見た：ゾウガ・ガメ").await;
        let search = |q: &str| format!("/consultations?q={}", enc(q));
        for (q, expected) in [
            ("ゾウガメ", vec![ra.clone()]),
            ("ぞうがめ", vec![ra.clone()]),
            ("ｿﾞｳｶﾞﾒ", vec![ra.clone()]),
            ("亀", vec![rb.clone()]),
            ("r8-試験", vec![ra.clone()]),
            ("飼育　停電対策", vec![ra.clone()]),
            ("ゾウガ ガメ", vec![rb.clone(), ra.clone()]),
        ] {
            let page = c.get(&search(q)).await;
            assert_eq!(page.status, 200);
            assert_eq!(receipts_listed(&page), expected, "{q}");
            page.assert_contains(&format!("条件に合う相談記録（{}件）", expected.len()));
        }

        // An edit takes the old words out of the index and puts the new ones in.
        let received = format!("{} 00:00", today_jst(clock::now()));
        let edited = c
            .post(
                &format!("/consultations/{a}/edit"),
                &[
                    ("received_at", &received),
                    ("channel", "phone"),
                    ("requester_type", "family"),
                    ("topics", "medical"),
                    ("question", "リクガメの飼育"),
                    ("status", "in_progress"),
                ],
            )
            .await;
        assert_eq!(edited.status, 303, "{}", edited.body);
        let gone = c.get(&search("ゾウガメ")).await;
        assert!(receipts_listed(&gone).is_empty());
        gone.assert_contains("条件に合う相談記録はありません。");
        let found = c.get(&search("リクガメ")).await;
        assert_eq!(receipts_listed(&found), vec![ra.clone()]);

        // A word in very many consultations is counted up to 1000, and the pages go on.
        let mut tx = app.db.begin().await.expect("begin");
        for i in 0..1001 {
            let now = clock::now_text();
            sqlx::query(
            "INSERT INTO consultations (id, receipt_no, fiscal_year, received_at, received_on, channel,
                requester_type, question, status, search_text, created_at, updated_at)
             VALUES ($1, $2, 2020, '2020-06-01T00:00:00Z', '2020-06-01', 'phone', 'family', 'ハリネズミ', 'closed',
                $3, $4, $4)",
        )
        .bind(tsunagu_store::new_id())
        .bind(format!("R2-X{i:04}"))
        .bind(format!("r2-x{i:04} はりねずみ"))
        .bind(&now)
        .execute(tx.conn())
        .await
        .expect("insert");
        }
        // Written around the application, as `tsunagu reindex` is for.
        tsunagu_store::search_index::rebuild(&mut tx)
            .await
            .expect("reindex");
        tx.commit_bookkeeping("written straight to the database by the test")
            .await
            .expect("commit");
        let many = c.get(&search("ハリネズミ")).await;
        many.assert_contains("条件に合う相談記録（1000件以上）");
        many.assert_contains("1000件以上中 1–50件");
        assert_eq!(receipts_listed(&many).len(), 50);
        let second = c.get(&format!("{}&page=2", search("ハリネズミ"))).await;
        second.assert_contains("1000件以上中 51–100件");
        assert_eq!(receipts_listed(&second).len(), 50);
        let one = c.get(&search("R2-X0999")).await;
        assert_eq!(receipts_listed(&one), vec!["R2-X0999".to_string()]);
        // The words of the other consultations are still found after the rebuild.
        let still = c.get(&search("リクガメ")).await;
        assert_eq!(receipts_listed(&still), vec![ra]);
    }
);

/// The receipt numbers of the consultations matching the list's filters, newest first, counted
/// straight from the consultations (not from the code rows the list reads).
async fn expected_receipts(app: &TestApp, f: [&str; 7]) -> Vec<String> {
    let [topic, care, area, municipality, from, to, status] = f;
    sqlx::query_scalar(
        "SELECT c.receipt_no FROM consultations c
         WHERE ($1 = '' OR EXISTS (SELECT 1 FROM consultation_topics t WHERE t.consultation_id = c.id AND t.topic = $1))
           AND ($2 = '' OR EXISTS (SELECT 1 FROM consultation_care_types x WHERE x.consultation_id = c.id AND x.care_type_code = $2))
           AND ($3 = '' OR c.child_municipality_code6 IN (SELECT municipality_code6 FROM area_municipalities WHERE area_id = $3))
           AND ($4 = '' OR c.child_municipality_code6 = $4)
           AND ($5 = '' OR c.received_on >= $5)
           AND ($6 = '' OR c.received_on <= $6)
           AND ($7 = '' OR c.status <> 'closed')
         ORDER BY c.received_at DESC, c.id DESC",
    )
    .bind(topic)
    .bind(care)
    .bind(area)
    .bind(municipality)
    .bind(from)
    .bind(to)
    .bind(status)
    .fetch_all(app.db.pool())
    .await
    .expect("expected receipts")
}

both!(
    a_list_by_topic_or_care_type_follows_each_consultations_date_and_municipality,
    |app| {
        let mut c = app.signed_in("coordinator").await;
        let morioka_area: String =
            sqlx::query_scalar("SELECT id FROM areas WHERE name = '盛岡圏域'")
                .fetch_one(app.db.pool())
                .await
                .expect("area");
        let fy_start = format!(
            "{}-04-01",
            tsunagu_domain::wareki::fiscal_year(today_jst(clock::now())) - 1
        );
        let today = today_jst(clock::now()).to_string();
        // Every pair of filters with a topic or care type: the same consultations, in the same
        // order, as read straight from the consultations.
        for (query, f) in [
            (
                "topic=medical&care_type=ventilator",
                ["medical", "ventilator", "", "", "", "", ""],
            ),
            (
                &*format!("topic=welfare&area={morioka_area}"),
                ["welfare", "", &morioka_area, "", "", "", ""],
            ),
            (
                "care_type=suction&municipality=032018",
                ["", "suction", "", "032018", "", "", ""],
            ),
            (
                &*format!("topic=medical&from={fy_start}&to={today}"),
                ["medical", "", "", "", &fy_start, &today, ""],
            ),
            (
                "care_type=ventilator&status=open",
                ["", "ventilator", "", "", "", "", "open"],
            ),
            (
                &*format!("topic=medical&care_type=suction&area={morioka_area}&status=open"),
                ["medical", "suction", &morioka_area, "", "", "", "open"],
            ),
        ] {
            let expected = expected_receipts(&app, f).await;
            assert!(!expected.is_empty(), "{query}: the demo has none");
            let page = c.get(&format!("/consultations?{query}")).await;
            page.assert_contains(&format!("条件に合う相談記録（{}件）", expected.len()));
            let first: Vec<String> = expected.iter().take(50).cloned().collect();
            assert_eq!(receipts_listed(&page), first, "{query}");
        }

        // A consultation moved to another municipality and date leaves the first one's list
        // and its period, and appears in the other's.
        let received = format!("{today} 00:00");
        let id = log_consultation(
            &mut c,
            &[
                ("received_at", &received),
                ("channel", "phone"),
                ("requester_type", "family"),
                ("child_municipality", "032018"),
                ("topics", "disaster"),
                ("care_types", "ventilator"),
                ("question", "停電のときの人工呼吸器の電源（移動の試験）"),
                ("status", "in_progress"),
            ],
        )
        .await;
        let receipt = receipt_of(&app, &id).await;
        let in_morioka = c
            .get("/consultations?topic=disaster&municipality=032018")
            .await;
        assert_eq!(receipts_listed(&in_morioka).first(), Some(&receipt));
        let pref = user_id(&app, "pref").await;
        let edited = c
            .post(
                &format!("/consultations/{id}/edit"),
                &[
                    ("handled_by", &pref),
                    ("received_at", "2024-05-10 10:00"),
                    ("channel", "phone"),
                    ("requester_type", "family"),
                    ("child_municipality", "032131"),
                    ("topics", "disaster"),
                    ("care_types", "ventilator"),
                    ("question", "停電のときの人工呼吸器の電源（移動の試験）"),
                    ("status", "in_progress"),
                ],
            )
            .await;
        assert_eq!(edited.status, 303, "{}", edited.body);
        let left = c
            .get("/consultations?topic=disaster&municipality=032018")
            .await;
        assert!(!receipts_listed(&left).contains(&receipt));
        let this_year = c
            .get(&format!(
                "/consultations?care_type=ventilator&from={today}&to={today}"
            ))
            .await;
        assert!(!receipts_listed(&this_year).contains(&receipt));
        let moved = c
            .get("/consultations?topic=disaster&municipality=032131")
            .await;
        assert!(receipts_listed(&moved).contains(&receipt));
        let then = c
            .get("/consultations?care_type=ventilator&from=2024-05-10&to=2024-05-10")
            .await;
        assert_eq!(receipts_listed(&then), vec![receipt.clone()]);
        then.assert_contains("条件に合う相談記録（1件）");
        // Handed to another 担当者, it is in their list of that care type.
        let coordinator = user_id(&app, "coordinator").await;
        for (handler, listed) in [(&pref, true), (&coordinator, false)] {
            let page = c
                .get(&format!(
                    "/consultations?care_type=ventilator&handled_by={handler}"
                ))
                .await;
            assert_eq!(receipts_listed(&page).contains(&receipt), listed);
        }
        // Closed from its timeline, it leaves the open ones of its topic and care type.
        let open_pair = "/consultations?topic=disaster&care_type=ventilator&status=open&from=2024-05-10&to=2024-05-10";
        assert_eq!(
            receipts_listed(&c.get(open_pair).await),
            vec![receipt.clone()]
        );
        let closed = c
            .post(
                &format!("/consultations/{id}/entries"),
                &[
                    ("entry_body", "非常用電源の手配を確認した"),
                    ("entry_status", "closed"),
                    ("entry_follow_up_on", ""),
                ],
            )
            .await;
        assert_eq!(closed.status, 303, "{}", closed.body);
        assert!(receipts_listed(&c.get(open_pair).await).is_empty());
        let closed_pair = "/consultations?topic=disaster&care_type=ventilator&status=closed&from=2024-05-10&to=2024-05-10";
        assert_eq!(
            receipts_listed(&c.get(closed_pair).await),
            vec![receipt.clone()]
        );

        // More than a thousand: counted up to 1000, and a page past them is still read.
        let mut tx = app.db.begin().await.expect("begin");
        for i in 0..1001 {
            let now = clock::now_text();
            let cid = tsunagu_store::new_id();
            sqlx::query(
                "INSERT INTO consultations (id, receipt_no, fiscal_year, received_at, received_on, channel,
                    requester_type, child_municipality_code6, question, status, search_text, created_at, updated_at)
                 VALUES ($1, $2, 2019, $3, '2019-06-01', 'phone', 'family', '032018', '試験', 'closed', '', $4, $4)",
            )
            .bind(&cid)
            .bind(format!("R1-Y{i:04}"))
            .bind(format!("2019-06-01T00:{:02}:{:02}Z", i / 60, i % 60))
            .bind(&now)
            .execute(tx.conn())
            .await
            .expect("insert");
            sqlx::query(
                "INSERT INTO consultation_topics (consultation_id, topic, received_at, child_municipality_code6, status, handled_by)
                 SELECT id, 'financial', received_at, child_municipality_code6, status, handled_by FROM consultations WHERE id = $1",
            )
            .bind(&cid)
            .execute(tx.conn())
            .await
            .expect("topic");
        }
        tx.commit_bookkeeping("written straight to the database by the test")
            .await
            .expect("commit");
        let period = "topic=financial&municipality=032018&from=2019-06-01&to=2019-06-01";
        let many = c.get(&format!("/consultations?{period}")).await;
        many.assert_contains("条件に合う相談記録（1000件以上）");
        assert_eq!(
            receipts_listed(&many).first().map(String::as_str),
            Some("R1-Y1000")
        );
        let past = c.get(&format!("/consultations?{period}&page=21")).await;
        past.assert_contains("1000件以上中 1001–1001件");
        assert_eq!(receipts_listed(&past), vec!["R1-Y0000".to_string()]);
    }
);
