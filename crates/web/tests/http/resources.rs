//! The resource directory (社会資源): search, the public directory, internal fields, editing
//! with history, review, availability, categories and the municipal windows.

use tsunagu_store::resources::{self, Viewer};

use crate::both;
use crate::support::*;

/// A demo resource's id by its external id (`demo-r14`, `demo-window-032018`).
async fn rid(app: &TestApp, external_id: &str) -> String {
    resources::find_by_external_id(&app.db, external_id)
        .await
        .expect("find")
        .unwrap_or_else(|| panic!("no demo resource {external_id}"))
}

async fn category_id(app: &TestApp, code: &str) -> String {
    resources::category_by_code(&app.db, code)
        .await
        .expect("category")
        .unwrap_or_else(|| panic!("no category {code}"))
        .id
}

const STAFF: Viewer = Viewer::Staff {
    internals: true,
    manage: true,
};

/// The href of the link whose text is exactly `label`.
fn href_of(body: &str, label: &str) -> String {
    let end = body
        .find(&format!(">{label}</a>"))
        .unwrap_or_else(|| panic!("no link {label:?} in:\n{body}"));
    let start = body[..end].rfind("href=\"").expect("href") + 6;
    let stop = start + body[start..].find('"').expect("quote");
    body[start..stop]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The number in the results caption 「社会資源（N件）」, or 0 when there are no results.
fn result_count(body: &str) -> usize {
    let Some(start) = body.find("社会資源（") else {
        assert!(body.contains("条件に合う社会資源はありません"), "{body}");
        return 0;
    };
    let rest = &body[start + "社会資源（".len()..];
    rest[..rest.find("件）").expect("count")]
        .parse()
        .expect("number")
}

both!(keyword_search_ignores_kana_and_width, |app| {
    let himawari = rid(&app, "demo-r14").await;
    let mut anon = app.client();
    let mut coord = app.signed_in("coordinator").await;
    // Stored in katakana (ヒマワリ); found by hiragana and by half-width katakana.
    for q in ["ひまわり", "ﾋﾏﾜﾘ", "ヒマワリ", "ひまわり　訪問看護"] {
        let p = anon.get(&format!("/directory?q={}", enc(q))).await;
        assert_eq!(p.status, 200);
        assert_eq!(result_count(&p.body), 1, "{q}");
        p.assert_contains(&format!("/directory/{himawari}"));
        let s = coord.get(&format!("/resources?q={}", enc(q))).await;
        assert_eq!(result_count(&s.body), 1, "{q}");
        s.assert_contains(&format!("/resources/{himawari}"));
    }
    // Full-width Latin letters find half-width ones (NPO法人).
    let wide = anon.get(&format!("/directory?q={}", enc("ＮＰＯ"))).await;
    let narrow = anon.get("/directory?q=npo").await;
    assert!(result_count(&wide.body) >= 3);
    assert_eq!(result_count(&wide.body), result_count(&narrow.body));
    // A resource created with half-width katakana is found by hiragana.
    let cat = category_id(&app, "home_nursing").await;
    coord.get("/resources/new").await;
    let created = coord
        .post(
            "/resources/new",
            &[
                ("category", &cat),
                ("provider_name", "テスト法人（デモ）"),
                ("name", "ｻｸﾗﾝﾎﾞ訪問看護"),
                ("availability", "unknown"),
                ("is_public", "1"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let found = anon
        .get(&format!("/directory?q={}", enc("さくらんぼ")))
        .await;
    assert_eq!(result_count(&found.body), 1);
    found.assert_contains("ｻｸﾗﾝﾎﾞ訪問看護");
});

both!(a_ventilator_short_stay_in_kamaishi_is_two_clicks, |app| {
    let expected_public = ["demo-r03", "demo-r04", "demo-r06"];
    let not_public = rid(&app, "demo-r11").await;
    // Excluded: no ventilator (r05), retired (r10), another area (r01), welfare type (r12).
    let excluded = ["demo-r05", "demo-r10", "demo-r01", "demo-r12"];

    let mut coord = app.signed_in("coordinator").await;
    let start = coord.get("/resources").await;
    assert_eq!(start.status, 200);
    let first = coord.get(&href_of(&start.body, "釜石圏域")).await;
    assert_eq!(first.status, 200);
    let second = coord
        .get(&href_of(
            &first.body,
            "人工呼吸器の管理に対応する短期入所（医療型）",
        ))
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(result_count(&second.body), 4, "{}", second.body);
    for ext in expected_public {
        second.assert_contains(&format!("/resources/{}\"", rid(&app, ext).await));
    }
    // Staff also see the emergency bed that is not published.
    second.assert_contains(&format!("/resources/{not_public}\""));
    for ext in excluded {
        assert!(
            !second.body.contains(&rid(&app, ext).await),
            "{ext} should not match"
        );
    }
    // The URL is shareable: the same two clicks on the public directory.
    let mut anon = app.client();
    let start = anon.get("/directory").await;
    let first = anon.get(&href_of(&start.body, "釜石圏域")).await;
    let second = anon
        .get(&href_of(
            &first.body,
            "人工呼吸器の管理に対応する短期入所（医療型）",
        ))
        .await;
    assert_eq!(result_count(&second.body), 3, "{}", second.body);
    for ext in expected_public {
        second.assert_contains(&format!("/directory/{}\"", rid(&app, ext).await));
    }
    assert!(!second.body.contains(&not_public));
});

both!(every_selected_care_type_must_be_taken, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let one = coord.get("/resources?care=ventilator").await;
    let two = coord
        .get("/resources?care=ventilator&care=central_venous")
        .await;
    let (n1, n2) = (result_count(&one.body), result_count(&two.body));
    assert!(n1 > n2 && n2 > 0, "{n1} vs {n2}");
    let both_kinds = rid(&app, "demo-r14").await;
    let ventilator_only = rid(&app, "demo-r03").await;
    two.assert_contains(&both_kinds);
    assert!(!two.body.contains(&ventilator_only));
    one.assert_contains(&ventilator_only);
    // The store agrees: every row of the narrower search takes both kinds.
    let q = resources::SearchQuery {
        care_types: vec!["ventilator".into(), "central_venous".into()],
        ..Default::default()
    };
    let found = resources::search(&app.db, STAFF, &q, 1)
        .await
        .expect("search");
    assert_eq!(found.total as usize, n2);
    for r in found.rows {
        let codes: Vec<&str> = r.care_types.iter().map(|(c, _)| c.as_str()).collect();
        assert!(codes.contains(&"ventilator") && codes.contains(&"central_venous"));
    }
    // Age and availability narrow too.
    let teen = coord.get("/resources?age=17&category=").await;
    let toddler = coord.get("/resources?age=3").await;
    assert_ne!(result_count(&teen.body), result_count(&toddler.body));
    let open = coord.get("/resources?availability=open").await;
    assert!(
        !open.body.contains("status-bad"),
        "full places are not open"
    );
    let bad_age = coord.get("/resources?age=abc").await;
    assert_eq!(bad_age.status, 200);
    bad_age.assert_contains("年齢は0から99までの数字で入力してください");
});

both!(the_public_directory_shows_public_fields_only, |app| {
    let r01 = rid(&app, "demo-r01").await;
    let stored = resources::get(&app.db, STAFF, &r01).await.expect("get");
    assert!(!stored.internal_note.is_empty() && !stored.direct_line.is_empty());
    let hidden = rid(&app, "demo-r11").await;
    let hidden_name = resources::get(&app.db, STAFF, &hidden)
        .await
        .expect("get")
        .name;
    let retired = rid(&app, "demo-r09").await;

    let mut anon = app.client();
    let detail = anon.get(&format!("/directory/{r01}")).await;
    assert_eq!(detail.status, 200);
    detail.assert_contains(&stored.name);
    assert!(!detail.body.contains(&stored.internal_note));
    assert!(!detail.body.contains(&stored.direct_line));
    assert!(!detail.body.contains("内部メモ"));
    assert_eq!(anon.get(&format!("/directory/{hidden}")).await.status, 404);
    assert_eq!(anon.get(&format!("/directory/{retired}")).await.status, 404);
    let all = anon.get("/directory?print=1").await;
    assert_eq!(all.status, 200);
    all.assert_contains("印刷");
    all.assert_contains(&stored.name);
    for secret in [&stored.internal_note, &stored.direct_line, &hidden_name] {
        assert!(!all.body.contains(secret.as_str()), "{secret} leaked");
    }
    assert!(!all.body.contains("胆沢みどり病院"), "retired entry listed");
    // Searching for words of the internal note finds nothing.
    let probe = anon
        .get(&format!("/directory?q={}", enc("地域連携室")))
        .await;
    assert_eq!(result_count(&probe.body), 0);
    // Windows: public list without direct lines.
    let morioka = resources::get(&app.db, STAFF, &rid(&app, "demo-window-032018").await)
        .await
        .expect("window");
    assert!(!morioka.direct_line.is_empty());
    let windows = anon.get("/directory/windows").await;
    assert_eq!(windows.status, 200);
    windows.assert_contains("保健福祉部 障がい福祉課");
    assert!(!windows.body.contains(&morioka.direct_line));
    // Signed in as a viewer, /directory is still the public view.
    let mut viewer = app.signed_in("viewer").await;
    let v = viewer
        .get(&format!("/directory?q={}", enc("緊急時短期入所枠")))
        .await;
    assert_eq!(result_count(&v.body), 0);
    // The sign-in page links to the directory.
    anon.get("/login")
        .await
        .assert_contains("href=\"/directory\"");
});

both!(internal_fields_follow_the_policy, |app| {
    let r01 = rid(&app, "demo-r01").await;
    let stored = resources::get(&app.db, STAFF, &r01).await.expect("get");
    let mut viewer = app.signed_in("viewer").await;
    let v = viewer.get(&format!("/resources/{r01}")).await;
    assert_eq!(v.status, 200);
    v.assert_contains(&stored.name);
    assert!(!v.body.contains(&stored.internal_note));
    assert!(!v.body.contains(&stored.direct_line));
    assert!(!v.body.contains("変更履歴"));
    let mut municipal = app.signed_in("municipal").await;
    let m = municipal.get(&format!("/resources/{r01}")).await;
    m.assert_contains(&stored.internal_note);
    assert!(!m.body.contains("変更履歴"), "history is for managers");
    let mut coord = app.signed_in("coordinator").await;
    let c = coord.get(&format!("/resources/{r01}")).await;
    c.assert_contains(&stored.internal_note);
    c.assert_contains(&stored.direct_line);
    c.assert_contains("変更履歴");
    // Staff see non-public entries, marked as such.
    let hidden = rid(&app, "demo-r11").await;
    let h = viewer.get(&format!("/resources/{hidden}")).await;
    assert_eq!(h.status, 200);
    h.assert_contains("一般公開していません");
    // Windows by area, with the lead of function 1.
    let w = coord.get("/windows").await;
    assert_eq!(w.status, 200);
    w.assert_contains("この機能の主担当：みちのく療育園");
    w.assert_contains("釜石圏域");
    for name in ["盛岡市", "大槌町", "一戸町", "田野畑村"] {
        w.assert_contains(name);
    }
    w.assert_contains("直通電話（非公開）");
    let groups = resources::windows(&app.db, STAFF, "03")
        .await
        .expect("windows");
    let count: usize = groups.iter().map(|g| g.windows.len()).sum();
    assert_eq!(count, 33);
    assert!(groups.iter().all(|g| g.missing.is_empty()));
    let vw = viewer.get("/windows").await;
    assert!(!vw.body.contains("直通電話（非公開）"));
});

both!(only_coordinators_and_the_prefecture_edit, |app| {
    let r01 = rid(&app, "demo-r01").await;
    for login in ["municipal", "viewer", "hospital"] {
        let mut c = app.signed_in(login).await;
        assert_eq!(c.get("/resources/new").await.status, 403, "{login}");
        assert_eq!(
            c.get(&format!("/resources/{r01}/edit")).await.status,
            403,
            "{login}"
        );
        let post = c
            .post(
                &format!("/resources/{r01}/edit"),
                &[("name", "書き換え"), ("provider_name", "x")],
            )
            .await;
        assert_eq!(post.status, 403, "{login}");
        let retire = c.post(&format!("/resources/{r01}/retire"), &[]).await;
        assert_eq!(retire.status, 403, "{login}");
        assert_eq!(c.get("/resources/review").await.status, 403);
        let list = c.get("/resources").await;
        assert!(!list.body.contains("/resources/new"));
    }
    let stored = resources::get(&app.db, STAFF, &r01).await.expect("get");
    assert_ne!(stored.name, "書き換え");
    assert!(!stored.is_retired());
    for login in ["coordinator", "pref"] {
        let mut c = app.signed_in(login).await;
        assert_eq!(c.get("/resources/new").await.status, 200, "{login}");
        assert_eq!(
            c.get(&format!("/resources/{r01}/edit")).await.status,
            200,
            "{login}"
        );
    }
});

both!(an_edit_shows_old_and_new_values_in_the_history, |app| {
    let id = rid(&app, "demo-r47").await;
    let nursery = category_id(&app, "nursery").await;
    let mut coord = app.signed_in("coordinator").await;
    coord.get(&format!("/resources/{id}/edit")).await;
    let ok = coord
        .post(
            &format!("/resources/{id}/edit"),
            &[
                ("category", &nursery),
                ("provider_name", "野田村（デモ）"),
                ("name", "のだ村立 のだ保育所"),
                ("municipality", "035033"),
                ("served", "035033"),
                ("age_min", "0"),
                ("age_max", "5"),
                ("care", "tube_feeding"),
                ("care_note_tube_feeding", "看護師が対応"),
                ("is_public", "1"),
                ("verified_now", "1"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let page = coord.get(&format!("/resources/{id}")).await;
    page.assert_contains(
        "<span class=\"change-old\">のだ村保育所</span> → <span class=\"change-new\">のだ村立 のだ保育所</span>",
    );
    page.assert_contains("<span class=\"change-new\">経管栄養（経鼻胃管・胃瘻・経鼻腸管・経胃瘻腸管・腸瘻・食道瘻）（看護師が対応）</span>");
    page.assert_contains("coordinator（支援 さくら）");
    page.assert_contains("最終確認日");
    let history = resources::history(&app.db, &id).await.expect("history");
    assert_eq!(history[0].action, "resource.update");
    assert!(
        history[0]
            .changes
            .iter()
            .any(|c| c.label == "最終確認日" && c.old == "（なし）")
    );
    let audit: Option<String> = sqlx::query_scalar(
        "SELECT old_values FROM audit_log WHERE action = 'resource.update' AND record_id = $1",
    )
    .bind(&id)
    .fetch_optional(app.db.pool())
    .await
    .expect("audit");
    assert!(audit.unwrap_or_default().contains("のだ村保育所"));
    // Saving the same values again changes nothing and writes no entry.
    let again = coord
        .post(
            &format!("/resources/{id}/edit"),
            &[
                ("category", &nursery),
                ("provider_name", "野田村（デモ）"),
                ("name", "のだ村立 のだ保育所"),
                ("municipality", "035033"),
                ("served", "035033"),
                ("age_min", "0"),
                ("age_max", "5"),
                ("care", "tube_feeding"),
                ("care_note_tube_feeding", "看護師が対応"),
                ("is_public", "1"),
            ],
        )
        .await;
    assert_eq!(again.status, 303);
    assert_eq!(
        resources::history(&app.db, &id).await.expect("h").len(),
        history.len()
    );
});

both!(
    bad_input_comes_back_with_messages_and_what_was_typed,
    |app| {
        let mut coord = app.signed_in("coordinator").await;
        coord.get("/resources/new").await;
        let bad = coord
            .post(
                "/resources/new",
                &[
                    ("category", ""),
                    ("provider_name", "医療法人（デモ）入力テスト会"),
                    ("name", "入力テスト診療所"),
                    ("age_min", "10"),
                    ("age_max", "3"),
                    ("phone", "0193-12"),
                    ("served", "032115"),
                    ("care", "suction"),
                    ("care_note_suction", "日中のみ"),
                    ("availability", "limited"),
                    ("internal_note", "内部の覚え書き"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        bad.assert_contains("種別を選んでください");
        bad.assert_contains("対象年齢の上限は下限と同じか、それより大きくしてください");
        bad.assert_contains("電話番号は");
        bad.assert_contains("class=\"error-summary\"");
        for kept in [
            "value=\"医療法人（デモ）入力テスト会\"",
            "value=\"入力テスト診療所\"",
            "value=\"10\"",
            "value=\"3\"",
            "value=\"0193-12\"",
            "value=\"日中のみ\"",
            "name=\"served\" value=\"032115\" checked",
            "name=\"care\" value=\"suction\" checked",
            "<option value=\"limited\" selected>",
            "内部の覚え書き",
        ] {
            bad.assert_contains(kept);
        }
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE name = '入力テスト診療所'")
                .fetch_one(app.db.pool())
                .await
                .expect("count");
        assert_eq!(n, 0);
        // A note without its box ticked, and a bad website, are explained too.
        let cat = category_id(&app, "hospital").await;
        let bad2 = coord
            .post(
                "/resources/new",
                &[
                    ("category", &cat),
                    ("provider_name", "医療法人（デモ）入力テスト会"),
                    ("name", "入力テスト診療所"),
                    ("care_note_oxygen", "夜間のみ"),
                    ("website", "javascript:alert(1)"),
                    ("availability", "unknown"),
                ],
            )
            .await;
        assert_eq!(bad2.status, 422);
        bad2.assert_contains("補足を書いた医療的ケアには、チェックも入れてください");
        bad2.assert_contains("ウェブサイトは https:// で始まるアドレスを入力してください");
    }
);

both!(review_availability_and_retirement, |app| {
    let old = rid(&app, "demo-r18").await;
    let never = rid(&app, "demo-r47").await;
    let fresh = rid(&app, "demo-r14").await;
    let mut coord = app.signed_in("coordinator").await;
    let review = coord.get("/resources/review").await;
    assert_eq!(review.status, 200);
    review.assert_contains("12か月");
    review.assert_contains(&format!("/resources/{old}\""));
    review.assert_contains(&format!("/resources/{never}\""));
    assert!(!review.body.contains(&format!("/resources/{fresh}\"")));
    let done = coord
        .post(
            &format!("/resources/{old}/verified"),
            &[("return_to", "review")],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location, "/resources/review");
    let after = coord.get("/resources/review").await;
    assert!(!after.body.contains(&format!("/resources/{old}\"")));
    let due = resources::due_for_review(&app.db, 12).await.expect("due");
    assert!(due.iter().all(|r| r.id != old));

    // Availability: recorded with today's date and the coordinator's name.
    let set = coord
        .post(
            &format!("/resources/{fresh}/availability"),
            &[("availability", "full")],
        )
        .await;
    assert_eq!(set.status, 303);
    let stored = resources::get(&app.db, STAFF, &fresh).await.expect("get");
    assert_eq!(stored.availability, resources::Availability::Full);
    assert_eq!(
        stored.availability_confirmed_on.as_deref(),
        Some(resources::today().as_str())
    );
    assert_eq!(
        stored.availability_confirmed_by_name.as_deref(),
        Some("支援 さくら")
    );
    let page = coord.get(&format!("/resources/{fresh}")).await;
    page.assert_contains("status-bad\">空きなし");
    let bad = coord
        .post(
            &format!("/resources/{fresh}/availability"),
            &[("availability", "maybe")],
        )
        .await;
    assert_eq!(bad.status, 303);
    assert_eq!(
        resources::get(&app.db, STAFF, &fresh)
            .await
            .expect("get")
            .availability,
        resources::Availability::Full
    );

    // Retiring removes it from searches and the public directory; managers can still find it.
    let retired = coord.post(&format!("/resources/{fresh}/retire"), &[]).await;
    assert_eq!(retired.status, 303);
    let mut anon = app.client();
    assert_eq!(anon.get(&format!("/directory/{fresh}")).await.status, 404);
    let search = coord
        .get(&format!("/resources?q={}", enc("ひまわり")))
        .await;
    assert_eq!(result_count(&search.body), 0);
    let with_retired = coord
        .get(&format!("/resources?q={}&retired=1", enc("ひまわり")))
        .await;
    assert_eq!(result_count(&with_retired.body), 1);
    with_retired.assert_contains("掲載終了");
    let back = coord
        .post(&format!("/resources/{fresh}/reinstate"), &[])
        .await;
    assert_eq!(back.status, 303);
    assert_eq!(anon.get(&format!("/directory/{fresh}")).await.status, 200);
    let actions: Vec<String> = resources::history(&app.db, &fresh)
        .await
        .expect("history")
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(
        &actions[..3],
        [
            "resource.reinstate",
            "resource.retire",
            "resource.availability"
        ]
    );
});

both!(categories_are_added_renamed_reordered_and_retired, |app| {
    let mut pref = app.signed_in("pref").await;
    let page = pref.get("/resources/categories").await;
    assert_eq!(page.status, 200);
    page.assert_contains("医療的ケア児等コーディネーター");
    let dup = pref
        .post("/resources/categories", &[("name", "訪問看護")])
        .await;
    assert_eq!(dup.status, 422);
    dup.assert_contains("同じ名前の種別がすでにあります");
    dup.assert_contains("value=\"訪問看護\"");
    let empty = pref.post("/resources/categories", &[("name", " ")]).await;
    assert_eq!(empty.status, 422);
    let added = pref
        .post("/resources/categories", &[("name", "訪問歯科")])
        .await;
    assert_eq!(added.status, 303);
    let cats = resources::categories(&app.db, true).await.expect("cats");
    let new = cats.iter().find(|c| c.name == "訪問歯科").expect("added");
    assert_eq!(cats.last().map(|c| c.id.as_str()), Some(new.id.as_str()));
    let up = pref
        .post(&format!("/resources/categories/{}/up", new.id), &[])
        .await;
    assert_eq!(up.status, 303);
    let cats = resources::categories(&app.db, true).await.expect("cats");
    assert_eq!(cats[cats.len() - 2].name, "訪問歯科");
    // Renaming a category keeps search working under the new name.
    let respite = category_id(&app, "respite").await;
    let renamed = pref
        .post(
            &format!("/resources/categories/{respite}/rename"),
            &[("name", "レスパイト（一時預かり）")],
        )
        .await;
    assert_eq!(renamed.status, 303);
    let found = pref
        .get(&format!("/resources?q={}", enc("一時預かり")))
        .await;
    assert!(result_count(&found.body) >= 2);
    let retire = pref
        .post(&format!("/resources/categories/{}/retire", new.id), &[])
        .await;
    assert_eq!(retire.status, 303);
    let active = resources::categories(&app.db, false).await.expect("cats");
    assert!(!active.iter().any(|c| c.id == new.id));
    let form = pref.get("/resources/new").await;
    assert!(!form.body.contains(">訪問歯科</option>"));
    // The windows category is found by its code after any rename.
    assert!(
        resources::category_by_code(&app.db, resources::WINDOW_CATEGORY)
            .await
            .expect("code")
            .is_some()
    );
});

both!(paging_keeps_the_query, |app| {
    let mut anon = app.client();
    let first = anon.get("/directory?availability=open").await;
    let total = result_count(&first.body);
    assert!(total > 20, "{total}");
    let next = href_of(&first.body, "次へ");
    assert!(
        next.contains("availability=open") && next.contains("page=2"),
        "{next}"
    );
    let second = anon.get(&next).await;
    assert_eq!(second.status, 200);
    second.assert_contains(&format!("{total}件中 21–"));
    let print = anon.get("/directory?availability=open&print=1").await;
    assert!(!print.body.contains("rel=\"next\""));
    assert_eq!(
        print
            .body
            .matches("<th scope=\"row\"><a href=\"/directory/")
            .count(),
        total
    );
});

both!(a_common_word_is_counted_up_to_a_thousand, |app| {
    // Entries written around the application (as an import by other means would be), then
    // indexed as `tsunagu reindex` does.
    let category = category_id(&app, "home_nursing").await;
    let mut tx = app.db.begin().await.expect("begin");
    for i in 0..1001 {
        let now = tsunagu_store::clock::now_text();
        sqlx::query(
            "INSERT INTO resources (id, category_id, provider_name, name, municipality_code6, is_public,
                search_text, created_at, updated_at)
             VALUES ($1, $2, 'ハリネズミ会', $3, '032018', 1, $4, $5, $5)",
        )
        .bind(tsunagu_store::new_id())
        .bind(&category)
        .bind(format!("ハリネズミ訪問看護{i:04}"))
        .bind(format!("はりねずみ訪問看護{i:04} はりねずみ会"))
        .bind(&now)
        .execute(tx.conn())
        .await
        .expect("insert");
    }
    tsunagu_store::search_index::rebuild(&mut tx)
        .await
        .expect("reindex");
    tx.commit_bookkeeping("written straight to the database by the test")
        .await
        .expect("commit");

    let mut anon = app.client();
    let many = anon
        .get(&format!("/directory?q={}", enc("ハリネズミ")))
        .await;
    many.assert_contains("社会資源（1000件以上）");
    many.assert_contains("1000件以上中 1–20件");
    let next = href_of(&many.body, "次へ");
    let second = anon.get(&next).await;
    second.assert_contains("1000件以上中 21–40件");
    // A narrower word is counted exactly, and other entries are still found after the rebuild.
    let one = anon
        .get(&format!("/directory?q={}", enc("ハリネズミ訪問看護0999")))
        .await;
    assert_eq!(result_count(&one.body), 1);
    let demo = anon.get(&format!("/directory?q={}", enc("ひまわり"))).await;
    assert_eq!(result_count(&demo.body), 1);
});
