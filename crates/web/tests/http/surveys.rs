//! The survey round as the center and a municipality live it: issue, fill in with drafts and
//! validation, submit, return with a comment, fix, approve and lock; reopening after the
//! deadline; reminders; and a municipal officer never reaching another municipality's
//! response.

use crate::both;
use crate::support::*;

const MORIOKA: &str = "032018";
const MIYAKO: &str = "032026";

/// A consistent response: 10 children, ages and places adding up, every care type ≤ 10.
async fn valid_answers(app: &TestApp) -> Vec<(String, String)> {
    let care: Vec<String> = sqlx::query_scalar(
        "SELECT code FROM care_types WHERE retired_at IS NULL ORDER BY sort_order",
    )
    .fetch_all(app.db.pool())
    .await
    .expect("care types");
    let mut a: Vec<(String, String)> = Vec::new();
    for age in ["a0_2", "a3_5", "a6_11", "a12_14", "a15_17", "a18_19"] {
        for place in ["home", "hospital", "facility"] {
            let v = match (age, place) {
                ("a0_2", "home") => "3",
                ("a3_5", "home") => "2",
                ("a6_11", "home") => "4",
                ("a6_11", "hospital") => "1",
                _ => "0",
            };
            a.push((format!("age_place.{age}.{place}"), v.into()));
        }
    }
    for (i, c) in care.iter().enumerate() {
        a.push((
            format!("care.{c}"),
            if i % 2 == 0 { "6" } else { "0" }.into(),
        ));
    }
    for (k, v) in [
        ("total", "10"),
        ("nursery", "2"),
        ("kindergarten", "1"),
        ("school_regular", "1"),
        ("school_special", "3"),
        ("council", "yes"),
        ("coordinators", "2"),
        ("measures.respite", "1"),
        ("practice", "保育所に看護師を派遣しています"),
        ("practice.publishable", "1"),
    ] {
        a.push((k.into(), v.into()));
    }
    a
}

fn with<'a>(base: &'a [(String, String)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    out.extend_from_slice(extra);
    out
}

both!(a_round_goes_from_issue_to_approval, |app| {
    let mut coordinator = app.signed_in("coordinator").await;
    let form = coordinator.get("/surveys/rounds/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    form.assert_contains("医療的ケア児等の実態調査（第1版）");
    let round = issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 30).await;
    let board = coordinator.get(&format!("/surveys/rounds/{round}")).await;
    board.assert_contains("盛岡市");
    board.assert_contains("宮古市");
    board.assert_contains("未着手");

    // The municipal officer finds it in the inbox, with what to do and by when.
    let mut municipal = app.signed_in("municipal").await;
    let inbox = municipal.get("/surveys").await;
    inbox.assert_contains("平成22年度 試験調査");
    inbox.assert_contains("までに提出してください");
    let id = survey_response_id(&app, &round, MORIOKA).await;
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    assert_eq!(page.status, 200);
    page.assert_contains("期限までにご回答ください");
    page.assert_contains("医療的ケア児の総数");

    // A malformed number is refused even in a draft, and what was typed stays.
    let answers = valid_answers(&app).await;
    let rev = survey_revision(&page.body);
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &with(
                &answers,
                &[("total", "１０人"), ("revision", &rev), ("intent", "draft")],
            ),
        )
        .await;
    assert_eq!(p.status, 422);
    p.assert_contains("医療的ケア児の総数は0以上の整数");
    p.assert_contains("value=\"１０人\"");
    p.assert_contains("href=\"#f-total\"");

    // A draft with a valid but inconsistent total saves; submitting it names the field.
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &with(
                &answers,
                &[("total", "11"), ("revision", &rev), ("intent", "draft")],
            ),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    page.assert_contains("一時保存しました");
    page.assert_contains("入力中");
    let rev = survey_revision(&page.body);
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &with(
                &answers,
                &[("total", "11"), ("revision", &rev), ("intent", "submit")],
            ),
        )
        .await;
    assert_eq!(p.status, 422);
    p.assert_contains("年齢別・居場所別の人数の合計が総数と一致しません");
    p.assert_contains("href=\"#f-age_place-a0_2-home\"");

    // Fixed and submitted.
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &with(&answers, &[("revision", &rev), ("intent", "submit")]),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    page.assert_contains("提出済み");
    assert!(
        !page.body.contains("name=\"intent\""),
        "a submitted response is not editable"
    );

    // The center returns it with a comment; a return without one is refused.
    let p = coordinator
        .post(
            &format!("/surveys/responses/{id}/review"),
            &[("decision", "return"), ("comment", "")],
        )
        .await;
    assert_eq!(p.status, 422);
    p.assert_contains("差し戻す理由");
    let p = coordinator
        .post(
            &format!("/surveys/responses/{id}/review"),
            &[
                ("decision", "return"),
                ("comment", "保育所の人数をご確認ください"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    page.assert_contains("差し戻し");
    page.assert_contains("保育所の人数をご確認ください");
    let rev = survey_revision(&page.body);
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &with(
                &answers,
                &[("nursery", "1"), ("revision", &rev), ("intent", "submit")],
            ),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // Approved: locked for the municipality, and the audit log has old → new values.
    let p = coordinator
        .post(
            &format!("/surveys/responses/{id}/review"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(p.status, 303);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    page.assert_contains("承認済み");
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &with(
                &answers,
                &[("total", "99"), ("revision", &rev), ("intent", "draft")],
            ),
        )
        .await;
    assert_eq!(p.status, 409);
    p.assert_contains("変更できません");
    let stored: String = sqlx::query_scalar("SELECT answers FROM survey_responses WHERE id = $1")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .expect("answers");
    assert!(stored.contains("\"total\":\"10\""), "{stored}");
    let audit: String = sqlx::query_scalar(
        "SELECT old_values FROM audit_log WHERE record_id = $1 AND action = 'survey_response.submit' ORDER BY seq DESC LIMIT 1",
    )
    .bind(&id)
    .fetch_one(app.db.pool())
    .await
    .expect("audit");
    assert!(
        audit.contains("\"nursery\":\"2\""),
        "old value of the fix: {audit}"
    );

    // Unlocking needs a reason and puts it back to 差し戻し.
    let p = coordinator
        .post(
            &format!("/surveys/responses/{id}/review"),
            &[("decision", "unlock"), ("comment", "")],
        )
        .await;
    assert_eq!(p.status, 422);
    p.assert_contains("承認を解除する理由");
    let p = coordinator
        .post(
            &format!("/surveys/responses/{id}/review"),
            &[
                ("decision", "unlock"),
                ("comment", "県の集計で誤りが見つかったため"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    page.assert_contains("県の集計で誤りが見つかったため");
    page.assert_contains("name=\"intent\"");
});

both!(
    a_municipality_gets_one_round_per_definition_and_year,
    |app| {
        let mut coordinator = app.signed_in("coordinator").await;
        issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 30).await;
        let def = tsunagu_store::surveys::definitions(&app.db, "03")
            .await
            .expect("definitions")
            .into_iter()
            .find(|d| d.family == "standard")
            .expect("standard")
            .id;
        let p = coordinator
            .post(
                "/surveys/rounds",
                &[
                    ("definition_id", &def),
                    ("fiscal_year", "2010"),
                    ("title", "二度目"),
                    ("as_of", "2010-04-01"),
                    ("opens_on", "2010-05-01"),
                    ("due_on", "2010-06-30"),
                    ("municipalities", MIYAKO),
                ],
            )
            .await;
        assert_eq!(p.status, 422);
        p.assert_contains("宮古市には、この調査票の同じ年度の調査がすでに発出されています");
        p.assert_contains("value=\"二度目\"");
        // Bad dates and no municipality: every message at once, input kept.
        let p = coordinator
            .post(
                "/surveys/rounds",
                &[
                    ("definition_id", &def),
                    ("fiscal_year", "二〇一〇"),
                    ("title", "日付の誤り"),
                    ("as_of", "2010-04-01"),
                    ("opens_on", "2010-07-01"),
                    ("due_on", "2010-06-31"),
                ],
            )
            .await;
        assert_eq!(p.status, 422);
        p.assert_contains("年度は 2026 のように西暦4桁で入力してください");
        p.assert_contains("提出期限は 2026-06-30 や 令和8年6月30日 の形で入力してください");
        p.assert_contains("回答を求める市町村を一つ以上選んでください");
        p.assert_contains("value=\"日付の誤り\"");
    }
);

both!(
    a_municipal_officer_never_reaches_another_municipality,
    |app| {
        let mut coordinator = app.signed_in("coordinator").await;
        let round =
            issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 30).await;
        let other = survey_response_id(&app, &round, MIYAKO).await;
        let mut municipal = app.signed_in("municipal").await;
        let p = municipal.get(&format!("/surveys/responses/{other}")).await;
        assert_eq!(p.status, 404);
        let p = municipal
            .post(
                &format!("/surveys/responses/{other}"),
                &[("total", "1"), ("revision", "0"), ("intent", "draft")],
            )
            .await;
        assert_eq!(p.status, 404);
        let stored: String =
            sqlx::query_scalar("SELECT status FROM survey_responses WHERE id = $1")
                .bind(&other)
                .fetch_one(app.db.pool())
                .await
                .expect("status");
        assert_eq!(stored, "not_started");
        // Nor the center's pages.
        assert_eq!(
            municipal
                .get(&format!("/surveys/rounds/{round}"))
                .await
                .status,
            403
        );
        assert_eq!(municipal.get("/surveys/rounds/new").await.status, 403);
        let inbox = municipal.get("/surveys").await;
        assert!(!inbox.body.contains("宮古市"));
        // Other partners have no survey pages at all.
        let mut hospital = app.signed_in("hospital").await;
        assert_eq!(hospital.get("/surveys").await.status, 403);
    }
);

both!(after_the_deadline_only_the_center_reopens, |app| {
    let mut coordinator = app.signed_in("coordinator").await;
    let round = issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 1).await;
    // Move the deadline into the past.
    sqlx::query(
        "UPDATE survey_rounds SET opens_on = '2010-05-01', due_on = '2010-06-30' WHERE id = $1",
    )
    .bind(&round)
    .execute(app.db.pool())
    .await
    .expect("move deadline");
    let id = survey_response_id(&app, &round, MORIOKA).await;
    let mut municipal = app.signed_in("municipal").await;
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    page.assert_contains("提出期限を過ぎました");
    page.assert_contains("期限超過");
    assert!(!page.body.contains("name=\"intent\""));
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &[("total", "5"), ("revision", "0"), ("intent", "draft")],
        )
        .await;
    assert_eq!(p.status, 409);
    p.assert_contains("提出期限を過ぎているため保存できません");
    p.assert_contains("id=\"f-total\">5<");

    let board = coordinator.get(&format!("/surveys/rounds/{round}")).await;
    board.assert_contains("期限超過");
    let p = coordinator
        .post(
            &format!("/surveys/responses/{id}/review"),
            &[("decision", "reopen")],
        )
        .await;
    assert_eq!(p.status, 303);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    assert!(
        page.body.contains("name=\"intent\""),
        "reopened: editable again"
    );

    // Reminders reach the municipal office as a notice on its home page.
    let board = remind_round(&mut coordinator, &round).await;
    board.assert_contains("2市町村に督促のお知らせを送りました");
    let home = municipal.get("/").await;
    home.assert_contains("【督促】平成22年度 試験調査");
});

both!(a_stale_form_does_not_overwrite_newer_answers, |app| {
    let mut coordinator = app.signed_in("coordinator").await;
    let round = issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 30).await;
    let id = survey_response_id(&app, &round, MORIOKA).await;
    let mut municipal = app.signed_in("municipal").await;
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    let rev = survey_revision(&page.body);
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &[("total", "7"), ("revision", &rev), ("intent", "draft")],
        )
        .await;
    assert_eq!(p.status, 303);
    // The same old form posted again (another tab) is refused and keeps its input.
    let p = municipal
        .post(
            &format!("/surveys/responses/{id}"),
            &[("total", "8"), ("revision", &rev), ("intent", "draft")],
        )
        .await;
    assert_eq!(p.status, 409);
    p.assert_contains("別の人が保存しています");
    p.assert_contains("value=\"8\"");
});
