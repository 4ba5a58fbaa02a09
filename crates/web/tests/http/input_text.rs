//! Text input is checked once, the same on both databases: NUL and other control characters
//! are refused next to the field, with what was typed kept, and nothing is stored.

use crate::both;
use crate::support::*;

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.db.pool())
        .await
        .expect("count")
}

both!(
    a_nul_byte_is_refused_next_to_the_field_on_every_form,
    |app| {
        // The public consultation request.
        let before = count(&app, "SELECT COUNT(*) FROM consultations").await;
        let mut anon = app.client();
        anon.get("/consult").await;
        let p = anon
            .post(
                "/consult",
                &[
                    ("name", "公開\0花子"),
                    ("contact", "090-0000-0001"),
                    ("municipality", "032018"),
                    ("question", "胃ろうの子が通える保育所を知りたい"),
                    ("website", ""),
                ],
            )
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
        p.assert_contains("id=\"name-error\"");
        p.assert_contains("お名前に使えない文字（制御文字）が含まれています");
        p.assert_contains("胃ろうの子が通える保育所を知りたい</textarea>");

        // The coordinator's intake form.
        let coordinator: String =
            sqlx::query_scalar("SELECT id FROM users WHERE login_id = 'coordinator'")
                .fetch_one(app.db.pool())
                .await
                .expect("coordinator");
        let mut c = app.signed_in("coordinator").await;
        c.get("/consultations/new").await;
        let p = c
            .post(
                "/consultations/new",
                &[
                    ("received_at", "2026-04-01 10:00"),
                    ("channel", "phone"),
                    ("handled_by", &coordinator),
                    ("status", "in_progress"),
                    ("requester_type", "family"),
                    ("requester_name", "試験 花子"),
                    ("child_municipality", "032018"),
                    ("topics", "medical"),
                    ("question", "人工呼吸器\0の子の短期入所"),
                ],
            )
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
        p.assert_contains("id=\"question-error\"");
        p.assert_contains("相談内容に使えない文字（制御文字）が含まれています");
        p.assert_contains("value=\"試験 花子\"");
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM consultations").await,
            before
        );

        // A resource category (the directory's code list).
        let mut pref = app.signed_in("pref").await;
        pref.get("/resources/categories").await;
        let p = pref
            .post("/resources/categories", &[("name", "移動\0支援")])
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
        p.assert_contains("id=\"new-name-error\"");
        p.assert_contains("種別の名前に使えない文字（制御文字）が含まれています");

        // An organisation.
        let orgs = count(&app, "SELECT COUNT(*) FROM organisations").await;
        let mut admin = app.signed_in("admin").await;
        admin.get("/admin/orgs/new").await;
        let p = admin
            .post(
                "/admin/orgs/new",
                &[
                    ("kind", "hospital"),
                    ("name", "試験\u{1b}病院"),
                    ("address", "盛岡市内丸1-1"),
                ],
            )
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
        p.assert_contains("id=\"name-error\"");
        p.assert_contains("名称に使えない文字（制御文字）が含まれています");
        p.assert_contains("value=\"盛岡市内丸1-1\"");
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM organisations").await,
            orgs
        );

        // A search term nobody's form checks is a 400 with a message, never a 500.
        let p = c.get("/consultations?q=%E5%90%B8%00%E5%BC%95").await;
        assert!(
            p.status == 200 || p.status == 400,
            "{} {}",
            p.status,
            p.body
        );
        let p = anon.get("/directory?q=%00").await;
        assert!(
            p.status == 200 || p.status == 400,
            "{} {}",
            p.status,
            p.body
        );
    }
);
